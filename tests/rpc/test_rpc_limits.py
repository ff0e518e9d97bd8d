"""The engine's bounds, and what they must never do: deadlock.

Handler slots (``max_handlers``) bound the handlers running at once; the
output queue's high-water mark bounds what we queue for a peer that stopped
reading. Two engines face each other here over memory streams or pipes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import msgspec
import trio
import trio.testing
from rpc_harness import Raw

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
