"""The engine's behaviour, the same over a memory stream pair and a real child process.

``connection`` is ours; the peer serves :mod:`rpc_peer`'s handlers and calls
back into ``local``'s. Every wait is bounded by ``trio.fail_after``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing
from rpc_harness import PATIENCE, Gate, Local, Wire, connect, memory_wire
from rpc_peer import Count, Fail, Produce, Seen, Tag, Typed, Value

from pluginrt.rpc import (
    HANDLER_ERROR,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    CallTimeout,
    Connection,
    ConnectionClosed,
    Empty,
    IncomingStream,
    RemoteError,
    StreamEndError,
    StreamError,
)


async def _drain(stream: IncomingStream) -> list[bytes]:
    chunks: list[bytes] = []
    with trio.fail_after(PATIENCE):
        async for chunk in stream:
            chunks.append(chunk)
    return chunks


def _chunks(count: int) -> list[bytes]:
    return [b"chunk %d" % index for index in range(count)]


# ------------------------------------------------------------------ calls


async def test_a_call_is_answered_with_its_result(connection: Connection) -> None:
    with trio.fail_after(PATIENCE):
        answer = await connection.call("echo", Value({"a": [1, 2]}), Value)
    assert answer.value == {"a": [1, 2]}


async def test_a_hundred_calls_each_way_are_in_flight_at_once_with_callbacks_nested_inside(
    connection: Connection, local: Local
) -> None:
    # Each gate lets nothing through until all 100 have arrived: the nested callbacks
    # (peer -> us while serving our call) and the peer's own calls to us are all in
    # flight together, while our 100 calls wait on them.
    local.gates["test.echo"] = Gate(100)
    local.gates["test.echo_via_peer"] = Gate(100)
    ours: list[Any] = [None] * 100
    theirs: list[Any] = []

    async def call_peer(index: int) -> None:
        ours[index] = (await connection.call("echo_via_parent", Value(index), Value)).value

    async def peer_calls_us() -> None:
        theirs.extend(await connection.call("call_parent_many", Count(100), list[int]))

    with trio.fail_after(PATIENCE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer_calls_us)
            for index in range(100):
                nursery.start_soon(call_peer, index)
    assert ours == list(range(100))
    assert theirs == list(range(100))
    assert local.count("local_echo") == 100
    assert connection.statistics().calls_in_flight == 0


async def test_the_peer_answers_ping_and_so_do_we(connection: Connection) -> None:
    with trio.fail_after(PATIENCE):
        await connection.ping()
        await connection.call("ping_parent", Empty(), Empty)


async def test_the_callback_id_reaches_the_handler_and_travels_into_nested_calls(
    connection: Connection, local: Local
) -> None:
    with trio.fail_after(PATIENCE):
        seen = await connection.call("seen", Empty(), Seen, callback_id="cb-1")
        plain = await connection.call("seen", Empty(), Seen)
        await connection.call("echo_via_parent", Value(1), Value, callback_id="cb-2")
    assert (seen.method, seen.callback_id) == ("seen", "cb-1")
    assert isinstance(seen.id, int)
    assert plain.callback_id is None
    assert local.events == [("local_echo", "cb-2")]


# ----------------------------------------------------------- cancellation


async def test_a_cancelled_caller_cancels_the_remote_handler_and_hears_nothing_more(
    connection: Connection, local: Local, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pluginrt.rpc")
    with trio.fail_after(PATIENCE):
        outcome: list[str] = []
        scope = trio.CancelScope()

        async def caller() -> None:
            with scope:
                await connection.call("block", Tag("a"), Empty)
            outcome.append("cancelled" if scope.cancelled_caught else "returned")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller)
            await local.wait_for("started", "a")
            scope.cancel()
        await local.wait_for("cancelled", "a")
        # The peer's -32800 was sent before this answer: by now it has been dropped.
        await connection.ping()
    assert outcome == ["cancelled"]
    assert local.count("cancelled", "a") == 1
    assert connection.statistics().calls_in_flight == 0
    records = [r for r in caplog.records if r.name == "pluginrt.rpc"]
    assert [r.levelno for r in records] == [logging.DEBUG]
    assert "late answer to abandoned call" in records[0].getMessage()


async def test_a_peer_that_gives_up_on_its_call_cancels_our_handler(
    connection: Connection, local: Local
) -> None:
    with trio.fail_after(PATIENCE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.call, "cancel_parent_call", Tag("b"), Empty)
            await local.wait_for("local_started", "b")
            await connection.call("release", Tag("b"), Empty)
            await local.wait_for("local_cancelled", "b")
        await local.wait_for("gave_up", "b")
    assert local.count("local_cancelled", "b") == 1
    assert connection.statistics().handlers_running == 0


async def test_a_peer_whose_call_times_out_raises_call_timeout_and_cancels_our_handler(
    connection: Connection, local: Local
) -> None:
    with trio.fail_after(PATIENCE):
        answer = await connection.call("time_out_parent_call", Tag("c"), Value)
        await local.wait_for("local_cancelled", "c")
    assert answer.value == "CallTimeout: test.block timed out after 0.2s"
    assert local.count("local_started", "c") == local.count("local_cancelled", "c") == 1


# ----------------------------------------------------------------- errors


async def test_an_unknown_method_is_answered_with_method_not_found(
    connection: Connection,
) -> None:
    with trio.fail_after(PATIENCE), pytest.raises(RemoteError) as caught:
        await connection.call("no.such.method", Empty(), Empty)
    assert caught.value.code == METHOD_NOT_FOUND
    assert "no.such.method" in caught.value.message


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"x": "one", "inner": {"y": "a"}}, "$.x"),
        ({"x": 1, "inner": {"y": 2}}, "$.inner.y"),
        ({"inner": {"y": "a"}}, "x"),
    ],
)
async def test_invalid_params_are_answered_with_the_field_path(
    connection: Connection, params: dict[str, Any], path: str
) -> None:
    with trio.fail_after(PATIENCE), pytest.raises(RemoteError) as caught:
        await connection.call("typed", params, Typed)
    assert caught.value.code == INVALID_PARAMS
    assert path in caught.value.message
    with trio.fail_after(PATIENCE):
        good = await connection.call("typed", {"x": 1, "inner": {"y": "a"}}, Typed)
    assert good.x == 1


async def test_a_handler_error_arrives_with_its_code_status_and_retryable_flag(
    connection: Connection,
) -> None:
    failure = Fail(message="slow down", code="rate_limited", http_status=429, retryable=True)
    with trio.fail_after(PATIENCE), pytest.raises(RemoteError) as caught:
        await connection.call("fail", failure, Empty)
    error = caught.value
    assert (error.code, error.message) == (HANDLER_ERROR, "slow down")
    assert (error.http_status, error.retryable) == (429, True)
    assert error.data is not None and error.data.code == "rate_limited"
    assert not error.cancelled


async def test_a_handler_error_without_details_has_no_data(connection: Connection) -> None:
    with trio.fail_after(PATIENCE), pytest.raises(RemoteError) as caught:
        await connection.call("fail", Fail(message="no"), Empty)
    assert (caught.value.code, caught.value.data, caught.value.http_status) == (
        HANDLER_ERROR,
        None,
        0,
    )


async def test_a_plain_exception_in_a_handler_is_an_internal_error(
    connection: Connection,
) -> None:
    with trio.fail_after(PATIENCE), pytest.raises(RemoteError) as caught:
        await connection.call("crash", Empty(), Empty)
    assert caught.value.code == INTERNAL_ERROR
    assert "RuntimeError: the handler broke" in caught.value.message
    with trio.fail_after(PATIENCE):
        assert (await connection.call("echo", Value(2), Value)).value == 2


async def test_a_result_of_another_type_than_the_handler_declares_is_an_internal_error(
    connection: Connection,
) -> None:
    with trio.fail_after(PATIENCE), pytest.raises(RemoteError) as caught:
        await connection.call("mistyped", Value("a string"), Value)
    assert caught.value.code == INTERNAL_ERROR
    assert "mistyped must return Value, not str" in caught.value.message
    with trio.fail_after(PATIENCE):
        assert (await connection.call("echo", Value(2), Value)).value == 2


# ---------------------------------------------------------------- streams


async def test_a_stream_delivers_every_chunk_in_order_then_ends(connection: Connection) -> None:
    stream = connection.open_stream(window=4)
    with trio.fail_after(PATIENCE):
        await connection.call(
            "produce", Produce(stream_id=stream.stream_id, window=4, count=50), Empty
        )
    assert await _drain(stream) == _chunks(50)
    assert connection.statistics().streams_open == 0


async def test_a_consumer_that_does_not_read_delays_no_other_call_and_holds_one_window(
    connection: Connection,
) -> None:
    stream = connection.open_stream(window=4)
    with trio.fail_after(PATIENCE):
        await connection.call(
            "produce", Produce(stream_id=stream.stream_id, window=4, count=1000), Empty
        )
        while stream.buffered < 4:
            await connection.ping()
        for index in range(20):
            assert (await connection.call("echo", Value(index), Value)).value == index
    # The producer is parked on credit: one window buffered, not a chunk more.
    assert stream.buffered == 4
    assert await _drain(stream) == _chunks(1000)


async def test_a_producer_never_has_more_than_window_chunks_outstanding(
    connection: Connection,
) -> None:
    stream = connection.open_stream(window=3)
    batches: list[list[bytes]] = []
    with trio.fail_after(PATIENCE):
        await connection.call(
            "produce", Produce(stream_id=stream.stream_id, window=3, count=60), Empty
        )
        while batch := await stream.receive_batch():
            batches.append(batch)
            await connection.ping()  # give the producer every chance to overrun
    assert max(len(batch) for batch in batches) <= 3
    assert [chunk for batch in batches for chunk in batch] == _chunks(60)


async def test_a_producer_that_sends_past_its_credit_has_the_stream_failed(
    connection: Connection,
) -> None:
    stream = connection.open_stream(window=2)
    with trio.fail_after(PATIENCE):
        # The chunks are sent before the answer, so all of them are in by now.
        await connection.call(
            "produce_past_credit", Produce(stream_id=stream.stream_id, window=2, count=5), Empty
        )
        assert await stream.receive_batch() == [b"x0", b"x1"]
        with pytest.raises(StreamError) as caught:
            await stream.receive_batch()
    assert caught.value.code == "credit_exceeded"
    assert connection.statistics().streams_open == 0


async def test_a_stream_that_ends_with_an_error_raises_it_after_its_chunks(
    connection: Connection,
) -> None:
    stream = connection.open_stream(window=8)
    error = StreamEndError(message="upstream failed", code="upstream", http_status=502)
    received: list[bytes] = []
    with trio.fail_after(PATIENCE):
        await connection.call(
            "produce",
            Produce(stream_id=stream.stream_id, window=8, count=3, error=error),
            Empty,
        )
        with pytest.raises(StreamError) as caught:
            async for chunk in stream:
                received.append(chunk)
    assert received == _chunks(3)
    assert (caught.value.message, caught.value.code, caught.value.http_status) == (
        "upstream failed",
        "upstream",
        502,
    )


async def test_a_consumer_that_closes_its_stream_stops_the_producer(
    connection: Connection, local: Local
) -> None:
    stream = connection.open_stream(window=2)
    with trio.fail_after(PATIENCE):
        await connection.call(
            "produce_forever", Produce(stream_id=stream.stream_id, window=2, tag="p"), Empty
        )
        assert await stream.receive_batch()
        stream.close()
        await local.wait_for("stream_cancelled", "p")
    with pytest.raises(StreamError, match="closed by its consumer"):
        await stream.receive_batch()
    assert connection.statistics().streams_open == 0


# ------------------------------------------------------------------ close


async def test_closing_fails_every_call_and_stream_in_flight_and_cancels_our_handlers(
    wire: Wire, local: Local
) -> None:
    errors: list[BaseException] = []

    async def call(connection: Connection, method: str, params: Any) -> None:
        try:
            await connection.call(method, params, Empty)
        except ConnectionClosed as exc:
            errors.append(exc)

    with trio.fail_after(PATIENCE):
        async with connect(wire, local) as connection, trio.open_nursery() as nursery:
            for index in range(5):
                nursery.start_soon(call, connection, "block", Tag(f"b{index}"))
            for index in range(5):
                await local.wait_for("started", f"b{index}")
            nursery.start_soon(call, connection, "cancel_parent_call", Tag("h"))
            await local.wait_for("local_started", "h")
            stream = connection.open_stream(window=2)
            await connection.call(
                "produce_forever", Produce(stream_id=stream.stream_id, window=2), Empty
            )

            connection.close()

            with pytest.raises(ConnectionClosed):
                while await stream.receive_batch():  # what was buffered comes first
                    pass
        assert local.count("local_cancelled", "h") == 1
        with pytest.raises(ConnectionClosed):
            await connection.call("echo", Value(1), Value)
    assert len(errors) == 6
    assert all(error is connection.closed_reason for error in errors)


async def test_a_peer_that_hangs_up_fails_calls_in_flight_with_the_on_eof_reason(
    wire: Wire, local: Local
) -> None:
    reason = ConnectionClosed("the peer exited with status 9")
    errors: list[BaseException] = []

    async def on_eof() -> BaseException:
        return reason

    async def call(connection: Connection, tag: str) -> None:
        try:
            await connection.call("block", Tag(tag), Empty)
        except ConnectionClosed as exc:
            errors.append(exc)

    with trio.fail_after(PATIENCE):
        async with connect(wire, local, on_eof=on_eof) as connection:
            async with trio.open_nursery() as nursery:
                for index in range(3):
                    nursery.start_soon(call, connection, f"e{index}")
                for index in range(3):
                    await local.wait_for("started", f"e{index}")
                await wire.hang_up()
            await connection.wait_closed()
    assert errors == [reason] * 3
    assert connection.closed_reason is reason


# ------------------------------------------------------- virtual time (memory)


async def test_a_call_that_times_out_in_virtual_time_cancels_the_peer_handler(
    local: Local, autojump_clock: trio.testing.MockClock
) -> None:
    async with memory_wire() as wire, connect(wire, local) as connection:
        start = trio.current_time()
        with pytest.raises(CallTimeout) as caught:
            await connection.call("block", Tag("t"), Empty, timeout=5)
        assert trio.current_time() - start == pytest.approx(5)
        assert caught.value.method == "block"
        await local.wait_for("cancelled", "t")
        await connection.ping()
        assert connection.statistics().calls_in_flight == 0
    assert local.count("started", "t") == local.count("cancelled", "t") == 1
