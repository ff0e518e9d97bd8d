"""Framing, ids, batches and stderr, as a plugin without an SDK meets them
(PROTOCOL.md, Framing)."""

from __future__ import annotations

import json
import logging

import pytest
from wire_harness import Wire, run

PING = '{"jsonrpc":"2.0","id":%s,"method":"$/ping","params":{}}'


async def test_every_line_the_host_writes_is_one_json_rpc_message_and_its_ids_are_integers(
    wire: Wire,
) -> None:
    async with wire.host() as host:
        await run(host, {"do": "request"})
    received = wire.received()  # the plugin parsed each line it read as one JSON value
    assert all(m["jsonrpc"] == "2.0" for m in received)
    requests = [m for m in received if "method" in m and "id" in m]
    assert [m["method"] for m in requests] == [
        "plugin.register", "model.static", "executor.execute", "plugin.shutdown",
    ]  # fmt: skip
    ids = [m["id"] for m in requests]
    assert all(type(i) is int for i in ids) and len(set(ids)) == len(ids)


async def test_a_line_that_is_not_json_or_not_json_rpc_is_answered_with_a_null_id(
    wire: Wire,
) -> None:
    lines = ["not json", '{"foo": 1}', "[]", "[1]"]
    async with wire.host() as host:
        seen = await run(host, {"do": "raw", "lines": lines})
    singles = [m for m in seen if isinstance(m, dict) and m["id"] is None]
    assert [m["error"]["code"] for m in singles] == [-32700, -32600, -32600]
    assert [[e["error"]["code"], e["id"]] for e in seen[3]] == [[-32600, None]]
    assert seen[-1]["result"] == {}  # and the connection goes on


async def test_a_batch_from_the_plugin_is_answered_with_one_array_without_its_notifications(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pluginrt")
    params = {"level": "info", "message": "in a batch"}
    log = {"jsonrpc": "2.0", "method": "host.log", "params": params}
    batch = [json.loads(PING % '"b1"'), log, json.loads(PING % '"b2"')]
    async with wire.host() as host:
        await run(host, {"do": "raw", "lines": [json.dumps(batch)]})
    # the batch's answer may come after the ping that closes the command: the host is stopped now
    arrays = [m for m in wire.received() if isinstance(m, list)]
    assert arrays == [[{"jsonrpc": "2.0", "id": i, "result": {}} for i in ("b1", "b2")]]
    assert any(r.getMessage().endswith("in a batch") for r in caplog.records)


async def test_ids_are_strings_or_numbers_and_come_back_as_they_went(wire: Wire) -> None:
    lines = [PING % i for i in ('"s-1"', "7", "1.5", "1.0", "-3")]
    async with wire.host() as host:
        seen = await run(host, {"do": "raw", "lines": lines})
    ids = [m["id"] for m in seen[:-1]]
    assert ids == ["s-1", 7, 1.5, 1.0, -3]
    assert type(ids[3]) is float  # 1.0 stays 1.0


async def test_the_plugins_ids_are_its_own_even_the_id_of_the_call_it_is_serving(
    wire: Wire,
) -> None:
    # Its host call reuses the number the host gave the call in flight to it; both are answered.
    command = {"do": "calls", "calls": [{"method": "$/ping", "id": "same_as_host"}]}
    async with wire.host() as host:
        answers = await run(host, command)
    [execute] = wire.received("executor.execute")
    assert answers == [{"jsonrpc": "2.0", "id": execute["id"], "result": {}}]


async def test_stderr_is_logged_line_by_line_under_the_plugins_id(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pluginrt")
    text = "first line\nsecond line\r\nlatin-1 \xe9\nno newline at the end"
    async with wire.host() as host:
        await run(host, {"do": "stderr", "text": text})
    # the host is stopped, so the plugin's stderr was read to its end
    lines = [r.getMessage() for r in caplog.records if r.name == "pluginrt.plugin.wire"]
    for expected in ("first line", "second line", "latin-1 \ufffd", "no newline at the end"):
        assert any(line.endswith(expected) for line in lines), (expected, lines)
