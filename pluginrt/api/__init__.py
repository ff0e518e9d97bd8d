"""The contract on the wire: every seed type as a msgspec Struct, and the one codec.

Snake_case attributes in Python, the seed's Go names on the wire (see
``PROTOCOL.md``). :func:`encode` and :func:`decode` are the only codec; the
method table :data:`METHODS` says which types travel with which method.
"""

from __future__ import annotations

from ._auth import (
    AuthData as AuthData,
)
from ._auth import (
    AuthLoginPollRequest as AuthLoginPollRequest,
)
from ._auth import (
    AuthLoginPollResponse as AuthLoginPollResponse,
)
from ._auth import (
    AuthLoginStartRequest as AuthLoginStartRequest,
)
from ._auth import (
    AuthLoginStartResponse as AuthLoginStartResponse,
)
from ._auth import (
    AuthLoginStatus as AuthLoginStatus,
)
from ._auth import (
    AuthParseRequest as AuthParseRequest,
)
from ._auth import (
    AuthParseResponse as AuthParseResponse,
)
from ._auth import (
    AuthRefreshRequest as AuthRefreshRequest,
)
from ._auth import (
    AuthRefreshResponse as AuthRefreshResponse,
)
from ._cli import (
    CommandLineExecutionRequest as CommandLineExecutionRequest,
)
from ._cli import (
    CommandLineExecutionResponse as CommandLineExecutionResponse,
)
from ._cli import (
    CommandLineFlag as CommandLineFlag,
)
from ._cli import (
    CommandLineFlagValue as CommandLineFlagValue,
)
from ._cli import (
    CommandLineRegistrationRequest as CommandLineRegistrationRequest,
)
from ._cli import (
    CommandLineRegistrationResponse as CommandLineRegistrationResponse,
)
from ._codec import (
    DecodeError as DecodeError,
)
from ._codec import (
    ValidationError as ValidationError,
)
from ._codec import (
    decode as decode,
)
from ._codec import (
    encode as encode,
)
from ._executor import (
    ExecutorHTTPRequest as ExecutorHTTPRequest,
)
from ._executor import (
    ExecutorHTTPResponse as ExecutorHTTPResponse,
)
from ._executor import (
    ExecutorModelScope as ExecutorModelScope,
)
from ._executor import (
    ExecutorRequest as ExecutorRequest,
)
from ._executor import (
    ExecutorResponse as ExecutorResponse,
)
from ._frontend import (
    FrontendAuthRequest as FrontendAuthRequest,
)
from ._frontend import (
    FrontendAuthResponse as FrontendAuthResponse,
)
from ._host import (
    HostAuthFileEntry as HostAuthFileEntry,
)
from ._host import (
    HostAuthGetRequest as HostAuthGetRequest,
)
from ._host import (
    HostAuthGetResponse as HostAuthGetResponse,
)
from ._host import (
    HostAuthGetRuntimeResponse as HostAuthGetRuntimeResponse,
)
from ._host import (
    HostAuthSaveRequest as HostAuthSaveRequest,
)
from ._host import (
    HostAuthSaveResponse as HostAuthSaveResponse,
)
from ._host import (
    HostModelExecutionRequest as HostModelExecutionRequest,
)
from ._host import (
    HostModelExecutionResponse as HostModelExecutionResponse,
)
from ._host import (
    HostModelStreamCloseRequest as HostModelStreamCloseRequest,
)
from ._host import (
    HostModelStreamReadRequest as HostModelStreamReadRequest,
)
from ._host import (
    HostModelStreamReadResponse as HostModelStreamReadResponse,
)
from ._host import (
    HostModelStreamResponse as HostModelStreamResponse,
)
from ._host import (
    HostRecentRequestEntry as HostRecentRequestEntry,
)
from ._host import (
    HTTPRequest as HTTPRequest,
)
from ._host import (
    HTTPResponse as HTTPResponse,
)
from ._management import (
    ManagementRegistrationRequest as ManagementRegistrationRequest,
)
from ._management import (
    ManagementRegistrationResponse as ManagementRegistrationResponse,
)
from ._management import (
    ManagementRequest as ManagementRequest,
)
from ._management import (
    ManagementResponse as ManagementResponse,
)
from ._management import (
    ManagementRoute as ManagementRoute,
)
from ._management import (
    ResourceRoute as ResourceRoute,
)
from ._metadata import (
    ConfigField as ConfigField,
)
from ._metadata import (
    ConfigFieldType as ConfigFieldType,
)
from ._metadata import (
    HostConfigSummary as HostConfigSummary,
)
from ._metadata import (
    Metadata as Metadata,
)
from ._metadata import (
    ModelAlias as ModelAlias,
)
from ._models import (
    AuthModelRequest as AuthModelRequest,
)
from ._models import (
    ModelInfo as ModelInfo,
)
from ._models import (
    ModelRegistrationRequest as ModelRegistrationRequest,
)
from ._models import (
    ModelRegistrationResponse as ModelRegistrationResponse,
)
from ._models import (
    ModelResponse as ModelResponse,
)
from ._models import (
    StaticModelRequest as StaticModelRequest,
)
from ._models import (
    ThinkingSupport as ThinkingSupport,
)
from ._protocol import (
    METHODS as METHODS,
)
from ._protocol import (
    Capabilities as Capabilities,
)
from ._protocol import (
    CapabilityDecl as CapabilityDecl,
)
from ._protocol import (
    Direction as Direction,
)
from ._protocol import (
    Empty as Empty,
)
from ._protocol import (
    ExecutorStreamRequest as ExecutorStreamRequest,
)
from ._protocol import (
    ExecutorStreamStart as ExecutorStreamStart,
)
from ._protocol import (
    HostAuthListResponse as HostAuthListResponse,
)
from ._protocol import (
    HostHTTPStreamResponse as HostHTTPStreamResponse,
)
from ._protocol import (
    HostStreamCloseRequest as HostStreamCloseRequest,
)
from ._protocol import (
    HostStreamReadRequest as HostStreamReadRequest,
)
from ._protocol import (
    LogParams as LogParams,
)
from ._protocol import (
    Method as Method,
)
from ._protocol import (
    ReconfigureParams as ReconfigureParams,
)
from ._protocol import (
    RegisterParams as RegisterParams,
)
from ._protocol import (
    RegisterResult as RegisterResult,
)
from ._scheduler import (
    SCHEDULER_BUILTIN_FILL_FIRST as SCHEDULER_BUILTIN_FILL_FIRST,
)
from ._scheduler import (
    SCHEDULER_BUILTIN_ROUND_ROBIN as SCHEDULER_BUILTIN_ROUND_ROBIN,
)
from ._scheduler import (
    SchedulerAuthCandidate as SchedulerAuthCandidate,
)
from ._scheduler import (
    SchedulerOptions as SchedulerOptions,
)
from ._scheduler import (
    SchedulerPickRequest as SchedulerPickRequest,
)
from ._scheduler import (
    SchedulerPickResponse as SchedulerPickResponse,
)
from ._transform import (
    STREAM_CHUNK_HEADER_INIT_INDEX as STREAM_CHUNK_HEADER_INIT_INDEX,
)
from ._transform import (
    PayloadResponse as PayloadResponse,
)
from ._transform import (
    RequestInterceptRequest as RequestInterceptRequest,
)
from ._transform import (
    RequestInterceptResponse as RequestInterceptResponse,
)
from ._transform import (
    RequestTransformRequest as RequestTransformRequest,
)
from ._transform import (
    ResponseInterceptRequest as ResponseInterceptRequest,
)
from ._transform import (
    ResponseInterceptResponse as ResponseInterceptResponse,
)
from ._transform import (
    ResponseTransformRequest as ResponseTransformRequest,
)
from ._transform import (
    StreamChunkInterceptRequest as StreamChunkInterceptRequest,
)
from ._transform import (
    StreamChunkInterceptResponse as StreamChunkInterceptResponse,
)
from ._transform import (
    ThinkingApplyRequest as ThinkingApplyRequest,
)
from ._transform import (
    ThinkingConfig as ThinkingConfig,
)
from ._usage import (
    UsageDetail as UsageDetail,
)
from ._usage import (
    UsageFailure as UsageFailure,
)
from ._usage import (
    UsageRecord as UsageRecord,
)
from ._wire import ZERO_TIME as ZERO_TIME

__all__ = [
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
