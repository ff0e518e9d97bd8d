"""The official OpenAI and Anthropic clients against a running gateway."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import httpx
import msgspec
import openai
import trio
from gateway_harness import KEY, MANAGEMENT_KEY, PATIENCE, PLUGINS, chat, config, gateway

from pluginrt.api import ExecutorRequest
from pluginrt.config import from_mapping


async def test_the_openai_client_gets_a_chat_completion_and_a_streamed_one(tmp_path: Path) -> None:
    async with gateway(config(tmp_path)) as (_, url):

        def talk() -> tuple[str, str]:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
            with client:
                answer = client.chat.completions.create(
                    model="mock-small", messages=[{"role": "user", "content": "hello there"}]
                )
                stream = client.chat.completions.create(
                    model="mock-small",
                    messages=[{"role": "user", "content": "stream me"}],
                    stream=True,
                )
                words = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            return answer.choices[0].message.content or "", words

        with trio.fail_after(PATIENCE):
            whole, streamed = await trio.to_thread.run_sync(talk)
    assert whole == "You said: hello there"
    assert streamed == "You said: stream me"


async def test_the_anthropic_client_gets_a_message_a_streamed_one_and_a_token_count(
    tmp_path: Path,
) -> None:
    async with gateway(config(tmp_path)) as (_, url):

        def talk() -> tuple[str, str, int]:
            client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
            with client:
                message = client.messages.create(
                    model="mock-small",
                    max_tokens=64,
                    messages=[{"role": "user", "content": "hello claude"}],
                )
                with client.messages.stream(
                    model="mock-small",
                    max_tokens=64,
                    messages=[{"role": "user", "content": "stream claude"}],
                ) as stream:
                    words = "".join(stream.text_stream)
                counted = client.messages.count_tokens(
                    model="mock-small", messages=[{"role": "user", "content": "count these words"}]
                )
            first = message.content[0]
            assert first.type == "text"
            return first.text, words, counted.input_tokens

        with trio.fail_after(PATIENCE):
            whole, streamed, tokens = await trio.to_thread.run_sync(talk)
    assert whole == "You said: hello claude"
    assert streamed == "You said: stream claude"
    assert tokens == 3  # the mock counts words


async def test_v1_models_lists_the_plugins_models(tmp_path: Path) -> None:
    async with gateway(config(tmp_path)) as (_, url):

        def listing() -> list[str]:
            with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
                return [m.id for m in client.models.list()]

        with trio.fail_after(PATIENCE):
            models = await trio.to_thread.run_sync(listing)
    assert sorted(models) == ["mock-large", "mock-small", "slow"]


async def test_a_wrong_key_gets_401_with_the_same_openai_style_body_for_every_client(
    tmp_path: Path,
) -> None:
    async with gateway(config(tmp_path)) as (_, url):

        def refused() -> tuple[BaseException, BaseException]:
            with openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0) as oa:
                try:
                    oa.chat.completions.create(model="mock-small", messages=[])
                except openai.AuthenticationError as exc:
                    openai_error: BaseException = exc
            with anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0) as an:
                try:
                    an.messages.create(model="mock-small", max_tokens=8, messages=[])
                except anthropic.AuthenticationError as exc:
                    anthropic_error: BaseException = exc
            return openai_error, anthropic_error

        with trio.fail_after(PATIENCE):
            openai_error, anthropic_error = await trio.to_thread.run_sync(refused)
        async with httpx.AsyncClient(base_url=url) as client:
            gemini = await client.post(
                "/v1beta/models/mock-small:generateContent?key=wrong", content=b"{}"
            )
    assert isinstance(openai_error, openai.AuthenticationError)
    assert openai_error.status_code == 401
    assert openai_error.body == {  # the SDK keeps the "error" member
        "message": "missing or invalid API key",
        "type": "authentication_error",
        "code": "invalid_api_key",
    }
    assert isinstance(anthropic_error, anthropic.AuthenticationError)
    assert anthropic_error.body == {"error": openai_error.body}
    assert gemini.status_code == 401
    assert gemini.json() == {"error": openai_error.body}


async def test_bad_json_is_400_a_big_body_413_in_each_apis_shape_and_healthz_takes_get(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path, overrides={"max-body-size": 1000})
    async with (
        gateway(cfg) as (_, url),
        httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}) as client,
    ):
        broken = await client.post("/v1/messages", content=b"{not json")
        numbered = await client.post("/v1/chat/completions", content=b'{"model": 5}')
        big = await client.post("/v1/chat/completions", content=chat(text="x" * 2000))
        small = await client.post("/v1/chat/completions", content=chat())
        untyped = await client.post("/v1/chat/completions", content=chat("slow"))  # no headers
        # The management API answers in its own shape, a wrong method on /healthz 405.
        patch = await client.patch("/v0/management/plugins/mock/config", content=b"{" * 2000)
        health = await client.post("/healthz")
    assert patch.status_code == 413
    assert patch.json()["error"]["code"] == 413 and "type" not in patch.json()["error"]
    assert (health.status_code, health.headers["allow"]) == (405, "GET, HEAD")
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request_error"
    assert numbered.status_code == 400
    assert numbered.json()["error"]["message"] == '"model" must be a string, got 5'
    assert big.status_code == 413
    assert big.json()["error"]["type"] == "invalid_request_error"
    assert small.status_code == 200
    assert (untyped.status_code, untyped.headers["content-type"]) == (200, "application/json")


async def test_json_nested_too_deeply_for_python_is_a_400_not_an_empty_500(tmp_path: Path) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    async with (
        gateway(config(tmp_path)) as (_, url),
        httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}) as client,
    ):
        chat_answer = await client.post("/v1/chat/completions", content=deep)
        patch = await client.patch(
            "/v0/management/plugins/mock/config",
            content=deep,
            headers={"Authorization": f"Bearer {MANAGEMENT_KEY}"},
        )
    assert chat_answer.status_code == 400
    message = "the request body is not JSON: it nests too deeply"
    assert chat_answer.json()["error"]["message"] == message
    assert patch.status_code == 400
    assert patch.json()["error"]["message"] == "the body is not JSON: it nests too deeply"


def test_a_body_of_the_default_largest_size_fits_an_executor_call_in_a_default_line() -> None:
    # The body travels twice, base64-encoded, in one executor.execute line: a body the
    # gateway lets through must not be one no plugin can be sent.
    settings = from_mapping({"plugins": [{"id": "p", "command": "p.py"}]})
    body = b"x" * settings.max_body_size
    request = ExecutorRequest(payload=body, original_request=body, model="m", format="openai")
    line = msgspec.json.encode(
        {"jsonrpc": "2.0", "id": 1, "method": "executor.execute", "params": request}
    )
    assert len(line) < settings.plugins[0].max_line


async def test_plugins_get_request_headers_under_go_canonical_names(tmp_path: Path) -> None:
    """A Go plugin's ``Headers.Get("Authorization")`` finds only the canonical name."""
    go = {"id": "go", "command": str(PLUGINS / "go_headers.py")}
    cfg = config(tmp_path, overrides={"plugins": [go]})
    async with gateway(cfg) as (_host, base), httpx.AsyncClient(base_url=base) as client:
        with trio.fail_after(PATIENCE):
            answer = await client.post(
                "/v1/chat/completions",
                content=chat("go-headers"),
                headers={"authorization": "Bearer go-token", "content-type": "application/json"},
            )
    assert answer.status_code == 200, answer.text
    names = json.loads(answer.json()["choices"][0]["message"]["content"])
    assert {"Authorization", "Content-Type", "User-Agent"} <= set(names), names


async def test_a_wrong_method_is_405_with_allow_and_an_unknown_path_404_for_every_format(
    tmp_path: Path,
) -> None:
    wrong = [
        ("GET", "/v1/chat/completions", "POST"),
        ("GET", "/v1/responses", "POST"),
        ("GET", "/v1/messages", "POST"),
        ("GET", "/v1/messages/count_tokens", "POST"),
        ("GET", "/v1beta/models/mock-small:generateContent", "POST"),
        ("PUT", "/v1/models/mock-small:streamGenerateContent", "POST"),
        ("POST", "/v1/models", "GET, HEAD"),
    ]
    unknown = [
        ("POST", "/v1/completions"),
        ("POST", "/v1/chat"),
        ("POST", "/v1beta/models/mock-small:embedContent"),
        ("GET", "/v1/models/mock-small"),  # the OpenAI SDK's models.retrieve
        ("GET", "/v1beta/models"),  # Gemini's model listing
    ]
    async with (
        gateway(config(tmp_path)) as (_, url),
        httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}) as client,
    ):
        with trio.fail_after(PATIENCE):
            refused = [(await client.request(m, path), allow) for m, path, allow in wrong]
            missing = [await client.request(m, path, content=chat()) for m, path in unknown]
    for answer, allow in refused:
        assert answer.status_code == 405, answer.request.url
        assert answer.headers["allow"] == allow  # RFC 9110 requires it of a 405
        used = allow.split(",")[0]  # HEAD goes with GET, unsaid
        assert answer.json()["error"]["message"] == f"use {used} on {answer.request.url.path}"
    for answer in missing:
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == f"no route for {answer.request.url.path}"


async def test_the_sdks_raise_their_own_error_class_with_the_status_and_the_message(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(words=2, delay=0, fail="upstream fell over")
    ask = [{"role": "user", "content": "hi"}]

    def failures() -> dict[str, tuple[Exception, list[str]]]:
        """Each call's exception, and the words streamed before it."""
        seen: dict[str, tuple[Exception, list[str]]] = {}
        oa = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        an = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
        calls = {
            "openai": lambda: oa.chat.completions.create(model="nope", messages=ask),
            "anthropic": lambda: an.messages.create(model="nope", max_tokens=5, messages=ask),
            "openai stream": lambda: [
                c.choices[0].delta.content or ""
                for c in oa.chat.completions.create(model="slow", messages=ask, stream=True)
            ],
            "anthropic stream": lambda: an.messages.stream(
                model="slow", max_tokens=5, messages=ask
            ),
        }
        with oa, an:
            for name, call in calls.items():
                words: list[str] = []
                try:
                    answer = call()
                    if name == "anthropic stream":
                        with answer as stream:
                            words.extend(stream.text_stream)
                except (openai.APIError, anthropic.APIError) as exc:
                    seen[name] = (exc, words)
        return seen

    async with gateway(cfg) as (_, url):
        with trio.fail_after(PATIENCE):
            seen = await trio.to_thread.run_sync(failures)
    (oa_404, _), (an_404, _) = seen["openai"], seen["anthropic"]
    assert isinstance(oa_404, openai.NotFoundError) and oa_404.status_code == 404
    assert oa_404.message == "Error code: 404 - model 'nope' is not served here"
    assert isinstance(an_404, anthropic.NotFoundError) and an_404.status_code == 404
    assert an_404.body == {"error": oa_404.body}  # the same body (the OpenAI SDK keeps "error")
    # A stream that fails after its first chunk: the words came, then the SDK raises.
    (oa_late, _), (an_late, an_words) = seen["openai stream"], seen["anthropic stream"]
    assert type(oa_late) is openai.APIError and oa_late.message == "upstream fell over"
    assert an_words == ["w0 ", "w1 "]
    assert type(an_late) is anthropic.APIStatusError and an_late.status_code == 200
    assert an_late.body == {"error": oa_late.body}
