"""pluginrt against the peer: the MCP Python SDK's stdio client and server, same echo call.

An MCP stdio server (this file with ``--server``: the SDK's high-level server
with one ``echo`` tool) driven by the SDK's stdio client, against
``benchmarks/echo_plugin.py`` through :func:`pluginrt.host.open_plugins`
(``executor.execute``), both measured in the same run: round trip p50/p99 at
one call in flight, calls per second with 64 concurrent calls, and spawn to
ready (process start plus handshake). The MCP side runs under asyncio (the
SDK's own default, through anyio) after the pluginrt side has finished, so
neither disturbs the other.

    python benchmarks/mcp_bench.py            # the full run (tens of seconds)
    python benchmarks/mcp_bench.py --quick    # a smoke run (a few seconds)

Needs the ``bench`` extra (``pip install -e '.[bench]'``, the ``mcp``
package); without it, says so and exits 0. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from floor import percentile
from pluginrt_bench import concurrent, round_trips, spawn_time, spec

from pluginrt.host import open_plugins

WINDOW = 64


@dataclass
class Side:
    spawn_ms: float
    rtt_p50_us: float
    rtt_p99_us: float
    calls_per_s_64: float


# ------------------------------------------------------------- the MCP server


def server() -> None:
    """An MCP stdio server with one tool, ``echo``, returning its text."""
    try:
        from mcp.server.mcpserver import MCPServer as Server  # mcp >= 2
    except ImportError:  # mcp 1.x
        from mcp.server.fastmcp import FastMCP as Server  # type: ignore[no-redef]

    app: Any = Server("bench-echo")

    @app.tool()
    def echo(text: str) -> str:
        return text

    logging.disable(logging.CRITICAL)  # no per-request INFO lines on stderr
    app.run("stdio")


# ------------------------------------------------------------- the MCP client


@asynccontextmanager
async def _session(params: Any, errlog: TextIO) -> AsyncIterator[Any]:
    """An initialized MCP client session on a freshly spawned server."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def _mcp_measure(params: Any, errlog: TextIO, rounds: int, total: int, spawns: int) -> Side:
    import anyio

    ready = []
    for _ in range(spawns):
        started = time.perf_counter()
        async with _session(params, errlog):
            ready.append(time.perf_counter() - started)
    async with _session(params, errlog) as session:
        arguments = {"text": "hello"}
        answer = await session.call_tool("echo", arguments)
        assert not getattr(answer, "is_error", getattr(answer, "isError", False)), answer
        for _ in range(min(rounds, 50)):
            await session.call_tool("echo", arguments)
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            await session.call_tool("echo", arguments)
            samples.append(time.perf_counter() - started)

        per_task = max(1, total // WINDOW)

        async def worker() -> None:
            for _ in range(per_task):
                await session.call_tool("echo", arguments)

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(WINDOW):
                group.start_soon(worker)
        rate = per_task * WINDOW / (time.perf_counter() - started)
    return Side(
        spawn_ms=min(ready) * 1e3,
        rtt_p50_us=percentile(samples, 0.5) * 1e6,
        rtt_p99_us=percentile(samples, 0.99) * 1e6,
        calls_per_s_64=rate,
    )


def measure_mcp(quick: bool) -> Side:
    import anyio
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=[os.path.abspath(__file__), "--server"]
    )
    rounds, total, spawns = (200, 640, 1) if quick else (2_000, 6_400, 3)
    with open(os.devnull, "w") as errlog:  # the server's stderr
        result: Side = anyio.run(
            _mcp_measure, params, errlog, rounds, total, spawns, backend="asyncio"
        )
    return result


# ------------------------------------------------------------ pluginrt's side


async def _pluginrt_measure(quick: bool) -> Side:
    spawns = [await spawn_time() for _ in range(1 if quick else 3)]
    async with open_plugins([spec()]) as plugins:
        handle = plugins["echo"]
        assert handle.state == "running", handle.last_error
        await round_trips(handle, 200)
        samples = await round_trips(handle, 1_000 if quick else 10_000)
        rate = await concurrent(handle, 6_400 if quick else 64_000)
    return Side(
        spawn_ms=min(spawns) * 1e3,
        rtt_p50_us=percentile(samples, 0.5) * 1e6,
        rtt_p99_us=percentile(samples, 0.99) * 1e6,
        calls_per_s_64=rate,
    )


#: Each figure, its label, and whether lower is better (the speed-up is then
#: MCP over pluginrt; otherwise pluginrt over MCP).
ROWS: list[tuple[str, str, bool]] = [
    ("spawn_ms", "spawn to ready (ms)", True),
    ("rtt_p50_us", "echo round trip p50 (us)", True),
    ("rtt_p99_us", "echo round trip p99 (us)", True),
    ("calls_per_s_64", "echo calls/s, 64 concurrent", False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        server()
        return
    try:
        import mcp  # noqa: F401
    except ImportError:
        print("mcp_bench: skipped, the MCP SDK is not installed (pip install -e '.[bench]')")
        return
    logging.getLogger("pluginrt").setLevel(logging.ERROR)
    ours = asdict(trio.run(_pluginrt_measure, args.quick))
    peer = asdict(measure_mcp(args.quick))
    speedup: dict[str, float] = {}
    print(f"{'':<32} {'pluginrt':>12} {'MCP SDK':>12} {'speed-up':>9}")
    for key, label, lower_better in ROWS:
        speedup[key] = peer[key] / ours[key] if lower_better else ours[key] / peer[key]
        print(f"{label:<32} {ours[key]:>12,.1f} {peer[key]:>12,.1f} {speedup[key]:>8.1f}x")
    result: dict[str, Any] = {
        "benchmark": "mcp",
        "quick": args.quick,
        "pluginrt": ours,
        "mcp": peer,
        "speedup_over_mcp": speedup,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
