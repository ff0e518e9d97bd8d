"""The public surface of pluginrt.api is pinned, and the method table is whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pluginrt.api as api
from pluginrt.api import METHODS, Method
from pluginrt.rpc._messages import CancelParams, Empty

EXPORTS = [
    "METHODS",
    "SCHEDULER_BUILTIN_FILL_FIRST",
    "SCHEDULER_BUILTIN_ROUND_ROBIN",
    "STREAM_CHUNK_HEADER_INIT_INDEX",
    "ZERO_TIME",
    "AuthData",
    "AuthLoginPollRequest",
    "AuthLoginPollResponse",
    "AuthLoginStartRequest",
    "AuthLoginStartResponse",
    "AuthLoginStatus",
    "AuthModelRequest",
    "AuthParseRequest",
    "AuthParseResponse",
    "AuthRefreshRequest",
    "AuthRefreshResponse",
    "Capabilities",
    "CapabilityDecl",
    "CommandLineExecutionRequest",
    "CommandLineExecutionResponse",
    "CommandLineFlag",
    "CommandLineFlagValue",
    "CommandLineRegistrationRequest",
    "CommandLineRegistrationResponse",
    "ConfigField",
    "ConfigFieldType",
    "DecodeError",
    "Direction",
    "Empty",
    "ExecutorHTTPRequest",
    "ExecutorHTTPResponse",
    "ExecutorModelScope",
    "ExecutorRequest",
    "ExecutorResponse",
    "ExecutorStreamRequest",
    "ExecutorStreamStart",
    "FrontendAuthRequest",
    "FrontendAuthResponse",
    "HTTPRequest",
    "HTTPResponse",
    "HostAuthFileEntry",
    "HostAuthGetRequest",
    "HostAuthGetResponse",
    "HostAuthGetRuntimeResponse",
    "HostAuthListResponse",
    "HostAuthSaveRequest",
    "HostAuthSaveResponse",
    "HostConfigSummary",
    "HostHTTPStreamResponse",
    "HostModelExecutionRequest",
    "HostModelExecutionResponse",
    "HostModelStreamCloseRequest",
    "HostModelStreamReadRequest",
    "HostModelStreamReadResponse",
    "HostModelStreamResponse",
    "HostRecentRequestEntry",
    "HostStreamCloseRequest",
    "HostStreamReadRequest",
    "LogParams",
    "ManagementRegistrationRequest",
    "ManagementRegistrationResponse",
    "ManagementRequest",
    "ManagementResponse",
    "ManagementRoute",
    "Metadata",
    "Method",
    "ModelAlias",
    "ModelInfo",
    "ModelRegistrationRequest",
    "ModelRegistrationResponse",
    "ModelResponse",
    "PayloadResponse",
    "ReconfigureParams",
    "RegisterParams",
    "RegisterResult",
    "RequestInterceptRequest",
    "RequestInterceptResponse",
    "RequestTransformRequest",
    "ResourceRoute",
    "ResponseInterceptRequest",
    "ResponseInterceptResponse",
    "ResponseTransformRequest",
    "SchedulerAuthCandidate",
    "SchedulerOptions",
    "SchedulerPickRequest",
    "SchedulerPickResponse",
    "StaticModelRequest",
    "StreamChunkInterceptRequest",
    "StreamChunkInterceptResponse",
    "ThinkingApplyRequest",
    "ThinkingConfig",
    "ThinkingSupport",
    "UsageDetail",
    "UsageFailure",
    "UsageRecord",
    "ValidationError",
    "decode",
    "encode",
]

DESIGN = Path("/work/shared/DESIGN.md")


def test_the_exported_names_are_exactly_the_pinned_list() -> None:
    assert sorted(api.__all__) == sorted(EXPORTS)
    assert len(set(api.__all__)) == len(api.__all__)
    for name in EXPORTS:
        assert hasattr(api, name), name


def test_every_seed_request_method_of_design_md_is_in_the_table() -> None:
    # The DESIGN.md rows, spelled out: "a / b" cells expanded.
    host_to_plugin = {
        "plugin.register", "plugin.reconfigure", "plugin.shutdown", "model.register",
        "model.static", "model.for_auth", "auth.parse", "auth.login.start", "auth.login.poll",
        "auth.refresh", "frontend_auth.authenticate", "scheduler.pick", "executor.execute",
        "executor.count_tokens", "executor.execute_stream", "executor.http_request",
        "request.translate", "request.normalize", "request.intercept_before",
        "request.intercept_after", "response.translate", "response.normalize_before",
        "response.normalize_after", "response.intercept_after",
        "response.intercept_stream_chunk", "thinking.apply", "usage.handle",
        "command_line.register", "command_line.execute", "management.register",
        "management.handle", "stream.credit", "stream.cancel",
    }  # fmt: skip
    plugin_to_host = {
        "host.log", "host.http.do", "host.http.do_stream", "host.http.stream_read",
        "host.http.stream_close", "host.model.execute", "host.model.execute_stream",
        "host.model.stream_read", "host.model.stream_close", "host.auth.list", "host.auth.get",
        "host.auth.get_runtime", "host.auth.save", "stream.chunk", "stream.end",
    }  # fmt: skip
    both = {"$/cancel", "$/ping"}
    assert set(METHODS) == host_to_plugin | plugin_to_host | both
    for name, method in METHODS.items():
        assert method.name == name
        expected = (
            "host->plugin" if name in host_to_plugin else "plugin->host" if name in plugin_to_host
            else "both"
        )  # fmt: skip
        assert method.direction == expected, name


@pytest.mark.skipif(not DESIGN.exists(), reason="the shared design page is not beside the repo")
def test_every_method_named_in_design_md_is_in_the_table() -> None:
    text = DESIGN.read_text().split("## The wire", 1)[1].split("## The host", 1)[0]
    named = set(re.findall(r"`((?:host|stream|plugin|\$)[\w./]*[a-z_])`", text))
    rows = re.findall(r"^\| ([a-z_.]+(?: / [a-z_.]+)*)", text, re.M)
    for row in rows:
        first, *rest = row.split(" / ")
        named.add(first)
        prefix = first.rsplit(".", 1)[0]
        named.update(r if "." in r else f"{prefix}.{r}" for r in rest)
    named = {n for n in named if ("." in n or n.startswith("$/")) and not n.startswith("pluginrt")}
    assert {"host.auth.save", "auth.login.poll", "executor.count_tokens", "$/ping"} <= named
    assert named - set(METHODS) == set()


def test_notifications_have_no_result_and_requests_have_one() -> None:
    notifications = {m.name for m in METHODS.values() if m.is_notification}
    assert notifications == {
        "usage.handle", "host.log", "$/cancel", "stream.chunk", "stream.end",
        "stream.credit", "stream.cancel",
    }  # fmt: skip
    assert METHODS["$/cancel"] == Method("$/cancel", CancelParams, None, "both")
    assert METHODS["$/ping"].result is Empty


def test_capability_keys_are_wire_keys_of_the_declaration() -> None:
    keys = {f for f in api.Capabilities.__struct_encode_fields__}
    for method in METHODS.values():
        if method.capability is not None:
            assert method.capability in keys, method.name
            assert method.direction == "host->plugin"
    assert METHODS["response.normalize_before"].capability == "ResponseBeforeTranslator"
    assert METHODS["usage.handle"].capability == "UsagePlugin"
    assert METHODS["plugin.register"].capability is None


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        METHODS["x"] = METHODS["$/ping"]  # type: ignore[index]
