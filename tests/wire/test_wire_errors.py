"""Error codes, $/cancel and $/ping from the plugin's side, as a plugin without an SDK meets
them (PROTOCOL.md, Errors, Cancellation and liveness)."""

from __future__ import annotations

import trio
from wire_harness import Wire, run, serve_http


async def test_an_unknown_method_or_one_of_the_hosts_own_is_method_not_found(wire: Wire) -> None:
    calls = [{"method": "host.nope"}, {"method": "plugin.register"}]
    async with wire.host() as host:
        answers = await run(host, {"do": "calls", "calls": calls})
    assert [a["error"] for a in answers] == [
        {"code": -32601, "message": "method not found: host.nope"},
        {"code": -32601, "message": "method not found: plugin.register"},
    ]


async def test_a_stream_or_cancel_notification_sent_with_an_id_is_an_invalid_request(
    wire: Wire,
) -> None:
    calls = [
        {"method": "stream.chunk", "params": {"stream_id": "s", "payload": ""}},
        {"method": "$/cancel", "params": {"id": 1}},
    ]
    async with wire.host() as host:
        answers = await run(host, {"do": "calls", "calls": calls})
    assert [a["error"] for a in answers] == [
        {"code": -32600, "message": "invalid request: stream.chunk is a notification"},
        {"code": -32600, "message": "invalid request: $/cancel is a notification"},
    ]


async def test_invalid_params_are_answered_naming_the_method_the_type_and_the_field_path(
    wire: Wire,
) -> None:
    calls = [
        {"method": "host.auth.get", "params": {"auth_index": 5}},
        {"method": "host.http.do", "params": {"URL": "http://127.0.0.1:9/", "Body": "not base64!"}},
        {"method": "host.http.do", "params": {"Headers": {"Accept": "text/plain"}}},
    ]
    async with wire.host() as host:
        answers = await run(host, {"do": "calls", "calls": calls})
    assert [a["error"]["code"] for a in answers] == [-32602] * 3
    messages = [a["error"]["message"] for a in answers]
    assert messages[0].startswith("invalid params for host.auth.get (HostAuthGetRequest): ")
    assert messages[0].endswith("at `$.auth_index`")
    assert messages[1].startswith("invalid params for host.http.do (HTTPRequest): ")
    assert messages[1].endswith("at `$.Body`")
    assert messages[2].endswith("at `$.Headers[...]`")  # a header is an array of strings


async def test_a_plugin_that_cancels_its_own_host_call_gets_exactly_one_cancelled_answer(
    wire: Wire,
) -> None:
    async with trio.open_nursery() as nursery:
        url = await serve_http(nursery, None)  # never answers
        async with wire.host() as host:
            for first_ping in (False, True):  # cancelled at once, or once under way
                command = {"do": "cancel_own", "method": "host.http.do", "first_ping": first_ping}
                command["params"] = {"Method": "GET", "URL": url}
                answers = await run(host, command)
                assert [a["error"]["code"] for a in answers] == [-32800], answers
                assert answers[0]["id"] == "doomed"
        nursery.cancel_scope.cancel()


async def test_the_host_answers_ping_with_an_empty_object_however_params_are_given(
    wire: Wire,
) -> None:
    lines = [
        '{"jsonrpc":"2.0","id":"a","method":"$/ping","params":{}}',
        '{"jsonrpc":"2.0","id":"b","method":"$/ping"}',
        '{"jsonrpc":"2.0","id":"c","method":"$/ping","params":null}',
    ]
    async with wire.host() as host:
        seen = await run(host, {"do": "raw", "lines": lines})
    assert [(m["id"], m.get("result")) for m in seen] == [
        ("a", {}), ("b", {}), ("c", {}), (seen[-1]["id"], {}),
    ]  # fmt: skip
