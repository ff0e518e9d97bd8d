"""pluginrt against the floor: a real SDK plugin through the host's Python API.

Runs ``benchmarks/echo_plugin.py`` under :func:`pluginrt.host.open_plugins` and
measures ``executor.execute`` round trips (one in flight, 64 in flight), a
stream of 100-byte chunks, 1 MiB and 16 MiB body round trips and spawn plus
handshake; every figure is also given as a ratio to the floor
(``benchmarks/floor.py``) measured in the same run. Spawn is measured twice: a
plugin started in a running host (forked from its warm launcher, as the floor's
child is started by a parent already running), and the first plugin of a new
host (the launcher's own start included). The second has two more references,
taken in turn with it: the floor's child importing trio, and importing
plugin_sdk, before it answers (``reference`` in the JSON). From the floor to the
first is the stack's import; from there to the second, pluginrt's own imports.
``PLUGINRT_LAUNCHER=0`` measures spawning without launchers. Round trips and
calls in flight are also set against bare trio on both ends (``floor_trio``: the
floor's exchange on trio's loop, no framework), the least any trio-based runtime
pays; calls in flight also against bare trio calling from a task per call, as
this benchmark's callers do (the least a host whose callers are tasks pays); and
the CPU time host and plugin each spend per call at 64 in flight,
steadier than calls per second on a shared machine. The stream runs with the
pipeline's window. Last, CPU-bound calls (64 in flight) on one instance and on
``instances=2``, and their ratio; and the callback-heavy call: through
:func:`pluginrt.open_host` (which serves ``host.http.do`` with httpx), one
execute doing 10 ``host.http.do`` GETs of a tiny local HTTP server, against the
same GET sent by httpx in the host itself.

    python benchmarks/pluginrt_bench.py            # the full run (tens of seconds)
    python benchmarks/pluginrt_bench.py --quick    # a smoke run (a few seconds)

Prints a table, then one JSON line with every figure and ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from floor import measure as measure_floor
from floor import measure_trio, percentile
from floor import spawn_s as floor_spawn_s

from pluginrt.api import (
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStreamRequest,
    ExecutorStreamStart,
)
from pluginrt.config import load_config
from pluginrt.host import PluginHandle, PluginSpec, open_plugins
from pluginrt.pipeline import PipelineSettings

PLUGIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo_plugin.py")
#: Stream credit: what the pipeline grants a plugin's stream.
WINDOW = PipelineSettings().stream_window
#: The CPU-bound call's work: sum(range(SPIN)), a few milliseconds.
SPIN = 200_000
#: host.http.do calls in the callback-heavy call.
FETCHES = 10


@dataclass
class Figures:
    #: A plugin started in a running host; the first plugin of a new host.
    spawn_ms: float
    first_spawn_ms: float
    #: Not pluginrt's: the floor's child importing trio, or plugin_sdk, before it answers.
    spawn_floor_trio_ms: float
    spawn_floor_sdk_ms: float
    rtt_p50_us: float
    rtt_p99_us: float
    calls_per_s_64: float
    #: CPU time per call at 64 in flight, each side (steadier than calls/s on a
    #: shared machine; from /proc, so NaN where there is none).
    host_cpu_us_64: float
    plugin_cpu_us_64: float
    stream_chunks_per_s: float
    stream_mb_per_s: float
    body_1mib_mb_per_s: float
    body_16mib_mb_per_s: float
    cpu_bound_calls_per_s_1: float
    cpu_bound_calls_per_s_2: float
    callback_calls_per_s: float
    callback_us: float
    httpx_get_us: float


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of process ``pid`` so far (NaN without /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spec(plugin_id: str = "echo", instances: int = 1) -> PluginSpec:
    # The default 30 s call timeout.
    return PluginSpec(id=plugin_id, command=(PLUGIN,), instances=instances)


async def execute(handle: PluginHandle, request: ExecutorRequest) -> ExecutorResponse:
    return await handle.call("executor.execute", request, ExecutorResponse)


async def round_trips(handle: PluginHandle, count: int) -> list[float]:
    request = ExecutorRequest(model="echo", payload=b"hello")
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await execute(handle, request)
        samples.append(time.perf_counter() - started)
    return samples


async def concurrent(handle: PluginHandle, total: int, in_flight: int = 64, spin: int = 0) -> float:
    request = ExecutorRequest(model="echo", payload=b"hello", metadata={"spin": spin})
    per_task = total // in_flight

    async def worker() -> None:
        for _ in range(per_task):
            await execute(handle, request)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(in_flight):
            nursery.start_soon(worker)
    return per_task * in_flight / (time.perf_counter() - started)


async def stream(handle: PluginHandle, chunks: int, size: int = 100) -> tuple[int, float]:
    """Chunks received and the seconds they took."""
    started = time.perf_counter()
    incoming = handle.open_stream(WINDOW)
    params = ExecutorStreamRequest(
        model="echo",
        metadata={"chunks": chunks, "size": size},
        stream_id=incoming.stream_id,
        window=WINDOW,
    )
    received = 0
    async with incoming:
        await handle.call("executor.execute_stream", params, ExecutorStreamStart)
        while batch := await incoming.receive_batch():
            received += len(batch)
    return received, time.perf_counter() - started


async def body(handle: PluginHandle, size: int, rounds: int) -> float:
    request = ExecutorRequest(model="echo", payload=os.urandom(size))
    await execute(handle, request)
    started = time.perf_counter()
    for _ in range(rounds):
        answer = await execute(handle, request)
        assert len(answer.payload) == size
    return size * rounds / (time.perf_counter() - started) / 1e6


#: The spawn references: the floor's child importing a module before it answers;
#: by JSON key, the module, the table's label and the ratio's key.
REFERENCES = {
    "spawn_floor_trio_ms": ("trio", "  floor + import trio (ms)", "first_spawn_over_floor_trio"),
    "spawn_floor_sdk_ms": ("plugin_sdk", "  floor + import SDK (ms)", "first_spawn_over_floor_sdk"),
}


async def spawn_times(count: int) -> tuple[list[float], dict[str, list[float]]]:
    """``count`` first spawns of a new host and of each reference, taken in turn."""
    plugin: list[float] = []
    references: dict[str, list[float]] = {key: [] for key in REFERENCES}
    for _ in range(count):
        for key, (module, _label, _ratio) in REFERENCES.items():
            # A blocking subprocess on the loop: nothing else runs on it yet.
            references[key].append(floor_spawn_s((module,)))
        plugin.append(await spawn_time())
    return plugin, references


async def spawn_time() -> float:
    """Seconds from nothing to the first plugin of a new host running."""
    started = time.perf_counter()
    async with open_plugins([spec("spawn")]) as plugins:
        assert plugins["spawn"].state == "running", plugins["spawn"].last_error
        elapsed = time.perf_counter() - started
    return elapsed


async def running_host_spawn_times(count: int) -> list[float]:
    """Seconds to start a plugin, ``count`` times, in a host already running one."""
    times = []
    async with open_plugins([spec("first")]) as plugins:
        for index in range(count):
            started = time.perf_counter()
            handle = await plugins.start(spec(f"spawn-{index}"))
            assert handle.state == "running", handle.last_error
            times.append(time.perf_counter() - started)
            await plugins.remove(handle.id)
    return times


async def _http_server(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """A minimal keep-alive HTTP/1.1 server on 127.0.0.1 answering every GET with ``ok``."""
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"

    async def connection(stream: trio.SocketStream) -> None:
        buffered = b""
        try:
            while data := await stream.receive_some(65536):
                buffered += data
                while (end := buffered.find(b"\r\n\r\n")) >= 0:  # GETs carry no body
                    buffered = buffered[end + 4 :]
                    await stream.send_all(answer)
        except trio.BrokenResourceError:
            pass

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(connection, listeners)


def _host_config(directory: str) -> str:
    path = os.path.join(directory, "host.yaml")
    with open(path, "w") as file:
        file.write(
            f"auth-dir: {json.dumps(os.path.join(directory, 'auths'))}\n"
            f"logging:\n  level: error\n"
            f"plugins:\n  - id: echo\n    command: {json.dumps(PLUGIN)}\n"
        )
    return path


async def callback_heavy(rounds: int) -> tuple[float, float, float]:
    """Executes per second (each doing FETCHES host.http.do calls), the cost of one
    callback in microseconds, and what the same GET costs with httpx in the host."""
    from pluginrt import open_host  # the full host: it serves host.http.do

    with tempfile.TemporaryDirectory(prefix="pluginrt-bench-") as directory:
        config = load_config(_host_config(directory))
        async with trio.open_nursery() as nursery:
            port = await nursery.start(_http_server)
            url = f"http://127.0.0.1:{port}/"
            async with open_host(config) as host:
                handle = host.plugins["echo"]
                assert handle.state == "running", handle.last_error
                heavy = ExecutorRequest(
                    model="echo", payload=b"hello", metadata={"fetches": FETCHES, "url": url}
                )
                plain = ExecutorRequest(model="echo", payload=b"hello")

                async def timed(request: ExecutorRequest) -> float:
                    for _ in range(max(5, rounds // 10)):
                        await execute(handle, request)
                    started = time.perf_counter()
                    for _ in range(rounds):
                        await execute(handle, request)
                    return (time.perf_counter() - started) / rounds

                heavy_s = await timed(heavy)
                plain_s = await timed(plain)
            async with httpx.AsyncClient(trust_env=False) as client:
                for _ in range(max(5, rounds // 10)):
                    await client.get(url)
                started = time.perf_counter()
                for _ in range(rounds * FETCHES):
                    await client.get(url)
                get_s = (time.perf_counter() - started) / (rounds * FETCHES)
            nursery.cancel_scope.cancel()
    return 1 / heavy_s, (heavy_s - plain_s) / FETCHES * 1e6, get_s * 1e6


async def measure(quick: bool = False) -> Figures:
    # One spawn alone swings by half on a busy machine: the best of three, even quick.
    spawns, references = await spawn_times(3 if quick else 5)
    warm_spawns = await running_host_spawn_times(3 if quick else 5)
    async with open_plugins([spec()]) as plugins:
        handle = plugins["echo"]
        assert handle.state == "running", handle.last_error
        await round_trips(handle, 200)
        samples = await round_trips(handle, 1_000 if quick else 10_000)
        calls = 6_400 if quick else 64_000
        host_cpu, plugin_cpu = time.process_time(), cpu_seconds(handle.pid)
        rate = await concurrent(handle, calls)
        host_cpu = time.process_time() - host_cpu
        plugin_cpu = cpu_seconds(handle.pid) - plugin_cpu
        chunks = 20_000 if quick else 100_000
        received, seconds = await stream(handle, chunks)
        assert received == chunks, received
        mib = await body(handle, 1 << 20, 5 if quick else 20)
        mib16 = await body(handle, 16 << 20, 1 if quick else 4)
        cpu_calls = 128 if quick else 1_280
        cpu_1 = await concurrent(handle, cpu_calls, spin=SPIN)
    async with open_plugins([spec(instances=2)]) as plugins:
        pair = plugins["echo"]
        assert pair.state == "running", pair.last_error
        cpu_2 = await concurrent(pair, cpu_calls, spin=SPIN)
    callback_rate, callback_us, httpx_us = await callback_heavy(30 if quick else 300)
    return Figures(
        spawn_ms=min(warm_spawns) * 1e3,
        first_spawn_ms=min(spawns) * 1e3,
        spawn_floor_trio_ms=min(references["spawn_floor_trio_ms"]) * 1e3,
        spawn_floor_sdk_ms=min(references["spawn_floor_sdk_ms"]) * 1e3,
        rtt_p50_us=percentile(samples, 0.5) * 1e6,
        rtt_p99_us=percentile(samples, 0.99) * 1e6,
        calls_per_s_64=rate,
        host_cpu_us_64=host_cpu / calls * 1e6,
        plugin_cpu_us_64=plugin_cpu / calls * 1e6,
        stream_chunks_per_s=received / seconds,
        stream_mb_per_s=received * 100 / seconds / 1e6,
        body_1mib_mb_per_s=mib,
        body_16mib_mb_per_s=mib16,
        cpu_bound_calls_per_s_1=cpu_1,
        cpu_bound_calls_per_s_2=cpu_2,
        callback_calls_per_s=callback_rate,
        callback_us=callback_us,
        httpx_get_us=httpx_us,
    )


#: Each figure, its label, the floor figure it is compared with, and whether
#: the ratio reads as "times the floor's cost" (lower is better) or "share of
#: the floor's rate" (higher is better).
ROWS: list[tuple[str, str, str]] = [
    ("spawn_ms", "spawn + handshake (ms)", "spawn_ms"),
    ("first_spawn_ms", "  first plugin of a new host (ms)", "spawn_ms"),
    ("rtt_p50_us", "execute round trip p50 (us)", "rtt_p50_us"),
    ("rtt_p99_us", "execute round trip p99 (us)", "rtt_p99_us"),
    ("calls_per_s_64", "execute calls/s, 64 in flight", "pipelined_calls_per_s"),
    ("stream_chunks_per_s", "stream chunks/s (100 B)", "lines_per_s"),
    ("stream_mb_per_s", "stream MB/s (100 B chunks)", "line_mb_per_s"),
    ("body_1mib_mb_per_s", "1 MiB body round trip MB/s", "body_1mib_mb_per_s"),
    ("body_16mib_mb_per_s", "16 MiB body round trip MB/s", "body_1mib_mb_per_s"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args()
    logging.getLogger("pluginrt").setLevel(logging.ERROR)  # no declaration warnings
    floor = asdict(measure_floor(args.quick))
    on_trio = asdict(measure_trio(args.quick))
    figures = asdict(trio.run(measure, args.quick))
    reference = {key: figures.pop(key) for key in REFERENCES}
    ratios: dict[str, float] = {}
    print(f"{'':<34} {'pluginrt':>12} {'floor':>12} {'ratio':>8}")
    for key, label, base in ROWS:
        ratios[key] = figures[key] / floor[base]
        print(f"{label:<34} {figures[key]:>12,.1f} {floor[base]:>12,.1f} {ratios[key]:>8.2f}")
        if base in on_trio:
            # The same exchange with bare trio on both ends: the stack's own floor.
            ratios[f"{key}_over_trio"] = figures[key] / on_trio[base]
            row = "  bare trio both ends"
            print(f"{row:<34} {'':>12} {on_trio[base]:>12,.1f} {ratios[f'{key}_over_trio']:>8.2f}")
        if key == "calls_per_s_64":
            # Bare trio again, from a task per call as here: the least such a host pays.
            tasks = on_trio["task_per_call_calls_per_s"]
            ratios[f"{key}_over_trio_tasks"] = figures[key] / tasks
            row = "  bare trio, a task per call"
            print(f"{row:<34} {'':>12} {tasks:>12,.1f} {ratios[f'{key}_over_trio_tasks']:>8.2f}")
        if key == "first_spawn_ms":
            # How much of a new interpreter's start is the stack's import, how much pluginrt's.
            for name, (_module, row, ratio_key) in REFERENCES.items():
                ratios[ratio_key] = figures[key] / reference[name]
                print(f"{row:<34} {'':>12} {reference[name]:>12,.1f} {ratios[ratio_key]:>8.2f}")
    result: dict[str, Any] = {
        "benchmark": "pluginrt",
        "quick": args.quick,
        "pluginrt": figures,
        "floor": floor,
        "floor_trio": on_trio,
        "reference": reference,
        "ratio_to_floor": ratios,
    }
    scale = figures["cpu_bound_calls_per_s_2"] / figures["cpu_bound_calls_per_s_1"]
    ratios["instances_2_over_1"] = scale
    for key, label in (("host", "host CPU/call, 64 in flight (us)"),
                       ("plugin", "plugin CPU/call, 64 in flight (us)")):  # fmt: skip
        print(f"{label:<34} {figures[f'{key}_cpu_us_64']:>12,.1f}")
    print(f"{'CPU-bound calls/s, 1 instance':<34} {figures['cpu_bound_calls_per_s_1']:>12,.1f}")
    print(
        f"{'CPU-bound calls/s, 2 instances':<34} {figures['cpu_bound_calls_per_s_2']:>12,.1f}"
        f" {'(x1 inst.)':>12} {scale:>8.2f}"
    )
    callback_ratio = figures["callback_us"] / figures["httpx_get_us"]
    ratios["callback_over_httpx_get"] = callback_ratio
    print(
        f"{f'execute + {FETCHES} host.http.do calls/s':<34}"
        f" {figures['callback_calls_per_s']:>12,.1f}"
    )
    print(
        f"{'one host.http.do callback (us)':<34} {figures['callback_us']:>12,.1f}"
        f" {figures['httpx_get_us']:>12,.1f} {callback_ratio:>8.2f}"
        "   (vs the same GET by httpx in the host)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
