"""Hypothesis fuzzing of the JSON-RPC dispatcher on both sides, and of the auth-file parser.

Arbitrary JSON values (and bytes) arrive as lines at a host-side
:class:`~pluginrt.rpc.Connection` and at a plugin served by
``plugin_sdk.serve``, both over ``trio.testing.memory_stream_pair()``. Whatever
arrives, the loop never crashes, every answer it writes is a well-formed
JSON-RPC response, it answers the errors JSON-RPC 2.0 requires (-32700,
-32600, -32601, -32602), and a ``$/ping`` afterwards is still answered.

CI runs a bounded number of examples; ``PLUGINRT_FUZZ_EXAMPLES=20000`` for a
deeper local run (see ``test_faults_fuzz.py``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import trio
import trio.testing
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_faults_fuzz import EXAMPLES

from plugin_sdk import Plugin, serve
from pluginrt.api import ExecutorRequest, ExecutorResponse, HostConfigSummary
from pluginrt.pipeline._authstore import AuthStore
from pluginrt.pipeline._models import ModelRegistry
from pluginrt.rpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    CallContext,
    Handler,
    open_connection,
)

fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATIENCE = 10.0
PING_IDS = ("fuzz-ping-1", "fuzz-ping-2")


class Add(msgspec.Struct, forbid_unknown_fields=True):
    a: int
    b: int


async def _add(params: Add, context: CallContext) -> dict[str, int]:
    return {"sum": params.a + params.b}


def _host_side(stream: trio.abc.HalfCloseableStream) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        handlers = {"add": Handler(Add, _add)}
        async with open_connection(stream, stream, handlers, name="fuzzed-host") as connection:
            await connection.wait_closed()

    return run


def _echo_plugin() -> Plugin:
    plugin = Plugin("fuzzed", version="1.0.0", author="tests")
    plugin.executor("fuzzed", input_formats=["openai"], output_formats=["openai"], scope="static")

    @plugin.on("executor.execute")
    async def execute(request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse(payload=request.payload)

    return plugin


def _sdk_side(stream: trio.abc.HalfCloseableStream) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await serve(_echo_plugin(), stream, stream)

    return run


def _ping(id: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id, "method": "$/ping", "params": {}}).encode()


def _check_response(reply: Any) -> None:
    """Well-formed: jsonrpc 2.0, an id (null allowed), exactly one of result and error."""
    assert isinstance(reply, dict), reply
    assert reply.get("jsonrpc") == "2.0", reply
    assert "id" in reply, reply
    assert ("result" in reply) != ("error" in reply), reply
    if "error" in reply:
        assert isinstance(reply["error"]["code"], int), reply
        assert isinstance(reply["error"]["message"], str), reply


async def _exchange(side: str, lines: list[bytes]) -> list[Any]:
    """Send ``lines`` to a fresh connection, then two pings; the replies before the last pong."""
    ours, theirs = trio.testing.memory_stream_pair()
    run = _host_side(theirs) if side == "host" else _sdk_side(theirs)
    replies: list[Any] = []
    pending = b""

    async def read_until(id: str) -> None:
        nonlocal pending
        while True:
            *complete, pending = pending.split(b"\n")
            done = False
            for line in complete:
                value = json.loads(line)
                items = value if isinstance(value, list) else [value]
                for item in items:
                    _check_response(item)
                    if item["id"] == id and "result" in item:
                        done = True
                    elif item["id"] not in PING_IDS:
                        replies.append(value)
            if done:
                return
            data = await ours.receive_some(65536)
            assert data, "the connection closed instead of answering $/ping"
            pending += data

    with trio.fail_after(PATIENCE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            fuzzed = b"".join(line + b"\n" for line in lines)
            await ours.send_all(fuzzed + _ping(PING_IDS[0]) + b"\n")
            await read_until(PING_IDS[0])
            # Handlers started by the fuzzed lines answer in their own tasks: let them
            # all finish, then a second ping comes back after everything they wrote.
            await trio.testing.wait_all_tasks_blocked()
            await ours.send_all(_ping(PING_IDS[1]) + b"\n")
            await read_until(PING_IDS[1])
            nursery.cancel_scope.cancel()
    return replies


def _codes(replies: list[Any]) -> list[int]:
    return [
        item["error"]["code"]
        for reply in replies
        for item in (reply if isinstance(reply, list) else [reply])
        if "error" in item
    ]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)  # fmt: skip
_envelope_keys = st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error",
                                  "host_callback_id"])  # fmt: skip
_messages = st.dictionaries(_envelope_keys | st.text(max_size=4), _json, max_size=6)
_ids = st.integers(-(2**53), 2**53) | st.text(max_size=8).filter(lambda s: s not in PING_IDS)
_sides = st.sampled_from(["host", "sdk"])


def _line(value: Any) -> bytes:
    return json.dumps(value).encode()


@fuzz
@given(_sides, st.lists(_json | _messages, min_size=1, max_size=4))
def test_fuzz_any_json_values_as_lines_never_break_a_connection_and_ping_still_answers(
    side: str, values: list[Any]
) -> None:
    trio.run(_exchange, side, [_line(v) for v in values])


@fuzz
@given(_sides, st.binary(max_size=80).filter(lambda b: b"\n" not in b))
def test_fuzz_any_bytes_as_a_line_never_break_a_connection_and_ping_still_answers(
    side: str, data: bytes
) -> None:
    replies = trio.run(_exchange, side, [data])
    try:
        json.loads(data)
    except ValueError:
        if data[:1] == b"{":
            assert _codes(replies) == [PARSE_ERROR], replies


@fuzz
@given(_sides, _json.filter(lambda v: not isinstance(v, dict | list)))
def test_fuzz_a_json_value_that_is_no_object_gets_invalid_request(side: str, value: Any) -> None:
    replies = trio.run(_exchange, side, [_line(value)])
    assert _codes(replies) == [INVALID_REQUEST], replies
    assert replies[0]["id"] is None


@fuzz
@given(_sides, _ids, st.text(max_size=12).filter(lambda m: m not in ("add", "executor.execute")))
def test_fuzz_a_request_for_an_unknown_method_gets_method_not_found(
    side: str, id: int | str, method: str
) -> None:
    if method.startswith(("$/", "plugin.", "stream.")):  # stream.*: notifications, -32600
        method = "x" + method
    request = {"jsonrpc": "2.0", "id": id, "method": method, "params": {}}
    replies = trio.run(_exchange, side, [_line(request)])
    assert _codes(replies) == [METHOD_NOT_FOUND], replies
    assert replies[0]["id"] == id


@fuzz
@given(_ids, _json | st.fixed_dictionaries({"a": _json, "b": _json}))
def test_fuzz_a_request_with_params_of_the_wrong_shape_gets_invalid_params(
    id: int | str, params: Any
) -> None:
    request = {"jsonrpc": "2.0", "id": id, "method": "add", "params": params}
    replies = trio.run(_exchange, "host", [_line(request)])
    assert len(replies) == 1, replies
    try:
        expected = msgspec.json.decode(_line(params), type=Add)
    except msgspec.ValidationError:
        assert _codes(replies) == [INVALID_PARAMS], replies
    else:
        assert replies[0]["result"] == {"sum": expected.a + expected.b}
    assert replies[0]["id"] == id


@fuzz
@given(_ids, _json)
def test_fuzz_an_sdk_call_with_any_params_gets_a_result_or_invalid_params(
    id: int | str, params: Any
) -> None:
    request = {"jsonrpc": "2.0", "id": id, "method": "executor.execute", "params": params}
    replies = trio.run(_exchange, "sdk", [_line(request)])
    assert len(replies) == 1, replies
    assert "result" in replies[0] or _codes(replies) == [INVALID_PARAMS], replies


# ------------------------------------------------------------------ auth files


_auth_documents = st.dictionaries(
    st.sampled_from(["type", "provider", "id", "label", "disabled", "access_token", "expired",
                     "next_refresh_after", "attributes", "metadata", "email"])
    | st.text(max_size=6),
    _json,
    max_size=6,
).map(lambda d: json.dumps(d).encode())  # fmt: skip
_auth_files = st.dictionaries(
    st.sampled_from(["a.json", "b.json", ".hidden.json", "notes.txt", "c.json.tmp", "d.JSON"]),
    st.binary(max_size=120) | _auth_documents,
    max_size=4,
)


@fuzz
@given(_auth_files)
@example(files={".hidden.json": b'{"type":"x"}'})  # pathlib's glob matches dot files
@example(files={"d.JSON": b'{"type":"x"}'})  # loaded: any case of .json counts
def test_fuzz_any_auth_file_contents_load_without_raising_and_bad_files_are_skipped(
    files: dict[str, bytes],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        store = AuthStore(folder, ModelRegistry(), HostConfigSummary(auth_dir=folder))
        trio.run(store.load, [])
        for entry in store.entries():
            assert entry.name.lower().endswith(".json") and not entry.name.startswith(".")
            assert entry.name in files
