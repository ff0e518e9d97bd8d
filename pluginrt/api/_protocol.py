"""The protocol's own shapes and THE METHOD TABLE.

Seed types that only exist to carry Go channels or interfaces get the wire
shapes DESIGN.md gives them: ``Plugin`` is the handshake's
:class:`RegisterResult`, ``Capabilities`` is the capability declaration,
``HTTPStreamResponse`` is :class:`HostHTTPStreamResponse`,
``ExecutorStreamResponse`` is :class:`ExecutorStreamStart`, and the
``*StreamChunk`` types are the engine's ``stream.chunk``/``stream.end``
notifications (:mod:`pluginrt.rpc._messages`).

:data:`METHODS` is the single source of which methods exist, who calls them,
their params and result types, and which declared capability they need; the
engine, the SDK and the schema generator all read it.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

import msgspec

from pluginrt.rpc._messages import (
    CancelParams,
    Empty,
    StreamCancel,
    StreamChunk,
    StreamCredit,
    StreamEnd,
)

from ._auth import (
    AuthLoginPollRequest,
    AuthLoginPollResponse,
    AuthLoginStartRequest,
    AuthLoginStartResponse,
    AuthParseRequest,
    AuthParseResponse,
    AuthRefreshRequest,
    AuthRefreshResponse,
)
from ._cli import (
    CommandLineExecutionRequest,
    CommandLineExecutionResponse,
    CommandLineRegistrationRequest,
    CommandLineRegistrationResponse,
)
from ._executor import (
    ExecutorHTTPRequest,
    ExecutorHTTPResponse,
    ExecutorRequest,
    ExecutorResponse,
)
from ._frontend import FrontendAuthRequest, FrontendAuthResponse
from ._host import (
    HostAuthFileEntry,
    HostAuthGetRequest,
    HostAuthGetResponse,
    HostAuthGetRuntimeResponse,
    HostAuthSaveRequest,
    HostAuthSaveResponse,
    HostModelExecutionRequest,
    HostModelExecutionResponse,
    HostModelStreamCloseRequest,
    HostModelStreamReadRequest,
    HostModelStreamReadResponse,
    HostModelStreamResponse,
    HTTPRequest,
    HTTPResponse,
)
from ._management import (
    ManagementRegistrationRequest,
    ManagementRegistrationResponse,
    ManagementRequest,
    ManagementResponse,
)
from ._metadata import HostConfigSummary, Metadata
from ._models import (
    AuthModelRequest,
    ModelRegistrationRequest,
    ModelRegistrationResponse,
    ModelResponse,
    StaticModelRequest,
)
from ._scheduler import SchedulerPickRequest, SchedulerPickResponse
from ._transform import (
    PayloadResponse,
    RequestInterceptRequest,
    RequestInterceptResponse,
    RequestTransformRequest,
    ResponseInterceptRequest,
    ResponseInterceptResponse,
    ResponseTransformRequest,
    StreamChunkInterceptRequest,
    StreamChunkInterceptResponse,
    ThinkingApplyRequest,
)
from ._usage import UsageRecord
from ._wire import Header, List, Map, Wire, go

__all__ = [
    "METHODS",
    "CapabilityDecl",
    "Capabilities",
    "Direction",
    "Empty",
    "ExecutorStreamRequest",
    "ExecutorStreamStart",
    "HostAuthListResponse",
    "HostHTTPStreamResponse",
    "HostStreamCloseRequest",
    "HostStreamReadRequest",
    "LogParams",
    "Method",
    "ReconfigureParams",
    "RegisterParams",
    "RegisterResult",
]

# --- the handshake -----------------------------------------------------------


class CapabilityDecl(Wire):
    """Declares an interface-typed capability: ``{}`` or ``{"identifier": ...}``.

    ``identifier`` is required for ``AuthProvider``, ``FrontendAuthProvider``,
    ``Executor`` and ``ThinkingApplier`` (the Go interfaces with ``Identifier()``).
    """

    identifier: str = ""


class Capabilities(Wire, rename=go):
    """The capability declaration in :class:`RegisterResult` (seed field names).

    An interface-typed capability is declared by an object; absent or ``null``
    (``None``) means not implemented. ``executor_model_scope`` is an
    :class:`~pluginrt.api.ExecutorModelScope` value ("" means both).
    """

    model_registrar: CapabilityDecl | None = None
    model_provider: CapabilityDecl | None = None
    auth_provider: CapabilityDecl | None = None
    frontend_auth_provider: CapabilityDecl | None = None
    frontend_auth_provider_exclusive: bool = False
    scheduler: CapabilityDecl | None = None
    executor: CapabilityDecl | None = None
    executor_model_scope: str = ""
    executor_input_formats: List[str] = msgspec.field(default_factory=list)
    executor_output_formats: List[str] = msgspec.field(default_factory=list)
    request_translator: CapabilityDecl | None = None
    request_normalizer: CapabilityDecl | None = None
    response_translator: CapabilityDecl | None = None
    response_before_translator: CapabilityDecl | None = None
    response_after_translator: CapabilityDecl | None = None
    request_interceptor: CapabilityDecl | None = None
    response_interceptor: CapabilityDecl | None = None
    stream_chunk_interceptor: CapabilityDecl | None = None
    thinking_applier: CapabilityDecl | None = None
    usage_plugin: CapabilityDecl | None = None
    command_line_plugin: CapabilityDecl | None = None
    management_api: CapabilityDecl | None = None


class RegisterParams(Wire, omit_defaults=False):
    """``plugin.register`` params: the host's first call (every key is sent, ``config``
    even when empty)."""

    protocol_version: int
    plugin_id: str = ""
    config: Map[str, Any] = msgspec.field(default_factory=dict)
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)


class RegisterResult(Wire):
    """``plugin.register`` result: the plugin as the seed's ``Plugin`` describes it."""

    protocol_version: int
    metadata: Metadata = msgspec.field(default_factory=Metadata)
    capabilities: Capabilities = msgspec.field(default_factory=Capabilities)


class ReconfigureParams(Wire, omit_defaults=False):
    """``plugin.reconfigure`` params: the plugin's new config section (``{}`` is sent too)."""

    config: Map[str, Any] = msgspec.field(default_factory=dict)


# --- streams and callbacks that replace Go channels -------------------------


class ExecutorStreamRequest(ExecutorRequest):
    """``executor.execute_stream`` params: an :class:`ExecutorRequest` plus the stream.

    ``stream_id`` is chosen by the host; ``window`` is how many ``stream.chunk``
    notifications the plugin may send before ``stream.credit`` grants more.
    """

    stream_id: str = msgspec.field(default="", name="stream_id")
    window: int = msgspec.field(default=0, name="window")


class ExecutorStreamStart(Wire, rename=go):
    """``executor.execute_stream`` result (the seed's ``ExecutorStreamResponse``
    without its channel): the headers, sent before the stream's chunks."""

    headers: Header = msgspec.field(default_factory=dict)


class HostHTTPStreamResponse(Wire, rename=go):
    """``host.http.do_stream`` result (the seed's ``HTTPStreamResponse``): read
    the body with ``host.http.stream_read``."""

    status_code: int = 0
    headers: Header = msgspec.field(default_factory=dict)
    stream_id: str = msgspec.field(default="", name="stream_id")


class HostStreamReadRequest(Wire):
    """``host.http.stream_read`` params."""

    stream_id: str = ""


class HostStreamCloseRequest(Wire):
    """``host.http.stream_close`` params."""

    stream_id: str = ""


class LogParams(Wire):
    """``host.log`` notification: a plugin's structured log line."""

    level: str = ""
    message: str = ""
    fields: Map[str, Any] = msgspec.field(default_factory=dict)


class HostAuthListResponse(Wire, omit_defaults=False):
    """``host.auth.list`` result (``files`` is sent even when empty)."""

    files: List[HostAuthFileEntry] = msgspec.field(default_factory=list)


# --- the method table ---------------------------------------------------------

Direction = Literal["host->plugin", "plugin->host", "both"]


class Method(NamedTuple):
    """One method of protocol version 1.

    ``result`` is ``None`` for a notification. ``capability`` is the
    :class:`Capabilities` wire key a plugin must declare to receive the call
    (``None``: every plugin serves it, or the host does). A NamedTuple: a
    dataclass's generated methods cost every plugin half a millisecond at import.
    """

    name: str
    params: type[Any]
    result: type[Any] | None
    direction: Direction
    capability: str | None = None

    @property
    def is_notification(self) -> bool:
        """True when the method is sent as a notification (no response)."""
        return self.result is None


_H2P: Final = "host->plugin"
_P2H: Final = "plugin->host"


def _table(*methods: Method) -> Mapping[str, Method]:
    table = {m.name: m for m in methods}
    assert len(table) == len(methods), "duplicate method name"
    return types.MappingProxyType(table)


def _to_plugin(name: str, params: type[Any], result: type[Any] | None, cap: str | None) -> Method:
    return Method(name, params, result, _H2P, cap)


def _to_host(name: str, params: type[Any], result: type[Any] | None) -> Method:
    return Method(name, params, result, _P2H, None)


#: Every method of protocol version 1, by name.
METHODS: Final[Mapping[str, Method]] = _table(
    # engine-level, either side
    Method("$/cancel", CancelParams, None, "both"),
    Method("$/ping", Empty, Empty, "both"),
    # executor streams: the plugin produces, the host grants credit
    Method("stream.chunk", StreamChunk, None, _P2H),
    Method("stream.end", StreamEnd, None, _P2H),
    Method("stream.credit", StreamCredit, None, _H2P),
    Method("stream.cancel", StreamCancel, None, _H2P),
    # lifecycle
    _to_plugin("plugin.register", RegisterParams, RegisterResult, None),
    _to_plugin("plugin.reconfigure", ReconfigureParams, Empty, None),
    _to_plugin("plugin.shutdown", Empty, Empty, None),
    # models
    _to_plugin(
        "model.register", ModelRegistrationRequest, ModelRegistrationResponse, "ModelRegistrar"
    ),
    _to_plugin("model.static", StaticModelRequest, ModelResponse, "ModelProvider"),
    _to_plugin("model.for_auth", AuthModelRequest, ModelResponse, "ModelProvider"),
    # auth
    _to_plugin("auth.parse", AuthParseRequest, AuthParseResponse, "AuthProvider"),
    _to_plugin("auth.login.start", AuthLoginStartRequest, AuthLoginStartResponse, "AuthProvider"),
    _to_plugin("auth.login.poll", AuthLoginPollRequest, AuthLoginPollResponse, "AuthProvider"),
    _to_plugin("auth.refresh", AuthRefreshRequest, AuthRefreshResponse, "AuthProvider"),
    _to_plugin(
        "frontend_auth.authenticate",
        FrontendAuthRequest,
        FrontendAuthResponse,
        "FrontendAuthProvider",
    ),
    _to_plugin("scheduler.pick", SchedulerPickRequest, SchedulerPickResponse, "Scheduler"),
    # executor
    _to_plugin("executor.execute", ExecutorRequest, ExecutorResponse, "Executor"),
    _to_plugin("executor.count_tokens", ExecutorRequest, ExecutorResponse, "Executor"),
    _to_plugin("executor.execute_stream", ExecutorStreamRequest, ExecutorStreamStart, "Executor"),
    _to_plugin("executor.http_request", ExecutorHTTPRequest, ExecutorHTTPResponse, "Executor"),
    # payload transforms
    _to_plugin("request.translate", RequestTransformRequest, PayloadResponse, "RequestTranslator"),
    _to_plugin("request.normalize", RequestTransformRequest, PayloadResponse, "RequestNormalizer"),
    _to_plugin(
        "request.intercept_before",
        RequestInterceptRequest,
        RequestInterceptResponse,
        "RequestInterceptor",
    ),
    _to_plugin(
        "request.intercept_after",
        RequestInterceptRequest,
        RequestInterceptResponse,
        "RequestInterceptor",
    ),
    _to_plugin(
        "response.translate", ResponseTransformRequest, PayloadResponse, "ResponseTranslator"
    ),
    _to_plugin(
        "response.normalize_before",
        ResponseTransformRequest,
        PayloadResponse,
        "ResponseBeforeTranslator",
    ),
    _to_plugin(
        "response.normalize_after",
        ResponseTransformRequest,
        PayloadResponse,
        "ResponseAfterTranslator",
    ),
    _to_plugin(
        "response.intercept_after",
        ResponseInterceptRequest,
        ResponseInterceptResponse,
        "ResponseInterceptor",
    ),
    _to_plugin(
        "response.intercept_stream_chunk",
        StreamChunkInterceptRequest,
        StreamChunkInterceptResponse,
        "StreamChunkInterceptor",
    ),
    _to_plugin("thinking.apply", ThinkingApplyRequest, PayloadResponse, "ThinkingApplier"),
    _to_plugin("usage.handle", UsageRecord, None, "UsagePlugin"),
    # command line and management
    _to_plugin(
        "command_line.register",
        CommandLineRegistrationRequest,
        CommandLineRegistrationResponse,
        "CommandLinePlugin",
    ),
    _to_plugin(
        "command_line.execute",
        CommandLineExecutionRequest,
        CommandLineExecutionResponse,
        "CommandLinePlugin",
    ),
    _to_plugin(
        "management.register",
        ManagementRegistrationRequest,
        ManagementRegistrationResponse,
        "ManagementAPI",
    ),
    _to_plugin("management.handle", ManagementRequest, ManagementResponse, "ManagementAPI"),
    # host callbacks
    _to_host("host.log", LogParams, None),
    _to_host("host.http.do", HTTPRequest, HTTPResponse),
    _to_host("host.http.do_stream", HTTPRequest, HostHTTPStreamResponse),
    _to_host("host.http.stream_read", HostStreamReadRequest, HostModelStreamReadResponse),
    _to_host("host.http.stream_close", HostStreamCloseRequest, Empty),
    _to_host("host.model.execute", HostModelExecutionRequest, HostModelExecutionResponse),
    _to_host("host.model.execute_stream", HostModelExecutionRequest, HostModelStreamResponse),
    _to_host("host.model.stream_read", HostModelStreamReadRequest, HostModelStreamReadResponse),
    _to_host("host.model.stream_close", HostModelStreamCloseRequest, Empty),
    _to_host("host.auth.list", Empty, HostAuthListResponse),
    _to_host("host.auth.get", HostAuthGetRequest, HostAuthGetResponse),
    _to_host("host.auth.get_runtime", HostAuthGetRequest, HostAuthGetRuntimeResponse),
    _to_host("host.auth.save", HostAuthSaveRequest, HostAuthSaveResponse),
)
