"""Request, response and stream-chunk interceptors through real plugin processes."""

from __future__ import annotations

import json
import logging

import pytest
import trio
from pipeline_harness import Lab, complete, report, request, streamed

from pluginrt.pipeline import Endpoint

EXECUTOR = ("exec", "executor")


async def test_two_request_interceptors_rewrite_in_priority_order(lab: Lab) -> None:
    high = lab.plugin("high", "interceptor", 20, stages=["before"], append="|high",
                      set={"X-Plugin": ["high"]})  # fmt: skip
    low = lab.plugin("low", "interceptor", 10, stages=["before"], append="|low",
                     set={"X-Plugin": ["low"]}, clear=["x-remove"])  # fmt: skip
    async with lab.host(high, low, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request("start", headers={"X-Remove": ["1"], "Keep": ["k"]}))
    seen = report(answer)
    assert seen["payload"] == "start|high|low"
    assert seen["headers"] == {"Keep": ["k"], "X-Plugin": ["low"]}
    assert [c["plugin"] for c in lab.calls("before")] == ["high", "low"]
    assert lab.calls("before", "low")[0]["headers"]["X-Plugin"] == ["high"]


async def test_a_header_an_interceptor_sets_reaches_the_next_plugins_under_its_go_name(
    lab: Lab,
) -> None:
    # A Go plugin's Header.Get looks under the canonical name only, as the Go host's
    # Header.Set would have written it.
    setter = lab.plugin("a-set", "interceptor", 20, stages=["before"], set={"x-tag": ["a"]})
    reader = lab.plugin("b-read", "interceptor", 10, stages=["before"])
    async with lab.host(setter, reader, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request("s", headers={"X-Tag": ["client"]}))
    assert lab.calls("before", "b-read")[0]["headers"] == {"X-Tag": ["a"]}
    assert report(answer)["headers"] == {"X-Tag": ["a"]}


async def test_an_interceptor_that_errors_or_answers_empty_changes_nothing_and_the_next_runs(
    lab: Lab,
) -> None:
    failing = lab.plugin("a-fail", "interceptor", 30, stages=["before"], fail="boom")
    empty = lab.plugin("b-empty", "interceptor", 20, stages=["before"], empty=True)
    last = lab.plugin("c-last", "interceptor", 10, stages=["before"], append="|last")
    async with lab.host(failing, empty, last, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request("start", headers={"X-Keep": ["1"]}))
    assert report(answer)["payload"] == "start|last"
    assert report(answer)["headers"] == {"X-Keep": ["1"]}
    assert [(c["plugin"], c["body"]) for c in lab.calls("before")] == [
        ("a-fail", "start"),
        ("b-empty", "start"),
        ("c-last", "start"),
    ]


async def test_an_interceptor_that_times_out_or_crashes_is_skipped_and_the_chain_goes_on(
    lab: Lab,
) -> None:
    hanging = lab.plugin("a-hang", "interceptor", 30, stages=["before"], hang=True, append="|h")
    hanging["timeout"] = 0.2
    crashing = lab.plugin("b-crash", "interceptor", 20, stages=["before"], crash=True)
    last = lab.plugin("c-last", "interceptor", 10, stages=["before"], append="|last")
    async with lab.host(hanging, crashing, last, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request("start", headers={"X-Keep": ["1"]}))
    assert report(answer)["payload"] == "start|last"
    assert report(answer)["headers"] == {"X-Keep": ["1"]}
    assert [(c["plugin"], c["body"]) for c in lab.calls("before")] == [
        ("a-hang", "start"),
        ("b-crash", "start"),
        ("c-last", "start"),
    ]


async def test_interceptors_of_equal_priority_run_in_id_order(lab: Lab) -> None:
    plugins = [lab.plugin(name, "interceptor", 5, stages=["before"], append=f"|{name}")
               for name in ("zeta", "alpha", "mid")]  # fmt: skip
    async with lab.host(*plugins, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request("s"))
    assert report(answer)["payload"] == "s|alpha|mid|zeta"


async def test_after_auth_interceptors_see_the_executor_format_and_upstream_model(
    lab: Lab,
) -> None:
    plugin = lab.plugin("icpt", "interceptor", stages=["after"], append="|after")
    executor = lab.plugin(*EXECUTOR, models=[["m1", "upstream-m1"]])
    async with lab.host(plugin, executor) as host:
        answer = await complete(host, request("s", fmt="chat_completions"))
    assert report(answer)["payload"] == "s|after"
    assert report(answer)["model"] == "upstream-m1"
    before, after = lab.calls("before")[0], lab.calls("after")[0]
    assert (before["to_format"], before["model"]) == ("", "m1")
    assert (after["to_format"], after["model"]) == ("openai", "upstream-m1")


async def test_the_second_response_interceptor_sees_the_first_ones_edits(lab: Lab) -> None:
    first = lab.plugin("first", "interceptor", 20, stages=["response"], append="|r1",
                       set={"X-Seen": ["first"]})  # fmt: skip
    second = lab.plugin("second", "interceptor", 10, stages=["response"], append="|r2",
                        clear=["X-Executor"])  # fmt: skip
    async with lab.host(first, second, lab.plugin(*EXECUTOR, reply="payload")) as host:
        answer = await complete(host, request("hello"))
    assert answer.status == 200
    assert answer.body == b"hello|r1|r2"
    assert answer.headers == {"X-Seen": ["first"]}
    seen_by_second = lab.calls("response", "second")[0]
    assert seen_by_second["body"] == "hello|r1"
    assert seen_by_second["headers"] == {"X-Executor": ["exec"], "X-Seen": ["first"]}
    assert seen_by_second["status"] == 200


async def test_response_interceptors_run_on_count_tokens_but_are_skipped_on_streams(
    lab: Lab,
) -> None:
    icpt = lab.plugin("icpt", "interceptor", stages=["response"], append="|r")
    async with lab.host(icpt, lab.plugin(*EXECUTOR, chunks=["a", "b"])) as host:
        counted = await complete(host, request("x", endpoint=Endpoint.COUNT_TOKENS))
        _, chunks = await streamed(host, request("x", endpoint=Endpoint.STREAM))
    assert counted.body == b'{"input_tokens": 3}|r'
    assert chunks == [b"a", b"b"]
    assert len(lab.calls("response")) == 1


async def test_no_response_interceptor_is_called_for_a_failed_request(lab: Lab) -> None:
    icpt = lab.plugin("icpt", "interceptor", stages=["response"], append="|r")
    chunks = lab.plugin("chunks", "chunks")
    failing = lab.plugin(*EXECUTOR, fail={"message": "no access", "http_status": 403})
    async with lab.host(icpt, chunks, failing) as host:
        answer = await complete(host, request("x"))
    assert (answer.status, json.loads(answer.body)["error"]["message"]) == (403, "no access")
    assert lab.calls("response") == [] and lab.calls("chunk") == []


async def test_the_header_init_call_has_index_minus_one_and_the_request_bodies(lab: Lab) -> None:
    chunks = lab.plugin("chunks", "chunks", init_headers={"X-Stream": ["shaped"]})
    normalizer = lab.plugin("norm", "transformer", normalize=True, tag="n")
    async with lab.host(chunks, normalizer, lab.plugin(*EXECUTOR, chunks=["a"])) as host:
        stream, delivered = await streamed(host, request("orig", endpoint=Endpoint.STREAM))
    assert stream.headers == {"Content-Type": ["text/event-stream"], "X-Stream": ["shaped"]}
    init, payload = lab.calls("chunk")
    assert (init["index"], init["body"]) == (-1, "")
    assert (init["original"], init["translated"]) == ("orig", "orig|rn:n")
    assert init["response_headers"] == {"Content-Type": ["text/event-stream"]}
    assert (payload["index"], payload["body"]) == (0, "a|nb:n|na:n")
    assert (payload["original"], payload["translated"]) == ("", "")
    assert delivered == [b"a|nb:n|na:n"]


async def test_a_stream_request_cancelled_before_its_headers_are_handed_over_closes_the_stream(
    lab: Lab,
) -> None:
    chunks = lab.plugin("chunks", "chunks", init_sleep=30)
    executor = lab.plugin(*EXECUTOR, chunks=["a", "b"], sleep=30)  # a minute, unless cancelled
    async with lab.host(chunks, executor) as host:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(host.handle, request(endpoint=Endpoint.STREAM))
            await lab.until(lambda: bool(lab.calls("chunk")))  # in the header-init call
            nursery.cancel_scope.cancel()  # the client went away
        await lab.until(lambda: bool(lab.calls("stream_closed")))  # stream.cancel reached it


async def test_a_dropped_chunk_skips_later_interceptors_and_delivery_but_advances_the_index(
    lab: Lab,
) -> None:
    dropper = lab.plugin("a-drop", "chunks", 20, drop=[1])
    marker = lab.plugin("b-mark", "chunks", 10, append="!")
    executor = lab.plugin(*EXECUTOR, chunks=["c0", "c1", "c2"])
    async with lab.host(dropper, marker, executor) as host:
        _, delivered = await streamed(host, request(endpoint=Endpoint.STREAM))
    assert delivered == [b"c0!", b"c2!"]
    assert [c["index"] for c in lab.calls("chunk", "a-drop")] == [-1, 0, 1, 2]
    marked = lab.calls("chunk", "b-mark")
    assert [c["index"] for c in marked] == [-1, 0, 2]
    assert [c["history_last"] for c in marked] == ["", "", "c0!"]


async def test_header_edits_on_payload_chunks_reach_later_calls_but_never_the_client(
    lab: Lab,
) -> None:
    edits = {"0": {"X-Dropped": ["0"]}, "1": {"X-Late": ["1"]}}
    first = lab.plugin("a-first", "chunks", 20, drop=[0], chunk_headers=edits)
    second = lab.plugin("b-second", "chunks", 10)
    executor = lab.plugin(*EXECUTOR, chunks=["c0", "c1"])
    async with lab.host(first, second, executor) as host:
        stream, delivered = await streamed(host, request(endpoint=Endpoint.STREAM))
    assert delivered == [b"c1"]
    plain = {"Content-Type": ["text/event-stream"]}
    assert stream.headers == plain
    # The edit returned with the dropped chunk still applies to the chain's state.
    dropped = {**plain, "X-Dropped": ["0"]}
    seen_by_first = [(c["index"], c["response_headers"]) for c in lab.calls("chunk", "a-first")]
    assert seen_by_first == [(-1, plain), (0, plain), (1, dropped)]
    seen_by_second = [(c["index"], c["response_headers"]) for c in lab.calls("chunk", "b-second")]
    assert seen_by_second == [(-1, plain), (1, {**dropped, "X-Late": ["1"]})]


async def test_an_empty_chunk_is_neither_intercepted_nor_delivered_nor_counted(lab: Lab) -> None:
    executor = lab.plugin(*EXECUTOR, chunks=["a", "", "b"])
    async with lab.host(lab.plugin("chunks", "chunks", append="!"), executor) as host:
        _, delivered = await streamed(host, request(endpoint=Endpoint.STREAM))
    assert delivered == [b"a!", b"b!"]
    assert [(c["index"], c["body"]) for c in lab.calls("chunk")] == [(-1, ""), (0, "a"), (1, "b")]


async def test_after_seventy_delivered_chunks_the_history_holds_the_newest_sixty_four(
    lab: Lab,
) -> None:
    executor = lab.plugin(*EXECUTOR, chunks={"count": 71, "size": 8})
    async with lab.host(lab.plugin("chunks", "chunks"), executor) as host:
        _, delivered = await streamed(host, request(endpoint=Endpoint.STREAM))
    assert len(delivered) == 71
    last = lab.calls("chunk")[-1]
    assert last["index"] == 70
    assert last["history_len"] == 64
    assert last["history_first"] == "c6;xxxxx"
    assert last["history_last"] == "c69;xxxx"


async def test_a_chunk_over_one_mebibyte_empties_the_history(lab: Lab) -> None:
    executor = lab.plugin(*EXECUTOR, chunks=["small", "b" * (2 << 20), "after"])
    async with lab.host(lab.plugin("chunks", "chunks"), executor) as host:
        _, delivered = await streamed(host, request(endpoint=Endpoint.STREAM))
    assert [len(c) for c in delivered] == [5, 2 << 20, 5]
    history = [(c["index"], c["history_len"], c["history_bytes"]) for c in lab.calls("chunk")]
    assert history == [(-1, 0, 0), (0, 0, 0), (1, 1, 5), (2, 0, 0)]


async def test_a_plugin_serving_half_an_interceptor_is_asked_the_other_half_once(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pluginrt")
    half = lab.plugin("half", "before_only")
    async with lab.host(half, lab.plugin(*EXECUTOR)) as host:
        for _ in range(3):
            assert report(await complete(host, request("s")))["payload"] == "s|before"
    assert len(lab.calls("before", "half")) == 3
    asked = [r for r in caplog.records if "request.intercept_after" in r.getMessage()]
    assert [r.getMessage() for r in asked] == [
        "plugin half does not serve request.intercept_after: not asked again"
    ]
