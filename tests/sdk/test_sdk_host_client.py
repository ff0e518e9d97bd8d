"""plugin_sdk.host from inside handlers, against the fake callbacks of plugin_sdk.testing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import plugin_sdk
from plugin_sdk import Plugin, blocking, host
from plugin_sdk.testing import open_test_host
from pluginrt.api import (
    ExecutorRequest,
    ExecutorResponse,
    HostModelExecutionRequest,
    HostModelExecutionResponse,
    HTTPRequest,
    HTTPResponse,
)
from pluginrt.rpc import RemoteError


def bridge_plugin() -> Plugin:
    plugin = Plugin("bridge")
    plugin.executor("bridge", input_formats=["openai"], output_formats=["openai"])
    return plugin


def upstream(request: HTTPRequest) -> HTTPResponse:
    return HTTPResponse(status_code=200, headers={"X-Url": [request.url]}, body=b"hello world")


async def test_an_async_handler_calls_host_http_with_the_calls_callback_id() -> None:
    plugin = bridge_plugin()

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        response = await host.http.do(HTTPRequest(method="GET", url="https://up/x"))
        return ExecutorResponse(payload=response.body, headers=response.headers)

    async with open_test_host(plugin, http=upstream) as h:
        result = await h.call("executor.execute", ExecutorRequest(), callback_id="cb-7")
    assert result.payload == b"hello world"
    assert result.headers == {"X-Url": ["https://up/x"]}
    [call] = h.host_calls
    assert (call.method, call.callback_id) == ("host.http.do", "cb-7")


async def test_a_sync_handler_reaches_the_host_through_blocking() -> None:
    plugin = bridge_plugin()

    @plugin.on("executor.execute")
    def execute(request: ExecutorRequest) -> ExecutorResponse:
        response = blocking(host.http.do, HTTPRequest(url="https://up/sync"))
        blocking(host.log, "info", "fetched", status=response.status_code)
        return ExecutorResponse(payload=response.body)

    async with open_test_host(plugin, http=upstream) as h:
        result = await h.call("executor.execute", ExecutorRequest(), callback_id="cb-sync")
    assert result.payload == b"hello world"
    assert [c.callback_id for c in h.host_calls] == ["cb-sync", "cb-sync"]
    [log] = h.logs
    assert (log.level, log.message, log.fields) == ("info", "fetched", {"status": 200})


async def test_blocking_in_an_async_handler_says_to_await_the_call_instead() -> None:
    plugin = bridge_plugin()

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        response = blocking(host.http.do, HTTPRequest(url="https://up/async"))
        return ExecutorResponse(payload=response.body)

    async with open_test_host(plugin, http=upstream) as h:
        with pytest.raises(RemoteError, match=r"blocking\(\) is for sync .* await the call"):
            await h.call("executor.execute", ExecutorRequest())
    assert h.host_calls == []


async def test_an_http_stream_is_read_chunk_by_chunk_and_closed_when_left_early() -> None:
    plugin = bridge_plugin()

    @plugin.on("executor.execute_stream")
    async def stream(request: ExecutorRequest) -> AsyncIterator[bytes]:
        async with await host.http.do_stream(HTTPRequest(url="https://up/s")) as body:
            assert body.status_code == 200
            async for chunk in body:
                yield chunk
                if request.model == "first-only":
                    break

    async with open_test_host(plugin, http=upstream) as h:
        h.chunk_size = 4
        whole = await h.stream(ExecutorRequest())
        assert whole.chunks == [b"hell", b"o wo", b"rld"]
        assert h.open_host_streams == 0
        first = await h.stream(ExecutorRequest(model="first-only"))
        assert first.chunks == [b"hell"]
        assert h.open_host_streams == 0
        assert h.host_calls[-1].method == "host.http.stream_close"


async def test_model_execution_and_its_stream_go_through_the_host() -> None:
    plugin = bridge_plugin()

    def model(request: HostModelExecutionRequest) -> HostModelExecutionResponse:
        return HostModelExecutionResponse(
            status_code=200, body=b"[" + request.model.encode() + b"]"
        )

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        once = await host.model.execute(HostModelExecutionRequest(model=request.model))
        async with await host.model.execute_stream(
            HostModelExecutionRequest(model=request.model, stream=True)
        ) as body:
            streamed = b"".join([chunk async for chunk in body])
        return ExecutorResponse(payload=once.body + streamed)

    async with open_test_host(plugin, model=model) as h:
        h.chunk_size = 2
        result = await h.call("executor.execute", ExecutorRequest(model="gpt"))
    assert result.payload == b"[gpt][gpt]"
    assert "host.model.stream_read" in [c.method for c in h.host_calls]


async def test_the_auth_store_lists_gets_and_saves_files() -> None:
    plugin = bridge_plugin()

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        files = await host.auth.list()
        got = await host.auth.get(files[0].auth_index)
        runtime = await host.auth.get_runtime(files[0].auth_index)
        saved = await host.auth.save("new.json", {"type": "echo", "token": got.json["token"]})
        return ExecutorResponse(
            metadata={"names": [f.name for f in files], "type": runtime.type, "saved": saved.name}
        )

    store = {"b.json": {"type": "echo", "token": "t"}, "a.json": {"type": "echo", "token": "t0"}}
    async with open_test_host(plugin, auth_files=store) as h:
        result = await h.call("executor.execute", ExecutorRequest())
    assert result.metadata == {"names": ["a.json", "b.json"], "type": "echo", "saved": "new.json"}
    assert h.auth_files["new.json"] == {"type": "echo", "token": "t0"}


async def test_a_host_callback_error_reaches_the_handler_as_a_remote_error() -> None:
    plugin = bridge_plugin()

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        with pytest.raises(RemoteError, match="no auth with auth_index"):
            await host.auth.get("missing.json")
        return ExecutorResponse(payload=b"ok")

    async with open_test_host(plugin) as h:
        assert (await h.call("executor.execute", ExecutorRequest())).payload == b"ok"


async def test_a_host_callback_error_the_handler_lets_through_fails_the_call_with_its_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Its message and http_status as the host gave them, not "RemoteError: ... (code N)".
    plugin = bridge_plugin()

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        await host.auth.get("missing.json")
        return ExecutorResponse(payload=b"never")

    async with open_test_host(plugin) as h:
        with pytest.raises(RemoteError) as info:
            await h.call("executor.execute", ExecutorRequest())
    error = info.value
    assert (error.code, error.message) == (
        -32603,
        "executor.execute failed: host.auth.get: no auth with auth_index 'missing.json'",
    )
    assert error.data is not None and (error.data.http_status, error.data.code) == (404, "")
    assert any(r.exc_info for r in caplog.records if "executor.execute failed" in r.getMessage())


async def test_the_host_client_outside_a_call_says_so() -> None:
    with pytest.raises(RuntimeError, match="only available while a handler"):
        await plugin_sdk.host.auth.list()
