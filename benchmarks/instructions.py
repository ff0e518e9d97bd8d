"""CPU instructions per call, one side of the engine at a time, counted by callgrind.

Calls per second on a shared machine move by half from one minute to the next;
the instructions a call costs do not. Each side runs alone in one process,
64 calls in flight, against a fake peer that costs little:

* host: ``Connection.call`` from 64 tasks; the peer answers over a pair of pipes;
* plugin: ``plugin_sdk.serve`` of ``benchmarks/echo_plugin.py``; the peer writes
  the requests and reads the answers.

Each side runs twice under ``valgrind --tool=callgrind`` with different call
counts; the difference per call is the figure (start-up and imports cancel
out). The fake peer's own share is in both sides' figures, the same in every
run: compare a figure with the same figure of another commit, not with the
other side's.

    python benchmarks/instructions.py            # both sides (a minute or two)
    python benchmarks/instructions.py --quick    # fewer calls (half a minute)

Prints a table, then one JSON line. Without valgrind it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import msgspec
import trio

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from floor import TrioLines  # noqa: E402 - a sibling script

IN_FLIGHT = 64
_REQUEST = (
    b'{"jsonrpc":"2.0","id":%d,"method":"executor.execute",'
    b'"params":{"Model":"echo","Payload":"aGVsbG8="}}\n'
)
_ANSWER = b'{"jsonrpc":"2.0","id":%d,"result":{"Payload":"aGVsbG8="}}\n'


class _Id(msgspec.Struct):
    id: int


_ID = msgspec.json.Decoder(_Id)


def _pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


async def host_side(calls: int) -> None:
    """``calls`` calls through a host-side Connection, answered by a fake plugin."""
    from pluginrt.api import ExecutorRequest, ExecutorResponse
    from pluginrt.rpc import open_connection

    requests_read, requests_write = _pipe()
    answers_read, answers_write = _pipe()

    async def fake_plugin() -> None:
        incoming = TrioLines(requests_read, trio.lowlevel.wait_readable)
        while lines := await incoming.next():
            os.write(answers_write, b"".join(_ANSWER % _ID.decode(line).id for line in lines))

    request = ExecutorRequest(model="echo", payload=b"hello")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fake_plugin)
        async with open_connection(
            trio.lowlevel.FdStream(requests_write), trio.lowlevel.FdStream(answers_read)
        ) as connection:

            async def caller(count: int) -> None:
                for _ in range(count):
                    await connection.call("executor.execute", request, ExecutorResponse, timeout=30)

            async with trio.open_nursery() as callers:
                for _ in range(IN_FLIGHT):
                    callers.start_soon(caller, calls // IN_FLIGHT)
        nursery.cancel_scope.cancel()


async def plugin_side(calls: int) -> None:
    """``calls`` requests served by the echo plugin through plugin_sdk, from a fake host."""
    import echo_plugin

    from plugin_sdk import serve

    requests_read, requests_write = _pipe()
    answers_read, answers_write = _pipe()
    register = (
        b'{"jsonrpc":"2.0","id":0,"method":"plugin.register","params":'
        b'{"protocol_version":1,"plugin_id":"echo","config":{},"host":{}}}\n'
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            serve,
            echo_plugin.plugin,
            trio.lowlevel.FdStream(answers_write),
            trio.lowlevel.FdStream(requests_read),
        )
        incoming = TrioLines(answers_read, trio.lowlevel.wait_readable)
        os.write(requests_write, register)
        await incoming.next()
        os.write(requests_write, b"".join(_REQUEST % n for n in range(1, IN_FLIGHT + 1)))
        sent, answered = IN_FLIGHT, 0
        while answered < calls:
            lines = await incoming.next()
            answered += len(lines)
            more = min(len(lines), calls - sent)
            if more:
                os.write(requests_write, b"".join(_REQUEST % (sent + n + 1) for n in range(more)))
                sent += more
        os.close(requests_write)
        nursery.cancel_scope.cancel()


SIDES = {"host": host_side, "plugin": plugin_side}


def _instructions(side: str, calls: int) -> int:
    """Instructions callgrind counts for one whole run of ``side`` with ``calls`` calls."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        os.path.abspath(__file__),
        "--side",
        side,
        "--calls",
        str(calls),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind said no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(quick: bool) -> dict[str, float]:
    """Instructions per call, by side."""
    few, many = (640, 2_560) if quick else (6_400, 25_600)
    return {
        side: (_instructions(side, many) - _instructions(side, few)) / (many - few)
        for side in SIDES
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls: some seconds")
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        # The same order of tasks in every run: trio reverses each batch at random.
        shuffle = getattr(sys.modules["trio._core._run"], "_r", None)
        if shuffle is not None:
            shuffle.seed(0)
        trio.run(SIDES[args.side], args.calls)
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts")
        print(json.dumps({"benchmark": "instructions", "quick": args.quick, "skipped": True}))
        return
    figures = measure(args.quick)
    for side, count in figures.items():
        print(f"{side + ' side, instructions per call':<36} {count:>10,.0f}")
    print(json.dumps({"benchmark": "instructions", "quick": args.quick, **figures}))


if __name__ == "__main__":
    main()
