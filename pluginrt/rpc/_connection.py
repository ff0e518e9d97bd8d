"""The JSON-RPC engine: one :class:`Connection` per peer, used by host and plugin alike.

Guarantees:

- Reading never waits on anyone: the reader routes each line synchronously
  (responses to their callers, chunks into bounded stream buffers), so a
  slow consumer or handler never delays another call on the same
  connection. A request's handler starts right in the reader; the first
  time it has to wait, the reader task stays with it and a new reader
  takes over the lines still to route. A handler that never waits thus
  costs no task and no cancel scope; each runs in its own copy of the
  reader's context.
- Every request received gets exactly one response, whether its handler
  returns, raises, is cancelled with ``$/cancel``, or gets bad params —
  unless the connection itself is gone.
- Every call made ends with a result or one of the errors of
  :mod:`pluginrt.rpc._errors`; closing fails every call in flight at once.
- Writes go through one writer task that sends whatever is queued in one
  batch, so many small messages cost one system call.
- What we queue for a peer that stops reading is bounded: over the high-water
  mark, callers wait and requests read wait unrouted (see ``_hold``), yet
  answers and notifications are still read, so two peers that both write a
  lot never wait on each other.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import itertools
import logging
import math
import os
import types
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

import msgspec
import trio
from outcome import Value

from ._errors import (
    CallTimeout,
    ConnectionClosed,
    HandlerError,
    ProtocolError,
    RemoteError,
    StreamError,
    error_data,
)
from ._framing import DEFAULT_MAX_LINE, LineFramer, LineTooLong
from ._messages import (
    CANCELLED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    CancelParams,
    Empty,
    ErrorData,
    ErrorObject,
    Id,
    Message,
    StreamCancel,
    StreamChunk,
    StreamCredit,
    StreamEnd,
    StreamEndError,
    describe,
    params_of,
)
from ._spin import watch
from ._streams import IncomingStream, OutgoingStream

__all__ = ["CallContext", "Connection", "ConnectionStatistics", "Handler", "open_connection"]

T = TypeVar("T")
#: A call awaiting its answer: the caller's task, parked; the method it called; when
#: it times out (inf: never) and its timeout. Whoever takes the entry out of
#: ``Connection._pending`` wakes the task, once.
_Pending = tuple[trio.lowlevel.Task, str, float, float]
#: A handler that started in the reader and has to wait: its context, its
#: coroutine, what it first gave trio to wait on (see Connection._route_lines),
#: and its request's id and method.
_Suspended = tuple[contextvars.Context, Coroutine[Any, Any, None], Any, Id, str]

logger = logging.getLogger("pluginrt.rpc")


class _Read(Message, kw_only=True):
    """A message as read. An answer is also what its caller is woken with: trio hands
    a woken task's value to ``.unwrap()`` (see ``wait_task_rescheduled``), and this
    unwraps to itself, sparing every answer an ``outcome.Value`` (7% of a call).
    A request read without ``jsonrpc`` is invalid (JSON-RPC 2.0 requires it)."""

    jsonrpc: str = ""

    def unwrap(self) -> Message:
        return self


_ENVELOPE = msgspec.json.Decoder(_Read)
_ANY = msgspec.json.Decoder()
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_ENCODER = msgspec.json.Encoder()
_EMPTY = Empty()

#: Queued output above this many bytes makes senders wait for the writer, and
#: requests read wait too (see Connection._hold).
_HIGH_WATER = 8 * 1024 * 1024
#: Messages shorter than this may be written at once by the task that sends them.
_DIRECT_MAX = 64 * 1024
#: The pipe buffer asked for, and the largest read (reads grow while they come back full).
_PIPE_SIZE = 1024 * 1024
_MIN_READ = 64 * 1024
#: Lines routed between checkpoints: 64 stream chunks, or 8 calls or answers (so
#: answers leave, and woken callers send more, while the rest of a big read is
#: routed: both peers work at once instead of taking turns).
_ROUTE_BUDGET = 64
_CALL_COST = 8
#: How often drain() looks again (seconds).
_DRAIN_POLL = 0.005


def _fd_of(stream: trio.abc.SendStream | trio.abc.ReceiveStream) -> int:
    """The non-blocking descriptor under a trio pipe stream, or -1 for any other stream."""
    if isinstance(stream, trio.lowlevel.FdStream):
        return stream.fileno()
    return -1


def _pipe_error(exc: OSError) -> Exception:
    """What a failed read or write of a pipe means, as the trio error FdStream raises."""
    if exc.errno == errno.EBADF:
        return trio.ClosedResourceError("the pipe was closed")
    return trio.BrokenResourceError(str(exc))


def _widen_pipe(fd: int) -> None:
    """Ask for a pipe buffer of _PIPE_SIZE (Linux; fewer wake-ups for big messages)."""
    setter = getattr(fcntl, "F_SETPIPE_SZ", None)
    if fd < 0 or setter is None:
        return
    with contextlib.suppress(OSError):  # not a pipe, or above the system's limit
        fcntl.fcntl(fd, setter, _PIPE_SIZE)


class _Request(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    id: Id
    method: str
    params: Any
    host_callback_id: str | None = None


class _Notification(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    method: str
    params: Any
    host_callback_id: str | None = None


class _StreamParams(msgspec.Struct):
    """The ``stream_id`` in the params of a request that opens a stream (see open_stream)."""

    stream_id: str = ""


class _ChunkLine(msgspec.Struct, forbid_unknown_fields=True):
    """A whole ``stream.chunk`` notification (see Connection._on_chunk_line)."""

    jsonrpc: str
    method: str
    params: StreamChunk


#: The engine's own notifications: sent as a request, one is an invalid request.
_ENGINE_NOTIFICATIONS = frozenset(
    {"$/cancel", "stream.chunk", "stream.end", "stream.credit", "stream.cancel"}
)

#: ``"result": null``, as Go writes a nil pointer or map: read as ``{}`` if the type allows.
_NULL_RESULT: Final = msgspec.Raw(b"null")

_CHUNK_PREFIX = b'{"jsonrpc":"2.0","method":"stream.chunk","params":'
_CHUNK_LINE = msgspec.json.Decoder(_ChunkLine)


class _Result(msgspec.Struct):
    jsonrpc: str
    id: Id | None
    result: Any


class CallContext(msgspec.Struct, frozen=True):
    """What a handler knows about the call it serves (a Struct: made once per call, cheaply)."""

    connection: Connection
    method: str
    #: The request id, or None for a notification.
    id: Id | None
    #: The top-level ``host_callback_id`` the caller sent, if any.
    callback_id: str | None


class Handler(msgspec.Struct, frozen=True):
    """A method's params type and its coroutine ``fn(params, context) -> result``.

    With ``result``, a result of any other type fails the call (an internal
    error naming both types) instead of being sent.
    """

    params: type[Any]
    fn: Callable[[Any, CallContext], Awaitable[Any]]
    result: type[Any] | None = None


class ConnectionStatistics(msgspec.Struct, frozen=True):
    calls_in_flight: int
    #: May pass max_handlers: see open_connection.
    handlers_running: int
    #: Requests read and not started: waiting for a slot, or for our output to drain.
    handlers_queued: int
    calls_sent: int
    calls_received: int
    streams_open: int
    bytes_queued: int


class Connection:
    """A JSON-RPC 2.0 peer over a pair of trio byte streams. Open with :func:`open_connection`."""

    # Slots, because an instance dict of more than 30 keys is no longer shared
    # (CPython 3.11), and then every ``self._x`` in the hot path is a dict lookup.
    __slots__ = (
        "_abandoned",
        "_busy",
        "_calls_received",
        "_calls_sent",
        "_closed",
        "_closed_reason",
        "_complaint",
        "_decoders",
        "_drained_lot",
        "_fd",
        "_finish_on_eof",
        "_framer",
        "_handler_nursery",
        "_handlers",
        "_held",
        "_held_bytes",
        "_hold_limit",
        "_ids",
        "_incoming",
        "_input_ended",
        "_lines",
        "_long_line",
        "_max_handlers",
        "_max_line",
        "_notification_lot",
        "_notifications",
        "_now",
        "_nursery",
        "_on_eof",
        "_out",
        "_out_bytes",
        "_outgoing",
        "_pending",
        "_queued",
        "_read_fd",
        "_reader_scope",
        "_receive_stream",
        "_routing",
        "_running",
        "_send_stream",
        "_slot_lot",
        "_stream_ids",
        "_stream_prefix",
        "_suspended",
        "_timer_deadline",
        "_timer_scope",
        "_unwatch",
        "_widened",
        "_writer_idle",
        "_writer_lot",
        "_writer_parked",
        "name",
    )

    def __init__(
        self,
        send_stream: trio.abc.SendStream,
        receive_stream: trio.abc.ReceiveStream,
        handlers: Mapping[str, Handler],
        *,
        name: str,
        max_line: int,
        max_handlers: int,
        on_eof: Callable[[], Awaitable[BaseException | None]] | None = None,
        stream_prefix: str = "s",
        finish_on_eof: bool = False,
    ) -> None:
        self.name = name
        self._stream_prefix = stream_prefix
        self._on_eof = on_eof
        self._finish_on_eof = finish_on_eof
        # Why the peer's input ended, while what we owe it still goes out (see _finish_input).
        self._input_ended: BaseException | None = None
        self._send_stream = send_stream
        self._receive_stream = receive_stream
        self._handlers = dict(handlers)
        self._max_line = max_line
        # Handlers running, and the requests waiting for one of the max_handlers
        # slots, by id (see _serve).
        self._max_handlers = max_handlers
        self._busy = 0
        self._queued: dict[Id, Message] = {}
        # Requests (and batches) read while the output was over the high-water
        # mark, not yet routed (see _hold), and their size in bytes.
        self._held: deque[Message | bytes] = deque()
        self._held_bytes = 0
        # Past this, the reader stops reading until they are routed (see _hold).
        self._hold_limit = _HIGH_WATER + max_line + _PIPE_SIZE
        self._slot_lot = trio.lowlevel.ParkingLot()
        self._ids = itertools.count(1)
        self._stream_ids = itertools.count(1)
        self._pending: dict[Id, _Pending] = {}
        self._now: Callable[[], float] = trio.current_time  # the run's clock, once running
        self._timer_scope: trio.CancelScope | None = None
        # The timer scope's deadline (CancelScope.deadline is a property).
        self._timer_deadline = math.inf
        self._running: dict[Id, trio.CancelScope] = {}
        # Calls we gave up on (timeout, cancelled caller): their late answers are expected.
        self._abandoned: dict[Id, None] = {}
        self._framer = LineFramer(max_line)
        # Lines read but not yet routed, handed from one reader task to the next.
        self._lines: deque[bytes] = deque()
        # The over-long line read after them, if any: the connection ends once they are routed.
        self._long_line: LineTooLong | None = None
        # A handler started in the reader that has to wait (see _route_lines).
        self._suspended: _Suspended | None = None
        self._reader_scope = trio.CancelScope()  # the routing reader's (see _reader)
        self._notifications: dict[str, deque[Message]] = {}
        self._notification_lot = trio.lowlevel.ParkingLot()
        self._incoming: dict[str, IncomingStream] = {}
        self._outgoing: dict[str, OutgoingStream] = {}
        self._decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
        self._out: list[bytes] = []
        # A pipe's descriptor, written directly while the writer is idle (-1: never).
        self._fd: int = _fd_of(send_stream)
        self._read_fd: int = _fd_of(receive_stream)
        # Widened (see _widen_pipe) by the first big batch: small messages are
        # quicker through the default pipe.
        self._widened = self._fd < 0
        self._writer_idle = False
        self._writer_parked = False
        # The reader is routing a read's lines: it writes what is queued itself, at
        # its checkpoints and at the end, so no one wakes the writer (see _write_queued).
        self._routing = False
        self._out_bytes = 0
        self._writer_lot = trio.lowlevel.ParkingLot()
        self._drained_lot = trio.lowlevel.ParkingLot()
        self._closed_reason: BaseException | None = None
        # The last line of the peer's we could not use (see _complain).
        self._complaint: str | None = None
        self._closed = trio.Event()
        self._unwatch: Callable[[], None] | None = None
        self._calls_sent = 0
        self._calls_received = 0
        self._nursery: trio.Nursery | None = None
        self._handler_nursery: trio.Nursery | None = None

    # ---------------------------------------------------------------- calls

    async def call(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the typed CallTimeout names the method
        callback_id: str | None = None,
    ) -> T:
        """Call ``method`` and return its result decoded as ``result_type``.

        Raises :class:`RemoteError`, :class:`CallTimeout` (after sending
        ``$/cancel``), :class:`ConnectionClosed` or :class:`ProtocolError` (also
        when the request would be longer than a line may be: it is not sent).
        A cancelled caller also sends ``$/cancel``.
        """
        if timeout is not None and not timeout >= 0:
            raise ValueError("timeout must be non-negative")
        if self._input_ended is not None:  # no answer could come
            raise ConnectionClosed(f"{self.name}: the peer closed its end") from self._input_ended
        started: float | None = None
        if self._out_bytes > _HIGH_WATER or self._closed_reason is not None:
            # Waiting for the writer to catch up counts against the timeout too.
            started = self._now()
            with trio.move_on_after(math.inf if timeout is None else timeout) as waiting:
                await self._wait_writable()
            if waiting.cancelled_caught:
                assert timeout is not None
                raise CallTimeout(method, timeout)
        id = next(self._ids)
        line = _ENCODER.encode(
            _Request("2.0", id, method, _EMPTY if params is None else params, callback_id)
        )
        if len(line) > self._max_line:  # the peer would close the connection over it
            raise ProtocolError(self._too_long(method, len(line)))
        self._enqueue(line)
        pending = self._pending
        if timeout is None or timeout == math.inf:
            pending[id] = (trio.lowlevel.current_task(), method, math.inf, math.inf)
        else:
            # No scope per call: one timer task fails calls past their deadline.
            deadline = (self._now() if started is None else started) + timeout
            pending[id] = (trio.lowlevel.current_task(), method, deadline, timeout)
            if deadline < self._timer_deadline:
                self._wake_timer(deadline)
        self._calls_sent += 1

        def abort(_: object) -> trio.lowlevel.Abort:  # a cancelled caller abandons the call
            if pending.pop(id, None) is not None:
                self._abandon(id)
            return trio.lowlevel.Abort.SUCCEEDED

        # No checkpoint since the call was registered: nobody can have answered
        # yet. The answer comes as the value we are woken with (see _answer).
        answer: Message | BaseException = await trio.lowlevel.wait_task_rescheduled(abort)
        if not isinstance(answer, Message):
            raise answer.with_traceback(None)
        error = answer.error
        if error:  # an ErrorObject; null and absent are falsy
            raise RemoteError(error.code, error.message, error_data(error.data))
        decoder: msgspec.json.Decoder[T] = self._decoders.get(result_type) or self._decoder(
            result_type
        )
        try:
            # Set: _on_response answers no call with neither result nor error.
            return decoder.decode(answer.result)  # type: ignore[arg-type]
        except msgspec.DecodeError as exc:
            if answer.result == _NULL_RESULT:  # Go's nil pointer or map: the zero value, if any
                with contextlib.suppress(msgspec.DecodeError):
                    return decoder.decode(b"{}")
            raise ProtocolError(
                f"{self.name}: {method} answered with an invalid result "
                f"({result_type.__name__}): {exc}"
            ) from None

    def _answer(self, id: object, answer: Message | BaseException) -> bool:
        """Wake the caller of call ``id`` with ``answer``; False if no call awaits it."""
        entry = self._pending.pop(id, None)  # type: ignore[call-overload]
        if entry is None:
            return False
        trio.lowlevel.reschedule(entry[0], Value(answer))
        return True

    def _wake_timer(self, deadline: float) -> None:
        """Have the timer look at the calls by ``deadline`` (sooner than it meant to)."""
        self._timer_deadline = deadline
        if self._timer_scope is not None:
            self._timer_scope.deadline = deadline

    async def _timer(self) -> None:
        """Fail calls past their deadline with CallTimeout. It wakes at the soonest
        deadline it saw: about once a timeout when every call has the same one."""
        self._now = trio.lowlevel.current_clock().current_time  # trio.current_time, sooner
        while True:
            now = self._now()
            soonest = math.inf
            for id, (_, method, deadline, timeout) in list(self._pending.items()):
                if deadline <= now:
                    self._abandon(id)
                    self._answer(id, CallTimeout(method, timeout))
                elif deadline < soonest:
                    soonest = deadline
            self._timer_deadline = soonest
            with trio.CancelScope(deadline=soonest) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            self._timer_scope = None

    def _abandon(self, id: Id) -> None:
        """Remember that call ``id`` was given up on, and tell the peer (``$/cancel``)."""
        self._abandoned[id] = None
        if len(self._abandoned) > 4096:
            del self._abandoned[next(iter(self._abandoned))]
        self._notify_nowait("$/cancel", CancelParams(id))

    async def notify(self, method: str, params: Any, *, callback_id: str | None = None) -> None:
        """Send a notification (no answer comes)."""
        self._check_open()
        await self._wait_writable()
        self._notify_nowait(method, params, callback_id)

    async def drain(self) -> None:
        """Wait until every request received so far is answered, every notification
        served, every stream produced here ended, and all of it written (or the
        connection closed)."""
        # Polled (only a shutdown waits for this), so that no handler's end pays for a check.
        while self._closed_reason is None and (  # noqa: ASYNC110
            self._running or self._outgoing or self._held or any(self._notifications.values())
        ):
            await trio.sleep(_DRAIN_POLL)
        await self.flush()

    async def flush(self) -> None:
        """Wait until everything queued so far has been written (or the connection closed)."""
        while self._out_bytes and self._closed_reason is None:
            await self._drained_lot.park()

    async def ping(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """``$/ping`` the peer; returns when it answers."""
        await self.call("$/ping", _EMPTY, Empty, timeout=timeout)

    # -------------------------------------------------------------- streams

    def open_stream(
        self,
        window: int,
        *,
        idle_timeout: float | None = None,
        map_error: Callable[[BaseException], BaseException] | None = None,
    ) -> IncomingStream:
        """Register a new incoming stream; pass its ``stream_id`` and ``window`` to the peer.

        ``idle_timeout`` and ``map_error``: see :class:`IncomingStream`.
        """
        self._check_open()
        stream_id = f"{self._stream_prefix}{next(self._stream_ids)}"
        stream = IncomingStream(
            self, stream_id, window, idle_timeout=idle_timeout, map_error=map_error
        )
        self._incoming[stream.stream_id] = stream
        return stream

    def outgoing_stream(self, stream_id: str, window: int) -> OutgoingStream:
        """Register the producer end of a stream the peer opened with ``stream_id``."""
        self._check_open()
        if stream_id in self._outgoing:
            raise StreamError(f"stream {stream_id} is already open")
        stream = OutgoingStream(self, stream_id, window)
        self._outgoing[stream_id] = stream
        return stream

    def _forget_incoming(self, stream_id: str) -> None:
        self._incoming.pop(stream_id, None)

    def _forget_outgoing(self, stream_id: str) -> None:
        self._outgoing.pop(stream_id, None)

    # ------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    @property
    def closed_reason(self) -> BaseException | None:
        """Why the connection closed (a :class:`ConnectionClosed` or :class:`ProtocolError`)."""
        return self._closed_reason

    @property
    def last_complaint(self) -> str | None:
        """What was wrong with the last line of the peer's that could not be used (logged
        as a warning too), or None: a plugin that printed to stdout, say."""
        return self._complaint

    def _complain(self, what: str) -> None:
        logger.warning("%s: %s", self.name, what)
        self._complaint = what

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def close(self, reason: BaseException | None = None) -> None:
        """Close now: every call in flight fails with ``reason`` (a ConnectionClosed by default)."""
        if self._closed_reason is not None:
            return
        if reason is None:
            reason = ConnectionClosed(f"{self.name}: connection closed")
        self._closed_reason = reason
        self._writer_idle = False
        self._fail_waiting(reason)
        self._outgoing.clear()
        self._drained_lot.unpark_all()
        if self._handler_nursery is not None:
            self._handler_nursery.cancel_scope.cancel()
        if self._unwatch is not None:
            self._unwatch()
        self._closed.set()

    def _fail_waiting(self, reason: BaseException) -> None:
        """Fail what waits on the peer: our calls, the streams it sends us, and (cancelled)
        the streams we send it."""
        for id in list(self._pending):
            self._answer(id, reason)
        for incoming in list(self._incoming.values()):
            incoming._fail(reason)
        for outgoing in list(self._outgoing.values()):
            outgoing._on_cancel()

    def spawn(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``fn(*args)`` in the background until it returns or the connection closes."""
        assert self._handler_nursery is not None
        self._handler_nursery.start_soon(fn, *args)

    def statistics(self) -> ConnectionStatistics:
        return ConnectionStatistics(
            calls_in_flight=len(self._pending),
            handlers_running=self._busy,
            handlers_queued=len(self._queued) + len(self._held),
            calls_sent=self._calls_sent,
            calls_received=self._calls_received,
            streams_open=len(self._incoming) + len(self._outgoing),
            bytes_queued=self._out_bytes,
        )

    def _check_open(self) -> None:
        if self._closed_reason is not None:
            raise ConnectionClosed(f"{self.name}: connection is closed") from self._closed_reason

    async def _run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if self._read_fd >= 0:
            self._unwatch = watch(self._read_fd, self._pending)  # see _spin
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            async with trio.open_nursery() as handlers:
                self._handler_nursery = handlers
                nursery.start_soon(self._writer)
                nursery.start_soon(self._reader)
                nursery.start_soon(self._timer)
                task_status.started()
                await self._closed.wait()
            nursery.cancel_scope.cancel()

    # --------------------------------------------------------------- writing

    def _enqueue(self, data: bytes) -> None:
        self._out.append(data)
        self._out.append(b"\n")
        self._out_bytes += len(data) + 1
        if self._routing:
            return  # the reader writes what is queued itself (see _write_queued)
        if len(self._pending) + len(self._running) <= 1 and not self._outgoing and not self._lines:
            # A quiet connection (at most this call under way): write now, sparing
            # the writer's wake-up, a task switch. Busy ones batch in the writer.
            self._write_queued()
        elif self._writer_parked:  # waking nobody still costs
            self._writer_parked = False
            self._writer_lot.unpark_all()

    def _write_queued(self) -> None:
        """Write what is queued from the reader, while the writer sleeps: a small batch
        goes out at once instead of through a wake-up of the writer (a task switch per
        batch); what the pipe does not take, and any big batch, is the writer's."""
        if not self._out:
            return
        if self._writer_idle and self._out_bytes <= _DIRECT_MAX:
            data = b"".join(self._out)
            self._out.clear()
            try:
                written = os.write(self._fd, data)
            except OSError:  # full (EAGAIN) or broken: the writer finds out and reports it
                written = 0
            self._out_bytes -= written
            if written == len(data):
                if self._drained_lot:
                    self._drained_lot.unpark_all()
                return
            self._out.append(data[written:])
        if self._writer_parked:
            self._writer_parked = False
            self._writer_lot.unpark_all()

    def _stream_chunk_head(self, stream_id: str) -> bytes:
        """A ``stream.chunk`` line for ``stream_id`` up to its payload (see OutgoingStream)."""
        line = _ENCODER.encode(_Notification("2.0", "stream.chunk", StreamChunk(stream_id, b"")))
        assert line.startswith(_CHUNK_PREFIX) and line.endswith(b'""}}'), line
        return line[:-4]

    def _notify_nowait(self, method: str, params: Any, callback_id: str | None = None) -> None:
        if self._closed_reason is None:
            line = _ENCODER.encode(_Notification("2.0", method, params, callback_id))
            if len(line) > self._max_line:
                raise ProtocolError(self._too_long(method, len(line)))
            self._enqueue(line)

    def _too_long(self, what: str, size: int) -> str:
        """Why a message was not sent: longer than a line may be (see LineFramer)."""
        return (
            f"{self.name}: {what} is {size} bytes encoded, over the line limit of "
            f"{self._max_line} bytes: not sent"
        )

    def _writable_now(self) -> bool:
        """Whether a send would neither wait for the writer nor fail (see notify)."""
        return self._out_bytes <= _HIGH_WATER and self._closed_reason is None

    async def _wait_writable(self) -> None:
        while self._out_bytes > _HIGH_WATER and self._closed_reason is None:
            await self._drained_lot.park()
        self._check_open()

    async def _writer(self) -> None:
        try:
            while True:
                if not self._out:
                    self._writer_idle = self._fd >= 0 and self._closed_reason is None
                    self._writer_parked = True  # (a plain flag: ParkingLot.__bool__ is a call)
                    try:
                        await self._writer_lot.park()
                    finally:
                        self._writer_idle = self._writer_parked = False
                    continue
                data = b"".join(self._out)
                size = self._out_bytes
                if size > _DIRECT_MAX and not self._widened:
                    self._widened = True
                    _widen_pipe(self._fd)
                self._out.clear()
                await self._write(data)
                self._out_bytes -= size
                if self._held and self._out_bytes <= _HIGH_WATER:
                    self._release_held()
                if self._drained_lot:  # waking nobody still costs
                    self._drained_lot.unpark_all()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            reason: BaseException = ConnectionClosed(
                f"{self.name}: the peer stopped reading ({exc})"
            )
            if self._on_eof is not None:  # a dying peer often breaks its input first
                reason = await self._on_eof() or reason
            self.close(reason)

    async def _write(self, data: bytes) -> None:
        """Send ``data`` whole. To a pipe, write directly and wait only while it is full,
        instead of FdStream's checkpoint before every write (an extra trip through
        the scheduler for every batch)."""
        fd = self._fd
        if fd < 0:
            await self._send_stream.send_all(data)
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(fd)
            except OSError as exc:
                raise _pipe_error(exc) from exc

    # --------------------------------------------------------------- reading

    async def _reader(self) -> None:
        # One cancel scope per reader task, entered before any handler starts in
        # it: the one handler it may end up running to the end (see _route_lines)
        # is cancelled through it, so a handler that never waits needs no scope.
        with trio.CancelScope() as scope:
            self._reader_scope = scope
            suspended = await self._read()
            if suspended is None:
                return
            context, coro, trap, id, method = suspended
            await _continue(context, coro, trap)
        if scope.cancelled_caught and self._closed_reason is None:
            self._enqueue(_error(id, CANCELLED, f"{method} was cancelled"))

    async def _read(self) -> _Suspended | None:
        """Route lines until the connection ends, or until a handler started here waits:
        then start a new reader and return that handler, for this task to go on running."""
        reason: BaseException
        drained = False  # whether the last read emptied the pipe
        try:
            size = _MIN_READ
            while True:
                suspended = await self._route_lines()
                if suspended is not None:
                    assert self._nursery is not None
                    self._nursery.start_soon(self._reader)
                    return suspended
                if self._closed_reason is not None:
                    return None
                if self._long_line is not None:  # the lines before it are routed now
                    raise self._long_line
                if self._held_bytes > self._hold_limit:
                    await self._wait_released()
                data = await self._receive(size, drained=drained)
                # A full read means more is waiting: read more at once, up to the pipe's size.
                drained = len(data) < size
                size = _MIN_READ if drained else min(size * 2, _PIPE_SIZE)
                if not data:
                    reason = ConnectionClosed(f"{self.name}: the peer closed the connection")
                    if self._on_eof is not None:
                        reason = await self._on_eof() or reason
                    if self._finish_on_eof:
                        await self._finish_input(reason)
                    break
                try:
                    self._lines.extend(self._framer.feed(bytes(data)))
                except LineTooLong as exc:
                    # What came before it is whole (answers, chunks): routed before closing.
                    self._lines.extend(exc.lines)
                    self._long_line = exc
        except LineTooLong as exc:
            reason = ProtocolError(f"{self.name}: {exc}")
            began = exc.head.decode("utf-8", "replace")
            logger.error("%s; it began %s...", reason, began)  # the log only: see LineTooLong
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            reason = ConnectionClosed(f"{self.name}: the connection broke ({exc})")
        self.close(reason)
        return None

    async def _finish_input(self, reason: BaseException) -> None:
        """At the end of the peer's input, with ours still open: fail the calls awaiting
        an answer (none can come now) and the streams awaiting credit, then let the
        handlers running answer, and close only once all of it is written."""
        self._input_ended = reason
        self._fail_waiting(reason)  # each producer still ends its stream, see drain()
        await self.drain()

    async def _receive(self, size: int, *, drained: bool) -> bytes | bytearray:
        """Up to ``size`` bytes from the peer, ``b""`` at its end.

        From a pipe, read directly: wait for data only when the last read
        left the pipe empty (``drained``), and pass a checkpoint only when
        not waiting, instead of both before every read (FdStream's way), which
        costs an extra trip through the scheduler on every message.
        """
        fd = self._read_fd
        if fd < 0:
            return await self._receive_stream.receive_some(size)
        if drained:
            await trio.lowlevel.wait_readable(fd)
        else:
            await trio.lowlevel.checkpoint()
        while True:
            try:
                return os.read(fd, size)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(fd)
            except OSError as exc:
                raise _pipe_error(exc) from exc

    async def _route_lines(self) -> _Suspended | None:
        """Route the lines read, in order, until none is left; or return the handler
        started here that has to wait (see _read)."""
        lines = self._lines
        pending = self._pending
        budget = _ROUTE_BUDGET
        self._routing = True
        try:
            while lines and self._closed_reason is None:
                if budget <= 0:
                    budget = _ROUTE_BUDGET
                    self._write_queued()  # the answers of the lines routed so far
                    await trio.lowlevel.checkpoint()  # see _ROUTE_BUDGET
                    self._write_queued()  # what the tasks woken by them sent meanwhile
                    continue
                line = lines.popleft()
                if line.startswith(_CHUNK_PREFIX) and self._on_chunk_line(line):
                    budget -= 1
                    continue
                budget -= _CALL_COST
                if line[0] == 0x5B:  # "[": lines are never empty (see LineFramer)
                    if self._out_bytes > _HIGH_WATER:
                        self._hold(line, len(line))
                    else:
                        self._on_batch(line)
                    continue
                try:
                    message = _ENVELOPE.decode(line)
                except msgspec.DecodeError as exc:
                    self._on_undecodable(line, exc)
                    continue
                if message.method is not msgspec.UNSET:
                    if self._out_bytes > _HIGH_WATER and message.id is not msgspec.UNSET:
                        self._hold(message, len(line))
                        continue
                    self._on_message(message, None)
                    suspended = self._suspended
                    if suspended is not None:
                        self._suspended = None
                        return suspended
                elif (message.result is not msgspec.UNSET or message.error) and (
                    entry := pending.pop(message.id, None)  # type: ignore[arg-type]
                ) is not None:
                    # An answer to a call of ours: the commonest message of all (see _answer).
                    trio.lowlevel.reschedule(entry[0], message)  # type: ignore[arg-type] # see _Read
                else:
                    self._on_response(message, None)  # an invalid one, or nobody waits for it
        finally:
            self._routing = False
            self._write_queued()
        return None

    def _on_chunk_line(self, line: bytes) -> bool:
        """Route a ``stream.chunk`` line as our own peers write it, decoded once, params
        included (the commonest line of a stream); False if it needs the general path."""
        try:
            chunk = _CHUNK_LINE.decode(line).params
        except msgspec.DecodeError:
            return False
        incoming = self._incoming.get(chunk.stream_id)
        if incoming is not None:
            incoming._on_chunk(chunk.payload or b"")
        return True

    def _hold(self, request: Message | bytes, size: int) -> None:
        """Keep a request (or a batch) read while our output is over the high-water
        mark, to route once the writer has brought it back under (_release_held):
        a peer that sends requests but reads none of our answers would otherwise
        have them queue without end.

        Answers and notifications are still routed, and the reader goes on reading,
        so two peers that both write a lot never wait on each other: each reads
        what the other writes, whatever its own output. It stops reading only
        past _hold_limit, which never happens to both of two peers on this
        engine: over its high-water mark a peer sends no requests (``call``
        waits), so while one is stopped, the requests the other still gets from
        it are those it queued before: at most the mark, a line and a pipe.
        """
        self._held.append(request)
        self._held_bytes += size

    def _release_held(self) -> None:
        """Route the requests held (see _hold), each handler in a task of its own."""
        held = self._held
        self._held = deque()
        self._held_bytes = 0
        for request in held:
            if isinstance(request, bytes):
                self._on_batch(request)
            else:
                self._on_message(request, None, self._handler_nursery)

    async def _wait_released(self) -> None:
        """Wait until the requests held are routed (see _hold), or the connection closes."""
        while self._held_bytes > self._hold_limit and self._closed_reason is None:
            await self._drained_lot.park()

    def _drop_held(self, request: Message) -> None:
        """Answer a held request (see _hold) as cancelled instead of ever routing it."""
        self._held.remove(request)
        id = request.id
        assert not isinstance(id, msgspec.UnsetType)  # held: a request (see _route_lines)
        self._enqueue(_error(id, CANCELLED, f"{request.method} was cancelled"))

    def _on_undecodable(self, line: bytes, exc: msgspec.DecodeError) -> None:
        try:
            value = _ANY.decode(line)
        except msgspec.DecodeError:
            # Answered, as JSON-RPC says, even when it is a stray print: a peer
            # reads responses anyway, and one with a null id is only logged.
            self._complain(f"not a JSON-RPC message: {describe(line)}")
            self._enqueue(_error(None, PARSE_ERROR, f"parse error: {exc}"))
            return
        id = value.get("id") if isinstance(value, dict) else None
        if not isinstance(id, int | float | str) or isinstance(id, bool):
            id = None
        self._complain(f"invalid JSON-RPC message ({exc}): {describe(line)}")
        if isinstance(value, dict) and "method" in value and "id" not in value:
            return  # an invalid notification gets no answer
        if isinstance(value, dict) and ("result" in value or "error" in value):
            entry = self._pending.get(id) if id is not None else None
            if entry is not None:
                self._answer(
                    id,
                    ProtocolError(
                        f"{self.name}: {entry[1]} answered with an invalid response: {exc}"
                    ),
                )
            return
        self._enqueue(_error(id, INVALID_REQUEST, f"invalid request: {exc}"))

    def _on_batch(self, line: bytes) -> None:
        try:
            items = _RAW_LIST.decode(line)
        except msgspec.DecodeError as exc:
            self._enqueue(_error(None, PARSE_ERROR, f"parse error: {exc}"))
            return
        if not items:
            self._enqueue(_error(None, INVALID_REQUEST, "invalid request: empty batch"))
            return
        replies: list[bytes] = []
        requests: list[Message] = []
        for item in items:
            try:
                message = _ENVELOPE.decode(item)
            except msgspec.DecodeError as exc:
                replies.append(_error(None, INVALID_REQUEST, f"invalid request: {exc}"))
                continue
            if message.method is not msgspec.UNSET and message.id is not msgspec.UNSET:
                requests.append(message)
            else:
                self._on_message(message, replies)
        if requests:
            assert self._handler_nursery is not None
            self._handler_nursery.start_soon(self._run_batch, requests, replies)
        elif replies:
            self._enqueue(b"[" + b",".join(replies) + b"]")

    async def _run_batch(self, requests: list[Message], replies: list[bytes]) -> None:
        async with trio.open_nursery() as nursery:
            for message in requests:
                self._on_message(message, replies, nursery)
        self._enqueue(b"[" + b",".join(replies) + b"]")

    def _on_message(
        self,
        message: Message,
        replies: list[bytes] | None,
        nursery: trio.Nursery | None = None,
    ) -> None:
        method = message.method
        if method is msgspec.UNSET:
            self._on_response(message, replies)
            return
        id = message.id
        if id is msgspec.UNSET:
            self._on_notification(method, message)
            return
        reply = replies.append if replies is not None else self._enqueue
        self._calls_received += 1
        if message.jsonrpc != "2.0":
            reply(_error(id, INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"'))
            return
        if id is None:
            reply(_error(None, INVALID_REQUEST, "invalid request: id must not be null"))
            return
        if method == "$/ping":
            reply(_ENCODER.encode(_Result("2.0", id, _EMPTY)))
            return
        handler = self._handlers.get(method)
        if handler is None:
            if method in _ENGINE_NOTIFICATIONS:
                reply(_error(id, INVALID_REQUEST, f"invalid request: {method} is a notification"))
            else:
                reply(_error(id, METHOD_NOT_FOUND, f"method not found: {method}"))
            return
        if id in self._running:
            reply(_error(id, INVALID_REQUEST, f"invalid request: id {id!r} is already in use"))
            return
        if nursery is None and replies is None:
            # Start it right here (see _route_lines): most handlers never wait.
            self._running[id] = self._reader_scope
            context = contextvars.copy_context()
            coro = self._serve(handler, message, id, reply)
            try:
                trap = context.run(coro.send, None)
            except StopIteration:
                return
            self._suspended = (context, coro, trap, id, method)
            return
        scope = self._running[id] = trio.CancelScope()
        target = nursery or self._handler_nursery
        assert target is not None
        target.start_soon(self._serve_in, scope, handler, message, id, reply)

    def _on_response(self, message: Message, replies: list[bytes] | None) -> None:
        if message.result is msgspec.UNSET and not message.error:
            self._complain("a message with neither method nor result/error")
            # Answered even without an id (JSON-RPC 2.0: id null), as in a batch.
            target = replies.append if replies is not None else self._enqueue
            bad_id = message.id if isinstance(message.id, int | float | str) else None
            target(_error(bad_id, INVALID_REQUEST, "invalid request: no method, result or error"))
            return
        id = message.id
        if self._answer(id, message):
            return
        if id in self._abandoned:  # kept (bounded): a peer may answer twice, late
            logger.debug("%s: late answer to abandoned call %r dropped", self.name, id)
        elif isinstance(message.error, ErrorObject) and id is None:
            self._complain(f"the peer reported an error: {message.error.message}")
        else:
            self._complain(f"a response to unknown id {id!r}, ignored")

    def _on_notification(self, method: str, message: Message) -> None:
        raw = params_of(message)
        try:
            if method == "stream.chunk":
                chunk = self._decoder(StreamChunk).decode(raw)
                incoming = self._incoming.get(chunk.stream_id)
                if incoming is not None:
                    incoming._on_chunk(chunk.payload or b"")
            elif method == "stream.end":
                end = self._decoder(StreamEnd).decode(raw)
                incoming = self._incoming.get(end.stream_id)
                if incoming is not None:
                    incoming._on_end(
                        None
                        if end.error is None
                        else StreamError(
                            end.error.message,
                            code=end.error.code,
                            http_status=end.error.http_status,
                        )
                    )
            elif method == "stream.credit":
                credit = self._decoder(StreamCredit).decode(raw)
                outgoing = self._outgoing.get(credit.stream_id)
                if outgoing is not None:
                    outgoing._on_credit(credit.chunks)
            elif method == "stream.cancel":
                cancel = self._decoder(StreamCancel).decode(raw)
                outgoing = self._outgoing.pop(cancel.stream_id, None)
                if outgoing is not None:
                    outgoing._on_cancel()
                elif self._queued or self._held:  # perhaps its request has not started
                    self._cancel_unstarted_stream(cancel.stream_id)
            elif method == "$/cancel":
                target = self._decoder(CancelParams).decode(raw)
                scope = self._running.get(target.id)
                if scope is not None:
                    scope.cancel()
                elif self._held:  # perhaps it is held (see _hold)
                    held = [m for m in self._held if isinstance(m, Message) and m.id == target.id]
                    if held:
                        self._drop_held(held[0])
            else:
                handler = self._handlers.get(method)
                if handler is None:
                    logger.debug("%s: notification %s has no handler, ignored", self.name, method)
                    return
                # Notifications of one method are served one at a time, in order
                # (log lines, usage records); different methods run side by side.
                queue = self._notifications.get(method)
                if queue is None:
                    queue = self._notifications[method] = deque()
                    assert self._handler_nursery is not None
                    self._handler_nursery.start_soon(self._serve_notifications, handler, queue)
                queue.append(message)
                self._notification_lot.unpark_all()
        except msgspec.DecodeError as exc:
            if method in ("stream.chunk", "stream.end") and self._fail_stream(method, raw, exc):
                return
            logger.warning("%s: invalid %s notification ignored: %s", self.name, method, exc)

    def _fail_stream(self, method: str, raw: msgspec.Raw, exc: msgspec.DecodeError) -> bool:
        """Fail the stream an invalid ``stream.chunk``/``stream.end`` names, if it is one
        of ours: a chunk dropped in silence would lose its payload and the stream still
        end well. The producer is told (``stream.cancel``). False if no stream is known."""
        try:
            stream_id = self._decoder(_StreamParams).decode(raw).stream_id
        except msgspec.DecodeError:
            return False
        incoming = self._incoming.get(stream_id)
        if incoming is None:
            return False
        why = f"{self.name}: stream {stream_id}: an invalid {method}: {exc}"
        logger.warning("%s", why)
        incoming._cancel(StreamError(why, code="protocol_error"))
        return True

    # -------------------------------------------------------------- serving

    def _decoder(self, type_: type[T]) -> msgspec.json.Decoder[T]:
        decoder = self._decoders.get(type_)
        if decoder is None:
            decoder = self._decoders[type_] = msgspec.json.Decoder(type_)
        return decoder

    def _context(self, message: Message, id: Id | None) -> CallContext:
        callback_id = message.host_callback_id
        return CallContext(
            self,
            message.method if isinstance(message.method, str) else "",
            id,
            callback_id if isinstance(callback_id, str) else None,
        )

    async def _serve_in(
        self,
        scope: trio.CancelScope,
        handler: Handler,
        message: Message,
        id: Id,
        reply: Callable[[bytes], object],
    ) -> None:
        """:meth:`_serve` in a task of its own, cancelled through ``scope``."""
        with scope:
            await self._serve(handler, message, id, reply)
        if scope.cancelled_caught and self._closed_reason is None:
            reply(_error(id, CANCELLED, f"{message.method} was cancelled"))

    async def _serve(
        self,
        handler: Handler,
        message: Message,
        id: Id,
        reply: Callable[[bytes], object],
    ) -> None:
        """Run the handler and answer; a ``$/cancel`` cancels the scope around this
        (the caller's), whose owner then answers that it was cancelled."""
        method = message.method
        response: bytes
        try:
            # A slot of max_handlers: a counter while any is free, no trio.Semaphore
            # (whose acquire and release cost every call more than its handler).
            if self._busy < self._max_handlers and not self._queued:
                self._busy += 1
            elif message.host_callback_id and self._pending:
                # Made for a call chain (it carries a host_callback_id) while we
                # await the peer ourselves: it may be what a handler holding a slot
                # here waits for, through the peer (a plugin handler calls
                # host.model.execute, whose handler calls the plugin again). Queued,
                # with every slot held by such a handler, it would wait for ever.
                # The peer's nested calls carry callback ids of their own, so any
                # such request may be one: it runs now, past the limit. Requests
                # made outside a chain still queue, and so does every request while
                # we await nothing from the peer (no chain can pass through us then).
                self._busy += 1
            else:
                await self._wait_for_slot(id, message)
            try:
                decoder = self._decoders.get(handler.params) or self._decoder(handler.params)
                try:
                    params = decoder.decode(params_of(message))
                except msgspec.DecodeError as exc:
                    response = _error(
                        id,
                        INVALID_PARAMS,
                        f"invalid params for {method} ({handler.params.__name__}): {exc}",
                    )
                else:
                    result = await handler.fn(params, self._context(message, id))
                    expected = handler.result
                    if expected is not None and not isinstance(result, expected):
                        raise TypeError(
                            f"{method} must return {expected.__name__}, not {type(result).__name__}"
                        )
                    try:
                        response = _ENCODER.encode(
                            _Result("2.0", id, _EMPTY if result is None else result)
                        )
                    except (msgspec.EncodeError, TypeError) as exc:  # a set of objects in Any
                        why = (
                            f"{method} failed: {self.name} returned a result "
                            f"that cannot be encoded: {exc}"
                        )
                        logger.error("%s", why)
                        response = _error(id, INTERNAL_ERROR, why)
                    if len(response) > self._max_line:
                        why = self._too_long(f"the result of {method}", len(response))
                        response = _error(id, INTERNAL_ERROR, why)
            finally:
                if self._queued:
                    self._hand_on_slot()
                else:
                    self._busy -= 1
        except HandlerError as exc:
            response = _error(id, exc.rpc_code, exc.message, exc.data())
        except RemoteError as exc:  # a call the handler made to the peer failed, uncaught
            logger.exception("%s: %s failed", self.name, method)
            # Its message and details (an http_status) as they came: they say what failed.
            response = _error(id, INTERNAL_ERROR, f"{method} failed: {exc.message}", exc.data)
        except Exception as exc:
            logger.exception("%s: %s failed", self.name, method)
            response = _error(id, INTERNAL_ERROR, f"{method} failed: {type(exc).__name__}: {exc}")
        except BaseExceptionGroup as group:
            if self._closed_reason is None or not _closing_noise(group):
                raise
            return  # see _closing_noise
        finally:
            self._running.pop(id, None)
        if self._closed_reason is None:
            reply(response)

    async def _wait_for_slot(self, id: Id, message: Message) -> None:
        """Wait until a finishing handler hands this one its slot (see _serve)."""
        self._queued[id] = message
        try:
            await self._slot_lot.park()
        finally:
            del self._queued[id]
        try:
            # A cancel (see _cancel_unstarted_stream) that came once the slot was
            # handed over, before this task ran: the handler must not start.
            await trio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            if self._queued:
                self._hand_on_slot()
            else:
                self._busy -= 1
            raise

    def _hand_on_slot(self) -> None:
        """Give a finished handler's slot to the next request waiting for one, unless
        it ran past the limit (see _serve): then the slot is gone."""
        if self._busy > self._max_handlers or not self._slot_lot.unpark():
            self._busy -= 1

    def _cancel_unstarted_stream(self, stream_id: str) -> None:
        """Cancel the request not started yet (waiting for a slot, or held: see _hold)
        that would open ``stream_id`` (its params name it, see open_stream): its
        consumer is gone. The stream is ended as cancelled and the request answered
        -32800, as its handler would have done."""
        decoder = self._decoder(_StreamParams)

        def opens(message: Message) -> bool:
            try:
                return decoder.decode(params_of(message)).stream_id == stream_id
            except msgspec.DecodeError:
                return False

        queued = [id for id, message in self._queued.items() if opens(message)]
        held = [m for m in self._held if isinstance(m, Message) and opens(m)]
        if not (queued or held):
            return
        error = StreamEndError(message=f"stream {stream_id} was cancelled", code="cancelled")
        self._notify_nowait("stream.end", StreamEnd(stream_id, error))
        if queued:
            self._running[queued[0]].cancel()  # its task answers (see _wait_for_slot)
        else:
            self._drop_held(held[0])

    async def _serve_notifications(self, handler: Handler, queue: deque[Message]) -> None:
        while True:
            while not queue:
                await self._notification_lot.park()
            await self._serve_notification(handler, queue[0])
            queue.popleft()  # only now: drain() waits while a queue holds anything

    async def _serve_notification(self, handler: Handler, message: Message) -> None:
        try:
            params = self._decoder(handler.params).decode(params_of(message))
            await handler.fn(params, self._context(message, None))
        except msgspec.DecodeError as exc:
            logger.warning("%s: invalid params for %s ignored: %s", self.name, message.method, exc)
        except Exception:
            logger.exception("%s: notification %s failed", self.name, message.method)
        except BaseExceptionGroup as group:
            if self._closed_reason is None or not _closing_noise(group):
                raise


@types.coroutine
def _continue(
    context: contextvars.Context, coro: Coroutine[Any, Any, None], trap: Any
) -> Generator[Any, Any, None]:
    """Go on running ``coro`` in this task, in ``context``, from ``trap``, the
    first thing it gave trio to wait on (its first step ran in this task too)."""
    while True:
        try:
            sent = yield trap
        except BaseException as exc:
            try:
                trap = context.run(coro.throw, exc)
            except StopIteration:
                return
        else:
            try:
                trap = context.run(coro.send, sent)
            except StopIteration:
                return


def _closing_noise(group: BaseExceptionGroup[BaseException]) -> bool:
    """Whether ``group`` is what a handler with its own nursery raises as close() cancels it.

    Its waiting task gets Cancelled while another fails with the close (a nested
    call's ConnectionClosed); the group is no Cancelled, so no cancel scope absorbs
    it, and it would take the whole connection down. Nobody is left to answer:
    it is logged and dropped.
    """
    _, rest = group.split((Exception, trio.Cancelled))
    if rest is not None:
        return False
    logger.debug("a handler ended with the connection: %r", group)
    return True


def _error(id: Id | None, code: int, message: str, data: ErrorData | None = None) -> bytes:
    error = ErrorObject(code=code, message=message)
    if data is not None:
        error.data = data
    return _ENCODER.encode(Message(id=id, error=error))


@asynccontextmanager
async def open_connection(
    send_stream: trio.abc.SendStream,
    receive_stream: trio.abc.ReceiveStream,
    handlers: Mapping[str, Handler] | None = None,
    *,
    name: str = "peer",
    max_line: int = DEFAULT_MAX_LINE,
    max_handlers: int = 256,
    on_eof: Callable[[], Awaitable[BaseException | None]] | None = None,
    stream_prefix: str = "s",
    finish_on_eof: bool = False,
) -> AsyncIterator[Connection]:
    """Run a :class:`Connection` for the duration of the block; it is closed on exit.

    ``handlers`` maps method names to what serves them; ``max_handlers``
    bounds handlers running at once (the rest queue, see ``statistics()``),
    but for requests carrying a ``host_callback_id`` while we await the peer:
    they may be nested in a call holding a slot here, and run at once.
    ``on_eof``, if given, is awaited when the peer closes its end and may
    return the exception every call still in flight fails with (the host
    uses it to report a crashed plugin's exit status instead).
    ``stream_prefix`` starts the ids of the streams it opens (several
    connections behind one plugin keep their stream ids apart with it).
    With ``finish_on_eof``, the end of the peer's input fails only what awaits
    the peer; the handlers running still answer before the connection closes
    (a plugin whose host closed its stdin, see PROTOCOL.md's shutdown).
    """
    connection = Connection(
        send_stream,
        receive_stream,
        handlers or {},
        name=name,
        max_line=max_line,
        max_handlers=max_handlers,
        on_eof=on_eof,
        stream_prefix=stream_prefix,
        finish_on_eof=finish_on_eof,
    )
    # The block's own exception is re-raised outside the nursery, unwrapped.
    error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        await nursery.start(connection._run)
        try:
            yield connection
        except BaseException as exc:
            error = exc
        finally:
            connection.close()
    if error is not None:
        raise error
