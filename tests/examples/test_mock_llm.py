"""examples/mock_llm.py: the deterministic OpenAI-format executor, over a real process."""

from __future__ import annotations

import json

from examples_harness import FakeHost, start, stream

from pluginrt import api

CHAT = {"model": "mock-small", "messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there mock"},
]}  # fmt: skip


def request(body: object = CHAT, *, model: str = "mock-small") -> api.ExecutorRequest:
    return api.ExecutorRequest(model=model, format="openai", payload=json.dumps(body).encode())


async def test_the_mock_registers_its_models_under_provider_mock() -> None:
    async with start("mock_llm.py") as mock:
        assert mock.registrations.provider == "mock"
        assert [m.id for m in mock.registrations.models] == ["mock-small", "mock-large"]
        caps = mock.capabilities
        assert caps.executor is not None and caps.executor.identifier == "mock"
        assert caps.executor_model_scope == "static"
        assert caps.executor_input_formats == caps.executor_output_formats == ["openai"]


async def test_the_mock_answers_a_chat_completion_echoing_the_last_user_message() -> None:
    async with start("mock_llm.py") as mock:
        answer = await mock.call("executor.execute", request(), api.ExecutorResponse)
    body = json.loads(answer.payload)
    assert body["object"] == "chat.completion"
    assert body["model"] == "mock-small"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "You said: hello there mock",
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert answer.headers["Content-Type"] == ["application/json"]


async def test_the_mock_streams_word_by_word_in_sse_frames_ending_with_done() -> None:
    async with start("mock_llm.py") as mock:
        start_, chunks = await stream(mock, request(model="mock-large"), window=2)
    assert start_.headers["Content-Type"] == ["text/event-stream"]
    assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") for c in chunks)
    assert chunks[-1] == b"data: [DONE]\n\n"
    frames = [json.loads(c[len(b"data: ") :]) for c in chunks[:-1]]
    assert {f["object"] for f in frames} == {"chat.completion.chunk"}
    assert {f["model"] for f in frames} == {"mock-large"}
    deltas = [f["choices"][0]["delta"] for f in frames]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [d["content"] for d in deltas[1:-1]] == ["You", " said:", " hello", " there", " mock"]
    assert frames[-1]["choices"][0]["finish_reason"] == "stop"


async def test_the_mock_counts_tokens_as_words() -> None:
    async with start("mock_llm.py") as mock:
        answer = await mock.call("executor.count_tokens", request(), api.ExecutorResponse)
    assert json.loads(answer.payload) == {"input_tokens": 5}


async def test_the_mock_bridges_executor_http_requests_to_host_http_do() -> None:
    fake = FakeHost()
    async with start("mock_llm.py", host=fake) as mock:
        params = api.ExecutorHTTPRequest(method="POST", url="https://up.example/v1", body=b"hi")
        answer = await mock.call("executor.http_request", params, api.ExecutorHTTPResponse)
    assert answer.status_code == 200
    assert answer.headers["X-Fake-Host"] == ["yes"]
    assert json.loads(answer.body) == {
        "method": "POST",
        "url": "https://up.example/v1",
        "headers": {},
        "body": "hi",
    }
    assert [method for method, _ in fake.calls] == ["host.http.do"]
