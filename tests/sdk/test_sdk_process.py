"""A real SDK plugin script as a child process, spoken to in raw JSON lines."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from pluginrt.api import ExecutorRequest, ExecutorResponse
from pluginrt.host import PluginRemoteError, PluginSpec, RestartPolicy, open_plugins

PLUGINS = Path(__file__).parent / "plugins"
SCRIPT = PLUGINS / "sdk_echo.py"


class RawPeer:
    """The host's side of the pipes, one JSON line at a time."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.buffer = b""

    async def send(self, message: dict[str, Any]) -> None:
        await self.stdin.send_all(json.dumps(message).encode() + b"\n")

    async def read_line(self) -> bytes:
        """The next line of stdout, or b"" at EOF."""
        while b"\n" not in self.buffer:
            data = await self.stdout.receive_some(65536)
            if not data:
                rest, self.buffer = self.buffer, b""
                return rest
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    async def receive(self) -> dict[str, Any]:
        line = await self.read_line()
        message: dict[str, Any] = json.loads(line)  # anything but JSON here fails the test
        return message

    async def request(self, id: Any, method: str, params: dict[str, Any]) -> None:
        await self.send({"jsonrpc": "2.0", "id": id, "method": method, "params": params})

    async def rest(self) -> list[dict[str, Any]]:
        """Every message left on stdout, up to its end."""
        messages = []
        while line := await self.read_line():
            messages.append(json.loads(line))
        return messages

    async def register(self) -> dict[str, Any]:
        await self.send(
            {"jsonrpc": "2.0", "id": 1, "method": "plugin.register",
             "params": {"protocol_version": 1, "plugin_id": "e", "config": {"k": 1}}}
        )  # fmt: skip
        answer = await self.receive()
        assert answer["id"] == 1, answer
        result: dict[str, Any] = answer["result"]
        return result


@asynccontextmanager
async def spawn_plugin(*argv: str, as_host_does: bool = True) -> AsyncIterator[RawPeer]:
    """Start the plugin; ``as_host_does`` sets the env marker the host's spawner sets."""
    env = dict(os.environ)
    if as_host_does:
        env["PLUGINRT_PLUGIN_ID"] = "e"
    process = await trio.lowlevel.open_process(
        list(argv) or [sys.executable, str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        yield RawPeer(process)
    finally:
        if process.returncode is None:
            process.kill()
        with trio.fail_after(5):
            await process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            assert stream is not None
            await stream.aclose()


async def read_stderr(process: trio.Process) -> str:
    assert process.stderr is not None
    chunks = []
    while data := await process.stderr.receive_some(65536):
        chunks.append(data)
    return b"".join(chunks).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_a_plugin_script_handshakes_and_a_stray_print_never_reaches_stdout() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            result = await peer.register()
            assert result["protocol_version"] == 1
            assert result["metadata"]["Name"] == "sdk-echo"
            assert result["capabilities"]["Executor"] == {"identifier": "echo"}
            assert result["capabilities"]["ExecutorInputFormats"] == ["openai"]
            await peer.request(2, "executor.execute", {"Payload": b64(b"ping")})
            answer = await peer.receive()  # the prints came first: they must not be here
            assert answer == {"jsonrpc": "2.0", "id": 2, "result": {"Payload": b64(b"ping")}}
            await peer.stdin.aclose()
            assert await peer.read_line() == b""
            stderr = await read_stderr(peer.process)
            assert await peer.process.wait() == 0
    assert "stray print from a handler" in stderr
    assert "a C library banner on descriptor 1" in stderr
    assert "a print at import time, before run()" in stderr


async def test_without_the_hosts_marker_stdio_is_taken_only_when_run_starts() -> None:
    async with spawn_plugin(as_host_does=False) as peer:
        with trio.fail_after(10):
            assert await peer.read_line() == b"a print at import time, before run()"
            result = await peer.register()
            assert result["metadata"]["Name"] == "sdk-echo"


async def test_a_sync_handler_calls_the_host_with_the_calls_callback_id() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            await peer.send(
                {"jsonrpc": "2.0", "id": 2, "method": "executor.count_tokens",
                 "params": {}, "host_callback_id": "cb-42"}
            )  # fmt: skip
            callback = await peer.receive()
            assert callback["method"] == "host.http.do"
            assert callback["host_callback_id"] == "cb-42"
            assert callback["params"]["URL"] == "https://upstream/tokens"
            await peer.send(
                {"jsonrpc": "2.0", "id": callback["id"],
                 "result": {"StatusCode": 200, "Body": b64(b"17")}}
            )  # fmt: skip
            answer = await peer.receive()
            assert answer == {"jsonrpc": "2.0", "id": 2, "result": {"Payload": b64(b"17")}}


async def test_a_stream_answers_its_headers_then_chunks_then_one_end() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            await peer.request(
                2,
                "executor.execute_stream",
                {"Payload": b64(b"a b"), "stream_id": "s1", "window": 8},
            )
            messages = [await peer.receive() for _ in range(4)]
    assert messages[0] == {"jsonrpc": "2.0", "id": 2, "result": {}}
    assert [m["params"] for m in messages[1:3]] == [
        {"stream_id": "s1", "payload": b64(b"a")},
        {"stream_id": "s1", "payload": b64(b"b")},
    ]
    assert messages[3]["method"] == "stream.end"
    assert messages[3]["params"]["stream_id"] == "s1"
    assert messages[3]["params"].get("error") is None


async def test_shutdown_is_answered_and_the_process_exits() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            await peer.send({"jsonrpc": "2.0", "id": 9, "method": "plugin.shutdown"})
            assert await peer.receive() == {"jsonrpc": "2.0", "id": 9, "result": {}}
            assert await peer.process.wait() == 0


async def test_shutdown_answers_the_calls_in_flight_before_the_process_exits() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            await peer.request(2, "executor.execute", {"Payload": b64(b"slow")})
            await peer.send({"jsonrpc": "2.0", "id": 9, "method": "plugin.shutdown"})
            answers = [await peer.receive(), await peer.receive()]
            assert await peer.read_line() == b""
            assert await peer.process.wait() == 0
    assert answers == [
        {"jsonrpc": "2.0", "id": 9, "result": {}},
        {"jsonrpc": "2.0", "id": 2, "result": {"Payload": b64(b"slow")}},
    ]


async def test_shutdown_serves_the_notifications_already_received_before_exiting() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            for model in ("m1", "m2"):
                await peer.send(
                    {"jsonrpc": "2.0", "method": "usage.handle", "params": {"Model": model}}
                )
            await peer.send({"jsonrpc": "2.0", "id": 9, "method": "plugin.shutdown"})
            messages = await peer.rest()
            assert await peer.process.wait() == 0
    assert messages[0] == {"jsonrpc": "2.0", "id": 9, "result": {}}
    logged = [m["params"]["message"] for m in messages[1:] if m["method"] == "host.log"]
    assert logged == ["usage of m1", "usage of m2"]


async def test_stdin_closing_still_lets_the_calls_and_streams_in_flight_answer() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            await peer.request(2, "executor.execute", {"Payload": b64(b"slow")})
            await peer.request(
                3,
                "executor.execute_stream",
                {"Payload": b64(b"forever"), "stream_id": "s1", "window": 2},
            )
            headers, *chunks = [await peer.receive() for _ in range(3)]
            await peer.stdin.aclose()  # nothing more can come: no credit, no callbacks
            rest = await peer.rest()
            assert await peer.process.wait() == 0
    assert headers == {"jsonrpc": "2.0", "id": 3, "result": {}} and len(chunks) == 2
    answer, end = sorted(rest, key=lambda message: "method" in message)
    assert answer == {"jsonrpc": "2.0", "id": 2, "result": {"Payload": b64(b"slow")}}
    assert end["method"] == "stream.end" and end["params"]["error"]["code"] == "cancelled"


def stream_cancel(stream_id: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "stream.cancel", "params": {"stream_id": stream_id}}


async def test_a_stream_the_host_cancels_still_ends_with_one_stream_end() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            await peer.request(
                2,
                "executor.execute_stream",
                {"Payload": b64(b"forever"), "stream_id": "s1", "window": 2},
            )
            headers, *chunks = [await peer.receive() for _ in range(3)]
            assert headers["result"] == {} and len(chunks) == 2
            await peer.send(stream_cancel("s1"))
            end = await peer.receive()
            await peer.send({"jsonrpc": "2.0", "id": "p", "method": "$/ping"})
            after = await peer.receive()
    assert end["method"] == "stream.end"
    assert end["params"]["stream_id"] == "s1"
    assert end["params"]["error"]["code"] == "cancelled"
    assert after == {"jsonrpc": "2.0", "id": "p", "result": {}}  # one end, nothing more


async def test_a_stream_cancelled_before_its_headers_fails_its_call_and_ends() -> None:
    async with spawn_plugin() as peer:
        with trio.fail_after(10):
            await peer.register()
            await peer.request(
                2,
                "executor.execute_stream",
                {"Payload": b64(b"late"), "stream_id": "s1", "window": 2},
            )
            await peer.send({"jsonrpc": "2.0", "id": "p", "method": "$/ping"})
            assert (await peer.receive())["id"] == "p"  # the stream is under way
            await peer.send(stream_cancel("s1"))
            messages = [await peer.receive(), await peer.receive()]
    answer, end = sorted(messages, key=lambda message: "method" in message)
    assert answer["id"] == 2 and answer["error"]["code"] == -32800
    assert end["method"] == "stream.end" and end["params"]["error"]["code"] == "cancelled"


async def test_the_plugin_exits_when_its_parent_dies_even_with_stdin_open() -> None:
    # A middle process starts the plugin on our pipes, then is killed: stdin stays open.
    launcher = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, sys.argv[1]]); "
        "print(p.pid, file=sys.stderr, flush=True); "
        "time.sleep(60)"
    )
    async with spawn_plugin(sys.executable, "-c", launcher, str(SCRIPT)) as peer:
        assert peer.process.stderr is not None
        with trio.fail_after(10):
            pid = int((await peer.process.stderr.receive_some(100)).split()[0])
        try:
            with trio.fail_after(10):
                await peer.register()  # serving, so its parent is recorded
                peer.process.kill()
                await peer.process.wait()
                while await peer.read_line():  # EOF: its stdout closed as it exited
                    pass
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            raise


async def test_a_result_that_cannot_be_encoded_is_answered_as_an_error_and_the_plugin_serves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pluginrt.plugin.unencodable")
    spec = PluginSpec(
        id="unencodable",
        command=(str(PLUGINS / "sdk_unencodable.py"),),
        call_timeout=5.0,
        restart=RestartPolicy(max_restarts=0),
    )
    with trio.fail_after(20):
        async with open_plugins([spec]) as plugins:
            plugin = plugins["unencodable"]
            with pytest.raises(PluginRemoteError) as info:
                await plugin.call(
                    "executor.execute", ExecutorRequest(payload=b"bad"), ExecutorResponse
                )
            response = await plugin.call(
                "executor.execute", ExecutorRequest(payload=b"next"), ExecutorResponse
            )
    said = (
        "executor.execute failed: sdk-unencodable returned a result that cannot be "
        "encoded: Encoding objects of type Opaque is unsupported"
    )
    assert (info.value.code, info.value.message) == (-32603, said)
    assert response.payload == b"next"
    stderr = [r.getMessage() for r in caplog.records if r.name == "pluginrt.plugin.unencodable"]
    assert f"[sdk-unencodable] ERROR pluginrt.rpc: {said}" in stderr
