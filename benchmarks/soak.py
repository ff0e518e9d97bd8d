"""Soak: many clients against ``pluginrt run`` with the example plugins, while plugins get killed.

::

    python benchmarks/soak.py                       # 200 clients, 60 s, a kill every 3 s
    python benchmarks/soak.py --clients 50 --seconds 20 --kill-every 1
    python benchmarks/soak.py --quick               # 20 clients, 5 s (what CI runs)

It writes a config of the example plugins (``examples/gateway.yaml``'s set,
on a free loopback port, generous restart budgets) to a temporary folder,
starts ``pluginrt run`` on it as a subprocess, and runs ``--clients``
concurrent clients for ``--seconds``, each looping over streaming and
non-streaming chat completions. A chaos task SIGKILLs a random running
plugin (found through the management API) every ``--kill-every`` seconds.

Every request must end with a complete response (a 200 with a body, or a
stream ending in ``data: [DONE]``) or a clean error (an error status, or an
error event closing the stream). A stream that ends with neither is LOST;
an exception on the client side (reset, timeout) is counted by its type.

At the end it prints requests served, errors by kind, p50/p99 latencies,
the host's peak RSS and its first-10 s vs last-10 s average, the host's
descriptor count at start vs end, then SIGTERMs the host and reports its
exit code and the plugin processes left behind, and a final JSON line.
Exits 1 on lost requests, unclean client errors, leftover processes,
leaked descriptors or an unclean host exit. Loopback only; it stops by
itself (every wait is bounded).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from pluginrt.gateway._serve import KEEP_ALIVE_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
API_KEY = "sk-soak"
MANAGEMENT_KEY = "mgmt-soak"
#: Descriptors the host may legitimately hold more at the end (caches, a restart in flight).
FD_TOLERANCE = 4
#: Clients per httpx.AsyncClient (each its own connection pool).
POOL = 25
#: The host's log level (info: one access line per request, with its duration).
LOG_LEVEL = os.environ.get("PLUGINRT_SOAK_LOG_LEVEL", "warning")
#: The plugins of examples/gateway.yaml.
PLUGINS = [
    ("mock", "mock_llm.py", 10),
    ("claude-in", "request_translator.py", 0),
    ("claude-out", "response_translator.py", 0),
    ("tagger", "request_interceptor.py", 0),
    ("usage", "usage_logger.py", 0),
    ("console", "management_api.py", 0),
]


# --------------------------------------------------------------------- setup


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(folder: Path, port: int) -> Path:
    lines = [
        "host: 127.0.0.1",
        f"port: {port}",
        "api-keys:",
        f"  - {API_KEY}",
        f"management-key: {MANAGEMENT_KEY}",
        f"auth-dir: {folder / 'auths'}",
        "request-timeout: 30s",
        "shutdown-grace: 5s",
        "logging:",
        f"  level: {LOG_LEVEL}",
        "plugins:",
    ]
    for plugin_id, script, priority in PLUGINS:
        lines += [
            f"  - id: {plugin_id}",
            f"    command: {json.dumps(str(EXAMPLES / script))}",
            f"    priority: {priority}",
            "    instances: 1",
            "    restart:",
            "      max-restarts: 100000",
            "      backoff: 100ms",
            "      backoff-max: 1s",
        ]
    path = folder / "soak.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def host_command(config: Path) -> list[str]:
    script = Path(sys.executable).with_name("pluginrt")
    if script.exists():
        return [str(script), "run", str(config)]
    return [sys.executable, "-c", "from pluginrt.cli import main; main()", "run", str(config)]


# -------------------------------------------------------------------- /proc


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found.update(int(p) for p in text.split())
    except OSError:
        pass
    return found


def descendants(pid: int) -> set[int]:
    """Every process under ``pid``: plugins, the launchers they are forked from, theirs."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        new = children(todo.pop()) - found
        found |= new
        todo.extend(new)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (0.0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# ------------------------------------------------------------------ results


@dataclass
class Results:
    served: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=lambda: {"stream": [], "plain": []})
    kills: list[str] = field(default_factory=list)
    kill_times: list[tuple[float, str]] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    plugin_pids: set[int] = field(default_factory=set)

    started: float = field(default_factory=time.perf_counter)

    #: When (seconds into the run) the client exceptions happened, the first 50.
    exception_times: list[float] = field(default_factory=list)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        if kind.startswith("exception") and len(self.exception_times) < 50:
            self.exception_times.append(round(time.perf_counter() - self.started, 2))
        if kind not in self.samples:
            at = time.perf_counter() - self.started
            self.samples[kind] = f"at {at:.1f} s: {detail[:200]}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# ------------------------------------------------------------------ clients


def body(stream: bool, n: int) -> dict[str, Any]:
    return {
        "model": "mock-small",
        "stream": stream,
        "messages": [{"role": "user", "content": f"soak request {n} says hello to the mock"}],
    }


async def plain_request(client: httpx.AsyncClient, results: Results, n: int) -> None:
    answer = await client.post("/v1/chat/completions", json=body(False, n))
    if answer.status_code != 200:
        results.error(f"status {answer.status_code}", answer.text)
        return
    choices = answer.json().get("choices")
    if not choices:
        results.error("LOST (200 without choices)", answer.text)
        return
    results.served["plain"] += 1


async def stream_request(client: httpx.AsyncClient, results: Results, n: int) -> None:
    async with client.stream("POST", "/v1/chat/completions", json=body(True, n)) as answer:
        if answer.status_code != 200:
            text = (await answer.aread()).decode(errors="replace")
            results.error(f"status {answer.status_code}", text)
            return
        done = failed = False
        async for line in answer.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
            elif data.startswith("{") and '"error"' in data:
                with contextlib.suppress(ValueError):
                    failed = "error" in json.loads(data)
                if failed:
                    results.error("stream error event", data)
        if done and not failed:
            results.served["stream"] += 1
        elif not failed:
            results.error("LOST (stream without [DONE] or error event)")


async def client_loop(client: httpx.AsyncClient, results: Results, deadline: float) -> None:
    n = 0
    while trio.current_time() < deadline:
        n += 1
        stream = random.random() < 0.5
        started = time.perf_counter()
        try:
            if stream:
                await stream_request(client, results, n)
            else:
                await plain_request(client, results, n)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            results.error(f"exception {type(exc).__name__}", str(exc))
        results.latency["stream" if stream else "plain"].append(time.perf_counter() - started)


# ------------------------------------------------------------------- chaos


async def running_plugins(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await client.get("/v0/management/plugins")
    answer.raise_for_status()
    plugins: list[dict[str, Any]] = answer.json()["plugins"]
    return plugins


async def chaos(
    client: httpx.AsyncClient,
    results: Results,
    host_pid: int,
    every: float,
    deadline: float,
    victims: frozenset[str],
) -> None:
    while trio.current_time() + every < deadline:
        await trio.sleep(every)
        try:
            plugins = [p for p in await running_plugins(client) if p["state"] == "running"]
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            plugins = []
        pids = {p["id"]: p["pid"] for p in plugins if p.get("pid")}
        if victims:
            pids = {plugin_id: pid for plugin_id, pid in pids.items() if plugin_id in victims}
        if not pids:  # the management API is down? fall back to the host's processes
            pids = {str(pid): pid for pid in descendants(host_pid)}
        if not pids:
            continue
        victim = random.choice(sorted(pids))
        results.plugin_pids.update(pids.values())
        try:
            os.kill(pids[victim], signal.SIGKILL)
            results.kills.append(victim)
            results.kill_times.append((round(time.perf_counter() - results.started, 2), victim))
        except ProcessLookupError:
            pass


async def sample_memory(results: Results, pid: int) -> None:
    start = trio.current_time()
    while True:
        results.rss.append((trio.current_time() - start, rss_kib(pid)))
        await trio.sleep(0.5)


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    with trio.fail_after(60):
        async with httpx.AsyncClient(base_url=base) as client:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"pluginrt run exited with {process.returncode} at start")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await trio.sleep(0.1)


async def wait_all_running(manager: httpx.AsyncClient) -> bool:
    with trio.move_on_after(30):
        while True:
            try:
                plugins = await running_plugins(manager)
                if all(p["state"] == "running" for p in plugins):
                    return True
            except (httpx.HTTPError, OSError, ValueError, KeyError):
                pass
            await trio.sleep(0.2)
    return False


# --------------------------------------------------------------------- main


def average(samples: list[tuple[float, int]], lo: float, hi: float) -> float:
    values = [rss for t, rss in samples if lo <= t < hi and rss]
    return sum(values) / len(values) if values else math.nan


async def soak(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    port = free_port()
    config = write_config(folder, port)
    base = f"http://127.0.0.1:{port}"
    log = (folder / "host.log").open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, its output to a file
        host_command(config), stdout=log, stderr=subprocess.STDOUT, cwd=folder
    )
    results = Results()
    report: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds}
    try:
        await wait_ready(base, process)
        host_pid = process.pid
        await trio.sleep(0.5)
        fds_start = fd_count(host_pid)
        results.plugin_pids.update(descendants(host_pid))
        # httpx's pool costs O(connections) per request: one AsyncClient per
        # POOL clients keeps the load generator from measuring mostly itself.
        pools = max(1, math.ceil(args.clients / POOL))
        size = math.ceil(args.clients / pools)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        options: dict[str, Any] = {"base_url": base, "limits": limits}
        headers = {"Authorization": f"Bearer {API_KEY}"}
        manage = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}
        timeout = httpx.Timeout(60.0, connect=30.0)
        started = results.started = time.perf_counter()
        host_cpu, own_cpu = cpu_seconds(host_pid), time.process_time()
        async with (
            contextlib.AsyncExitStack() as stack,
            httpx.AsyncClient(base_url=base, headers=manage, timeout=timeout) as manager,
            trio.open_nursery() as nursery,
        ):
            http = [
                await stack.enter_async_context(
                    httpx.AsyncClient(headers=headers, timeout=timeout, **options)
                )
                for _ in range(pools)
            ]
            deadline = trio.current_time() + args.seconds
            nursery.start_soon(sample_memory, results, host_pid)
            if args.kill_every > 0:
                victims = frozenset(filter(None, args.victims.split(",")))
                nursery.start_soon(
                    chaos, manager, results, host_pid, args.kill_every, deadline, victims
                )
            # Clients finish the request they are in after the deadline (bounded by the timeout).
            with trio.fail_after(args.seconds + 120):
                async with trio.open_nursery() as clients:
                    for n in range(args.clients):
                        clients.start_soon(client_loop, http[n % pools], results, deadline)
            elapsed = time.perf_counter() - started
            host_cpu, own_cpu = cpu_seconds(host_pid) - host_cpu, time.process_time() - own_cpu
            settled = await wait_all_running(manager)
            nursery.cancel_scope.cancel()
        # Keep-alive connections are closed now; the host closes its ends of the ones a
        # client dropped when their idle timer runs out (hypercorn), so wait that long.
        fds_end = fd_count(host_pid)
        with trio.move_on_after(KEEP_ALIVE_TIMEOUT + 5):
            while fds_end > fds_start + FD_TOLERANCE:
                await trio.sleep(0.2)
                fds_end = fd_count(host_pid)
        plugins_at_end = descendants(host_pid)
        results.plugin_pids.update(plugins_at_end)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = await trio.to_thread.run_sync(process.wait, 60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
            report["host_killed"] = True
        log.close()
    await trio.sleep(0.5)  # orphans get a moment to notice the closed pipes
    leftover = sorted(pid for pid in results.plugin_pids if alive(pid))
    for pid in leftover:  # never leave them running after the report
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    lost = sum(n for kind, n in results.errors.items() if kind.startswith("LOST"))
    unclean = sum(n for kind, n in results.errors.items() if kind.startswith("exception"))
    total = sum(results.served.values()) + sum(results.errors.values())
    peak = max((rss for _, rss in results.rss), default=0)
    window = min(10.0, args.seconds / 3)
    last_t = results.rss[-1][0] if results.rss else 0.0
    report.update(
        requests=total,
        served=sum(results.served.values()),
        served_stream=results.served["stream"],
        served_plain=results.served["plain"],
        requests_per_second=round(total / elapsed, 1) if elapsed else 0.0,
        host_cpu_percent=round(100 * host_cpu / elapsed) if elapsed else 0,
        clients_cpu_percent=round(100 * own_cpu / elapsed) if elapsed else 0,
        errors=dict(results.errors.most_common()),
        error_samples=results.samples,
        lost=lost,
        unclean=unclean,
        exception_times_s=results.exception_times,
        kill_times_s=results.kill_times,
        kills=len(results.kills),
        killed=dict(Counter(results.kills)),
        stream_p50_ms=round(percentile(results.latency["stream"], 0.5) * 1000, 1),
        stream_p90_ms=round(percentile(results.latency["stream"], 0.90) * 1000, 1),
        stream_p99_ms=round(percentile(results.latency["stream"], 0.99) * 1000, 1),
        plain_p50_ms=round(percentile(results.latency["plain"], 0.5) * 1000, 1),
        plain_p90_ms=round(percentile(results.latency["plain"], 0.90) * 1000, 1),
        plain_p99_ms=round(percentile(results.latency["plain"], 0.99) * 1000, 1),
        max_ms=round(max(results.latency["plain"] + results.latency["stream"], default=0) * 1000),
        rss_peak_kib=peak,
        rss_first_kib=round(average(results.rss, 0, window)),
        rss_last_kib=round(average(results.rss, last_t - window, last_t + 1)),
        rss_window_s=window,
        rss_by_window_kib=[
            round(average(results.rss, lo, lo + window))
            for lo in [i * window for i in range(max(1, math.ceil(last_t / window)))]
        ],
        fds_start=fds_start,
        fds_end=fds_end,
        plugins_running_at_end=settled,
        plugin_processes_at_end=len(plugins_at_end),
        host_exit_code=code,
        leftover_processes=leftover,
        host_log=str(folder / "host.log") if args.keep else "",
    )
    report["ok"] = (
        lost == 0
        and unclean == 0
        and not leftover
        and code == 0
        and fds_end <= fds_start + FD_TOLERANCE
        and settled
    )
    return report


def show(report: dict[str, Any]) -> None:
    r = report
    print(f"soak: {r['clients']} clients for {r['seconds']} s, {r['kills']} plugin kill(s) "
          f"{r['killed']}")  # fmt: skip
    print(f"requests: {r['requests']} ({r['requests_per_second']}/s); served {r['served']} "
          f"(stream {r['served_stream']}, plain {r['served_plain']})")  # fmt: skip
    print(f"CPU (of one core): host {r['host_cpu_percent']}%, the clients (this process) "
          f"{r['clients_cpu_percent']}%, on {os.cpu_count()} cores")  # fmt: skip
    print(f"lost: {r['lost']}   unclean (client exceptions): {r['unclean']}")
    print("errors by kind:" + ("" if r["errors"] else " none"))
    for kind, count in r["errors"].items():
        print(f"  {count:6d}  {kind}")
        sample = r["error_samples"].get(kind)
        if sample:
            print(f"          e.g. {sample}")
    print(f"latency stream: p50 {r['stream_p50_ms']} ms, p90 {r['stream_p90_ms']} ms, "
          f"p99 {r['stream_p99_ms']} ms")  # fmt: skip
    print(f"latency plain:  p50 {r['plain_p50_ms']} ms, p90 {r['plain_p90_ms']} ms, "
          f"p99 {r['plain_p99_ms']} ms; slowest of all {r['max_ms']} ms")  # fmt: skip
    window = f"{r['rss_window_s']:g} s"
    print(f"host RSS: peak {r['rss_peak_kib']} KiB; first {window} avg {r['rss_first_kib']} KiB, "
          f"last {window} avg {r['rss_last_kib']} KiB")  # fmt: skip
    print(f"host RSS by {window}: {r['rss_by_window_kib']} KiB")
    print(f"host descriptors: start {r['fds_start']}, end {r['fds_end']}; "
          f"all plugins running again: {r['plugins_running_at_end']} "
          f"({r['plugin_processes_at_end']} processes under the host)")  # fmt: skip
    print(f"after SIGTERM: exit code {r['host_exit_code']}, "
          f"leftover plugin processes {r['leftover_processes'] or 'none'}")  # fmt: skip
    print("OK" if r["ok"] else "NOT OK")
    print(json.dumps(r, sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kill-every", type=float, default=3.0, help="0: no chaos")
    parser.add_argument("--victims", default="", help="plugin ids the chaos picks from (all)")
    parser.add_argument("--quick", action="store_true", help="20 clients, 5 s, a kill every 1 s")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (host.log)")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds, args.kill_every = 20, 5.0, 1.0
    random.seed(args.seed)
    if args.keep:
        folder = Path(tempfile.mkdtemp(prefix="pluginrt-soak-"))
        report = trio.run(soak, args, folder)
    else:
        with tempfile.TemporaryDirectory(prefix="pluginrt-soak-") as name:
            report = trio.run(soak, args, Path(name))
    show(report)
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
