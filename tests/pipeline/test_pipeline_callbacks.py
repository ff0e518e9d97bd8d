"""The host.* callbacks, called by a real plugin while it serves a client request."""

from __future__ import annotations

import json
import logging
import stat
from typing import Any

import pytest
import trio
from pipeline_harness import Lab, Respond, complete, request, serve_http

CALLER = ("caller", "caller")


async def call(lab_host: Any, command: dict[str, Any]) -> Any:
    answer = await complete(lab_host, request(json.dumps(command), model="caller-model"))
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


async def test_a_nested_model_call_skips_the_callers_interceptors_but_not_another_plugins(
    lab: Lab,
) -> None:
    caller = lab.plugin(*CALLER, 20, intercept=True)
    other = lab.plugin("other", "interceptor", 10, stages=["before"], append="|other")
    executor = lab.plugin("exec", "executor", reply="payload")
    async with lab.host(caller, other, executor) as host:
        outer = await complete(host, request('{"do": "nested"}', model="m1"))
        nested = await call(host, {"do": "nested", "model": "m1", "body": "inner"})
    assert outer.body == b'{"do": "nested"}|caller|other'
    assert nested == {"status": 200, "body": "inner|other"}


async def test_a_nested_model_call_skips_the_callers_response_interceptor_too(lab: Lab) -> None:
    caller = lab.plugin(*CALLER, 20, intercept_out=True)
    other = lab.plugin("other", "interceptor", 10, stages=["response"], append="|other")
    executor = lab.plugin("exec", "executor", reply="payload")
    command = json.dumps({"do": "nested", "model": "m1", "body": "inner"})
    async with lab.host(caller, other, executor) as host:
        outer = await complete(host, request(command, model="caller-model"))
    nested, _, outer_marks = outer.body.partition(b"}")
    assert json.loads(nested + b"}") == {"status": 200, "body": "inner|other"}
    assert outer_marks == b"|caller-out|other"


async def test_stream_true_on_host_model_execute_is_refused_naming_the_flag(lab: Lab) -> None:
    async with lab.host(lab.plugin(*CALLER), lab.plugin("exec", "executor")) as host:
        answer = await call(host, {"do": "nested_stream_flag", "model": "m1"})
    assert "host.model.execute requires stream: false" in answer["error"]
    assert lab.calls("execute") == []


async def test_an_unclosed_model_stream_is_closed_when_the_call_returns_and_then_reads_done(
    lab: Lab,
) -> None:
    executor = lab.plugin("exec", "executor", chunks=["a", "b", "c", "d"], sleep=0.2)
    async with lab.host(lab.plugin(*CALLER), executor) as host:
        opened = await call(host, {"do": "open_stream", "model": "m1"})
        assert opened["first"] == "a"
        await lab.until(lambda: bool(lab.calls("stream_closed")))
        later = await call(host, {"do": "read_stream", "stream_id": opened["stream_id"]})
    assert later == {"read": "", "error": ""}


async def test_a_nested_model_stream_whose_executor_goes_quiet_fails_the_read_naming_it(
    lab: Lab,
) -> None:
    executor = lab.plugin("exec", "executor", chunks=["a"], stall=True)
    executor["timeout"] = "300ms"
    async with lab.host(lab.plugin(*CALLER), executor) as host:
        answer = await call(host, {"do": "model_stream_all", "model": "m1"})
        await lab.until(lambda: bool(lab.calls("stream_closed")))  # it was sent stream.cancel
    assert answer == {
        "chunks": ["a"],
        "error": "plugin 'exec': executor.execute_stream timed out after 0.3s waiting for a chunk",
    }


async def test_a_nested_model_stream_that_fails_before_its_first_chunk_fails_the_call(
    lab: Lab,
) -> None:
    # As a gateway client gets the error's status, not a 200 whose stream then fails.
    fail = {"message": "upstream fell over", "http_status": 503}
    executor = lab.plugin("exec", "executor", chunks=[], stream_fail=fail)
    async with lab.host(lab.plugin(*CALLER), executor) as host:
        answer = await call(host, {"do": "model_stream_all", "model": "m1"})
        streamed = await call(host, {"do": "model_stream_all", "model": "m1", "body": "x"})
    assert answer["refused"].startswith("upstream fell over"), answer
    assert answer["http_status"] == 503
    assert streamed == answer


async def test_a_nested_model_stream_with_no_chunk_at_all_reads_done(lab: Lab) -> None:
    executor = lab.plugin("exec", "executor", chunks=[])
    async with lab.host(lab.plugin(*CALLER), executor) as host:
        answer = await call(host, {"do": "model_stream_all", "model": "m1"})
    assert answer == {"chunks": [], "error": ""}


# httpx's and httpcore's body iterators nest async generators that closing the
# response does not finalize (encode/httpx#3686), so a body left unread warns
# when collected. Only those libraries' generators are let off here.
@pytest.mark.filterwarnings("ignore:Async generator 'http:ResourceWarning")
async def test_http_do_stream_returns_the_first_chunk_before_the_server_finishes(
    lab: Lab,
) -> None:
    finish = trio.Event()

    async def first_then_wait(stream: trio.SocketStream, head: bytes) -> None:
        await stream.send_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
        )
        await finish.wait()
        await stream.send_all(b"4\r\nlast\r\n0\r\n\r\n")

    async with trio.open_nursery() as nursery:
        port = await serve_http(nursery, first_then_wait)
        async with lab.host(lab.plugin(*CALLER)) as host:
            with trio.fail_after(5):
                answer = await call(host, {"do": "http_stream", "url": f"http://127.0.0.1:{port}/"})
            finish.set()
        nursery.cancel_scope.cancel()
    assert answer == {"status": 200, "first": "first"}


async def test_http_do_stream_whose_server_goes_quiet_fails_the_read_naming_the_request(
    lab: Lab,
) -> None:
    async def first_then_nothing(stream: trio.SocketStream, head: bytes) -> None:
        await stream.send_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
        )
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await serve_http(nursery, first_then_nothing)
        url = f"http://127.0.0.1:{port}/"
        async with lab.host(lab.plugin(*CALLER), **{"request-timeout": "300ms"}) as host:
            answer = await call(host, {"do": "http_stream_all", "url": url})
        nursery.cancel_scope.cancel()
    # Not a clean end: httpx's read timeout says nothing (its message is empty).
    assert answer == {
        "chunks": ["first"],
        "error": f"host.http.do_stream GET {url}: no data for 0.3s (request-timeout)",
    }


async def test_host_auth_save_refuses_bad_names_and_non_objects_and_writes_0600_files_it_lists(
    lab: Lab,
) -> None:
    cases = [
        {"name": "a/b.json", "json": {"type": "probe"}},
        {"name": "a\\b.json", "json": {"type": "probe"}},
        {"name": "x.txt", "json": {"type": "probe"}},
        {"name": "list.json", "json": [1, 2]},
        {"name": "saved.json", "json": {"type": "probe", "token": "t"}},
    ]
    async with lab.host(lab.plugin(*CALLER)) as host:
        answer = await call(host, {"do": "auth_save", "cases": cases})
        entries = [entry.name for entry in host.auths.entries()]
    refused, saved = answer["outcomes"][:4], answer["outcomes"][4]
    assert "must be a plain file name" in refused[0]["error"]
    assert "must be a plain file name" in refused[1]["error"]
    assert "must end with .json" in refused[2]["error"]
    assert "must be an object" in refused[3]["error"]
    path = lab.auth_dir / "saved.json"
    assert saved == {"path": str(path)}
    assert json.loads(path.read_text()) == {"type": "probe", "token": "t"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert answer["listed"] == entries == ["saved.json"]
    assert sorted(p.name for p in lab.auth_dir.iterdir()) == ["saved.json"]


async def test_outbound_http_goes_through_the_configured_proxy(lab: Lab) -> None:
    seen: list[bytes] = []

    async def proxy(stream: trio.SocketStream, head: bytes) -> None:
        seen.append(head.split(b"\r\n")[0])
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nvia proxy")

    async with trio.open_nursery() as nursery:
        port = await serve_http(nursery, proxy)
        settings = {"proxy-url": f"http://127.0.0.1:{port}"}
        async with lab.host(lab.plugin(*CALLER), **settings) as host:
            answer = await call(host, {"do": "http", "url": "http://upstream.invalid/hello"})
        nursery.cancel_scope.cancel()
    assert answer == {"status": 200, "body": "via proxy"}
    assert seen == [b"GET http://upstream.invalid/hello HTTP/1.1"]


async def test_http_do_answers_response_headers_under_go_canonical_names(lab: Lab) -> None:
    """As Go's net/http does: a Go plugin's ``Headers.Get("Content-Type")`` must find it."""

    async def lower_case(stream: trio.SocketStream, head: bytes) -> None:
        await stream.send_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-upstream-id: 7\r\n"
            b"content-length: 2\r\n\r\nok"
        )

    async with trio.open_nursery() as nursery:
        port = await serve_http(nursery, lower_case)
        async with lab.host(lab.plugin(*CALLER)) as host:
            answer = await call(host, {"do": "http_headers", "url": f"http://127.0.0.1:{port}/"})
        nursery.cancel_scope.cancel()
    assert answer == {"headers": ["Content-Length", "Content-Type", "X-Upstream-Id"]}


async def test_stream_false_on_host_model_execute_stream_is_refused_naming_the_flag(
    lab: Lab,
) -> None:
    async with lab.host(lab.plugin(*CALLER), lab.plugin("exec", "executor")) as host:
        answer = await call(host, {"do": "stream_flag", "model": "m1"})
    assert "host.model.execute_stream requires stream: true" in answer["error"]
    assert lab.calls("execute_stream") == []


async def test_reading_an_unknown_model_stream_is_done_and_an_empty_stream_id_an_error(
    lab: Lab,
) -> None:
    async with lab.host(lab.plugin(*CALLER)) as host:
        unknown = await call(host, {"do": "read_raw", "stream_id": "no-such-stream"})
        empty = await call(host, {"do": "read_raw", "stream_id": ""})
    assert unknown == {"done": True, "error": "", "payload": ""}
    assert "stream_id must not be empty" in empty["raised"]


async def test_http_stream_reads_give_chunks_of_at_most_32_kib_then_done(lab: Lab) -> None:
    body = bytes(range(256)) * 800  # 200 KiB, written at once: reads of the socket exceed 32 KiB

    async def whole(stream: trio.SocketStream, head: bytes) -> None:
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    async with trio.open_nursery() as nursery:
        port = await serve_http(nursery, whole)
        async with lab.host(lab.plugin(*CALLER)) as host:
            url = f"http://127.0.0.1:{port}/"
            answer = await call(host, {"do": "http_stream_sizes", "url": url})
        nursery.cancel_scope.cancel()
    sizes = answer["sizes"]
    assert sum(sizes) == len(body)
    assert all(size <= 32 * 1024 for size in sizes), sizes


async def test_outbound_http_goes_through_the_auths_proxy_before_the_configured_one(
    lab: Lab,
) -> None:
    seen: dict[str, list[bytes]] = {"auth": [], "configured": []}

    def proxy(name: str) -> Respond:
        async def answer(stream: trio.SocketStream, head: bytes) -> None:
            seen[name].append(head.split(b"\r\n")[0])
            await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (
                len(name), name.encode()))  # fmt: skip

        return answer

    async with trio.open_nursery() as nursery:
        auth_port = await serve_http(nursery, proxy("auth"))
        configured_port = await serve_http(nursery, proxy("configured"))
        auth = {"type": "caller", "proxy_url": f"http://127.0.0.1:{auth_port}"}
        lab.write_auth("c.json", auth)
        parser = lab.plugin("parser", "authority", provider="caller")
        settings = {"proxy-url": f"http://127.0.0.1:{configured_port}"}
        async with lab.host(lab.plugin(*CALLER), parser, **settings) as host:
            answer = await call(host, {"do": "http", "url": "http://upstream.invalid/x"})
        nursery.cancel_scope.cancel()
    assert answer == {"status": 200, "body": "auth"}
    assert seen == {"auth": [b"GET http://upstream.invalid/x HTTP/1.1"], "configured": []}


async def test_outbound_http_outlasting_the_request_timeout_fails_504_saying_so(lab: Lab) -> None:
    async def never(stream: trio.SocketStream, head: bytes) -> None:
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await serve_http(nursery, never)
        async with lab.host(lab.plugin(*CALLER), **{"request-timeout": 0.2}) as host:
            with trio.fail_after(5):
                answer = await call(host, {"do": "http", "url": f"http://127.0.0.1:{port}/"})
        nursery.cancel_scope.cancel()
    said = f"host.http.do GET http://127.0.0.1:{port}/: no answer within 0.2s (request-timeout)"
    assert answer == {"error": said, "http_status": 504}


async def test_host_auth_list_is_sorted_by_name_and_get_reads_each_by_its_index(lab: Lab) -> None:
    for name in ("b.json", "team/c.json", "a.json"):
        lab.write_auth(name, {"type": "probe", "name": name})
    async with lab.host(lab.plugin(*CALLER)) as host:
        answer = await call(host, {"do": "auth_files"})
    names = ["a.json", "b.json", "team/c.json"]
    assert answer["listed"] == names
    assert answer["got"] == [[name, {"type": "probe", "name": name}] for name in names]


async def test_host_log_lines_have_the_level_the_plugin_id_and_the_request_id(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    levels = ["trace", "debug", "info", "warn", "warning", "error"]
    command = json.dumps({"do": "log", "levels": levels})
    with caplog.at_level(logging.DEBUG, logger="pluginrt"):
        async with lab.host(lab.plugin(*CALLER)) as host:
            failed = await complete(host, request(command, model="caller-model"))
            await lab.until(lambda: sum("at " in r.getMessage() for r in caplog.records) == 6)
    assert failed.status == 500
    (failure,) = [r.getMessage() for r in caplog.records if " failed with 500" in r.getMessage()]
    request_id = failure.split()[1]  # "request r1 (openai caller-model) failed with 500: ..."
    lines = [r for r in caplog.records if r.getMessage().startswith("at ")]
    debug, info, warning, error = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR
    assert [(r.name, r.levelno) for r in lines] == [
        ("pluginrt.plugin.caller", level) for level in (debug, debug, info, warning, warning, error)
    ]
    assert [r.getMessage() for r in lines] == [
        f"at {level} level_given={level!r} (request {request_id})" for level in levels
    ]
