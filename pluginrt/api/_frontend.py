"""Frontend authentication of inbound client requests."""

from __future__ import annotations

import msgspec

from ._wire import Bytes, Header, Map, Values, Wire, go

__all__ = ["FrontendAuthRequest", "FrontendAuthResponse"]


class FrontendAuthRequest(Wire, rename=go):
    """An inbound frontend authentication request (``frontend_auth.authenticate``)."""

    method: str = ""
    path: str = ""
    headers: Header = msgspec.field(default_factory=dict)
    query: Values = msgspec.field(default_factory=dict)
    body: Bytes = b""


class FrontendAuthResponse(Wire, rename=go):
    """The authentication decision and identity metadata."""

    authenticated: bool = False
    principal: str = ""
    metadata: Map[str, str] = msgspec.field(default_factory=dict)
