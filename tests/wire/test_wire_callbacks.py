"""host_callback_id and the host.* callbacks' shapes, as a plugin without an SDK meets them
(PROTOCOL.md, host_callback_id, Methods)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from typing import Any

import pytest
import trio
from wire_harness import Wire, declaration, decoded, run, serve_http

from pluginrt.api import HTTPRequest
from pluginrt.pipeline import PipelineError


def b64(value: Any) -> str:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(data).decode()


async def test_calls_for_a_client_request_carry_host_callback_id_at_the_top_level(
    wire: Wire,
) -> None:
    async with wire.host() as host:
        await run(host, {"do": "request"})
    by_method = {m["method"]: m for m in wire.received() if "method" in m}
    callback_id = by_method["executor.execute"]["host_callback_id"]
    assert isinstance(callback_id, str) and callback_id
    assert "host_callback_id" not in by_method["executor.execute"]["params"]
    for method in ("plugin.register", "model.static", "plugin.shutdown"):
        assert "host_callback_id" not in by_method[method], method


async def test_a_nested_model_call_reaches_the_plugin_with_a_callback_id_of_its_own(
    wire: Wire,
) -> None:
    nested = {"entry_protocol": "openai", "model": "wire-1", "body": b64({"do": "request"})}
    async with wire.host() as host:
        [answer] = await run(host, {"do": "calls", "calls": [
            {"method": "host.model.execute", "params": nested},
        ]})  # fmt: skip
    result = answer["result"]
    assert result["status_code"] == 200
    inner = decoded(result["body"])  # the nested executor.execute, as the plugin received it
    outer, again = wire.received("executor.execute")
    assert inner == again
    assert inner["host_callback_id"] not in ("", outer["host_callback_id"])


async def test_a_nested_model_stream_is_read_until_done_then_closed(wire: Wire) -> None:
    nested = {"do": "stream", "chunks": ["a", "b"]}
    request = {"entry_protocol": "openai", "model": "wire-1", "stream": True, "body": b64(nested)}
    read = {"method": "host.model.stream_read", "params": {"stream_id": "$stream_id"}}
    calls = [{"method": "host.model.execute_stream", "params": request}, read, read, read]
    calls.append({"method": "host.model.stream_close", "params": {"stream_id": "$stream_id"}})
    async with wire.host() as host:
        answers = await run(host, {"do": "calls", "calls": calls})
    opened, *reads, closed = [a["result"] for a in answers]
    assert opened["status_code"] == 200 and opened["stream_id"]
    assert opened["headers"]["X-Wire"] == ["stream"]
    # Keys at their zero value are left out: a chunk has no "done", the end no "payload".
    assert reads == [{"payload": b64(b"a")}, {"payload": b64(b"b")}, {"done": True}]
    assert closed == {}


async def test_host_http_do_and_do_stream_speak_go_names_and_base64_bodies(wire: Wire) -> None:
    reply = b"HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\nx-n: 1\r\nx-n: 2\r\n"
    reply += b"content-length: 5\r\nconnection: close\r\n\r\nhello"
    async with trio.open_nursery() as nursery:
        url = await serve_http(nursery, reply)
        request = {"Method": "POST", "URL": url, "Headers": {"X-A": ["1"]}, "Body": b64(b"hi")}
        read = {"method": "host.http.stream_read", "params": {"stream_id": "$stream_id"}}
        calls = [
            {"method": "host.http.do", "params": request},
            {"method": "host.http.do_stream", "params": request},
            read,
            read,
            {"method": "host.http.stream_close", "params": {"stream_id": "$stream_id"}},
        ]
        async with wire.host() as host:
            answers = [a["result"] for a in await run(host, {"do": "calls", "calls": calls})]
        nursery.cancel_scope.cancel()
    done, streamed, first, last, closed = answers
    assert done["StatusCode"] == 201 and base64.b64decode(done["Body"]) == b"hello"
    assert done["Headers"]["Content-Type"] == ["text/plain"]
    assert done["Headers"]["X-N"] == ["1", "2"]
    assert set(streamed) == {"StatusCode", "Headers", "stream_id"}
    assert streamed["StatusCode"] == 201 and streamed["Headers"]["X-N"] == ["1", "2"]
    assert (first, last, closed) == ({"payload": b64(b"hello")}, {"done": True}, {})


async def test_the_auth_store_callbacks_answer_their_documented_shapes(wire: Wire) -> None:
    saved = {"type": "wire", "email": "ann@example.invalid"}
    calls: list[dict[str, Any]] = [
        {"method": "host.auth.list", "params": {}},
        {"method": "host.auth.save", "params": {"name": "ann.json", "json": saved}},
        {"method": "host.auth.list", "params": {}},
    ]
    async with wire.host() as host:
        answers = await run(host, {"do": "calls", "calls": calls})
        empty, wrote, listed = [a["result"] for a in answers]
        [entry] = listed["files"]
        index = {"auth_index": entry["auth_index"]}
        calls = [
            {"method": "host.auth.get", "params": index},
            {"method": "host.auth.get_runtime", "params": index},
        ]
        got, runtime = [a["result"] for a in await run(host, {"do": "calls", "calls": calls})]
    assert empty == {"files": []}
    assert wrote == {"name": "ann.json", "path": str(wire.dir / "auths" / "ann.json")}
    assert (entry["name"], entry["type"], entry["path"]) == ("ann.json", "wire", wrote["path"])
    assert got == {**index, "name": "ann.json", "path": wrote["path"], "json": saved}
    assert runtime["auth"]["auth_index"] == entry["auth_index"]


@pytest.mark.parametrize("served", [True, False])
async def test_an_operators_api_call_reaches_the_executor_with_its_auth_and_a_callback_id(
    wire: Wire, served: bool
) -> None:
    auth = {"type": "wire", "token": "t-1"}
    (wire.dir / "auths").mkdir()
    (wire.dir / "auths" / "ann.json").write_text(json.dumps(auth))
    request = HTTPRequest(method="post", url="https://up.example/v1", headers={"x-a": ["1"]})
    async with wire.host(no_http_request=not served) as host:
        if not served:
            with pytest.raises(PipelineError) as info:
                await host.http_request("ann.json", request)
            assert info.value.status == 501
            return
        answer = await host.http_request("ann.json", request)
    call = json.loads(answer.body)
    assert call["method"] == "executor.http_request" and call["host_callback_id"]
    params = call["params"]
    assert (params["AuthID"], params["AuthProvider"]) == ("ann.json", "wire")
    assert json.loads(base64.b64decode(params["StorageJSON"])) == auth
    assert (params["Method"], params["URL"]) == ("POST", "https://up.example/v1")
    assert params["Headers"] == {"X-A": ["1"]}  # Go's canonical names


async def test_a_host_call_without_a_callback_id_is_served_as_the_plugins_own(wire: Wire) -> None:
    nested = {"entry_protocol": "openai", "model": "wire-1", "body": b64({"do": "request"})}
    calls = [
        {"method": "host.auth.list", "params": {}, "callback": "none"},
        {"method": "host.model.execute", "params": nested, "callback": "none"},
        {"method": "host.model.execute", "params": nested, "callback": "cb-unknown"},
    ]
    async with wire.host() as host:
        answers = await run(host, {"do": "calls", "calls": calls})
    listed, *executed = [a["result"] for a in answers]
    assert listed == {"files": []}
    assert [r["status_code"] for r in executed] == [200, 200]


async def test_host_log_lines_are_logged_at_their_level_and_an_unknown_level_at_info(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pluginrt")
    names = ("trace", "debug", "info", "warn", "warning", "error", "verbose")
    log = {"jsonrpc": "2.0", "method": "host.log"}
    lines = [json.dumps({**log, "params": {"level": name, "message": name}}) for name in names]
    async with wire.host() as host:
        await run(host, {"do": "raw", "lines": lines})
    # the ping after the lines was answered, so every one of them was served
    levels = {r.getMessage().split(" ")[0]: r.levelname for r in caplog.records
              if r.name == "pluginrt.plugin.wire"}  # fmt: skip
    assert [levels[name] for name in ("trace", "debug", "info", "warn", "warning", "error")] == [
        "DEBUG", "DEBUG", "INFO", "WARNING", "WARNING", "ERROR",
    ]  # fmt: skip
    assert levels["verbose"] == "INFO"


async def test_usage_records_come_as_notifications_in_go_encodings(wire: Wire) -> None:
    async with wire.host(declaration=declaration(UsagePlugin={})) as host:
        await run(host, {"do": "request"})
        await wire.until_received("usage.handle")  # sent without delaying the response
    [usage] = wire.received("usage.handle")
    assert "id" not in usage
    record = usage["params"]
    assert (record["Provider"], record["Model"]) == ("wire", "wire-1")
    assert isinstance(record["Latency"], int) and record["Latency"] > 0  # nanoseconds
    assert datetime.fromisoformat(record["RequestedAt"]).tzinfo is not None  # RFC 3339
