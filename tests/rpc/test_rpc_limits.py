"""The engine's bounds, and what they must never do: deadlock.

Handler slots (``max_handlers``) bound the handlers running at once; the
output queue's high-water mark bounds what we queue for a peer that stopped
reading. Two engines face each other here over memory streams or pipes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import msgspec
import trio
import trio.testing
from rpc_harness import PATIENCE, Raw

from pluginrt.rpc import CANCELLED, CallContext, Connection, Handler, open_connection


class Value(msgspec.Struct):
    value: Any


Handlers = Mapping[str, Handler]


@asynccontextmanager
async def facing(
    host: Handlers, plugin: Handlers, **options: Any
) -> AsyncIterator[tuple[Connection, Connection]]:
    """Two connected engines, ``host`` and ``plugin`` (the names are only names)."""
    left, right = trio.testing.memory_stream_pair()
    async with (
        open_connection(left, left, host, name="host", **options) as host_side,
        open_connection(right, right, plugin, name="plugin", **options) as plugin_side,
    ):
        yield host_side, plugin_side


def calling(method: str, callback: Callable[[CallContext], str | None]) -> Handler:
    """A handler that calls ``method`` on its peer and answers with what it got."""

    async def handle(params: Value, ctx: CallContext) -> Value:
        return await ctx.connection.call(method, params, Value, callback_id=callback(ctx))

    return Handler(Value, handle)


async def echo(params: Value, ctx: CallContext) -> Value:
    return params


def request(id: Any, method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def stream_cancel(stream_id: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "stream.cancel", "params": {"stream_id": stream_id}}


def error_code(message: Any) -> tuple[Any, int]:
    return message["id"], message["error"]["code"]


# ------------------------------------------------------------ handler slots


async def test_calls_nested_through_the_peer_finish_with_every_slot_taken(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The host makes more calls than the plugin has slots; each plugin handler calls
    # the host back, and that host handler calls the plugin again, with a callback id
    # of its own (as the host's nested pipeline does). The nested calls must not wait
    # for a slot that only their own chains hold.
    plugin = {
        "executor.execute": calling("host.model.execute", lambda ctx: ctx.callback_id),
        "executor.inner": Handler(Value, echo),
    }
    host = {"host.model.execute": calling("executor.inner", lambda ctx: f"{ctx.callback_id}.n")}
    results: dict[int, Any] = {}
    async with facing(host, plugin, max_handlers=4) as (host_side, _):

        async def one(index: int) -> None:
            answer = await host_side.call(
                "executor.execute", Value(index), Value, callback_id=f"cb-{index}"
            )
            results[index] = answer.value

        with trio.fail_after(60):  # virtual seconds: a deadlock ends the test at once
            async with trio.open_nursery() as nursery:
                for index in range(7):
                    nursery.start_soon(one, index)
    assert results == {index: index for index in range(7)}


async def test_only_requests_that_may_be_part_of_a_call_chain_pass_a_full_set_of_slots() -> None:
    release = trio.Event()

    async def block(params: Value, ctx: CallContext) -> Value:
        await release.wait()
        return params

    handlers = {"block": Handler(Value, block)}
    async with facing(handlers, handlers, max_handlers=2) as (host_side, plugin_side):
        async with trio.open_nursery() as nursery:

            def call(side: Connection, callback_id: str | None = None) -> None:
                nursery.start_soon(
                    partial(side.call, "block", Value(0), Value, callback_id=callback_id)
                )

            call(host_side)
            call(host_side)  # the plugin's two slots are taken
            call(host_side, "cb-1")  # a callback id, but the plugin awaits nothing: queued
            await trio.testing.wait_all_tasks_blocked()
            stats = plugin_side.statistics()
            assert (stats.handlers_running, stats.handlers_queued) == (2, 1)
            call(plugin_side)  # now the plugin waits on the host
            call(host_side)  # no callback id: made outside any chain, queued
            call(host_side, "cb-2")  # may be what the plugin's call waits for: runs
            await trio.testing.wait_all_tasks_blocked()
            stats = plugin_side.statistics()
            assert (stats.handlers_running, stats.handlers_queued) == (3, 2)
            release.set()
        stats = plugin_side.statistics()
        assert (stats.handlers_running, stats.handlers_queued) == (0, 0)


class Produce(msgspec.Struct):
    stream_id: str
    window: int


async def test_a_stream_cancelled_while_its_request_waits_for_a_slot_never_starts() -> None:
    release = trio.Event()
    started: list[str] = []

    async def block(params: Value, ctx: CallContext) -> Value:
        await release.wait()
        return params

    async def produce(params: Produce, ctx: CallContext) -> Value:
        started.append(params.stream_id)
        out = ctx.connection.outgoing_stream(params.stream_id, params.window)
        ctx.connection.spawn(out.end)
        return Value("headers")

    handlers = {"block": Handler(Value, block), "produce": Handler(Produce, produce)}
    ours, theirs = trio.testing.memory_stream_pair()
    raw = Raw(theirs, theirs)
    async with open_connection(ours, ours, handlers, name="plugin", max_handlers=1) as plugin:
        await raw.send(
            request(1, "block", {"value": 1}),
            request(2, "produce", {"stream_id": "s-2", "window": 4}),
            request(3, "produce", {"stream_id": "s-3", "window": 4}),
        )
        await trio.testing.wait_all_tasks_blocked()
        assert plugin.statistics().handlers_queued == 2
        await raw.send(stream_cancel("s-2"))
        # Answered as its handler would have been, had the cancel come before the headers.
        assert await raw.receive() == {
            "jsonrpc": "2.0",
            "method": "stream.end",
            "params": {
                "stream_id": "s-2",
                "error": {"message": "stream s-2 was cancelled", "code": "cancelled"},
            },
        }
        assert error_code(await raw.receive()) == (2, CANCELLED)
        assert plugin.statistics().handlers_queued == 1
        release.set()
        answers = {message.get("id"): message for message in [await raw.receive() for _ in "abc"]}
        assert answers[1]["result"] == {"value": 1}
        assert answers[3]["result"] == {"value": "headers"}
        assert answers[None]["params"] == {"stream_id": "s-3", "error": None}
    assert started == ["s-3"]


async def test_a_request_cancelled_once_handed_a_slot_but_before_it_ran_never_starts() -> None:
    # The cancel must come after the handler holding the slot has handed it over
    # and before the waiting request's task runs. Lines are routed with a checkpoint
    # every few calls (see _ROUTE_BUDGET), where that handler and the reader run in
    # one batch, in an order trio picks at random: over 16 rounds, some hit it.
    started: list[int] = []

    async def wait_peer(params: Value, ctx: CallContext) -> Value:
        return await ctx.connection.call("ask", params, Value)

    async def record(params: Value, ctx: CallContext) -> Value:
        started.append(params.value)
        return params

    handlers = {"wait_peer": Handler(Value, wait_peer), "record": Handler(Value, record)}
    ours, theirs = trio.testing.memory_stream_pair()
    raw = Raw(theirs, theirs)
    nothing = {"jsonrpc": "2.0", "method": "nothing"}
    async with open_connection(ours, ours, handlers, name="plugin", max_handlers=1):
        for round in range(16):
            await raw.send(request(f"w{round}", "wait_peer", {"value": round}))
            ask = await raw.receive()
            await raw.send(request(round, "record", {"value": round}))
            await trio.testing.wait_all_tasks_blocked()
            await raw.send(
                {"jsonrpc": "2.0", "id": ask["id"], "result": {"value": round}},
                *[nothing] * 8,
                {"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": round}},
            )
            answers = {answer["id"]: answer for answer in [await raw.receive() for _ in "ab"]}
            assert answers[f"w{round}"]["result"] == {"value": round}
            assert error_code(answers[round]) == (round, CANCELLED)
    assert started == []


# ------------------------------------------------------------- the output

MIB = 1 << 20
#: The engine's high-water mark of queued output.
HIGH_WATER = 8 * MIB


async def big(params: Value, ctx: CallContext) -> Value:
    return Value("x" * MIB)


async def produce_nothing(params: Produce, ctx: CallContext) -> Value:
    raise AssertionError("a cancelled request was served")


async def test_a_peer_that_never_reads_gets_no_more_queued_than_the_high_water_mark() -> None:
    ours, theirs = trio.testing.lockstep_stream_pair()  # a write waits for the peer's read
    raw = Raw(theirs, theirs)
    handlers = {"big": Handler(Value, big), "produce": Handler(Produce, produce_nothing)}
    async with open_connection(ours, ours, handlers, name="plugin") as plugin:
        await raw.send(
            *(request(index, "big", {"value": index}) for index in range(18)),
            request(18, "produce", {"stream_id": "s-18", "window": 1}),
            request(19, "big", {"value": 19}),
        )
        await trio.testing.wait_all_tasks_blocked()
        stats = plugin.statistics()
        assert HIGH_WATER < stats.bytes_queued < HIGH_WATER + 2 * MIB
        assert stats.handlers_queued > 8  # read, and waiting for the output to drain
        # Requests held are cancelled as any other not yet started.
        await raw.send(
            {"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": 19}}, stream_cancel("s-18")
        )
        await trio.testing.wait_all_tasks_blocked()
        assert plugin.statistics().handlers_queued == stats.handlers_queued - 2
        # Once the peer reads, the rest are served: every request gets its one answer.
        answers = {}
        while len(answers) < 21:
            answer = await raw.receive()
            answers[answer.get("id", answer.get("method"))] = answer
        assert sorted(answers, key=str) == sorted([*range(20), "stream.end"], key=str)
        assert error_code(answers.pop(19)) == (19, CANCELLED)
        assert error_code(answers.pop(18)) == (18, CANCELLED)
        assert answers.pop("stream.end")["params"]["error"]["code"] == "cancelled"
        assert all(answer["result"] == {"value": "x" * MIB} for answer in answers.values())
        await trio.testing.wait_all_tasks_blocked()
        assert plugin.statistics().bytes_queued == 0


async def test_a_peer_that_never_reads_is_read_no_further_once_its_requests_held_pass_a_limit() -> (
    None
):
    ours, theirs = trio.testing.lockstep_stream_pair()
    raw = Raw(theirs, theirs)
    handlers = {"big": Handler(Value, big), "echo": Handler(Value, echo)}
    # The limit is the high-water mark, a line and a pipe: 11 MiB here.
    async with open_connection(ours, ours, handlers, name="plugin", max_line=2 * MIB) as plugin:
        await raw.send(*(request(index, "big", {"value": index}) for index in range(9)))
        sent = trio.Event()

        async def send_more() -> None:
            value = {"value": "z" * MIB}
            await raw.send(*(request(index, "echo", value) for index in range(9, 21)))
            sent.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_more)
            await trio.testing.wait_all_tasks_blocked()
            assert not sent.is_set()  # the reader stopped: the peer's write waits
            assert 11 < plugin.statistics().handlers_queued < 21
            ids = sorted([(await raw.receive())["id"] for _ in range(21)])
            assert sent.is_set()
    assert ids == list(range(21))


async def test_two_engines_that_write_big_messages_to_each_other_at_once_both_finish() -> None:
    # Over pipes, whose writes wait while the reader is behind: if each engine
    # stopped reading while its own output were over the high-water mark, both
    # would, and neither pipe would ever drain.
    handlers = {"echo": Handler(Value, echo)}
    payload = "y" * (9 * MIB)  # over the high-water mark on its own
    host_in, plugin_out = os.pipe()
    plugin_in, host_out = os.pipe()
    results: list[int] = []
    async with (
        trio.lowlevel.FdStream(host_out) as host_send,
        trio.lowlevel.FdStream(host_in) as host_receive,
        trio.lowlevel.FdStream(plugin_out) as plugin_send,
        trio.lowlevel.FdStream(plugin_in) as plugin_receive,
        open_connection(host_send, host_receive, handlers, name="host") as host,
        open_connection(plugin_send, plugin_receive, handlers, name="plugin") as plugin,
    ):

        async def call(side: Connection) -> None:
            results.append(len((await side.call("echo", Value(payload), Value)).value))

        with trio.fail_after(PATIENCE):
            async with trio.open_nursery() as nursery:
                for side in (host, plugin, host, plugin):
                    nursery.start_soon(call, side)
    assert results == [len(payload)] * 4
