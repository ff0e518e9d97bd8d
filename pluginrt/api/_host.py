"""Host callbacks: outbound HTTP, nested model execution and the auth store.

The ``Host*`` types carry the seed's ``json`` tags, which rule their wire names.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._wire import ZERO_TIME, Bytes, Header, List, Time, Values, Wire, go

__all__ = [
    "HTTPRequest",
    "HTTPResponse",
    "HostAuthFileEntry",
    "HostAuthGetRequest",
    "HostAuthGetResponse",
    "HostAuthGetRuntimeResponse",
    "HostAuthSaveRequest",
    "HostAuthSaveResponse",
    "HostModelExecutionRequest",
    "HostModelExecutionResponse",
    "HostModelStreamCloseRequest",
    "HostModelStreamReadRequest",
    "HostModelStreamReadResponse",
    "HostModelStreamResponse",
    "HostRecentRequestEntry",
]


class HTTPRequest(Wire, rename=go):
    """An upstream HTTP request issued through the host (``host.http.do``)."""

    method: str = ""
    url: str = ""
    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""


class HTTPResponse(Wire, rename=go):
    """A non-streaming host HTTP response."""

    status_code: int = 0
    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""


class HostModelExecutionRequest(Wire):
    """A model execution request issued through the host (``host.model.execute``)."""

    entry_protocol: str = ""
    exit_protocol: str = ""
    model: str = ""
    stream: bool = False
    body: Bytes = b""
    headers: Header = msgspec.field(default_factory=dict)
    query: Values = msgspec.field(default_factory=dict)
    alt: str = ""


class HostModelExecutionResponse(Wire):
    """A non-streaming host model execution response."""

    status_code: int = 0
    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""


class HostModelStreamResponse(Wire):
    """A streaming host model execution response (``host.model.execute_stream``)."""

    status_code: int = 0
    headers: Header = msgspec.field(default_factory=dict)
    stream_id: str = ""


class HostModelStreamReadRequest(Wire):
    """Asks the host to read the next model stream chunk (``host.model.stream_read``)."""

    stream_id: str = ""


class HostModelStreamReadResponse(Wire):
    """One stream chunk or the terminal state (also the answer of ``host.http.stream_read``)."""

    payload: Bytes = b""
    error: str = ""
    done: bool = False


class HostModelStreamCloseRequest(Wire):
    """Asks the host to close a model stream (``host.model.stream_close``)."""

    stream_id: str = ""


class HostRecentRequestEntry(Wire):
    """One bucket of a credential's recent request counts."""

    time: str = ""
    success: int = 0
    failed: int = 0


class HostAuthFileEntry(Wire):
    """One credential exposed through host auth callbacks."""

    id: str = ""
    auth_index: str = ""
    name: str = ""
    type: str = ""
    provider: str = ""
    label: str = ""
    status: str = ""
    status_message: str = ""
    disabled: bool = False
    unavailable: bool = False
    runtime_only: bool = False
    source: str = ""
    path: str = ""
    size: int = 0
    mod_time: Time = msgspec.field(default=ZERO_TIME, name="modtime")
    updated_at: Time = ZERO_TIME
    created_at: Time = ZERO_TIME
    last_refresh: Time = ZERO_TIME
    next_retry_after: Time = ZERO_TIME
    email: str = ""
    project_id: str = ""
    account_type: str = ""
    account: str = ""
    priority: int = 0
    note: str = ""
    websockets: bool = False
    success: int = 0
    failed: int = 0
    recent_requests: List[HostRecentRequestEntry] = msgspec.field(default_factory=list)


class HostAuthGetRequest(Wire):
    """Asks the host for a credential by auth index (``host.auth.get``, ``.get_runtime``)."""

    auth_index: str = ""


class HostAuthGetResponse(Wire):
    """Credential JSON resolved by auth index; ``json`` is the embedded JSON value."""

    auth_index: str = ""
    name: str = ""
    path: str = ""
    json: Any = None


class HostAuthGetRuntimeResponse(Wire):
    """Runtime credential information by auth index."""

    auth: HostAuthFileEntry = msgspec.field(default_factory=HostAuthFileEntry)


class HostAuthSaveRequest(Wire):
    """Asks the host to persist credential JSON to an auth file (``host.auth.save``)."""

    name: str = ""
    json: Any = None


class HostAuthSaveResponse(Wire):
    """The saved physical auth file."""

    name: str = ""
    path: str = ""
