"""Request, response and stream chunk interceptor examples."""

from __future__ import annotations

import json

from examples_harness import start

from pluginrt import api


async def test_the_request_interceptor_adds_a_header_and_tags_the_body_before_and_after_auth() -> (
    None
):
    request = api.RequestInterceptRequest(
        model="mock-small", headers={"X-Debug": ["1"]}, body=b'{"model": "mock-small"}'
    )
    async with start("request_interceptor.py") as plugin:
        before = await plugin.call(
            "request.intercept_before", request, api.RequestInterceptResponse
        )
        request.body = before.body
        after = await plugin.call("request.intercept_after", request, api.RequestInterceptResponse)
    assert before.headers == {"X-Intercepted-Before": ["mock-small"]}
    assert after.headers == {"X-Intercepted-After": ["mock-small"]}
    assert before.clear_headers == ["X-Debug"]
    assert json.loads(after.body) == {
        "model": "mock-small",
        "metadata": {"intercepted_before": True, "intercepted_after": True},
    }


async def test_the_response_interceptor_stamps_headers_and_appends_the_configured_footer() -> None:
    completion = {"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}
    request = api.ResponseInterceptRequest(
        status_code=200, response_headers={"Server": ["up"]}, body=json.dumps(completion).encode()
    )
    async with start("response_interceptor.py", config={"footer": " (mock)"}) as plugin:
        answer = await plugin.call(
            "response.intercept_after", request, api.ResponseInterceptResponse
        )
    assert answer.headers == {"X-Served-By": ["pluginrt"]}
    assert answer.clear_headers == ["Server"]
    assert json.loads(answer.body)["choices"][0]["message"]["content"] == "Hi (mock)"


async def test_the_stream_chunk_interceptor_adds_a_header_on_init_and_drops_matching_chunks() -> (
    None
):
    def chunk(index: int, body: bytes = b"") -> api.StreamChunkInterceptRequest:
        return api.StreamChunkInterceptRequest(chunk_index=index, body=body)

    async with start("stream_chunk_interceptor.py", config={"drop": "classified"}) as plugin:

        async def ask(request: api.StreamChunkInterceptRequest) -> api.StreamChunkInterceptResponse:
            return await plugin.call(
                "response.intercept_stream_chunk", request, api.StreamChunkInterceptResponse
            )

        init = await ask(chunk(api.STREAM_CHUNK_HEADER_INIT_INDEX))
        kept = await ask(chunk(0, b'data: {"content": "hello"}\n\n'))
        dropped = await ask(chunk(1, b'data: {"content": "classified"}\n\n'))
    assert init == api.StreamChunkInterceptResponse(headers={"X-Stream-Filtered": ["true"]})
    assert kept == api.StreamChunkInterceptResponse()
    assert dropped.drop_chunk
