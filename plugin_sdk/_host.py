"""The client for the host's ``host.*`` callbacks, usable from inside any handler.

``plugin_sdk.host`` is one module-level object. It finds the connection and
the ``host_callback_id`` of the call being served through a context variable
that the SDK sets for every incoming call, so a handler never passes either
along: nested host calls are attributed to the client request that caused
them. Sync handlers reach the same object through :func:`blocking`.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import trio

from pluginrt.api import (
    Empty,
    HostAuthFileEntry,
    HostAuthGetRequest,
    HostAuthGetResponse,
    HostAuthGetRuntimeResponse,
    HostAuthListResponse,
    HostAuthSaveRequest,
    HostAuthSaveResponse,
    HostHTTPStreamResponse,
    HostModelExecutionRequest,
    HostModelExecutionResponse,
    HostModelStreamCloseRequest,
    HostModelStreamReadRequest,
    HostModelStreamReadResponse,
    HostModelStreamResponse,
    HostStreamCloseRequest,
    HostStreamReadRequest,
    HTTPRequest,
    HTTPResponse,
    LogParams,
)
from pluginrt.rpc import Connection, StreamError

__all__ = ["Host", "HostStream", "blocking", "host"]

T = TypeVar("T")
P = ParamSpec("P")

#: How long closing a host stream early may wait for the host's answer.
_CLOSE_TIMEOUT = 5.0


#: The connection and the ``host_callback_id`` of the call being served (a plain
#: tuple: a dataclass costs the plugin half a millisecond at import).
_Call = tuple[Connection, str | None]

_current: contextvars.ContextVar[_Call] = contextvars.ContextVar("plugin_sdk_call")


def _bind(connection: Connection, callback_id: str | None) -> None:
    """Make ``host`` talk to ``connection`` on behalf of ``callback_id`` in this task."""
    _current.set((connection, callback_id))


def _call() -> _Call:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(
            "plugin_sdk.host is only available while a handler is serving a call"
        ) from None


async def _request(method: str, params: Any, result_type: type[T]) -> T:
    connection, callback_id = _call()
    return await connection.call(method, params, result_type, callback_id=callback_id)


class HostStream:
    """A body the host streams to the plugin, pulled with ``*.stream_read``.

    Use it as ``async with await host.http.do_stream(req) as body:`` and
    iterate ``body`` for chunks (or ``await body.receive()``, ``b""`` at the
    end); a read error raises :class:`~pluginrt.rpc.StreamError`. Leaving the
    block early (or ``aclose()``) tells the host with ``*.stream_close``.
    """

    def __init__(self, status_code: int, headers: dict[str, list[str]], stream_id: str,
                 read: Callable[[str], Awaitable[HostModelStreamReadResponse]],
                 close: Callable[[str], Awaitable[object]]) -> None:  # fmt: skip
        self.status_code = status_code
        self.headers = headers
        self.stream_id = stream_id
        self._read = read
        self._close = close
        self._done = False

    async def receive(self) -> bytes:
        """The next non-empty chunk, or ``b""`` once the stream is done."""
        while not self._done:
            answer = await self._read(self.stream_id)
            if answer.error:
                self._done = True
                raise StreamError(answer.error)
            self._done = answer.done
            if answer.payload:
                return answer.payload
        return b""

    def __aiter__(self) -> HostStream:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.receive()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Stop reading; tells the host unless the stream already ended."""
        if self._done:
            return
        self._done = True
        with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_TIMEOUT):
            await self._close(self.stream_id)

    async def __aenter__(self) -> HostStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class HostHTTP:
    """Outbound HTTP through the host (its proxy, its timeouts)."""

    async def do(self, request: HTTPRequest) -> HTTPResponse:
        """``host.http.do``: the whole response at once."""
        return await _request("host.http.do", request, HTTPResponse)

    async def do_stream(self, request: HTTPRequest) -> HostStream:
        """``host.http.do_stream``: status and headers now, the body as a :class:`HostStream`."""
        start = await _request("host.http.do_stream", request, HostHTTPStreamResponse)
        return HostStream(start.status_code, start.headers, start.stream_id,
                          self._read, self._close)  # fmt: skip

    @staticmethod
    async def _read(stream_id: str) -> HostModelStreamReadResponse:
        params = HostStreamReadRequest(stream_id=stream_id)
        return await _request("host.http.stream_read", params, HostModelStreamReadResponse)

    @staticmethod
    async def _close(stream_id: str) -> None:
        await _request("host.http.stream_close", HostStreamCloseRequest(stream_id=stream_id), Empty)


class HostModel:
    """Nested model execution through the host's own pipeline."""

    async def execute(self, request: HostModelExecutionRequest) -> HostModelExecutionResponse:
        """``host.model.execute`` (``request.stream`` must be false)."""
        return await _request("host.model.execute", request, HostModelExecutionResponse)

    async def execute_stream(self, request: HostModelExecutionRequest) -> HostStream:
        """``host.model.execute_stream`` (``request.stream`` must be true)."""
        start = await _request("host.model.execute_stream", request, HostModelStreamResponse)
        return HostStream(start.status_code, start.headers, start.stream_id,
                          self._read, self._close)  # fmt: skip

    @staticmethod
    async def _read(stream_id: str) -> HostModelStreamReadResponse:
        params = HostModelStreamReadRequest(stream_id=stream_id)
        return await _request("host.model.stream_read", params, HostModelStreamReadResponse)

    @staticmethod
    async def _close(stream_id: str) -> None:
        params = HostModelStreamCloseRequest(stream_id=stream_id)
        await _request("host.model.stream_close", params, Empty)


class HostAuth:
    """The host's auth store."""

    async def list(self) -> list[HostAuthFileEntry]:
        """``host.auth.list``: every auth file, sorted by name."""
        return (await _request("host.auth.list", Empty(), HostAuthListResponse)).files

    async def get(self, auth_index: str) -> HostAuthGetResponse:
        """``host.auth.get``: one auth file's JSON by its index."""
        params = HostAuthGetRequest(auth_index=auth_index)
        return await _request("host.auth.get", params, HostAuthGetResponse)

    async def get_runtime(self, auth_index: str) -> HostAuthFileEntry:
        """``host.auth.get_runtime``: the runtime state of one auth."""
        params = HostAuthGetRequest(auth_index=auth_index)
        return (await _request("host.auth.get_runtime", params, HostAuthGetRuntimeResponse)).auth

    async def save(self, name: str, json: Any) -> HostAuthSaveResponse:
        """``host.auth.save``: write ``json`` (an object) to the auth file ``name`` (``*.json``)."""
        params = HostAuthSaveRequest(name=name, json=json)
        return await _request("host.auth.save", params, HostAuthSaveResponse)


class Host:
    """Every ``host.*`` callback. Use the module-level :data:`host`:

    - ``host.log(level, message, **fields)``
    - ``host.http.do(HTTPRequest)``, ``host.http.do_stream(HTTPRequest)`` (a :class:`HostStream`)
    - ``host.model.execute(HostModelExecutionRequest)``, ``host.model.execute_stream(...)``
    - ``host.auth.list()``, ``.get(auth_index)``, ``.get_runtime(auth_index)`` (the
      response's ``Auth``), ``.save(name, json)``

    A callback the host refuses raises :class:`pluginrt.rpc.RemoteError`:
    ``.message``, ``.http_status`` and ``.retryable`` as the host gave them;
    its string code (``"upstream_timeout"`` ...) is ``.data.code`` (``.data``
    may be None), while ``.code`` is the JSON-RPC error number (``-32000``).
    """

    def __init__(self) -> None:
        self.http = HostHTTP()
        self.model = HostModel()
        self.auth = HostAuth()

    async def log(self, level: str, message: str, **fields: Any) -> None:
        """``host.log``: a structured line in the host's log (trace/debug/info/warn/error)."""
        connection, callback_id = _call()
        params = LogParams(level=level, message=message, fields=fields)
        await connection.notify("host.log", params, callback_id=callback_id)


#: The host, as seen from the handler currently running.
host = Host()


def blocking(fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an async host call from a sync handler (which runs in a worker thread).

    ``blocking(host.http.do, request)`` waits for the answer; the call is
    attributed to the request the handler serves, like an async one. Called
    on the event loop (from an ``async def`` handler) it raises RuntimeError:
    there, await the call itself.
    """
    try:
        trio.lowlevel.current_task()
    except RuntimeError:  # not on the event loop: a worker thread, as it should be
        return trio.from_thread.run(functools.partial(fn, *args, **kwargs))
    raise RuntimeError(
        "plugin_sdk.blocking() is for sync (def) handlers, which run in a worker thread; "
        "in an async def handler, await the call itself"
    )
