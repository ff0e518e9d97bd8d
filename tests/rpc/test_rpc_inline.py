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
    #: How the handler waits: "plain", "in_nursery" (inside a nursery and a
    #: cancel scope of its own), or "shrug" (catches the cancellation, answers).
    style: str = "plain"


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
        if params.wait and params.style == "in_nursery":
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep_forever)
                with trio.CancelScope():
                    await self.release.wait()
                nursery.cancel_scope.cancel()
        elif params.wait and params.style == "shrug":
            try:
                await self.release.wait()
            except trio.Cancelled:
                return Seen(before=before, after="shrugged")
        elif params.wait:
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


def tagged(id: int, tag: str, wait: bool = False, style: str = "plain") -> dict[str, Any]:
    params = {"tag": tag, "wait": wait, "style": style}
    return {"jsonrpc": "2.0", "id": id, "method": "tagged", "params": params}


def cancel(id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": id}}


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


async def test_a_handler_cancelled_inside_its_own_nursery_and_scope_is_answered_cancelled(
    served: tuple[Server, Raw, Connection],
) -> None:
    _, raw, connection = served
    await raw.send(tagged(1, "a", wait=True, style="in_nursery"))
    await trio.testing.wait_all_tasks_blocked()
    await raw.send(cancel(1), tagged(2, "b"))
    answers = {answer["id"]: answer for answer in [await raw.receive(), await raw.receive()]}
    assert answers[1]["error"]["code"] == CANCELLED
    assert answers[2]["result"]["after"] == "b"
    assert connection.statistics().handlers_running == 0


async def test_a_handler_that_catches_its_cancellation_and_answers_is_answered_once(
    served: tuple[Server, Raw, Connection],
) -> None:
    _, raw, connection = served
    await raw.send(tagged(1, "a", wait=True, style="shrug"))
    await trio.testing.wait_all_tasks_blocked()
    await raw.send(cancel(1))
    assert (await raw.receive())["result"] == {"before": "unset", "after": "shrugged"}
    await raw.send(tagged(2, "b"))  # the very next answer is 2's: nothing more for 1
    assert (await raw.receive())["id"] == 2
    assert connection.statistics().handlers_running == 0
