"""The engine's conformance harness: one suite, two transports.

``wire`` is a pair of byte streams whose far end runs :mod:`rpc_peer`'s
handlers on a :class:`~pluginrt.rpc.Connection`: in process over
``trio.testing.memory_stream_pair()``, or in a real child process over its
stdin and stdout. ``local`` is the test's own side: its handlers, and the
events both sides report.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import rpc_peer
import trio
import trio.testing

from pluginrt.rpc import CallContext, Connection, Empty, Handler, LineFramer, open_connection

PEER = Path(__file__).with_name("rpc_peer.py")

#: The longest any single wait on the other side may take, real process included.
PATIENCE = 10.0


@dataclass
class Wire:
    """Our ends of the streams to a running peer."""

    kind: str
    send_stream: trio.abc.SendStream
    receive_stream: trio.abc.ReceiveStream
    #: The peer goes away at once; our receive stream then ends.
    hang_up: Callable[[], Awaitable[None]]


class Gate:
    """Holds each arrival until ``size`` have arrived: proof that they were all in flight."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrived = 0
        self.open = trio.Event()

    async def pass_through(self) -> None:
        self.arrived += 1
        if self.arrived >= self.size:
            self.open.set()
        await self.open.wait()


class Local:
    """The test's side of the connection: its handlers and what happened, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.gates: dict[str, Gate] = {}
        self._lot = trio.lowlevel.ParkingLot()

    def record(self, name: str, tag: str = "") -> None:
        self.events.append((name, tag))
        self._lot.unpark_all()

    async def wait_for(self, name: str, tag: str = "") -> None:
        with trio.fail_after(PATIENCE):
            while (name, tag) not in self.events:
                await self._lot.park()

    def count(self, name: str, tag: str = "") -> int:
        return self.events.count((name, tag))

    def handlers(self) -> dict[str, Handler]:
        async def event(params: rpc_peer.Event, context: CallContext) -> None:
            self.record(params.name, params.tag)

        async def echo(params: rpc_peer.Value, context: CallContext) -> rpc_peer.Value:
            self.record("local_echo", context.callback_id or "")
            if gate := self.gates.get("test.echo"):
                await gate.pass_through()
            return params

        async def echo_via_peer(params: rpc_peer.Value, context: CallContext) -> rpc_peer.Value:
            if gate := self.gates.get("test.echo_via_peer"):
                await gate.pass_through()
            return await context.connection.call("echo", params, rpc_peer.Value)

        async def block(params: rpc_peer.Tag, context: CallContext) -> Empty:
            self.record("local_started", params.tag)
            try:
                await trio.sleep_forever()
            finally:
                self.record("local_cancelled", params.tag)

        return {
            "test.event": Handler(rpc_peer.Event, event),
            "test.echo": Handler(rpc_peer.Value, echo),
            "test.echo_via_peer": Handler(rpc_peer.Value, echo_via_peer),
            "test.block": Handler(rpc_peer.Tag, block),
        }


@asynccontextmanager
async def memory_wire() -> AsyncIterator[Wire]:
    ours, theirs = trio.testing.memory_stream_pair()

    async def serve() -> None:
        async with open_connection(theirs, theirs, rpc_peer.handlers(), name="peer") as connection:
            await connection.wait_closed()
        await theirs.aclose()  # our receive stream ends, as a child's stdout would

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        yield Wire("memory", ours.send_stream, ours.receive_stream, theirs.aclose)
        await ours.aclose()  # the peer sees EOF and stops


@asynccontextmanager
async def process_wire() -> AsyncIterator[Wire]:
    process = await trio.lowlevel.open_process(
        [sys.executable, str(PEER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None and process.stdout is not None
    killed = False

    async def hang_up() -> None:
        nonlocal killed
        killed = True
        process.kill()
        with trio.fail_after(PATIENCE):
            await process.wait()

    try:
        yield Wire("process", process.stdin, process.stdout, hang_up)
    finally:
        with trio.CancelScope(shield=True):
            await process.stdin.aclose()  # EOF: a well-behaved peer exits 0
            with trio.move_on_after(PATIENCE):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
                pytest.fail("the peer process did not exit when its stdin closed")
            await process.stdout.aclose()
    assert killed or process.returncode == 0, f"the peer exited with {process.returncode}"


@asynccontextmanager
async def connect(wire: Wire, local: Local, **options: Any) -> AsyncIterator[Connection]:
    """Our connection to the peer, serving ``local``'s handlers."""
    async with open_connection(
        wire.send_stream, wire.receive_stream, local.handlers(), name="local", **options
    ) as connection:
        yield connection


class Raw:
    """The wire by hand: lines written and read as a peer that is not this engine would."""

    def __init__(self, send_stream: trio.abc.SendStream, receive_stream: trio.abc.ReceiveStream):
        self.send_stream = send_stream
        self.receive_stream = receive_stream
        self._framer = LineFramer()
        self._lines: list[bytes] = []

    async def send(self, *messages: Any) -> None:
        """Write every message (bytes as they are, anything else as JSON) in one write."""
        data = b"".join(
            (m if isinstance(m, bytes) else msgspec.json.encode(m)) + b"\n" for m in messages
        )
        await self.send_stream.send_all(data)

    async def receive(self) -> Any:
        """The next message, decoded."""
        with trio.fail_after(PATIENCE):
            while not self._lines:
                data = await self.receive_stream.receive_some()
                if not data:
                    raise EOFError("the engine closed its end")
                self._lines.extend(self._framer.feed(bytes(data)))
        return msgspec.json.decode(self._lines.pop(0))

    async def receive_response(self) -> Any:
        """The next message that is not a ``test.event`` notification."""
        while True:
            message = await self.receive()
            if not (isinstance(message, dict) and message.get("method") == "test.event"):
                return message
