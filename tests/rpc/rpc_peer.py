"""The remote side of the engine's conformance suite.

:func:`handlers` is served either in process (over a memory stream pair) or
by this file run as a script, over its own stdin and stdout, exactly as a
plugin would. The handlers report what happened to them with ``test.event``
notifications to the other side, so a test can wait for "started" or
"cancelled" whatever the transport.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
import trio

from pluginrt.rpc import (
    CallContext,
    Empty,
    Handler,
    HandlerError,
    StreamEndError,
    StreamError,
    open_connection,
)


class Event(msgspec.Struct):
    """``test.event``: something happened to a handler."""

    name: str
    tag: str = ""


class Value(msgspec.Struct):
    value: Any


class Sleep(msgspec.Struct):
    seconds: float


class Tag(msgspec.Struct):
    tag: str


class Fail(msgspec.Struct, kw_only=True):
    message: str
    code: str = ""
    http_status: int = 0
    retryable: bool = False


class Inner(msgspec.Struct):
    y: str


class Typed(msgspec.Struct):
    x: int
    inner: Inner


class Count(msgspec.Struct):
    count: int


class Produce(msgspec.Struct, kw_only=True):
    stream_id: str
    window: int
    count: int = 0
    error: StreamEndError | None = None
    tag: str = ""


class Seen(msgspec.Struct):
    method: str
    id: int | str | None
    callback_id: str | None


class _State:
    def __init__(self) -> None:
        self.releases: dict[str, trio.Event] = {}

    def release(self, tag: str) -> trio.Event:
        return self.releases.setdefault(tag, trio.Event())


async def _event(context: CallContext, name: str, tag: str) -> None:
    if not context.connection.closed:
        with trio.CancelScope(shield=True):
            await context.connection.notify("test.event", Event(name, tag))


def handlers() -> dict[str, Handler]:
    """A fresh set of test handlers (with their own state)."""
    state = _State()

    async def echo(params: Value, context: CallContext) -> Value:
        return params

    async def sleep(params: Sleep, context: CallContext) -> Empty:
        await trio.sleep(params.seconds)
        return Empty()

    async def block(params: Tag, context: CallContext) -> Empty:
        """Run until cancelled, saying so both ways."""
        await _event(context, "started", params.tag)
        try:
            await trio.sleep_forever()
        finally:
            await _event(context, "cancelled", params.tag)

    async def fail(params: Fail, context: CallContext) -> Empty:
        raise HandlerError(
            params.message,
            code=params.code,
            http_status=params.http_status,
            retryable=params.retryable,
        )

    async def crash(params: Empty, context: CallContext) -> Empty:
        raise RuntimeError("the handler broke")

    async def typed(params: Typed, context: CallContext) -> Typed:
        return params

    async def mistyped(params: Value, context: CallContext) -> Any:
        """Declared to return a Value (see the table), returns its params' value."""
        return params.value

    async def seen(params: Empty, context: CallContext) -> Seen:
        return Seen(context.method, context.id, context.callback_id)

    async def echo_via_parent(params: Value, context: CallContext) -> Value:
        """A nested call: ask the caller to echo, while serving its call."""
        return await context.connection.call(
            "test.echo", params, Value, callback_id=context.callback_id
        )

    async def call_parent_many(params: Count, context: CallContext) -> list[Any]:
        """``count`` calls to the caller's ``test.echo_via_peer`` at once."""
        results: list[Any] = [None] * params.count

        async def one(index: int) -> None:
            answer = await context.connection.call("test.echo_via_peer", Value(index), Value)
            results[index] = answer.value

        async with trio.open_nursery() as nursery:
            for index in range(params.count):
                nursery.start_soon(one, index)
        return results

    async def cancel_parent_call(params: Tag, context: CallContext) -> Empty:
        """Call the caller's ``test.block``, and give up when ``release`` says so."""
        async with trio.open_nursery() as nursery:

            async def blocked() -> None:
                await context.connection.call("test.block", Tag(params.tag), Empty)

            nursery.start_soon(blocked)
            await state.release(params.tag).wait()
            nursery.cancel_scope.cancel()
        await _event(context, "gave_up", params.tag)
        return Empty()

    async def time_out_parent_call(params: Tag, context: CallContext) -> Value:
        """Call the caller's ``test.block`` with a timeout; answer with what was raised."""
        try:
            await context.connection.call("test.block", Tag(params.tag), Empty, timeout=0.2)
        except Exception as exc:
            return Value(f"{type(exc).__name__}: {exc}")
        return Value("answered")  # pragma: no cover

    async def ping_parent(params: Empty, context: CallContext) -> Empty:
        await context.connection.ping()
        return Empty()

    async def release(params: Tag, context: CallContext) -> Empty:
        state.release(params.tag).set()
        return Empty()

    async def produce(params: Produce, context: CallContext) -> Empty:
        """Answer at once, then stream ``count`` chunks (honouring credit) and end."""
        stream = context.connection.outgoing_stream(params.stream_id, params.window)

        async def run() -> None:
            with stream.cancel_scope:
                for index in range(params.count):
                    await stream.send(b"chunk %d" % index)
                error = None
                if params.error is not None:
                    error = StreamError(
                        params.error.message,
                        code=params.error.code,
                        http_status=params.error.http_status,
                    )
                await stream.end(error)

        context.connection.spawn(run)
        return Empty()

    async def produce_forever(params: Produce, context: CallContext) -> Empty:
        """Stream until the consumer goes away, then say so."""
        stream = context.connection.outgoing_stream(params.stream_id, params.window)

        async def run() -> None:
            with stream.cancel_scope:
                index = 0
                while True:
                    await stream.send(b"chunk %d" % index)
                    index += 1
            await _event(context, "stream_cancelled" if stream.cancelled else "?", params.tag)

        context.connection.spawn(run)
        return Empty()

    async def produce_past_credit(params: Produce, context: CallContext) -> Empty:
        """A broken producer: ``count`` chunks at once, whatever the window."""
        for index in range(params.count):
            await context.connection.notify(
                "stream.chunk", {"stream_id": params.stream_id, "payload": b"x%d" % index}
            )
        return Empty()

    table: dict[str, Handler] = {
        "echo": Handler(Value, echo),
        "sleep": Handler(Sleep, sleep),
        "block": Handler(Tag, block),
        "fail": Handler(Fail, fail),
        "crash": Handler(Empty, crash),
        "typed": Handler(Typed, typed),
        "mistyped": Handler(Value, mistyped, result=Value),
        "seen": Handler(Empty, seen),
        "echo_via_parent": Handler(Value, echo_via_parent),
        "call_parent_many": Handler(Count, call_parent_many),
        "cancel_parent_call": Handler(Tag, cancel_parent_call),
        "time_out_parent_call": Handler(Tag, time_out_parent_call),
        "ping_parent": Handler(Empty, ping_parent),
        "release": Handler(Tag, release),
        "produce": Handler(Produce, produce),
        "produce_forever": Handler(Produce, produce_forever),
        "produce_past_credit": Handler(Produce, produce_past_credit),
    }
    return table


async def main() -> None:
    """Serve :func:`handlers` over stdin/stdout until stdin closes."""
    # The protocol gets private copies of fd 0 and 1; fd 1 then points at stderr,
    # so a stray print() cannot corrupt the wire.
    receive_fd = os.dup(0)
    send_fd = os.dup(1)
    os.dup2(2, 1)
    async with (
        trio.lowlevel.FdStream(receive_fd) as receive_stream,
        trio.lowlevel.FdStream(send_fd) as send_stream,
        open_connection(send_stream, receive_stream, handlers(), name="child") as connection,
    ):
        await connection.wait_closed()


if __name__ == "__main__":
    trio.run(main)
