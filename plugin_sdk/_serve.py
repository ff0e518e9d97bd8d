"""Serving a :class:`Plugin` over any pair of trio byte streams.

The same :func:`serve` runs behind :func:`plugin_sdk.run` (the process's
stdio) and :mod:`plugin_sdk.testing` (an in-memory pair), so what a plugin's
tests exercise is what the host talks to.

Guarantees: every handler sees ``plugin_sdk.host`` bound to its own call;
a sync handler never blocks the event loop; a result that cannot be encoded
fails its call with an error naming the plugin and the method, logged to
stderr, and the plugin serves on; a streaming executor answers
its headers before its first chunk, sends only with credit, ends with
exactly one ``stream.end``, and has its generator closed when the host
cancels the stream.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from typing import Any, Final

import msgspec
import trio

from pluginrt.api import (
    Empty,
    ExecutorStreamRequest,
    ExecutorStreamStart,
    Method,
    ReconfigureParams,
    RegisterParams,
    RegisterResult,
)
from pluginrt.rpc import (
    CANCELLED,
    DEFAULT_MAX_LINE,
    INTERNAL_ERROR,
    CallContext,
    Connection,
    Handler,
    HandlerError,
    OutgoingStream,
    RPCError,
    StreamError,
    open_connection,
)

from ._host import _bind, _current
from ._plugin import SERVABLE, STREAM_METHOD, Plugin

__all__ = ["serve"]

logger = logging.getLogger("plugin_sdk")

_END: Final = object()
_ENCODER: Final = msgspec.json.Encoder()


async def serve(
    plugin: Plugin,
    send_stream: trio.abc.SendStream,
    receive_stream: trio.abc.ReceiveStream,
    *,
    max_line: int = DEFAULT_MAX_LINE,
) -> None:
    """Serve ``plugin`` until the peer closes its end or sends ``plugin.shutdown``.

    Raises ValueError before serving anything if the declaration is invalid.
    """
    plugin.declaration()
    handlers = {name: _wrap(SERVABLE[name], fn) for name, fn in plugin.handlers.items()}
    handlers.update(_lifecycle(plugin))
    async with open_connection(
        send_stream,
        receive_stream,
        handlers,
        name=plugin.name,
        max_line=max_line,
        finish_on_eof=True,  # stdin closed: still answer what is under way
    ) as connection:
        await connection.wait_closed()


# --------------------------------------------------------------- lifecycle


def _lifecycle(plugin: Plugin) -> dict[str, Handler]:
    async def register(params: RegisterParams, ctx: CallContext) -> RegisterResult:
        _bind(ctx.connection, ctx.callback_id)
        plugin.plugin_id = params.plugin_id
        plugin.host_config = params.host
        await _configure(plugin, params.config)
        return plugin.declaration()

    async def reconfigure(params: ReconfigureParams, ctx: CallContext) -> Empty:
        _bind(ctx.connection, ctx.callback_id)
        await _configure(plugin, params.config)
        return Empty()

    async def shutdown(params: Empty, ctx: CallContext) -> Empty:
        ctx.connection.spawn(_finish, ctx.connection)
        return Empty()

    return {
        "plugin.register": Handler(RegisterParams, register),
        "plugin.reconfigure": Handler(ReconfigureParams, reconfigure),
        "plugin.shutdown": Handler(Empty, shutdown),
    }


async def _configure(plugin: Plugin, config: Mapping[str, Any]) -> None:
    if plugin.config_hook is not None:
        await _as_async(plugin.config_hook)(dict(config))
    plugin.config = dict(config)


async def _finish(connection: Connection) -> None:
    # "Finish and exit": the shutdown answer first (queued as its handler returns),
    # then the answers and streams still under way, then close.
    await trio.lowlevel.checkpoint()
    await connection.drain()
    connection.close()


# ---------------------------------------------------------------- handlers


def _as_async(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if inspect.iscoroutinefunction(fn):
        return fn

    async def in_thread(params: Any) -> Any:
        # The worker thread gets a copy of this task's context: ``host`` and
        # ``blocking`` work from it. A cancelled call answers at once and
        # leaves the thread to finish on its own.
        return await trio.to_thread.run_sync(fn, params, abandon_on_cancel=True)

    return in_thread


def _wrap(method: Method, fn: Callable[..., Any]) -> Handler:
    if method.name == STREAM_METHOD:
        return Handler(method.params, _stream_handler(fn))
    call = _as_async(fn)
    expected = method.result
    if expected is None:
        # Notifications (usage records) are handled one at a time, so a
        # handler keeping running totals needs no lock of its own.
        call = _one_at_a_time(call)

    def handle(params: Any, ctx: CallContext) -> Awaitable[Any]:
        # Not a coroutine of its own: the engine awaits the handler's, in the
        # call's own context, checks its result against ``expected`` and encodes
        # it (a result it cannot encode fails the call, naming plugin and method).
        _current.set((ctx.connection, ctx.callback_id))  # _bind, without the call
        awaitable: Awaitable[Any] = call(params)
        return awaitable

    return Handler(method.params, handle, result=expected)


def _encoded(connection: Connection, method: str, result: object) -> msgspec.Raw:
    """``result`` encoded once, for the engine to send as is; one msgspec cannot encode
    (a set of objects in an ``Any`` field) fails the call as the engine fails it."""
    try:
        return msgspec.Raw(_ENCODER.encode(result))
    except (msgspec.EncodeError, TypeError) as exc:
        said = f"{connection.name} returned a result that cannot be encoded: {exc}"
        message = f"{method} failed: {said}"
        logger.error("%s", message)
        raise HandlerError(message, code="internal", rpc_code=INTERNAL_ERROR) from None


def _one_at_a_time(call: Callable[[Any], Any]) -> Callable[[Any], Any]:
    lock = trio.Lock()

    async def serialized(params: Any) -> Any:
        async with lock:
            return await call(params)

    return serialized


# ----------------------------------------------------------------- streams


class _Start:
    """Hands the stream's fate from the producer task to the call's handler."""

    def __init__(self) -> None:
        self.ready = trio.Event()  # headers, or the error, are known
        self.answered = trio.Event()  # the headers are queued: chunks may follow
        self.headers = ExecutorStreamStart()
        self.error: Exception | None = None


def _stream_handler(fn: Callable[[Any], Any]) -> Callable[[Any, CallContext], Any]:
    async def handle(params: ExecutorStreamRequest, ctx: CallContext) -> msgspec.Raw:
        _bind(ctx.connection, ctx.callback_id)
        out = ctx.connection.outgoing_stream(params.stream_id, params.window)
        start = _Start()
        # The generator runs whole in one task (it may hold cancel scopes
        # across its yields); this call only waits for its first item.
        ctx.connection.spawn(_produce, fn, params, out, start)
        try:
            await start.ready.wait()
        except BaseException:
            out.cancel_scope.cancel()
            raise
        if start.error is not None:
            raise start.error
        try:
            headers = _encoded(ctx.connection, STREAM_METHOD, start.headers)
        except HandlerError:
            out.cancel_scope.cancel()  # the call fails: no chunk may follow
            raise
        # No checkpoint between here and the engine queueing the answer.
        start.answered.set()
        return headers

    return handle


async def _produce(
    fn: Callable[[Any], Any], params: ExecutorStreamRequest, out: OutgoingStream, start: _Start
) -> None:
    error: StreamError | None = None
    with out.cancel_scope:
        items = _items(fn, params)
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    if not start.ready.is_set():
                        await _answer(start, item)
                        if isinstance(item, ExecutorStreamStart):
                            continue
                    chunk = _chunk(item)
                    if not out.try_send(chunk):
                        await out.send(chunk)
        except Exception as exc:
            if not start.ready.is_set():
                start.error = exc  # fails the call itself, with its own details
            elif not isinstance(exc, HandlerError | StreamError):
                logger.exception("%s: the stream %s failed", fn.__qualname__, out.stream_id)
            error = _stream_error(exc)
        if not start.ready.is_set():
            await _answer(start, None)  # an empty stream: headers, then the end
    if out.cancel_scope.cancelled_caught or out.cancelled:
        error = StreamError(f"stream {out.stream_id} was cancelled", code="cancelled")
        if not start.ready.is_set():  # before its headers: the call is cancelled too
            start.error = HandlerError(error.message, code="cancelled", rpc_code=CANCELLED)
    start.ready.set()
    with contextlib.suppress(RPCError):  # the connection is gone: nobody to tell
        await out.end(error)


async def _answer(start: _Start, first: object) -> None:
    """Let the handler answer (with ``first`` as the headers if it is a start), and
    wait until that answer is queued, so no chunk ever overtakes it."""
    if isinstance(first, ExecutorStreamStart):
        start.headers = first
    start.ready.set()
    await start.answered.wait()


def _items(fn: Callable[[Any], Any], params: Any) -> AsyncGenerator[Any, None]:
    if inspect.isasyncgenfunction(fn):
        items: AsyncGenerator[Any, None] = fn(params)
        return items
    return _from_thread(fn(params))


async def _from_thread(generator: Generator[Any, None, None]) -> AsyncGenerator[Any, None]:
    """A plain generator driven one item at a time in a worker thread."""
    try:
        while (item := await trio.to_thread.run_sync(next, generator, _END)) is not _END:
            yield item
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(generator.close)


def _chunk(item: object) -> bytes:
    if type(item) is bytes:
        return item
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item)
    raise TypeError(f"a stream chunk must be bytes or str, not {type(item).__name__}")


def _stream_error(exc: Exception) -> StreamError:
    if isinstance(exc, StreamError):
        return exc
    if isinstance(exc, HandlerError):
        return StreamError(exc.message, code=exc.code, http_status=exc.http_status)
    return StreamError(f"{type(exc).__name__}: {exc}", code="internal")
