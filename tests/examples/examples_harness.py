"""Start an example script as a real child process through pluginrt's host layer.

:func:`start` yields the :class:`~pluginrt.host.PluginHandle` of one running
example; :class:`FakeHost` answers the ``host.*`` callbacks an example makes,
in memory (no network), and remembers what it was asked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import trio

from pluginrt import api
from pluginrt.host import PluginHandle, PluginSpec, PluginState, RestartPolicy, open_plugins
from pluginrt.rpc import CallContext, Empty, Handler

ROOT: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = ROOT / "examples"
#: Every wait on a real process is bounded by this.
PATIENCE: Final = 10.0


@dataclass
class FakeHost:
    """In-memory answers to every ``host.*`` callback, recording each call."""

    calls: list[tuple[str, str | None]] = field(default_factory=list)
    logs: list[api.LogParams] = field(default_factory=list)
    auths: dict[str, Any] = field(default_factory=dict)
    http_stream: list[bytes] = field(default_factory=lambda: [b"one ", b"two ", b"three"])
    _streams: dict[str, list[bytes]] = field(default_factory=dict)

    def handlers(self) -> Mapping[str, Handler]:
        def typed(params: type[Any], fn: Any) -> Handler:
            async def serve(value: Any, ctx: CallContext) -> Any:
                self.calls.append((ctx.method, ctx.callback_id))
                return fn(value)

            return Handler(params, serve)

        return {
            "host.log": typed(api.LogParams, self.logs.append),
            "host.http.do": typed(api.HTTPRequest, self._http_do),
            "host.http.do_stream": typed(api.HTTPRequest, self._http_do_stream),
            "host.http.stream_read": typed(api.HostStreamReadRequest, self._read),
            "host.http.stream_close": typed(api.HostStreamCloseRequest, self._close),
            "host.model.execute": typed(api.HostModelExecutionRequest, self._model),
            "host.auth.list": typed(Empty, self._auth_list),
            "host.auth.save": typed(api.HostAuthSaveRequest, self._auth_save),
        }

    def _http_do(self, request: api.HTTPRequest) -> api.HTTPResponse:
        body = {"method": request.method, "url": request.url, "headers": request.headers,
                "body": request.body.decode()}  # fmt: skip
        headers = {"Content-Type": ["application/json"], "X-Fake-Host": ["yes"]}
        return api.HTTPResponse(status_code=200, headers=headers, body=json.dumps(body).encode())

    def _http_do_stream(self, request: api.HTTPRequest) -> api.HostHTTPStreamResponse:
        stream_id = f"http-{len(self._streams)}"
        self._streams[stream_id] = list(self.http_stream)
        return api.HostHTTPStreamResponse(status_code=200, stream_id=stream_id)

    def _read(self, request: api.HostStreamReadRequest) -> api.HostModelStreamReadResponse:
        chunks = self._streams.get(request.stream_id, [])
        if not chunks:
            return api.HostModelStreamReadResponse(done=True)
        return api.HostModelStreamReadResponse(payload=chunks.pop(0))

    def _close(self, request: api.HostStreamCloseRequest) -> Empty:
        self._streams.pop(request.stream_id, None)
        return Empty()

    def _model(self, request: api.HostModelExecutionRequest) -> api.HostModelExecutionResponse:
        body = {"model": request.model, "echo": json.loads(request.body or b"null")}
        return api.HostModelExecutionResponse(status_code=200, body=json.dumps(body).encode())

    def _auth_list(self, _: Empty) -> api.HostAuthListResponse:
        files = [
            api.HostAuthFileEntry(name=n, auth_index=n, type="mock") for n in sorted(self.auths)
        ]
        return api.HostAuthListResponse(files=files)

    def _auth_save(self, request: api.HostAuthSaveRequest) -> api.HostAuthSaveResponse:
        self.auths[request.name] = request.json
        return api.HostAuthSaveResponse(name=request.name, path=f"/auths/{request.name}")


@asynccontextmanager
async def start(
    script: str | Path,
    *,
    config: Mapping[str, Any] | None = None,
    host: FakeHost | None = None,
) -> AsyncIterator[PluginHandle]:
    """Run ``script`` (a name in ``examples/`` or a full command path) and yield its handle."""
    path = Path(script) if Path(script).is_absolute() else EXAMPLES / script
    command = ("node", str(path)) if path.suffix == ".js" else (str(path),)
    spec = PluginSpec(
        id=path.stem.replace("_", "-"),
        command=command,
        config=dict(config or {}),
        # The checkout first: a stale editable install can shadow plugin_sdk.
        env={"PYTHONPATH": str(ROOT)},
        call_timeout=PATIENCE,
        handshake_timeout=PATIENCE,
        restart=RestartPolicy(max_restarts=0),
    )
    callbacks = (host or FakeHost()).handlers()
    with trio.fail_after(PATIENCE * 2):
        async with open_plugins([spec], callbacks=callbacks) as plugins:
            handle = plugins[spec.id]
            assert handle.state is PluginState.RUNNING, handle.last_error
            yield handle


async def stream(
    handle: PluginHandle, request: api.ExecutorRequest, *, window: int = 2
) -> tuple[api.ExecutorStreamStart, list[bytes]]:
    """Call ``executor.execute_stream`` and read the whole stream."""
    incoming = handle.open_stream(window)
    params = api.ExecutorStreamRequest(
        **{f: getattr(request, f) for f in request.__struct_fields__},
        stream_id=incoming.stream_id,
        window=window,
    )
    with trio.fail_after(PATIENCE):
        start_ = await handle.call("executor.execute_stream", params, api.ExecutorStreamStart)
        chunks = [chunk async for chunk in incoming]
    return start_, chunks
