"""The engine against bytes written by hand.

As a server (``served``: over both transports, the far end serving
:mod:`rpc_peer`'s handlers) and as a client (``client``: our Connection over
a memory pair, the test playing the peer line by line).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing
from rpc_harness import PATIENCE, Local, Raw, Wire, connect
from rpc_peer import Value

from pluginrt.rpc import (
    CANCELLED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    CallContext,
    CallTimeout,
    Connection,
    Handler,
    ProtocolError,
    StreamError,
    StreamTimeout,
    open_connection,
)

PING = {"jsonrpc": "2.0", "id": "ping", "method": "$/ping"}
PONG = {"jsonrpc": "2.0", "id": "ping", "result": {}}


def request(id: Any, method: str, params: Any = None, **top: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method, **top}
    if params is not None:
        message["params"] = params
    return message


def error_code(message: Any) -> tuple[Any, int]:
    return message["id"], message["error"]["code"]


@pytest.fixture
def served(wire: Wire) -> Raw:
    return Raw(wire.send_stream, wire.receive_stream)


# ------------------------------------------------------------ as a server


@pytest.mark.parametrize("line", [b'{"jsonrpc": "2.0", "method": "echo", "id": 1', b"not json"])
async def test_invalid_json_is_answered_with_a_parse_error_and_the_connection_goes_on(
    served: Raw, line: bytes
) -> None:
    await served.send(line, PING)
    assert error_code(await served.receive()) == (None, PARSE_ERROR)
    assert await served.receive() == PONG


@pytest.mark.parametrize(
    ("line", "id"),
    [
        (b"42", None),
        (b'"hello"', None),
        (b'{"foo": 1}', None),
        (b"{}", None),
        (b'{"jsonrpc": "2.0", "id": 4}', 4),
        (b'{"jsonrpc": "2.0", "id": 4, "error": null}', 4),
        (b'{"jsonrpc": "2.0", "method": 5, "id": 3}', 3),
    ],
)
async def test_json_that_is_not_json_rpc_is_an_invalid_request(
    served: Raw, line: bytes, id: Any
) -> None:
    await served.send(line, PING)
    assert error_code(await served.receive()) == (id, INVALID_REQUEST)
    assert await served.receive() == PONG


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"jsonrpc": "1.0", "id": 5, "method": "echo", "params": {"value": 1}}, "jsonrpc"),
        ({"id": 5, "method": "$/ping"}, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": 5, "method": "$/cancel", "params": {"id": 1}}, "notification"),
        ({"jsonrpc": "2.0", "id": 5, "method": "stream.credit"}, "notification"),
        ({"jsonrpc": "2.0", "id": None, "method": "$/ping"}, "null"),
    ],
)
async def test_a_missing_or_wrong_jsonrpc_a_notification_sent_as_a_request_or_a_null_id_is_invalid(
    served: Raw, message: dict[str, Any], says: str
) -> None:
    await served.send(message, PING)
    answer = await served.receive()
    assert error_code(answer) == (message["id"], INVALID_REQUEST)
    assert says in answer["error"]["message"]
    assert await served.receive() == PONG


async def test_a_batch_is_answered_with_one_array_without_entries_for_notifications(
    served: Raw,
) -> None:
    await served.send(
        [
            request(1, "$/ping"),
            request(2, "echo", {"value": "two"}),
            {"jsonrpc": "2.0", "method": "echo", "params": {"value": "note"}},
            request(3, "no.such.method"),
            request(4, "echo", {"wrong": 1}),
        ]
    )
    replies = await served.receive()
    assert isinstance(replies, list)
    by_id = {reply["id"]: reply for reply in replies}
    assert sorted(by_id) == [1, 2, 3, 4]
    assert by_id[1]["result"] == {}
    assert by_id[2]["result"] == {"value": "two"}
    assert by_id[3]["error"]["code"] == METHOD_NOT_FOUND
    assert by_id[4]["error"]["code"] == -32602


async def test_a_batch_of_notifications_gets_no_answer(served: Raw) -> None:
    note = {"jsonrpc": "2.0", "method": "echo", "params": {"value": 1}}
    await served.send([note, note], PING)
    assert await served.receive() == PONG


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        (b"[]", (None, INVALID_REQUEST)),
        (b"[1, {bad", (None, PARSE_ERROR)),
    ],
)
async def test_an_empty_or_broken_batch_is_one_error(
    served: Raw, batch: bytes, expected: tuple[Any, int]
) -> None:
    await served.send(batch, PING)
    assert error_code(await served.receive()) == expected
    assert await served.receive() == PONG


async def test_a_batch_of_invalid_entries_gets_an_error_for_each(served: Raw) -> None:
    await served.send(b'[1, {"foo": 1}]')
    replies = await served.receive()
    assert [error_code(reply) for reply in replies] == [(None, INVALID_REQUEST)] * 2


async def test_an_explicit_cancel_gets_exactly_one_cancelled_response(served: Raw) -> None:
    await served.send(request(7, "block", {"tag": "x"}))
    assert (await served.receive())["params"] == {"name": "started", "tag": "x"}
    await served.send({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": 7}})
    seen = [await served.receive(), await served.receive()]
    assert seen[0]["params"] == {"name": "cancelled", "tag": "x"}
    assert error_code(seen[1]) == (7, CANCELLED)
    # Nothing else for id 7: the very next message is the answer to a later ping.
    await served.send({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": 7}}, PING)
    assert await served.receive() == PONG


@pytest.mark.parametrize("id", [1.5, 1.0, -0.25, 1e300])
async def test_a_number_id_with_a_fraction_is_answered_with_that_same_id(
    served: Raw, id: float
) -> None:
    # JSON-RPC 2.0 allows any number (fractions are discouraged, not refused).
    await served.send(request(id, "echo", {"value": "x"}), request(id, "no.such.method"))
    answer, missing = await served.receive(), await served.receive()
    assert answer == {"jsonrpc": "2.0", "id": id, "result": {"value": "x"}}
    assert isinstance(answer["id"], float)
    assert error_code(missing) == (id, METHOD_NOT_FOUND)
    assert isinstance(missing["id"], float)


async def test_a_call_with_a_fraction_id_is_cancelled_by_that_id(served: Raw) -> None:
    await served.send(request(2.5, "block", {"tag": "f"}))
    assert (await served.receive())["params"] == {"name": "started", "tag": "f"}
    await served.send({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": 2.5}})
    assert (await served.receive())["params"] == {"name": "cancelled", "tag": "f"}
    assert error_code(await served.receive()) == (2.5, CANCELLED)


async def test_a_cancel_for_an_unknown_id_is_ignored(served: Raw) -> None:
    await served.send({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": 99}}, PING)
    assert await served.receive() == PONG


async def test_a_request_reusing_an_id_in_flight_is_refused(served: Raw) -> None:
    await served.send(request(5, "block", {"tag": "y"}))
    await served.receive()  # started
    await served.send(request(5, "echo", {"value": 1}))
    assert error_code(await served.receive()) == (5, INVALID_REQUEST)


async def test_the_top_level_host_callback_id_reaches_the_call_context(served: Raw) -> None:
    await served.send(request("a", "seen", {}, host_callback_id="cb-9"), request("b", "seen"))
    answers = [await served.receive(), await served.receive()]
    first, second = sorted(answers, key=lambda answer: str(answer["id"]))
    assert first["result"] == {"method": "seen", "id": "a", "callback_id": "cb-9"}
    assert second["result"] == {"method": "seen", "id": "b", "callback_id": None}


async def test_a_cancel_arriving_with_fresh_credit_stops_the_producer_quietly(
    served: Raw,
) -> None:
    # The producer is parked on credit; the credit that wakes it and the consumer's
    # cancel come in one read, so its cancellation is still pending when it wakes.
    await served.send(request(1, "produce_forever", {"stream_id": "r1", "window": 1, "tag": "q"}))
    first = [await served.receive(), await served.receive()]
    assert sorted(message.get("method", "answer") for message in first) == [
        "answer",
        "stream.chunk",
    ]
    await served.send(
        {"jsonrpc": "2.0", "method": "stream.credit", "params": {"stream_id": "r1", "chunks": 1}},
        {"jsonrpc": "2.0", "method": "stream.cancel", "params": {"stream_id": "r1"}},
    )
    assert (await served.receive())["params"] == {"name": "stream_cancelled", "tag": "q"}
    await served.send(PING)
    assert await served.receive() == PONG


async def test_hanging_up_under_a_handler_whose_own_call_fails_ends_the_peer_cleanly(
    wire: Wire, served: Raw
) -> None:
    # The peer's handler waits in a nursery while its call to us is in flight; at EOF
    # that call fails with ConnectionClosed while the handler is being cancelled.
    await served.send(request(1, "cancel_parent_call", {"tag": "z"}))
    assert (await served.receive())["method"] == "test.block"
    await wire.send_stream.aclose()
    with pytest.raises(EOFError):
        await served.receive()  # the peer closed its end, and did not crash (see teardown)


# ------------------------------------------------------------ as a client


@pytest.fixture
async def client(local: Local) -> AsyncIterator[tuple[Connection, Raw]]:
    ours, theirs = trio.testing.memory_stream_pair()
    wire = Wire("memory", ours.send_stream, ours.receive_stream, theirs.aclose)
    async with connect(wire, local) as connection:
        yield connection, Raw(theirs, theirs)


async def _answer_next(raw: Raw, result: Any) -> None:
    call = await raw.receive()
    await raw.send({"jsonrpc": "2.0", "id": call["id"], "result": result})


async def test_a_call_writes_the_callback_id_at_the_top_level(
    client: tuple[Connection, Raw],
) -> None:
    connection, raw = client
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(connection.call, callback_id="cb-3"), "echo", Value(1), Value)
        nursery.start_soon(connection.call, "echo", Value(2), Value)
        calls = [await raw.receive(), await raw.receive()]
        first, second = sorted(calls, key=lambda call: call["params"]["value"])
        for call in (first, second):
            await raw.send({"jsonrpc": "2.0", "id": call["id"], "result": call["params"]})
    assert first == {
        "jsonrpc": "2.0",
        "id": first["id"],
        "method": "echo",
        "params": {"value": 1},
        "host_callback_id": "cb-3",
    }
    assert "host_callback_id" not in second


async def test_a_go_style_null_or_absent_chunk_payload_is_an_empty_chunk(
    client: tuple[Connection, Raw],
) -> None:
    connection, raw = client
    stream = connection.open_stream(8)
    await raw.send(
        {"jsonrpc": "2.0", "method": "stream.chunk",
         "params": {"stream_id": stream.stream_id, "payload": None}},
        {"jsonrpc": "2.0", "method": "stream.chunk", "params": {"stream_id": stream.stream_id}},
        {"jsonrpc": "2.0", "method": "stream.chunk",
         "params": {"stream_id": stream.stream_id, "payload": "eA=="}},
        {"jsonrpc": "2.0", "method": "stream.end",
         "params": {"stream_id": stream.stream_id, "error": None}},
    )  # fmt: skip
    chunks: list[bytes] = []
    with trio.fail_after(PATIENCE):
        while batch := await stream.receive_batch():
            chunks += batch
    assert chunks == [b"", b"", b"x"]


async def test_a_chunk_that_does_not_decode_fails_its_stream_and_cancels_it_not_dropped(
    client: tuple[Connection, Raw],
) -> None:
    # Dropped in silence, its payload would be lost and the stream still end well.
    connection, raw = client
    stream = connection.open_stream(8)
    sid = stream.stream_id
    await raw.send(
        {
            "jsonrpc": "2.0",
            "method": "stream.chunk",
            "params": {"stream_id": sid, "payload": "eA=="},
        },
        {"jsonrpc": "2.0", "method": "stream.chunk", "params": {"stream_id": sid, "payload": "!!"}},
        {"jsonrpc": "2.0", "method": "stream.end", "params": {"stream_id": sid, "error": None}},
    )
    with trio.fail_after(PATIENCE):
        assert await stream.receive_batch() == [b"x"]
        with pytest.raises(StreamError) as caught:
            await stream.receive_batch()
        cancel = await raw.receive()
    assert caught.value.code == "protocol_error"
    assert f"stream {sid}: an invalid stream.chunk" in caught.value.message
    assert "$.payload" in caught.value.message
    assert cancel == {"jsonrpc": "2.0", "method": "stream.cancel", "params": {"stream_id": sid}}


async def test_a_stream_waits_at_most_its_idle_timeout_for_each_chunk_then_sends_cancel(
    client: tuple[Connection, Raw], autojump_clock: trio.testing.MockClock
) -> None:
    connection, raw = client
    stream = connection.open_stream(4, idle_timeout=30)

    def chunk(payload: str) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "method": "stream.chunk",
                "params": {"stream_id": stream.stream_id, "payload": payload}}  # fmt: skip

    received: list[bytes] = []
    async with trio.open_nursery() as nursery:

        async def produce() -> None:
            for payload in ("YQ==", "Yg=="):  # a, b: 20 s apart, 40 s in all
                await trio.sleep(20)
                await raw.send(chunk(payload))

        nursery.start_soon(produce)
        while len(received) < 2:
            received += await stream.receive_batch()
    quiet_since = trio.current_time()
    with pytest.raises(StreamTimeout) as caught:
        await stream.receive_batch()
    assert trio.current_time() - quiet_since == pytest.approx(30)
    assert received == [b"a", b"b"]
    assert (caught.value.code, caught.value.http_status, caught.value.timeout) == (
        "timeout",
        504,
        30,
    )
    assert f"local: stream {stream.stream_id}: no chunk for 30s" in str(caught.value)
    assert await raw.receive() == {
        "jsonrpc": "2.0",
        "method": "stream.credit",
        "params": {"stream_id": stream.stream_id, "chunks": 2},
    }
    assert await raw.receive() == {
        "jsonrpc": "2.0",
        "method": "stream.cancel",
        "params": {"stream_id": stream.stream_id},
    }
    await raw.send(chunk("Yw=="))  # too late: dropped, and the stream stays failed
    with pytest.raises(StreamTimeout):
        await stream.receive_batch()
    assert connection.statistics().streams_open == 0


@asynccontextmanager
async def _small_lines(
    handlers: dict[str, Handler] | None = None,
) -> AsyncIterator[tuple[Connection, Raw]]:
    """A connection whose lines may be at most 200 bytes, and the raw peer facing it."""
    ours, theirs = trio.testing.memory_stream_pair()
    async with open_connection(ours, ours, handlers, name="small", max_line=200) as connection:
        yield connection, Raw(theirs, theirs)


async def test_a_call_longer_than_a_line_may_be_is_refused_unsent() -> None:
    async with _small_lines() as (connection, raw):
        refused = r"small: echo is \d+ bytes encoded, over the line limit of 200 bytes: not sent"
        with pytest.raises(ProtocolError, match=refused):
            await connection.call("echo", Value("x" * 300), Value)
        await raw.send(PING)
        assert await raw.receive() == PONG  # the refused call never reached the wire
        assert connection.statistics().calls_in_flight == 0


async def test_a_call_waiting_for_a_peer_that_reads_nothing_still_times_out() -> None:
    ours, theirs = trio.testing.lockstep_stream_pair()  # a write waits for the peer's read
    async with open_connection(ours, ours, name="stuck") as connection:
        with pytest.raises(CallTimeout):  # queued past the high water mark, then waits
            await connection.call("echo", Value("x" * (9 << 20)), Value, timeout=0.2)
        with trio.fail_after(PATIENCE), pytest.raises(CallTimeout, match="echo"):
            await connection.call("echo", Value("small"), Value, timeout=0.2)  # waits to queue
        del theirs


async def test_a_result_longer_than_a_line_may_be_is_an_internal_error_naming_it() -> None:
    async def big(params: Value, context: CallContext) -> Value:
        return Value("x" * 300)

    async with _small_lines({"big": Handler(Value, big)}) as (_, raw):
        await raw.send(request(1, "big", {"value": 1}), PING)
        answer = await raw.receive()
        assert error_code(answer) == (1, INTERNAL_ERROR)
        assert "the result of big is" in answer["error"]["message"]
        assert await raw.receive() == PONG


async def test_responses_to_unknown_ids_and_duplicates_are_ignored(
    client: tuple[Connection, Raw], caplog: pytest.LogCaptureFixture
) -> None:
    connection, raw = client
    results: list[Any] = []

    async def call() -> None:
        results.append((await connection.call("echo", Value(1), Value)).value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        id = (await raw.receive())["id"]
        await raw.send(
            {"jsonrpc": "2.0", "id": 999, "result": {"value": "stranger"}},
            {"jsonrpc": "2.0", "id": id, "result": {"value": "first"}},
            {"jsonrpc": "2.0", "id": id, "result": {"value": "again"}},
        )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        await _answer_next(raw, {"value": "next"})
    assert results == ["first", "next"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "local: a response to unknown id 999, ignored",
        f"local: a response to unknown id {id}, ignored",
    ]


async def test_a_call_that_times_out_names_the_method_sends_cancel_and_drops_the_late_answer(
    client: tuple[Connection, Raw],
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection, raw = client
    start = trio.current_time()
    with pytest.raises(CallTimeout) as caught:
        await connection.call("slow.method", Value(1), Value, timeout=30)
    assert trio.current_time() - start == pytest.approx(30)
    assert (caught.value.method, caught.value.timeout) == ("slow.method", 30)
    assert "slow.method" in str(caught.value)
    sent = await raw.receive()
    assert await raw.receive() == {
        "jsonrpc": "2.0",
        "method": "$/cancel",
        "params": {"id": sent["id"]},
    }
    late = {"jsonrpc": "2.0", "id": sent["id"], "error": {"code": CANCELLED, "message": "late"}}
    await raw.send(late, late)  # a late answer, twice
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.ping)
        await _answer_next(raw, {})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert connection.statistics().calls_in_flight == 0


async def test_a_cancelled_caller_sends_cancel_for_its_call(
    client: tuple[Connection, Raw],
) -> None:
    connection, raw = client
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.call, "echo", Value(1), Value)
            sent = await raw.receive()
            scope.cancel()
    assert await raw.receive() == {
        "jsonrpc": "2.0",
        "method": "$/cancel",
        "params": {"id": sent["id"]},
    }


async def test_a_line_over_the_limit_closes_the_connection_and_fails_calls_in_flight(
    local: Local,
) -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    errors: list[BaseException] = []

    async def call(connection: Connection) -> None:
        try:
            await connection.call("echo", Value(1), Value)
        except ProtocolError as exc:
            errors.append(exc)

    with trio.fail_after(PATIENCE):
        async with open_connection(ours, ours, name="local", max_line=1000) as connection:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(call, connection)
                nursery.start_soon(call, connection)
                raw = Raw(theirs, theirs)
                await raw.receive()
                await raw.receive()
                await theirs.send_all(
                    b'{"jsonrpc": "2.0", "method": "x", "params": "' + b"a" * 1001
                )
            await connection.wait_closed()
    assert len(errors) == 2
    assert errors[0] is errors[1] is connection.closed_reason
    assert "1000-byte limit" in str(errors[0])


async def test_the_answers_read_with_a_line_over_the_limit_are_delivered_before_it_closes(
    local: Local, caplog: pytest.LogCaptureFixture
) -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    outcomes: dict[int, object] = {}

    async def call(connection: Connection, n: int) -> None:
        try:
            outcomes[n] = await connection.call("echo", Value(1), Value)
        except ProtocolError as exc:
            outcomes[n] = exc

    secret = b'{"jsonrpc": "2.0", "id": 2, "result": {"value": "someone else\'s answer'
    with trio.fail_after(PATIENCE):
        async with open_connection(ours, ours, name="local", max_line=1000) as connection:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(call, connection, 0)
                raw = Raw(theirs, theirs)
                first = await raw.receive()
                nursery.start_soon(call, connection, 1)
                await raw.receive()
                # One write: the first call's answer, then the second's, far too long.
                answer = b'{"jsonrpc": "2.0", "id": %d, "result": {"value": 5}}\n' % first["id"]
                await theirs.send_all(answer + secret + b"a" * 1001)
            await connection.wait_closed()
    assert outcomes[0] == Value(5)
    assert isinstance(outcomes[1], ProtocolError)
    # The callers' error (it may reach clients) holds none of the line; the log does.
    assert str(outcomes[1]) == "local: a message line exceeded the 1000-byte limit"
    assert any("someone else's answer" in m for m in caplog.messages)


async def test_handlers_over_the_limit_queue_visibly_and_a_cancelled_one_never_runs(
    local: Local,
) -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    raw = Raw(theirs, theirs)
    async with open_connection(ours, ours, local.handlers(), max_handlers=2) as connection:
        await raw.send(*(request(index, "test.block", {"tag": str(index)}) for index in range(3)))
        await trio.testing.wait_all_tasks_blocked()
        stats = connection.statistics()
        assert (stats.handlers_running, stats.handlers_queued) == (2, 1)
        queued = next(str(i) for i in range(3) if ("local_started", str(i)) not in local.events)
        await raw.send({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": int(queued)}})
        assert error_code(await raw.receive()) == (int(queued), CANCELLED)
        await trio.testing.wait_all_tasks_blocked()
        stats = connection.statistics()
        assert (stats.handlers_running, stats.handlers_queued) == (2, 0)
    assert local.count("local_started", queued) == 0


async def test_a_go_style_response_with_error_null_resolves_the_call(
    client: tuple[Connection, Raw],
) -> None:
    connection, raw = client
    results: list[Any] = []

    async def call() -> None:
        results.append((await connection.call("echo", Value(1), Value)).value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        id = (await raw.receive())["id"]
        await raw.send({"jsonrpc": "2.0", "id": id, "result": {"value": 7}, "error": None})
    assert results == [7]


async def test_go_style_null_params_and_callback_id_are_read_as_absent(served: Raw) -> None:
    await served.send(
        {"jsonrpc": "2.0", "id": "n", "method": "seen", "params": None, "host_callback_id": None}
    )
    answer = await served.receive()
    assert answer["result"] == {"method": "seen", "id": "n", "callback_id": None}


async def test_calls_time_out_by_their_own_deadlines_in_any_order(
    client: tuple[Connection, Raw],
    autojump_clock: trio.testing.MockClock,
) -> None:
    connection, raw = client
    start = trio.current_time()
    ended: dict[str, float] = {}

    async def call(method: str, seconds: float) -> None:
        with pytest.raises(CallTimeout):
            await connection.call(method, Value(1), Value, timeout=seconds)
        ended[method] = trio.current_time() - start

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call, "long.method", 60)
        await raw.receive()
        nursery.start_soon(call, "short.method", 5)  # later, yet due first
        await raw.receive()
    assert ended == {"long.method": pytest.approx(60), "short.method": pytest.approx(5)}
    assert list(ended) == ["short.method", "long.method"]
    assert connection.statistics().calls_in_flight == 0


async def test_try_send_writes_what_notify_would_and_stops_at_the_credit(
    client: tuple[Connection, Raw],
) -> None:
    connection, raw = client
    stream_id = 's-\u00e9"\\x'  # quotes, a backslash and non-ASCII, escaped in the line
    out = connection.outgoing_stream(stream_id, 2)
    assert out.try_send(b"\x00\xff chunk")
    await connection.notify("stream.chunk", {"stream_id": stream_id, "payload": "AP8gY2h1bms="})
    assert out.try_send(b"two")
    assert not out.try_send(b"three")  # the window of 2 is spent
    fast, general, second = [await raw.receive() for _ in range(3)]
    assert (
        fast
        == general
        == {
            "jsonrpc": "2.0",
            "method": "stream.chunk",
            "params": {"stream_id": stream_id, "payload": "AP8gY2h1bms="},
        }
    )
    assert second["params"] == {"stream_id": stream_id, "payload": "dHdv"}
    cancel = {"jsonrpc": "2.0", "method": "stream.cancel", "params": {"stream_id": stream_id}}
    await raw.send(cancel)
    await trio.testing.wait_all_tasks_blocked()
    assert out.cancelled
    assert not out.try_send(b"after the end")
