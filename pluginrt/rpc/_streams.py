"""Streams with credit: ``stream.chunk`` / ``stream.end`` / ``stream.credit`` / ``stream.cancel``.

The consumer owns an :class:`IncomingStream`: it grants the producer a window
of chunks and tops it up as it reads, so its buffer never holds more than the
window; a producer that sends past its credit has the stream failed, and one
that sends nothing for the consumer's ``idle_timeout`` has it cancelled. The
producer owns an :class:`OutgoingStream`: ``send`` waits for credit, and a
``stream.cancel`` from the consumer cancels ``cancel_scope``.

Both ends are created by the :class:`~pluginrt.rpc.Connection` and are fed by
its reader synchronously, so a slow consumer never delays other messages.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import msgspec
import trio

from ._errors import StreamError, StreamTimeout
from ._messages import StreamCancel, StreamChunk, StreamCredit, StreamEnd, StreamEndError

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["IncomingStream", "OutgoingStream"]

#: Chunks a producer with credit queues before it lets the writer run.
_FLUSH_EVERY = 32
_ENCODER = msgspec.json.Encoder()


class IncomingStream:
    """The consumer end of a stream. Iterate it, or take batches with :meth:`receive_batch`.

    ``idle_timeout`` (None: none) bounds each wait for the next chunk: when it
    passes, the stream is cancelled toward the producer (``stream.cancel``)
    and the read raises :class:`StreamTimeout`. Every error a read raises
    passes through ``map_error`` first (its owner's error tree).
    """

    def __init__(
        self,
        connection: Connection,
        stream_id: str,
        window: int,
        *,
        idle_timeout: float | None = None,
        map_error: Callable[[BaseException], BaseException] | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.window = window
        self.idle_timeout = idle_timeout
        self._map_error = map_error
        self._connection = connection
        self._credit = window  # chunks the producer may still send
        self._unacknowledged = 0  # chunks consumed but not yet granted back
        self._chunks: deque[bytes] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._ended = False
        self._error: BaseException | None = None
        self._closed = False

    @property
    def buffered(self) -> int:
        """Chunks received and not yet consumed."""
        return len(self._chunks)

    # -- fed by the connection's reader (never blocks) --------------------

    def _on_chunk(self, payload: bytes) -> None:
        if self._ended:
            return
        if self._credit <= 0:
            self._fail(
                StreamError(
                    f"{self._connection.name}: stream {self.stream_id}: the producer sent "
                    f"past its credit (window {self.window})",
                    code="credit_exceeded",
                )
            )
            self._connection._notify_nowait("stream.cancel", StreamCancel(self.stream_id))
            return
        self._credit -= 1
        self._chunks.append(payload)
        if self._lot:  # waking nobody still costs
            self._lot.unpark_all()

    def _on_end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._error = error
            self._connection._forget_incoming(self.stream_id)
            self._lot.unpark_all()

    def _fail(self, error: BaseException) -> None:
        """End with ``error``; chunks already buffered are still delivered first."""
        self._on_end(error)

    # -- the consumer's side ----------------------------------------------

    async def receive_batch(self) -> list[bytes]:
        """Every chunk buffered now (waiting for at least one); ``[]`` at the end.

        Raises the stream's error once its buffered chunks are consumed.
        """
        while not self._chunks:
            if self._ended:
                if self._error is not None:
                    raise self._error if self._map_error is None else self._map_error(self._error)
                return []
            if self._closed:
                raise StreamError(f"stream {self.stream_id} was closed by its consumer")
            idle = self.idle_timeout
            with trio.move_on_after(math.inf if idle is None else idle) as waiting:
                await self._lot.park()
            if waiting.cancelled_caught:
                self._cancel(StreamTimeout(self._connection.name, self.stream_id, idle or 0.0))
        batch = list(self._chunks)
        self._chunks.clear()
        self._grant(len(batch))
        return batch

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while batch := await self.receive_batch():
            for chunk in batch:
                yield chunk

    def _grant(self, consumed: int) -> None:
        if self._ended:
            return
        self._unacknowledged += consumed
        if self._unacknowledged * 2 >= self.window:
            self._credit += self._unacknowledged
            self._connection._notify_nowait(
                "stream.credit", StreamCredit(self.stream_id, self._unacknowledged)
            )
            self._unacknowledged = 0

    def close(self) -> None:
        """Stop reading: tell the producer (``stream.cancel``) unless it already ended."""
        if self._closed:
            return
        self._closed = True
        self._cancel(StreamError(f"stream {self.stream_id} was closed by its consumer"))
        self._chunks.clear()
        self._lot.unpark_all()

    def _cancel(self, error: StreamError) -> None:
        """End with ``error`` and tell the producer (``stream.cancel``), unless it ended."""
        if not self._ended:
            self._on_end(error)
            self._connection._notify_nowait("stream.cancel", StreamCancel(self.stream_id))

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> IncomingStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class OutgoingStream:
    """The producer end of a stream: :meth:`send` chunks, then :meth:`end` exactly once."""

    def __init__(self, connection: Connection, stream_id: str, window: int) -> None:
        self.stream_id = stream_id
        self._connection = connection
        self._credit = window
        self._lot = trio.lowlevel.ParkingLot()
        self._ended = False
        self._unflushed = 0  # chunks queued since this producer last let the writer run
        # A chunk's line up to its payload: the line is this, the payload, and "}}".
        self._head = connection._stream_chunk_head(stream_id)
        #: Cancelled when the consumer sends ``stream.cancel`` or the connection closes.
        self.cancel_scope = trio.CancelScope()
        self.cancelled = False

    def _on_credit(self, chunks: int) -> None:
        self._credit += chunks
        if self._lot:  # waking nobody still costs
            self._lot.unpark_all()

    def _on_cancel(self) -> None:
        # No more chunks, but the producer still ends the stream (one stream.end each).
        self.cancelled = True
        self.cancel_scope.cancel()
        self._lot.unpark_all()

    def try_send(self, payload: bytes) -> bool:
        """Queue one chunk now if that needs no wait (credit in hand, the writer keeping
        up, and not this producer's turn to let it run); else False: use :meth:`send`."""
        if self._credit <= 0 or self._ended or self.cancelled or self._unflushed >= _FLUSH_EVERY:
            return False
        connection = self._connection
        if not connection._writable_now():
            return False
        line = self._head + _ENCODER.encode(payload) + b"}}"
        if len(line) > connection._max_line:
            return False  # send() says why
        self._credit -= 1
        self._unflushed += 1
        connection._enqueue(line)
        return True

    async def send(self, payload: bytes) -> None:
        """Send one chunk, waiting for credit first.

        Raises :class:`StreamError` once the stream is no longer open; inside
        ``cancel_scope``, a ``stream.cancel`` ends the scope instead.
        """
        if self._unflushed >= _FLUSH_EVERY:
            # Let the writer send what is queued, so the consumer works on those
            # chunks while this producer makes the next (not in turns, a window each).
            self._unflushed = 0
            await trio.lowlevel.checkpoint()
        while self._credit <= 0 and not (self._ended or self.cancelled):
            await self._lot.park()
        if self._ended or self.cancelled:
            # A stream.cancel that came while this task was runnable (woken by credit
            # read in the same batch) left cancel_scope's cancellation pending: deliver
            # it, so the producer's scope absorbs it rather than a StreamError escaping.
            await trio.lowlevel.checkpoint_if_cancelled()
            raise StreamError(f"stream {self.stream_id} is no longer open", code="cancelled")
        if not self.try_send(payload):  # the writer is behind: wait for it
            self._credit -= 1
            self._unflushed = 0
            await self._connection.notify("stream.chunk", StreamChunk(self.stream_id, payload))

    async def end(self, error: StreamError | None = None) -> None:
        """End the stream (``stream.end``), with ``error`` if it failed; later calls do nothing."""
        if self._ended:
            return
        self._ended = True
        self._connection._forget_outgoing(self.stream_id)
        wire = None
        if error is not None:
            wire = StreamEndError(
                message=error.message, code=error.code, http_status=error.http_status
            )
        await self._connection.notify("stream.end", StreamEnd(self.stream_id, wire))
