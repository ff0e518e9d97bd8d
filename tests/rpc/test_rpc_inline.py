"""Handlers start in the reader: what that must not change.

A handler runs in the reader task until it first waits; then that task stays
with it and a new reader routes the rest. These tests pin what callers can
see: later lines are never held up by a waiting handler, each handler has a
context of its own, and a handler that waited can still be cancelled.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from rpc_harness import Raw

from pluginrt.rpc import CANCELLED, CallContext, Connection, Handler, open_connection

_tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="unset")


class Tag(msgspec.Struct):
    tag: str = ""
    wait: bool = False


class Seen(msgspec.Struct):
    before: str
    after: str


class Server:
    def __init__(self) -> None:
        self.release = trio.Event()
        self.started: list[str] = []

    async def tagged(self, params: Tag, ctx: CallContext) -> Seen:
        before = _tag.get()
        _tag.set(params.tag)
        self.started.append(params.tag)
        if params.wait:
            await self.release.wait()
        return Seen(before=before, after=_tag.get())

    def handlers(self) -> dict[str, Handler]:
        return {"tagged": Handler(Tag, self.tagged)}


@pytest.fixture
async def served() -> AsyncIterator[tuple[Server, Raw, Connection]]:
    server = Server()
    ours, theirs = trio.testing.memory_stream_pair()
    async with open_connection(
        ours.send_stream, ours.receive_stream, server.handlers(), name="inline"
    ) as connection:
        yield server, Raw(theirs, theirs), connection


def tagged(id: int, tag: str, wait: bool = False) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": "tagged", "params": {"tag": tag, "wait": wait}}


async def test_lines_behind_a_waiting_handler_are_answered_while_it_waits(
    served: tuple[Server, Raw, Connection],
) -> None:
    server, raw, connection = served
    # One write: the waiting handler and the two behind it come in one read.
    await raw.send(tagged(1, "a", wait=True), tagged(2, "b"), tagged(3, "c"))
    answers = [await raw.receive(), await raw.receive()]
    assert [answer["id"] for answer in answers] == [2, 3]
    assert connection.statistics().handlers_running == 1
    server.release.set()
    assert (await raw.receive())["id"] == 1
    assert connection.statistics().handlers_running == 0


async def test_each_handler_sees_only_its_own_context_even_across_a_wait(
    served: tuple[Server, Raw, Connection],
) -> None:
    server, raw, _ = served
    await raw.send(tagged(1, "a", wait=True), tagged(2, "b"), tagged(3, "c"))
    first = [await raw.receive(), await raw.receive()]
    server.release.set()
    answers = {answer["id"]: answer["result"] for answer in [*first, await raw.receive()]}
    # Nobody saw another handler's value; the waiting one kept its own after the wait.
    assert answers == {
        1: {"before": "unset", "after": "a"},
        2: {"before": "unset", "after": "b"},
        3: {"before": "unset", "after": "c"},
    }
    assert server.started == ["a", "b", "c"]


async def test_a_handler_that_waited_is_cancelled_by_cancel_and_answered_once(
    served: tuple[Server, Raw, Connection],
) -> None:
    server, raw, connection = served
    await raw.send(tagged(1, "a", wait=True))
    await trio.testing.wait_all_tasks_blocked()
    assert server.started == ["a"]
    await raw.send({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": 1}}, tagged(2, "b"))
    answers = {answer["id"]: answer for answer in [await raw.receive(), await raw.receive()]}
    assert answers[1]["error"]["code"] == CANCELLED
    assert answers[2]["result"]["after"] == "b"
    assert connection.statistics().handlers_running == 0


async def test_many_waiting_handlers_each_keep_a_task_and_all_finish(
    served: tuple[Server, Raw, Connection],
) -> None:
    server, raw, _ = served
    await raw.send(*[tagged(index, f"t{index}", wait=True) for index in range(1, 51)])
    await trio.testing.wait_all_tasks_blocked()
    assert len(server.started) == 50
    await raw.send(tagged(99, "last"))
    assert (await raw.receive())["id"] == 99
    server.release.set()
    answers = {(await raw.receive())["id"] for _ in range(50)}
    assert answers == set(range(1, 51))
