"""An in-memory host for testing plugins in the same process, in milliseconds.

The plugin is served by the same :func:`~plugin_sdk.serve` as in production,
over ``trio.testing.memory_stream_pair()``, against a host-side
:class:`~pluginrt.rpc.Connection` whose ``host.*`` callbacks are fakes the
test configures: an HTTP and a model responder, an in-memory auth store, and
captured logs. Every callback is recorded with the ``host_callback_id`` it
carried.

The fakes refuse what the real host refuses, with its messages and
``http_status``: a ``host.model.execute`` with ``stream`` true (and
``execute_stream`` with it false), a ``host.http.*`` URL that is not absolute
http(s), an auth file name or JSON ``host.auth.save`` would not write (the
host's own rules), an unknown ``auth_index`` (404); and a
``host.model.execute_stream`` the model responder answers with a status of
400 or more fails, as a nested stream that fails before its first chunk does.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import trio
import trio.testing

from pluginrt.api import (
    METHODS,
    Empty,
    ExecutorRequest,
    ExecutorStreamRequest,
    ExecutorStreamStart,
    HostAuthFileEntry,
    HostAuthGetRequest,
    HostAuthGetResponse,
    HostAuthGetRuntimeResponse,
    HostAuthListResponse,
    HostAuthSaveRequest,
    HostAuthSaveResponse,
    HostConfigSummary,
    HostHTTPStreamResponse,
    HostModelExecutionRequest,
    HostModelExecutionResponse,
    HostModelStreamReadResponse,
    HostModelStreamResponse,
    HostStreamReadRequest,
    HTTPRequest,
    HTTPResponse,
    LogParams,
    ReconfigureParams,
    RegisterParams,
    RegisterResult,
)
from pluginrt.pipeline._authstore import AuthStoreError, check_name
from pluginrt.rpc import (
    CallContext,
    Connection,
    Handler,
    HandlerError,
    IncomingStream,
    open_connection,
)

from ._plugin import Plugin
from ._serve import serve

__all__ = ["HostCall", "StreamResult", "TestHost", "TestStream", "open_test_host"]

T = TypeVar("T")
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Responder = Callable[[Req], Resp | Awaitable[Resp]]

# The real host's refusals (pluginrt/pipeline/_services.py, _authstore.py), word for word;
# tests/sdk/test_sdk_testing_host.py compares them with the host's own answers.
_EXECUTE_NEEDS_NO_STREAM = (
    "host.model.execute requires stream: false (use host.model.execute_stream)"
)
_EXECUTE_STREAM_NEEDS_STREAM = "host.model.execute_stream requires stream: true"


@dataclass(frozen=True, slots=True)
class HostCall:
    """One ``host.*`` callback the plugin made."""

    method: str
    params: Any
    callback_id: str | None


@dataclass(frozen=True, slots=True)
class StreamResult:
    """A whole executor stream: its headers and every chunk, in order."""

    headers: dict[str, list[str]]
    chunks: list[bytes]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass(frozen=True, slots=True)
class TestStream:
    """An executor stream being read: its headers now, its chunks by iterating ``chunks``."""

    headers: dict[str, list[str]]
    chunks: IncomingStream


@dataclass
class TestHost:
    """The host side of an in-memory plugin. Obtain one from :func:`open_test_host`.

    Configure the fakes freely, before or during a test: ``http`` and
    ``model`` answer ``host.http.*`` and ``host.model.*`` (a sync or async
    callable; their streaming variants serve the body in ``chunk_size``
    pieces); ``auth_files`` maps auth file names to their JSON. ``logs`` and
    ``host_calls`` record what the plugin sent.
    """

    __test__ = False  # not a pytest test class

    http: Responder[HTTPRequest, HTTPResponse] | None = None
    model: Responder[HostModelExecutionRequest, HostModelExecutionResponse] | None = None
    auth_files: dict[str, Any] = field(default_factory=dict)
    chunk_size: int = 32 * 1024
    logs: list[LogParams] = field(default_factory=list)
    host_calls: list[HostCall] = field(default_factory=list)
    _connection: Connection | None = None
    _register_result: RegisterResult | None = None
    _streams: dict[str, deque[bytes]] = field(default_factory=dict)
    _stream_ids: int = 0

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "the test host is not running"
        return self._connection

    @property
    def register_result(self) -> RegisterResult:
        """What the plugin answered to ``plugin.register``."""
        assert self._register_result is not None
        return self._register_result

    # ------------------------------------------------------ calling the plugin

    @overload
    async def call(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        callback_id: str | None = None,
    ) -> T: ...
    @overload
    async def call(
        self,
        method: str,
        params: Any,
        *,
        callback_id: str | None = None,
    ) -> Any: ...
    async def call(
        self,
        method: str,
        params: Any,
        result_type: Any = None,
        *,
        callback_id: str | None = None,
    ) -> Any:
        """Call ``method`` as the host would; the result type defaults to the method table's.

        A handler's :class:`~plugin_sdk.PluginError` arrives as a
        :class:`~pluginrt.rpc.RemoteError` with its ``.message``, ``.http_status``
        and ``.retryable``; its string code is ``.data.code`` (``.code`` is the
        JSON-RPC error number, ``-32000``).
        """
        if result_type is None:
            result_type = METHODS[method].result or Empty
        return await self.connection.call(method, params, result_type, callback_id=callback_id)

    async def notify(self, method: str, params: Any, *, callback_id: str | None = None) -> None:
        """Send a notification (``usage.handle``) as the host would.

        It returns once sent, not once handled (a sync handler may still be
        running in its thread): wait for the handler's effect, e.g. poll
        ``logs`` with ``trio.sleep`` inside ``trio.fail_after``.
        """
        await self.connection.notify(method, params, callback_id=callback_id)

    @asynccontextmanager
    async def open_stream(
        self, request: ExecutorRequest, *, window: int = 16, callback_id: str | None = None
    ) -> AsyncIterator[TestStream]:
        """Start ``executor.execute_stream``; leaving the block early cancels the stream.
        ``request`` may be an ExecutorStreamRequest too: its stream is this one's."""
        incoming = self.connection.open_stream(window)
        params = ExecutorStreamRequest(
            **{f: getattr(request, f) for f in ExecutorRequest.__struct_fields__},
            stream_id=incoming.stream_id,
            window=window,
        )
        async with incoming:
            start = await self.call(
                "executor.execute_stream", params, ExecutorStreamStart, callback_id=callback_id
            )
            yield TestStream(start.headers, incoming)

    async def stream(
        self, request: ExecutorRequest, *, window: int = 16, callback_id: str | None = None
    ) -> StreamResult:
        """Run ``executor.execute_stream`` to its end; a stream error raises StreamError."""
        async with self.open_stream(request, window=window, callback_id=callback_id) as stream:
            return StreamResult(stream.headers, [chunk async for chunk in stream.chunks])

    async def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Send ``plugin.reconfigure`` with a new config section."""
        await self.call("plugin.reconfigure", ReconfigureParams(config=dict(config)), Empty)

    async def shutdown(self) -> None:
        """Send ``plugin.shutdown``; the plugin then stops serving."""
        await self.call("plugin.shutdown", Empty(), Empty)

    # ------------------------------------------------------ the fake callbacks

    def _handlers(self) -> dict[str, Handler]:
        fakes: dict[str, Callable[[Any], Awaitable[Any]]] = {
            "host.log": self._log,
            "host.http.do": self._http_do,
            "host.http.do_stream": self._http_do_stream,
            "host.http.stream_read": self._stream_read,
            "host.http.stream_close": self._stream_close,
            "host.model.execute": self._model_execute,
            "host.model.execute_stream": self._model_execute_stream,
            "host.model.stream_read": self._stream_read,
            "host.model.stream_close": self._stream_close,
            "host.auth.list": self._auth_list,
            "host.auth.get": self._auth_get,
            "host.auth.get_runtime": self._auth_get_runtime,
            "host.auth.save": self._auth_save,
        }
        return {name: self._recorded(name, fake) for name, fake in fakes.items()}

    def _recorded(self, method: str, fake: Callable[[Any], Awaitable[Any]]) -> Handler:
        async def handle(params: Any, ctx: CallContext) -> Any:
            self.host_calls.append(HostCall(method, params, ctx.callback_id))
            return await fake(params)

        return Handler(METHODS[method].params, handle)

    async def _log(self, params: LogParams) -> None:
        self.logs.append(params)

    async def _http_do(self, request: HTTPRequest) -> HTTPResponse:
        return await _answer(self.http, _absolute(request), "http")

    async def _http_do_stream(self, request: HTTPRequest) -> HostHTTPStreamResponse:
        response = await _answer(self.http, _absolute(request), "http")
        stream_id = self._open(response.body)
        return HostHTTPStreamResponse(
            status_code=response.status_code, headers=response.headers, stream_id=stream_id
        )

    async def _model_execute(self, request: HostModelExecutionRequest) -> Any:
        if request.stream:
            raise HandlerError(_EXECUTE_NEEDS_NO_STREAM, http_status=400)
        return await _answer(self.model, request, "model")

    async def _model_execute_stream(
        self, request: HostModelExecutionRequest
    ) -> HostModelStreamResponse:
        if not request.stream:
            raise HandlerError(_EXECUTE_STREAM_NEEDS_STREAM, http_status=400)
        response = await _answer(self.model, request, "model")
        if response.status_code >= 400:
            raise HandlerError(
                response.body.decode("utf-8", "replace"), http_status=response.status_code
            )
        stream_id = self._open(response.body)
        return HostModelStreamResponse(
            status_code=response.status_code, headers=response.headers, stream_id=stream_id
        )

    def _open(self, body: bytes) -> str:
        self._stream_ids += 1
        stream_id = f"h{self._stream_ids}"
        size = max(1, self.chunk_size)
        self._streams[stream_id] = deque(body[i : i + size] for i in range(0, len(body), size))
        return stream_id

    async def _stream_read(self, params: HostStreamReadRequest) -> HostModelStreamReadResponse:
        chunks = self._streams.get(params.stream_id)
        if not chunks:
            self._streams.pop(params.stream_id, None)
            return HostModelStreamReadResponse(done=True)
        return HostModelStreamReadResponse(payload=chunks.popleft())

    async def _stream_close(self, params: HostStreamReadRequest) -> Empty:
        self._streams.pop(params.stream_id, None)
        return Empty()

    @property
    def open_host_streams(self) -> int:
        """Host streams the plugin opened and has neither finished nor closed."""
        return len(self._streams)

    def _entry(self, name: str) -> HostAuthFileEntry:
        data = self.auth_files[name]
        kind = data.get("type", "") if isinstance(data, dict) else ""
        return HostAuthFileEntry(
            id=name, auth_index=name, name=name, type=kind, provider=kind, path=name
        )

    def _find(self, auth_index: str, method: str) -> str:
        if auth_index not in self.auth_files:
            raise HandlerError(f"{method}: no auth with auth_index {auth_index!r}", http_status=404)
        return auth_index

    async def _auth_list(self, params: Empty) -> HostAuthListResponse:
        return HostAuthListResponse(files=[self._entry(name) for name in sorted(self.auth_files)])

    async def _auth_get(self, params: HostAuthGetRequest) -> HostAuthGetResponse:
        name = self._find(params.auth_index, "host.auth.get")
        return HostAuthGetResponse(
            auth_index=name, name=name, path=name, json=self.auth_files[name]
        )

    async def _auth_get_runtime(self, params: HostAuthGetRequest) -> HostAuthGetRuntimeResponse:
        return HostAuthGetRuntimeResponse(
            auth=self._entry(self._find(params.auth_index, "host.auth.get_runtime"))
        )

    async def _auth_save(self, params: HostAuthSaveRequest) -> HostAuthSaveResponse:
        name = params.name
        try:
            check_name(name)
            if not isinstance(params.json, dict):
                raise AuthStoreError(f"auth file {name!r}: the JSON must be an object")
        except AuthStoreError as exc:
            raise HandlerError(f"host.auth.save: {exc}", http_status=400) from None
        self.auth_files[name] = params.json
        return HostAuthSaveResponse(name=name, path=name)


def _absolute(request: HTTPRequest) -> HTTPRequest:
    if not request.url.startswith(("http://", "https://")):
        raise HandlerError(
            f"host.http: URL must be absolute http(s), got {request.url!r}", http_status=400
        )
    return request


async def _answer(responder: Responder[Any, T] | None, request: Any, what: str) -> T:
    if responder is None:
        raise HandlerError(f"the test host has no {what} responder", code="not_configured")
    answer = responder(request)
    if inspect.isawaitable(answer):
        return await answer
    return answer


@asynccontextmanager
async def open_test_host(
    plugin: Plugin,
    *,
    config: Mapping[str, Any] | None = None,
    plugin_id: str = "test",
    host_config: HostConfigSummary | None = None,
    http: Responder[HTTPRequest, HTTPResponse] | None = None,
    model: Responder[HostModelExecutionRequest, HostModelExecutionResponse] | None = None,
    auth_files: Mapping[str, Any] | None = None,
) -> AsyncIterator[TestHost]:
    """Serve ``plugin`` in this process and handshake with it (``plugin.register``).

    On exit the host closes its end and the plugin stops serving. The
    block's own exception is re-raised as is, and so are an invalid
    declaration (ValueError) and a refused handshake (the plugin's
    :class:`~pluginrt.rpc.RemoteError`, e.g. from its ``on_config`` hook).
    """
    plugin.declaration()  # raised here, not from the serving task inside a group
    test_host = TestHost(http=http, model=model, auth_files=dict(auth_files or {}))
    plugin_end, host_end = trio.testing.memory_stream_pair()

    async def serve_plugin() -> None:
        try:
            await serve(plugin, plugin_end, plugin_end)
        finally:
            await plugin_end.aclose()

    error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_plugin)
        try:
            async with open_connection(
                host_end, host_end, test_host._handlers(), name="test-host"
            ) as connection:
                test_host._connection = connection
                params = RegisterParams(
                    protocol_version=1,
                    plugin_id=plugin_id,
                    config=dict(config or {}),
                    host=host_config or HostConfigSummary(),
                )
                try:
                    test_host._register_result = await connection.call(
                        "plugin.register", params, RegisterResult
                    )
                    yield test_host
                except BaseException as exc:
                    error = exc
        finally:
            await host_end.aclose()
    if error is not None:
        raise error
