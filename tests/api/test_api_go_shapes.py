"""JSON as Go's encoding/json writes it decodes into the right values; bad JSON is named.

The fixtures are written by hand from DESIGN.md's rules ("The wire"), not
produced by our own encoder, so they check the encoder's assumptions too.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

import pluginrt.api as api
from pluginrt.api import decode, encode

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "go_requests.json").read_text())
PLUS_TWO = datetime.timezone(datetime.timedelta(hours=2))


def _default(field: msgspec.inspect.Field) -> Any:
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return field.default


def test_there_is_a_go_fixture_for_every_request_type() -> None:
    requests = {n for n in api.__all__ if n.endswith("Request")} | {"RegisterParams"}
    assert requests <= set(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_go_fixture_decodes_with_every_field_populated(name: str) -> None:
    cls = getattr(api, name)
    value = decode(json.dumps(FIXTURES[name]), cls)
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    for field in info.fields:
        if field.required:
            continue
        assert getattr(value, field.name) != _default(field), f"{name}.{field.encode_name}"
    assert decode(encode(value), cls) == value


def test_go_nulls_become_empty_values_even_inside_maps_and_lists() -> None:
    raw = b"""{"Headers": {"X-Empty": null, "A": ["1", "2"]}, "Query": null, "Payload": null,
               "Metadata": null, "AuthAttributes": null, "OriginalRequest": null}"""
    value = decode(raw, api.ExecutorRequest)
    assert value.headers == {"X-Empty": [], "A": ["1", "2"]}
    assert (value.query, value.payload, value.metadata) == ({}, b"", {})
    assert (value.auth_attributes, value.original_request) == ({}, b"")
    chunks = decode(
        json.dumps(FIXTURES["StreamChunkInterceptRequest"]), api.StreamChunkInterceptRequest
    )
    assert chunks.history_chunks == [b"\x00", b"", b"\x01"]
    assert chunks.chunk_index == api.STREAM_CHUNK_HEADER_INIT_INDEX
    host = decode(json.dumps(FIXTURES["RegisterParams"]), api.RegisterParams).host
    assert host.oauth_model_alias == {
        "gemini": [api.ModelAlias(name="gemini-2.5-pro", alias="g-pro")],
        "claude": [],
    }
    assert host.excluded_models == {"openai": ["gpt-3.5"], "codex": []}


def test_a_nil_pointer_is_none_and_a_set_one_is_a_struct() -> None:
    assert decode(b'{"ID": "m", "Thinking": null}', api.ModelInfo).thinking is None
    thinking = decode(json.dumps(FIXTURES["ThinkingApplyRequest"]), api.ThinkingApplyRequest)
    assert thinking.model.thinking == api.ThinkingSupport(
        min=128, max=32768, dynamic_allowed=True, levels=["low", "high"]
    )


def test_bytes_are_standard_base64() -> None:
    value = decode(json.dumps(FIXTURES["AuthModelRequest"]), api.AuthModelRequest)
    assert value.storage_json == b'{"token":"t"}'
    assert encode(api.PayloadResponse(body=b"\xfb\xff")) == b'{"Body":"+/8="}'


def test_times_with_nanoseconds_and_offsets_keep_the_offset_and_round_to_microseconds() -> None:
    usage = decode(json.dumps(FIXTURES["UsageRecord"]), api.UsageRecord)
    assert usage.requested_at == datetime.datetime(2024, 5, 1, 10, 20, 30, 123457, PLUS_TWO)
    assert usage.requested_at.utcoffset() == datetime.timedelta(hours=2)
    assert b'"RequestedAt":"2024-05-01T10:20:30.123457+02:00"' in encode(usage)


def test_the_zero_time_decodes_to_zero_time_and_back() -> None:
    auth = decode(b'{"NextRefreshAfter": "0001-01-01T00:00:00Z"}', api.AuthData)
    assert auth.next_refresh_after == api.ZERO_TIME
    entry = decode(b'{"name": "a.json", "modtime": "0001-01-01T00:00:00Z"}', api.HostAuthFileEntry)
    assert entry.mod_time == api.ZERO_TIME
    assert api.AuthRefreshResponse().next_refresh_after == api.ZERO_TIME


def test_durations_are_exact_integer_nanoseconds() -> None:
    usage = decode(json.dumps(FIXTURES["UsageRecord"]), api.UsageRecord)
    assert (usage.latency, usage.ttft) == (1_500_000_000, 250_000_001)
    assert b'"TTFT":250000001' in encode(usage)


def test_html_escaped_strings_decode_to_the_characters() -> None:
    raw = rb'{"Model": "\u003cb\u003e \u0026 \u2028", "Headers": {"X": ["\u003e"]}}'
    value = decode(raw, api.ExecutorRequest)
    assert value.model == "<b> & \u2028"
    assert value.headers == {"X": [">"]}


def test_unknown_keys_are_ignored_at_every_depth() -> None:
    raw = b"""{"AuthID": "a", "FutureField": {"x": [1]},
               "Host": {"AuthDir": "/a", "Newer": true}, "HTTPClient": null}"""
    value = decode(raw, api.AuthRefreshRequest)
    assert value == api.AuthRefreshRequest(auth_id="a", host=api.HostConfigSummary(auth_dir="/a"))


def test_the_handshake_result_of_design_md_decodes_into_a_capability_declaration() -> None:
    raw = b"""{"protocol_version": 1, "metadata": {"Name": "echo", "Version": "0.1"},
      "capabilities": {"Executor": {"identifier": "echo"}, "ExecutorModelScope": "static",
        "ExecutorInputFormats": ["openai"], "ExecutorOutputFormats": ["openai"],
        "UsagePlugin": {}, "Scheduler": null, "TelepathyPlugin": {}}}"""
    result = decode(raw, api.RegisterResult)
    assert result.protocol_version == 1
    assert result.metadata.name == "echo"
    caps = result.capabilities
    assert caps.executor == api.CapabilityDecl(identifier="echo")
    assert caps.usage_plugin == api.CapabilityDecl()
    assert caps.scheduler is None and caps.auth_provider is None
    assert caps.executor_model_scope == api.ExecutorModelScope.STATIC
    assert caps.executor_input_formats == ["openai"]


def test_register_params_and_stream_requests_use_lowercase_protocol_keys() -> None:
    params = decode(json.dumps(FIXTURES["RegisterParams"]), api.RegisterParams)
    assert (params.protocol_version, params.plugin_id) == (1, "echo")
    assert params.config == {"greeting": "hi", "n": 2}
    stream = decode(json.dumps(FIXTURES["ExecutorStreamRequest"]), api.ExecutorStreamRequest)
    assert isinstance(stream, api.ExecutorRequest)
    assert (stream.stream_id, stream.window, stream.payload) == ("s-17", 16, b"\x01")


def test_host_types_use_their_json_tags() -> None:
    raw = b"""{"files": [{"id": "a1", "auth_index": "0", "name": "g.json", "size": 12,
      "modtime": "2024-01-02T03:04:05.000000006Z", "runtime_only": true,
      "recent_requests": [{"time": "10:00", "success": 3, "failed": 0}]}]}"""
    files = decode(raw, api.HostAuthListResponse).files
    assert files[0].mod_time == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert (files[0].auth_index, files[0].size, files[0].runtime_only) == ("0", 12, True)
    saved = decode(json.dumps(FIXTURES["HostAuthSaveRequest"]), api.HostAuthSaveRequest)
    assert saved.json == {"type": "gemini", "token": {"a": 1}}


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "raw", "path", "reason"),
    [
        (api.ExecutorRequest, b'{"Headers": {"X": [1]}}', "$.Headers[...][0]", "Expected `str`"),
        (api.ExecutorRequest, b'{"Payload": "not base64!"}', "$.Payload", "base64"),
        (api.UsageRecord, b'{"RequestedAt": "2024-05-01 10:20"}', "$.RequestedAt", "RFC3339"),
        (
            api.SchedulerPickRequest,
            b'{"Candidates": [{"Priority": "high"}]}',
            "$.Candidates[0].Priority",
            "Expected `int`",
        ),
        (api.RegisterResult, b"{}", "$", "missing required field `protocol_version`"),
    ],
)
def test_bad_input_raises_a_validation_error_naming_the_type_and_the_field_path(
    cls: type[Any], raw: bytes, path: str, reason: str
) -> None:
    with pytest.raises(api.ValidationError) as caught:
        decode(raw, cls)
    error = caught.value
    assert isinstance(error, msgspec.ValidationError)
    assert error.path == path and error.type_name == cls.__name__
    assert str(error).startswith(f"{cls.__name__}: ")
    assert reason in str(error)
    if path != "$":
        assert str(error).endswith(f"- at `{path}`")
    assert error.__cause__ is None and error.__suppress_context__


def test_invalid_json_raises_a_decode_error_naming_the_type() -> None:
    with pytest.raises(api.DecodeError) as caught:
        decode(b'{"Model": ', api.ExecutorRequest)
    assert not isinstance(caught.value, api.ValidationError)
    assert isinstance(caught.value, msgspec.DecodeError)
    assert str(caught.value).startswith("ExecutorRequest: invalid JSON")
