"""The gateway's own cost: ``pluginrt run`` over loopback HTTP against the host API directly.

A generated config serves ``examples/mock_llm.py`` (an OpenAI-format mock
executor) with one API key. The same load (1, 16 and 64 concurrent clients,
non-streaming and streaming chat completions) is sent twice, in the same run:

* straight to the host API in this process (``open_host`` +
  ``host.handle(ClientRequest(...))``), the baseline;
* through ``pluginrt run`` in its own process on a free loopback port, with a
  lean raw HTTP/1.1 keep-alive client (one connection per client). A full
  client library would cost more CPU than the gateway itself on these 2-core
  machines and measure itself instead (httpx: ~80% of a core at 64 streams).

The gateway's overhead per request is the p50 difference. To show whose it is,
the same client also loads hypercorn alone, configured as ``pluginrt run``
configures it, serving a 20-line ASGI app with a fixed answer of the mock's size
(this script with ``--bare-server PORT``): the server's own cost; what the
gateway adds beyond server and host API is the last difference. Last, the scale
rows: the 64-client non-streaming load through the gateway with the mock
configured as ``instances: 2`` (the mock costs little: the gateway's own
process bounds it); and a CPU-bound model (``benchmarks/echo_plugin.py``
summing a range for each request, some 20 ms) with 16 clients, on
one instance and on two: the second core in use.

    python benchmarks/gateway_bench.py            # the full run (tens of seconds)
    python benchmarks/gateway_bench.py --quick    # a smoke run (a few seconds)

Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from floor import percentile

import pluginrt
from pluginrt import open_host
from pluginrt.config import load_config
from pluginrt.pipeline import ClientRequest, ClientResponse, ClientStream, Endpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Where the pluginrt this script imported lives: ``pluginrt run`` starts there, so it
#: runs the same code as the baseline (``-c`` puts its working directory first on the
#: path), also when another tree is measured with PYTHONPATH.
PLUGINRT_TREE = os.path.dirname(os.path.dirname(os.path.abspath(pluginrt.__file__)))
MOCK = os.path.join(ROOT, "examples", "mock_llm.py")
SCRIPT = os.path.abspath(__file__)
#: The CPU-bound model of the scale rows, and the work each of its requests asks for.
ECHO = os.path.join(ROOT, "benchmarks", "echo_plugin.py")
SPIN = 1_000_000
API_KEY = "sk-bench"
CLIENTS = (1, 16, 64)
MESSAGES = [{"role": "user", "content": "hello there, how are you today?"}]


@dataclass
class Load:
    """One load level: its throughput and latencies."""

    requests_per_s: float
    p50_us: float
    p99_us: float


def _config(directory: str, port: int, instances: int, plugin: str = MOCK) -> str:
    name = os.path.splitext(os.path.basename(plugin))[0]
    path = os.path.join(directory, f"gateway-{name}-{instances}.yaml")
    with open(path, "w") as file:
        file.write(
            f"host: 127.0.0.1\n"
            f"port: {port}\n"
            f"api-keys: [{API_KEY}]\n"
            f"auth-dir: {os.path.join(directory, 'auths')}\n"
            # Access lines off: they measure the terminal, not the gateway.
            f"logging:\n  level: warning\n"
            f"plugins:\n"
            f"  - id: mock\n"
            f"    command: {json.dumps(plugin)}\n"
            f"    instances: {instances}\n"
        )
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _body(stream: bool, model: str = "mock-small", spin: int = 0) -> bytes:
    body: dict[str, Any] = {"model": model, "messages": MESSAGES, "stream": stream}
    if spin:
        body["spin"] = spin
    return json.dumps(body).encode()


async def _load(call: Callable[[], Awaitable[None]], clients: int, total: int) -> Load:
    """``total`` calls from ``clients`` concurrent callers, each one after the other."""
    per_client = max(1, total // clients)
    samples: list[float] = []

    async def client() -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)

    for _ in range(min(20, per_client)):  # warm up every path
        await call()
    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(client)
    elapsed = time.perf_counter() - started
    return Load(
        requests_per_s=len(samples) / elapsed,
        p50_us=percentile(samples, 0.5) * 1e6,
        p99_us=percentile(samples, 0.99) * 1e6,
    )


# ------------------------------------------------------------ the host API


async def _direct(config_path: str, total: int) -> dict[str, Load]:
    figures: dict[str, Load] = {}
    headers = {"authorization": [f"Bearer {API_KEY}"], "content-type": ["application/json"]}
    async with open_host(load_config(config_path)) as host:
        for stream in (False, True):
            endpoint = Endpoint.STREAM if stream else Endpoint.GENERATE
            body = _body(stream)

            async def call(endpoint: Endpoint = endpoint, body: bytes = body) -> None:
                request = ClientRequest(
                    "openai",
                    endpoint,
                    model="mock-small",
                    body=body,
                    headers=headers,
                    path="/v1/chat/completions",
                )
                answer = await host.handle(request)
                if isinstance(answer, ClientStream):
                    async for _ in answer.chunks:
                        pass
                    await answer.aclose()
                else:
                    assert isinstance(answer, ClientResponse)
                assert answer.status == 200, answer

            for clients in CLIENTS:
                figures[_key(stream, clients)] = await _load(call, clients, total)
    return figures


# ------------------------------------------------- the server, bare

#: What the bare server answers every request with: a chat completion of the mock's size.
_BARE_ANSWER = json.dumps({
    "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": "mock-small",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "You said: hello there, how are you today?"}}],
    "usage": {"prompt_tokens": 6, "completion_tokens": 7, "total_tokens": 13},
}).encode()  # fmt: skip


async def _bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that reads the request and answers ``_BARE_ANSWER``: hypercorn's own cost."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(_BARE_ANSWER)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _BARE_ANSWER})


def _bare_server(port: int) -> None:
    """Serve ``_bare_app`` with hypercorn as ``pluginrt run`` configures it, until SIGTERM."""
    import hypercorn.config
    import hypercorn.trio

    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.include_server_header = False
    config.keep_alive_timeout = 15.0
    trio.run(hypercorn.trio.serve, _bare_app, config)


# ------------------------------------------------------------ the gateway


async def _gateway(
    config_path: str, port: int, total: int, loads: list[tuple[bool, int]], body: bytes = b""
) -> dict[str, Load]:
    """``loads`` (streaming?, clients) through ``pluginrt run``; ``body`` for every request
    if given, else the mock's chat completion."""
    command = [sys.executable, "-c", "from pluginrt.cli import main; main()", "run", config_path]
    return await _over_http(command, port, total, loads, body)


async def _over_http(
    command: list[str], port: int, total: int, loads: list[tuple[bool, int]], body: bytes = b""
) -> dict[str, Load]:
    """``loads`` against the server ``command`` starts on ``port``, stopped after."""
    figures: dict[str, Load] = {}
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PLUGINRT_TREE
    )
    pool: list[_RawHTTP] = []
    try:
        await _wait_ready(port, process)
        for stream, clients in loads:
            request = _request(body or _body(stream))
            while len(pool) < clients:
                pool.append(_RawHTTP(await trio.open_tcp_stream("127.0.0.1", port)))

            async def call(request: bytes = request) -> None:
                connection = pool.pop()
                try:
                    status = await connection.exchange(request)
                except (ConnectionError, trio.BrokenResourceError):
                    # The server closed an idle keep-alive connection: open another.
                    await connection.stream.aclose()
                    connection = _RawHTTP(await trio.open_tcp_stream("127.0.0.1", port))
                    status = await connection.exchange(request)
                finally:
                    pool.append(connection)
                assert status == 200, status

            figures[_key(stream, clients)] = await _load(call, clients, total)
    finally:
        for connection in pool:
            await connection.stream.aclose()
        process.terminate()  # SIGTERM: a graceful stop, plugins included
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
    return figures


def _request(body: bytes) -> bytes:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _RawHTTP:
    """One keep-alive HTTP/1.1 connection: send a request, read its whole response."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise ConnectionError("the gateway closed the connection")
        self.buffer += data

    async def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._fill()
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    async def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            await self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    async def exchange(self, request: bytes) -> int:
        """Send ``request``; return the status once the body (sized or chunked) is read."""
        await self.stream.send_all(request)
        while b"\r\n\r\n" not in self.buffer:
            await self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.lower()
        if b"transfer-encoding: chunked" in headers:
            while size := int((await self._line()).split(b";")[0], 16):
                await self._take(size + 2)
            await self._line()  # the empty line after the last chunk
        else:
            length = headers.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]
            await self._take(int(length))
        return status


async def _wait_ready(port: int, process: trio.Process) -> None:
    models = (
        f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_KEY}\r\n\r\n"
    ).encode()
    with trio.fail_after(30):
        while process.returncode is None:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
                continue
            async with stream:
                if await _RawHTTP(stream).exchange(models) == 200:
                    return
            await trio.sleep(0.05)
    raise RuntimeError(f"pluginrt run exited with {process.returncode}")


def _key(stream: bool, clients: int) -> str:
    return f"{'stream' if stream else 'generate'}_{clients}"


async def measure(quick: bool) -> dict[str, Any]:
    total = 320 if quick else 3_200
    loads = [(stream, clients) for stream in (False, True) for clients in CLIENTS]
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as directory:
        direct = await _direct(_config(directory, _free_port(), 1), total)
        port = _free_port()
        bare = [sys.executable, SCRIPT, "--bare-server", str(port)]
        server = await _over_http(bare, port, total, [(False, 1)])
        port = _free_port()
        gateway = await _gateway(_config(directory, port, 1), port, total, loads)
        port = _free_port()
        scale = await _gateway(_config(directory, port, 2), port, total, [(False, 64)])
        cpu_bound: dict[str, Load] = {}
        work = _body(False, model="echo", spin=SPIN)
        for instances in (1, 2):
            port = _free_port()
            config = _config(directory, port, instances, ECHO)
            loaded = await _gateway(config, port, total // 10, [(False, 16)], work)
            cpu_bound[f"instances_{instances}"] = loaded["generate_16"]
    return {
        "direct": direct,
        "gateway": gateway,
        "server": server,
        "scale": scale,
        "cpu_bound": cpu_bound,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        _bare_server(args.bare_server)
        return
    logging.getLogger("pluginrt").setLevel(logging.ERROR)
    figures = trio.run(measure, args.quick)
    direct, gateway = figures["direct"], figures["gateway"]
    overhead: dict[str, float] = {}
    print(
        f"{'':<20} {'gateway req/s':>13} {'p50 us':>9} {'p99 us':>9}"
        f" {'host API req/s':>14} {'p50 us':>9} {'p99 us':>9} {'overhead p50 us':>16}"
    )
    for key in direct:
        ours, base = gateway[key], direct[key]
        overhead[key] = ours.p50_us - base.p50_us
        label = key.replace("_", ", ") + " client" + ("s" if not key.endswith("_1") else "")
        print(
            f"{label:<20} {ours.requests_per_s:>13,.0f} {ours.p50_us:>9,.0f} {ours.p99_us:>9,.0f}"
            f" {base.requests_per_s:>14,.0f} {base.p50_us:>9,.0f} {base.p99_us:>9,.0f}"
            f" {overhead[key]:>16,.0f}"
        )
    bare = figures["server"]["generate_1"]
    over_bare = gateway["generate_1"].p50_us - bare.p50_us - direct["generate_1"].p50_us
    print(
        f"{'bare hypercorn, 1':<20} {bare.requests_per_s:>13,.0f} {bare.p50_us:>9,.0f}"
        f" {bare.p99_us:>9,.0f}   (the server alone: a fixed answer, no host)"
    )
    print(f"{'':<20} gateway p50 - bare server p50 - host API p50: {over_bare:,.0f} us")
    two, one = figures["scale"]["generate_64"], gateway["generate_64"]
    scale = two.requests_per_s / one.requests_per_s
    print(
        f"{'instances: 2, 64':<20} {two.requests_per_s:>13,.0f} {two.p50_us:>9,.0f}"
        f" {two.p99_us:>9,.0f}   (x1 instance: {scale:.2f})"
    )
    cpu_one, cpu_two = figures["cpu_bound"]["instances_1"], figures["cpu_bound"]["instances_2"]
    cpu_scale = cpu_two.requests_per_s / cpu_one.requests_per_s
    for label, load in (("CPU-bound, 1 inst.", cpu_one), ("CPU-bound, 2 inst.", cpu_two)):
        print(
            f"{label + ', 16':<20} {load.requests_per_s:>13,.0f} {load.p50_us:>9,.0f}"
            f" {load.p99_us:>9,.0f}"
        )
    print(f"{'':<20} (2 instances over 1: {cpu_scale:.2f})")
    result = {
        "benchmark": "gateway",
        "quick": args.quick,
        **{side: {k: asdict(v) for k, v in loads.items()} for side, loads in figures.items()},
        "overhead_p50_us": overhead,
        "gateway_glue_p50_us": over_bare,
        "instances_2_over_1": scale,
        "cpu_bound_instances_2_over_1": cpu_scale,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
