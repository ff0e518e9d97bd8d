"""Provider auth records and the auth provider's parse, login and refresh calls."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from ._metadata import HostConfigSummary
from ._wire import ZERO_TIME, Bytes, Map, Time, Wire, go

__all__ = [
    "AuthData",
    "AuthLoginPollRequest",
    "AuthLoginPollResponse",
    "AuthLoginStartRequest",
    "AuthLoginStartResponse",
    "AuthLoginStatus",
    "AuthParseRequest",
    "AuthParseResponse",
    "AuthRefreshRequest",
    "AuthRefreshResponse",
]


class AuthLoginStatus(enum.StrEnum):
    """The current provider login state."""

    PENDING = "pending"
    SUCCESS = "success"
    ERROR = "error"


class AuthData(Wire, rename=go):
    """A plugin provider auth record exchanged with the host."""

    provider: str = ""
    id: str = ""
    file_name: str = ""
    label: str = ""
    prefix: str = ""
    proxy_url: str = ""
    disabled: bool = False
    storage_json: Bytes = b""
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)
    attributes: Map[str, str] = msgspec.field(default_factory=dict)
    next_refresh_after: Time = ZERO_TIME


class AuthParseRequest(Wire, rename=go):
    """Auth material offered to a plugin parser (``auth.parse``)."""

    provider: str = ""
    path: str = ""
    file_name: str = ""
    raw_json: Bytes = b""
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)


class AuthParseResponse(Wire, rename=go):
    """The parser decision and parsed auth data."""

    handled: bool = False
    auth: AuthData = msgspec.field(default_factory=AuthData)


class AuthLoginStartRequest(Wire, rename=go):
    """Asks a plugin to start a provider login flow (``auth.login.start``)."""

    provider: str = ""
    base_url: str = ""
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class AuthLoginStartResponse(Wire, rename=go):
    """Login flow state for polling."""

    provider: str = ""
    url: str = ""
    state: str = ""
    expires_at: Time = ZERO_TIME
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class AuthLoginPollRequest(Wire, rename=go):
    """Asks a plugin to poll a provider login flow (``auth.login.poll``)."""

    provider: str = ""
    state: str = ""
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class AuthLoginPollResponse(Wire, rename=go):
    """The login poll status and auth data.

    ``status`` is an :class:`AuthLoginStatus` value; any string is accepted, as in Go.
    """

    status: str = ""
    message: str = ""
    auth: AuthData = msgspec.field(default_factory=AuthData)


class AuthRefreshRequest(Wire, rename=go):
    """Asks a plugin to refresh provider auth data (``auth.refresh``)."""

    auth_id: str = ""
    auth_provider: str = ""
    storage_json: Bytes = b""
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)
    attributes: Map[str, str] = msgspec.field(default_factory=dict)
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)


class AuthRefreshResponse(Wire, rename=go):
    """Refreshed provider auth data."""

    auth: AuthData = msgspec.field(default_factory=AuthData)
    next_refresh_after: Time = ZERO_TIME
