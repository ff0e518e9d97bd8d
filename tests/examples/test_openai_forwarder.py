"""examples/openai_forwarder.py as a process: its requests go out through host.http.*.

The full path, through the gateway against a fake OpenAI server, is in
tests/gateway/test_gateway_forwarder.py.
"""

from __future__ import annotations

import json

from examples_harness import FakeHost, start, stream

from pluginrt import api

SECTION = {"base_url": "http://upstream.test/v1/", "api_key": "sk-up", "models": ["up-model"]}


async def test_the_forwarder_posts_to_the_configured_base_url_through_host_http_do() -> None:
    fake = FakeHost()
    async with start("openai_forwarder.py", config=SECTION, host=fake) as handle:
        request = api.ExecutorRequest(model="up-model", payload=b'{"messages": []}')
        answer = await handle.call("executor.execute", request, api.ExecutorResponse)
    sent = json.loads(answer.payload)  # the fake host echoes what it was asked to send
    assert sent["url"] == "http://upstream.test/v1/chat/completions"
    assert json.loads(sent["body"]) == {"messages": [], "model": "up-model", "stream": False}
    assert [method for method, _ in fake.calls] == ["host.http.do"]


async def test_the_forwarder_reframes_a_split_upstream_stream_into_whole_events() -> None:
    fake = FakeHost(http_stream=[b'data: {"a"', b": 1}\n\nda", b"ta: [DONE]\n\n"])
    async with start("openai_forwarder.py", config=SECTION, host=fake) as handle:
        request = api.ExecutorRequest(model="up-model", stream=True, payload=b"{}")
        _, chunks = await stream(handle, request)
    assert chunks == [b'data: {"a": 1}\n\n', b"data: [DONE]\n\n"]


async def test_the_forwarder_sends_an_executor_http_request_with_the_auths_key() -> None:
    fake = FakeHost()
    async with start("openai_forwarder.py", config=SECTION, host=fake) as handle:
        request = api.ExecutorHTTPRequest(
            method="GET", url="http://upstream.test/v1/models",
            headers={"Accept": ["application/json"], "Authorization": ["Bearer operator's"]},
            storage_json=b'{"type": "openai-compatible", "api_key": "sk-auth"}',
        )  # fmt: skip
        answer = await handle.call("executor.http_request", request, api.ExecutorHTTPResponse)
    sent = json.loads(answer.body)
    assert (answer.status_code, sent["method"], sent["url"]) == (
        200, "GET", "http://upstream.test/v1/models"
    )  # fmt: skip
    assert sent["headers"] == {"Accept": ["application/json"], "Authorization": ["Bearer sk-auth"]}
    assert [method for method, _ in fake.calls] == ["host.http.do"]
