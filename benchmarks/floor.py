"""The floor: what newline-delimited JSON-RPC over pipes costs with no framework at all.

A parent and a child Python process exchange the same messages pluginrt
sends (msgspec JSON, one message per line) with plain blocking reads and
writes. Whatever pluginrt measures is compared with these figures, taken in
the same run (``benchmarks/pluginrt_bench.py`` imports :func:`measure`).

    python benchmarks/floor.py            # the full run (about ten seconds)
    python benchmarks/floor.py --quick    # a smoke run (a second or two)

Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


class Params(msgspec.Struct, omit_defaults=True):
    payload: bytes = b""
    n: int = 0
    size: int = 0


class Request(msgspec.Struct):
    jsonrpc: str
    id: int
    method: str
    params: Params


class Response(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    id: int
    result: Any = None


class Chunk(msgspec.Struct):
    stream_id: str
    payload: bytes


class Notification(msgspec.Struct):
    jsonrpc: str
    method: str
    params: Chunk


# ------------------------------------------------------------------ the child


def child() -> None:
    """Answer requests on stdin: ``echo`` returns its payload, ``stream`` writes n chunks."""
    decoder = msgspec.json.Decoder(Request)
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while line := stdin.readline():
        request = decoder.decode(line)
        if request.method == "stream":
            payload = b"x" * request.params.size
            for _ in range(request.params.n):
                stdout.write(
                    _ENCODER.encode(Notification("2.0", "stream.chunk", Chunk("s1", payload)))
                )
                stdout.write(b"\n")
        result = {"payload": request.params.payload}
        stdout.write(_ENCODER.encode(Response("2.0", request.id, result)))
        stdout.write(b"\n")
        stdout.flush()


# ----------------------------------------------------------------- the parent


@dataclass
class Floor:
    spawn_ms: float
    rtt_p50_us: float
    rtt_p99_us: float
    pipelined_calls_per_s: float
    lines_per_s: float
    line_mb_per_s: float
    body_1mib_mb_per_s: float


@dataclass
class TrioFloor:
    """The same exchange with trio's event loop on both ends and nothing else:
    what any trio-based runtime pays before its first line of code."""

    rtt_p50_us: float
    pipelined_calls_per_s: float
    #: 64 in flight again, but from 64 tasks each awaiting its own answer: what
    #: any trio host whose callers are tasks pays (pluginrt's are), with no framework.
    task_per_call_calls_per_s: float


class _Child:
    def __init__(self, imports: tuple[str, ...] = ()) -> None:
        argv = [sys.executable, os.path.abspath(__file__), "--child"]
        for module in imports:
            argv += ["--import", module]
        started = time.perf_counter()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=1 << 16,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.stdout = self.process.stdout
        self.ids = 0
        self.call("echo", Params())
        self.spawn_s = time.perf_counter() - started

    def send(self, method: str, params: Params) -> None:
        self.ids += 1
        self.stdin.write(_ENCODER.encode(Request("2.0", self.ids, method, params)) + b"\n")

    def receive(self) -> Any:
        return _DECODER.decode(self.stdout.readline())

    def call(self, method: str, params: Params) -> Any:
        self.send(method, params)
        self.stdin.flush()
        return self.receive()

    def close(self) -> None:
        self.stdin.close()
        self.process.wait()
        self.stdout.close()


def spawn_s(imports: tuple[str, ...] = ()) -> float:
    """Seconds from starting a child to its first answer. The child imports ``imports``
    first: ``("trio",)`` is what a plugin's stack costs before any code of pluginrt's."""
    probe = _Child(imports)
    probe.close()
    return probe.spawn_s


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def measure(quick: bool = False) -> Floor:
    """Every floor figure, measured now."""
    rounds = 2_000 if quick else 20_000
    pipelined = 10_000 if quick else 100_000
    lines = 20_000 if quick else 100_000
    bodies = 5 if quick else 20
    # One spawn alone swings by half on a busy machine: the best of three, even quick.
    spawns = [spawn_s() for _ in range(3 if quick else 5)]
    peer = _Child()
    try:
        small = Params(payload=b"hello")
        for _ in range(200):
            peer.call("echo", small)
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            peer.call("echo", small)
            samples.append(time.perf_counter() - started)

        # 64 in flight: keep the window full, one read then one write.
        started = time.perf_counter()
        for _ in range(64):
            peer.send("echo", small)
        peer.stdin.flush()
        for _ in range(pipelined - 64):
            peer.receive()
            peer.send("echo", small)
            peer.stdin.flush()
        for _ in range(64):
            peer.receive()
        pipelined_s = time.perf_counter() - started

        chunk_size = 100
        started = time.perf_counter()
        peer.send("stream", Params(n=lines, size=chunk_size))
        peer.stdin.flush()
        for _ in range(lines):
            _DECODER.decode(peer.stdout.readline())
        peer.receive()
        lines_s = time.perf_counter() - started

        body = Params(payload=os.urandom(1 << 20))
        peer.call("echo", body)
        started = time.perf_counter()
        for _ in range(bodies):
            peer.call("echo", body)
        body_s = (time.perf_counter() - started) / bodies
    finally:
        peer.close()
    return Floor(
        spawn_ms=min(spawns) * 1e3,
        rtt_p50_us=percentile(samples, 0.5) * 1e6,
        rtt_p99_us=percentile(samples, 0.99) * 1e6,
        pipelined_calls_per_s=pipelined / pipelined_s,
        lines_per_s=lines / lines_s,
        line_mb_per_s=lines * chunk_size / lines_s / 1e6,
        body_1mib_mb_per_s=(1 << 20) / body_s / 1e6,
    )


# ------------------------------------------------------ the stack's floor


class TrioLines:
    """Lines from a pipe on trio's loop: wait until readable, read, split (no framework)."""

    def __init__(self, fd: int, wait_readable: Callable[[int], Awaitable[None]]) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.wait_readable = wait_readable
        self.rest = b""

    async def next(self) -> list[bytes]:
        """The next complete lines; [] at the end of the stream."""
        while True:
            await self.wait_readable(self.fd)
            data = os.read(self.fd, 1 << 16)
            if not data:
                return []
            *lines, self.rest = (self.rest + data).split(b"\n")
            if lines:
                return lines


async def _trio_child(wait_readable: Callable[[int], Awaitable[None]]) -> None:
    """The child's loop on trio: the same answers, no framework (see measure_trio)."""
    decoder = msgspec.json.Decoder(Request)
    incoming = TrioLines(0, wait_readable)
    while lines := await incoming.next():
        out = []
        for line in lines:
            request = decoder.decode(line)
            result = {"payload": request.params.payload}
            out.append(_ENCODER.encode(Response("2.0", request.id, result)))
            out.append(b"\n")
        os.write(1, b"".join(out))


class _TrioPeer:
    """The parent's side on trio: direct writes, reads as the data comes."""

    def __init__(
        self, process: subprocess.Popen[bytes], wait_readable: Callable[[int], Awaitable[None]]
    ) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.out = process.stdin.fileno()
        self.incoming = TrioLines(process.stdout.fileno(), wait_readable)
        self.ids = 0

    def request(self, params: Params) -> bytes:
        self.ids += 1
        return _ENCODER.encode(Request("2.0", self.ids, "echo", params)) + b"\n"

    async def responses(self) -> list[bytes]:
        return await self.incoming.next()


def measure_trio(quick: bool = False) -> TrioFloor:
    """The trio floor's figures, measured now."""
    import trio

    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--trio-child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    return trio.run(_measure_trio, _TrioPeer(process, trio.lowlevel.wait_readable), quick)


async def _measure_trio(peer: _TrioPeer, quick: bool) -> TrioFloor:
    process = peer.process
    small = Params(payload=b"hello")
    try:
        samples = []
        for index in range(200 + (2_000 if quick else 20_000)):
            started = time.perf_counter()
            os.write(peer.out, peer.request(small))
            for line in await peer.responses():
                _DECODER.decode(line)
            if index >= 200:
                samples.append(time.perf_counter() - started)
        # 64 in flight: as each read brings answers, send as many new requests in one write.
        total = 10_000 if quick else 100_000
        started = time.perf_counter()
        os.write(peer.out, b"".join(peer.request(small) for _ in range(64)))
        sent, received = 64, 0
        while received < total:
            lines = await peer.responses()
            for line in lines:
                _DECODER.decode(line)
            received += len(lines)
            more = min(len(lines), total - sent)
            if more:
                os.write(peer.out, b"".join(peer.request(small) for _ in range(more)))
                sent += more
        pipelined_s = time.perf_counter() - started
        task_per_call = await _task_per_call(peer, total)
    finally:
        process.stdin.close()  # type: ignore[union-attr]
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]
    return TrioFloor(
        rtt_p50_us=percentile(samples, 0.5) * 1e6,
        pipelined_calls_per_s=total / pipelined_s,
        task_per_call_calls_per_s=task_per_call,
    )


async def _task_per_call(peer: _TrioPeer, total: int, in_flight: int = 64) -> float:
    """Calls/s with ``in_flight`` tasks each sending a call and sleeping until its answer
    wakes it, the least a trio host can do per call: one task parked and woken (no
    timeout, no error handling), one writer sending what is queued in one write, one
    reader waking callers and letting them run every 8 answers (as pluginrt's does)."""
    import trio
    from outcome import Value

    small = Params(payload=b"hello")
    waiting: dict[int, trio.lowlevel.Task] = {}
    queued: list[bytes] = []
    writer_lot = trio.lowlevel.ParkingLot()
    writer_parked = False

    async def writer() -> None:
        nonlocal writer_parked
        while True:
            if not queued:
                writer_parked = True
                await writer_lot.park()
                continue
            data = b"".join(queued)
            queued.clear()
            os.write(peer.out, data)

    async def reader() -> None:
        while lines := await peer.responses():
            for index, line in enumerate(lines, 1):
                answer = _DECODER.decode(line)
                trio.lowlevel.reschedule(waiting.pop(answer["id"]), Value(answer))
                if index % 8 == 0:
                    await trio.lowlevel.checkpoint()

    async def caller(calls: int) -> None:
        nonlocal writer_parked
        for _ in range(calls):
            queued.append(peer.request(small))
            if writer_parked:
                writer_parked = False
                writer_lot.unpark_all()
            waiting[peer.ids] = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.SUCCEEDED)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        nursery.start_soon(reader)
        started = time.perf_counter()
        async with trio.open_nursery() as callers:
            for _ in range(in_flight):
                callers.start_soon(caller, total // in_flight)
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return total // in_flight * in_flight / elapsed


_LABELS = {
    "spawn_ms": "spawn to first response (ms)",
    "rtt_p50_us": "round trip p50, 1 in flight (us)",
    "rtt_p99_us": "round trip p99, 1 in flight (us)",
    "pipelined_calls_per_s": "calls/s, 64 in flight",
    "task_per_call_calls_per_s": "calls/s, 64 in flight, a task per call",
    "lines_per_s": "one-way lines/s (100 B chunks)",
    "line_mb_per_s": "one-way MB/s (100 B chunks)",
    "body_1mib_mb_per_s": "1 MiB body round trip (MB/s)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a second or two")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--import", dest="imports", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--trio-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trio_child:
        import trio

        trio.run(_trio_child, trio.lowlevel.wait_readable)
        return
    if args.child:
        for module in args.imports or ():
            importlib.import_module(module)  # what the import costs is the figure
        child()
        return
    floor = measure(args.quick)
    for key, value in asdict(floor).items():
        print(f"{_LABELS[key]:<40} {value:>14,.1f}")
    on_trio = measure_trio(args.quick)
    for key, value in asdict(on_trio).items():
        print(f"{_LABELS[key] + ', trio':<40} {value:>14,.1f}")
    print(
        json.dumps(
            {"benchmark": "floor", "quick": args.quick, **asdict(floor), "trio": asdict(on_trio)}
        )
    )


if __name__ == "__main__":
    main()
