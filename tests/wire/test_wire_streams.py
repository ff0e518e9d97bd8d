"""Executor streams with credit, overrun, cancel and end, as a plugin without an SDK meets
them (PROTOCOL.md, Streams)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import trio
from wire_harness import Wire, run

from pluginrt.api import ExecutorStreamRequest, ExecutorStreamStart
from pluginrt.host import PluginHandle
from pluginrt.rpc import IncomingStream, StreamError


async def start(plugin: PluginHandle, command: dict[str, Any], window: int) -> IncomingStream:
    """Open a stream of ``window`` and call ``executor.execute_stream`` with ``command``."""
    stream = plugin.open_stream(window=window)
    request = ExecutorStreamRequest(
        model="wire-1",
        payload=json.dumps({"do": "stream", **command}).encode(),
        stream_id=stream.stream_id,
        window=stream.window,
    )
    started = await plugin.call("executor.execute_stream", request, ExecutorStreamStart)
    assert started.headers == {"X-Wire": ["stream"]}
    return stream


def sent(wire: Wire, method: str) -> list[dict[str, Any]]:
    return [e["out"]["params"] for e in wire.entries() if e.get("out", {}).get("method") == method]


async def test_the_stream_id_and_window_come_in_the_params_and_credit_comes_as_chunks_are_read(
    wire: Wire,
) -> None:
    chunks = [f"chunk {n}" for n in range(7)]
    async with wire.host() as host:
        stream = await start(host.plugins["wire"], {"chunks": chunks}, window=2)
        assert [chunk.decode() async for chunk in stream] == chunks
    [call] = wire.received("executor.execute_stream")
    params = call["params"]
    assert params["Model"] == "wire-1"  # the ExecutorRequest's fields, and beside them:
    assert (params["stream_id"], params["window"]) == (stream.stream_id, 2)
    credits = [m["params"] for m in wire.received("stream.credit")]
    assert credits and all(set(c) == {"stream_id", "chunks"} for c in credits)
    assert all(c["stream_id"] == stream.stream_id and c["chunks"] >= 1 for c in credits)
    assert 2 + sum(c["chunks"] for c in credits) >= len(chunks)
    assert sent(wire, "stream.end") == [{"stream_id": stream.stream_id, "error": None}]


async def test_a_plugin_that_sends_past_its_credit_has_the_stream_failed_and_cancelled(
    wire: Wire,
) -> None:
    chunks = ["a", "b", "c", "d", "e"]
    command = {"chunks": chunks, "ignore_credit": True, "then_ping": True}
    async with wire.host() as host:
        stream = await start(host.plugins["wire"], command, window=2)
        # Read nothing until then: credit granted as chunks are read would count (the host
        # cannot know whether the plugin had heard of it), and the overrun could vanish.
        await wire.until_received("stream.cancel")
        got = []
        with pytest.raises(StreamError, match=r"wire.*sent past its credit \(window 2\)"):
            async for chunk in stream:
                got.append(chunk)
        assert got == [b"a", b"b"]
    assert wire.received("stream.cancel") == [
        {"jsonrpc": "2.0", "method": "stream.cancel", "params": {"stream_id": stream.stream_id}}
    ]


async def test_a_consumer_that_goes_away_sends_stream_cancel_and_the_plugin_goes_on(
    wire: Wire,
) -> None:
    async with wire.host() as host:
        plugin = host.plugins["wire"]
        stream = await start(plugin, {"chunks": ["a", "b", "c"], "until_cancel": True}, window=2)
        assert await stream.receive_batch() in ([b"a"], [b"a", b"b"])
        await stream.aclose()
        again = await start(plugin, {"chunks": ["x"]}, window=2)  # the plugin serves on
        assert [chunk async for chunk in again] == [b"x"]
    [cancel] = wire.received("stream.cancel")
    assert cancel["params"] == {"stream_id": stream.stream_id}
    [ended] = [end for end in sent(wire, "stream.end") if end["stream_id"] == stream.stream_id]
    assert ended["error"]["code"] == "cancelled"


async def test_a_stream_that_ends_with_an_error_raises_its_message_code_and_status_after_its_chunks(
    wire: Wire,
) -> None:
    end = {"message": "upstream went away", "code": "upstream_gone", "http_status": 502}
    got: list[bytes] = []
    async with wire.host() as host:
        stream = await start(host.plugins["wire"], {"chunks": ["a", "b"], "end": end}, window=8)
        with pytest.raises(StreamError) as info:
            async for chunk in stream:
                got.append(chunk)
    assert got == [b"a", b"b"]
    assert (str(info.value), info.value.code, info.value.http_status) == (
        "upstream went away", "upstream_gone", 502,
    )  # fmt: skip


async def test_a_stream_call_abandoned_before_its_headers_is_cancelled_with_dollar_cancel(
    wire: Wire,
) -> None:
    # Before the headers there is no stream to cancel yet: the call itself is, and answered -32800.
    async with wire.host() as host:
        plugin = host.plugins["wire"]
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(start, plugin, {"before_headers": True}, 2)
                await wire.until_received("executor.execute_stream")
                scope.cancel()
        again = await start(plugin, {"chunks": ["x"]}, window=2)
        assert [chunk async for chunk in again] == [b"x"]
    [call, _] = wire.received("executor.execute_stream")
    assert [m["params"] for m in wire.received("$/cancel")] == [{"id": call["id"]}]
    assert wire.received("stream.cancel") == []


async def test_chunks_and_ends_for_a_stream_the_host_does_not_know_are_ignored(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    # As chunks still on their way when stream.cancel arrives are.
    lines = [
        '{"jsonrpc":"2.0","method":"stream.chunk","params":{"stream_id":"gone","payload":"YQ=="}}',
        '{"jsonrpc":"2.0","method":"stream.end","params":{"stream_id":"gone","error":null}}',
    ]
    async with wire.host() as host:
        seen = await run(host, {"do": "raw", "lines": lines})
        assert [m.get("result") for m in seen] == [{}]  # nothing but the ping's answer
        again = await start(host.plugins["wire"], {"chunks": ["x"]}, window=2)
        assert [chunk async for chunk in again] == [b"x"]
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in warned if "gone" in r.getMessage()]
