"""Provider executors: execution, token counting and executor-owned HTTP."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from ._wire import Bytes, Header, Map, Values, Wire, go

__all__ = [
    "ExecutorHTTPRequest",
    "ExecutorModelScope",
    "ExecutorHTTPResponse",
    "ExecutorRequest",
    "ExecutorResponse",
]


class ExecutorModelScope(enum.StrEnum):
    """Which model-registration paths a plugin executor supports ("" means both)."""

    BOTH = "both"
    STATIC = "static"
    OAUTH = "oauth"


class ExecutorRequest(Wire, rename=go):
    """A model execution or token counting call (``executor.execute``, ``.count_tokens``)."""

    auth_id: str = ""
    auth_provider: str = ""
    model: str = ""
    format: str = ""
    stream: bool = False
    alt: str = ""
    headers: Header = msgspec.field(default_factory=dict)
    query: Values = msgspec.field(default_factory=dict)
    original_request: Bytes = b""
    source_format: str = ""
    payload: Bytes = b""
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)
    storage_json: Bytes = b""
    auth_metadata: Map[str, Any] = msgspec.field(default_factory=dict)
    auth_attributes: Map[str, str] = msgspec.field(default_factory=dict)


class ExecutorResponse(Wire, rename=go):
    """A non-streaming executor result."""

    payload: Bytes = b""
    headers: Header = msgspec.field(default_factory=dict)
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class ExecutorHTTPRequest(Wire, rename=go):
    """An executor-owned HTTP request (``executor.http_request``)."""

    auth_id: str = ""
    auth_provider: str = ""
    method: str = ""
    url: str = ""
    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""
    storage_json: Bytes = b""
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)
    attributes: Map[str, str] = msgspec.field(default_factory=dict)


class ExecutorHTTPResponse(Wire, rename=go):
    """An executor-owned HTTP response."""

    status_code: int = 0
    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""
