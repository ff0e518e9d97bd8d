"""plugin_sdk.testing's fake host refuses what the real host refuses, in the real host's words."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from plugin_sdk import Plugin, host
from plugin_sdk.testing import TestHost, open_test_host
from pluginrt.api import (
    ExecutorRequest,
    ExecutorResponse,
    HostAuthGetRequest,
    HostAuthSaveRequest,
    HostConfigSummary,
    HostModelExecutionRequest,
    HostModelExecutionResponse,
    HTTPRequest,
)
from pluginrt.pipeline._authstore import AuthStore
from pluginrt.pipeline._callbacks import CallbackRegistry
from pluginrt.pipeline._services import HostServices, HTTPBridge
from pluginrt.rpc import CallContext, Handler, HandlerError, RemoteError

REFUSED: list[tuple[str, Any]] = [
    ("host.model.execute", HostModelExecutionRequest(model="m", stream=True)),
    ("host.model.execute_stream", HostModelExecutionRequest(model="m", stream=False)),
    ("host.auth.save", HostAuthSaveRequest(name="../evil.json", json={})),
    ("host.auth.save", HostAuthSaveRequest(name="evil.txt", json={})),
    ("host.auth.save", HostAuthSaveRequest(name=".hidden.json", json={})),
    ("host.auth.save", HostAuthSaveRequest(name="list.json", json=[1, 2])),
    ("host.auth.get", HostAuthGetRequest(auth_index="missing.json")),
    ("host.auth.get_runtime", HostAuthGetRequest(auth_index="missing.json")),
    ("host.http.do", HTTPRequest(url="up.example/x")),
    ("host.http.do_stream", HTTPRequest(url="ftp://up.example/x")),
]


async def refusal(handler: Handler, method: str, params: Any) -> tuple[str, int, str]:
    # A CallContext's connection is only used for streams, which none of these opens.
    context = CallContext(connection=None, method=method, id=1, callback_id=None)  # type: ignore[arg-type]
    with pytest.raises(HandlerError) as info:
        await handler.fn(params, context)
    return info.value.message, info.value.http_status, info.value.code


@pytest.mark.parametrize(("method", "params"), REFUSED, ids=[m for m, _ in REFUSED])
async def test_the_test_host_refuses_as_the_real_host_does(
    method: str, params: Any, tmp_path: Path
) -> None:
    bridge = HTTPBridge()
    services = HostServices(
        pipeline=None,  # type: ignore[arg-type]  # every call here is refused before it
        auths=AuthStore(tmp_path, models=None, host=HostConfigSummary()),  # type: ignore[arg-type]
        http=bridge,
        callbacks=CallbackRegistry(),
        plugins=list,
    )
    try:
        handlers = services.handlers_for(SimpleNamespace(id="p"))  # type: ignore[arg-type]
        real = await refusal(handlers[method], method, params)
    finally:
        await bridge.aclose()
    fake = await refusal(TestHost()._handlers()[method], method, params)
    assert fake == real
    assert real[1] in (400, 404)


async def test_a_handler_sees_the_refusal_as_the_remote_error_production_would_raise() -> None:
    plugin = Plugin("bridge")
    plugin.executor("bridge", input_formats=["openai"], output_formats=["openai"])
    seen: list[tuple[str, int]] = []

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        for call in (
            host.model.execute(HostModelExecutionRequest(model="m", stream=True)),
            host.model.execute_stream(HostModelExecutionRequest(model="m")),
            host.auth.save("../evil.json", {}),
            host.auth.save("evil.txt", {}),
            host.auth.save("list.json", ["not", "an", "object"]),
        ):
            with pytest.raises(RemoteError) as info:
                await call
            seen.append((info.value.message, info.value.http_status))
        return ExecutorResponse()

    def model(request: HostModelExecutionRequest) -> HostModelExecutionResponse:
        return HostModelExecutionResponse(status_code=200, body=b"{}")

    async with open_test_host(plugin, model=model) as h:
        await h.call("executor.execute", ExecutorRequest())
    assert h.auth_files == {}
    assert seen == [
        ("host.model.execute requires stream: false (use host.model.execute_stream)", 400),
        ("host.model.execute_stream requires stream: true", 400),
        ("host.auth.save: auth file name '../evil.json' must be a plain file name", 400),
        ("host.auth.save: auth file name 'evil.txt' must end with .json", 400),
        ("host.auth.save: auth file 'list.json': the JSON must be an object", 400),
    ]


async def test_a_nested_stream_the_model_fails_raises_as_the_real_host_does() -> None:
    plugin = Plugin("bridge")
    plugin.executor("bridge", input_formats=["openai"], output_formats=["openai"])

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        with pytest.raises(RemoteError) as info:
            await host.model.execute_stream(HostModelExecutionRequest(model="m", stream=True))
        return ExecutorResponse(payload=f"{info.value.http_status} {info.value.message}".encode())

    def model(request: HostModelExecutionRequest) -> HostModelExecutionResponse:
        return HostModelExecutionResponse(status_code=429, body=b"slow down")

    async with open_test_host(plugin, model=model) as h:
        result = await h.call("executor.execute", ExecutorRequest())
    assert result.payload == b"429 slow down"
