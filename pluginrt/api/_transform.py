"""Translators, normalizers, interceptors and thinking appliers: payload rewriting."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ._models import ModelInfo
from ._wire import Bytes, Header, List, Map, Wire, go

__all__ = [
    "STREAM_CHUNK_HEADER_INIT_INDEX",
    "PayloadResponse",
    "RequestInterceptRequest",
    "RequestInterceptResponse",
    "RequestTransformRequest",
    "ResponseInterceptRequest",
    "ResponseInterceptResponse",
    "ResponseTransformRequest",
    "StreamChunkInterceptRequest",
    "StreamChunkInterceptResponse",
    "ThinkingApplyRequest",
    "ThinkingConfig",
]

#: ``ChunkIndex`` of the header-only stream initialization interceptor call.
STREAM_CHUNK_HEADER_INIT_INDEX: Final = -1


class RequestTransformRequest(Wire, rename=go):
    """A request payload transformation (``request.translate``, ``request.normalize``)."""

    from_format: str = ""
    to_format: str = ""
    model: str = ""
    stream: bool = False
    body: Bytes = b""


class ResponseTransformRequest(Wire, rename=go):
    """A response payload transformation (``response.translate``, ``response.normalize_*``)."""

    from_format: str = ""
    to_format: str = ""
    model: str = ""
    stream: bool = False
    original_request: Bytes = b""
    translated_request: Bytes = b""
    body: Bytes = b""


class RequestInterceptRequest(Wire, rename=go):
    """A request about to be executed upstream (``request.intercept_before/after``)."""

    source_format: str = ""
    to_format: str = ""
    model: str = ""
    requested_model: str = ""
    stream: bool = False
    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class RequestInterceptResponse(Wire, rename=go):
    """Request modifications."""

    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""
    clear_headers: List[str] = msgspec.field(default_factory=list)


class ResponseInterceptRequest(Wire, rename=go):
    """A successful non-streaming response (``response.intercept_after``)."""

    source_format: str = ""
    model: str = ""
    requested_model: str = ""
    stream: bool = False
    request_headers: Header = msgspec.field(default_factory=dict)
    response_headers: Header = msgspec.field(default_factory=dict)
    original_request: Bytes = b""
    request_body: Bytes = b""
    body: Bytes = b""
    status_code: int = 0
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class ResponseInterceptResponse(Wire, rename=go):
    """Non-streaming response modifications."""

    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""
    clear_headers: List[str] = msgspec.field(default_factory=list)


class StreamChunkInterceptRequest(Wire, rename=go):
    """A successful stream chunk before delivery (``response.intercept_stream_chunk``).

    ``chunk_index`` starts at 0; :data:`STREAM_CHUNK_HEADER_INIT_INDEX` marks the
    header-only initialization call.
    """

    source_format: str = ""
    model: str = ""
    requested_model: str = ""
    request_headers: Header = msgspec.field(default_factory=dict)
    response_headers: Header = msgspec.field(default_factory=dict)
    original_request: Bytes = b""
    request_body: Bytes = b""
    body: Bytes = b""
    history_chunks: List[Bytes] = msgspec.field(default_factory=list)
    chunk_index: int = 0
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class StreamChunkInterceptResponse(Wire, rename=go):
    """Stream chunk modifications."""

    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""
    clear_headers: List[str] = msgspec.field(default_factory=list)
    drop_chunk: bool = False


class PayloadResponse(Wire, rename=go):
    """A transformed raw payload."""

    body: Bytes = b""


class ThinkingConfig(Wire, rename=go):
    """The canonical thinking configuration passed to plugins."""

    mode: str = ""
    budget: int = 0
    level: str = ""


class ThinkingApplyRequest(Wire, rename=go):
    """Asks a plugin to apply canonical thinking config (``thinking.apply``)."""

    provider: str = ""
    model: ModelInfo = msgspec.field(default_factory=ModelInfo)
    config: ThinkingConfig = msgspec.field(default_factory=ThinkingConfig)
    body: Bytes = b""
