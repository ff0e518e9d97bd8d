"""Plugin-owned Management API and resource routes."""

from __future__ import annotations

import msgspec

from ._metadata import Metadata
from ._wire import Bytes, Header, List, Values, Wire, go

__all__ = [
    "ManagementRegistrationRequest",
    "ManagementRegistrationResponse",
    "ManagementRequest",
    "ManagementResponse",
    "ManagementRoute",
    "ResourceRoute",
]


class ManagementRegistrationRequest(Wire, rename=go):
    """Host context for Management API registration (``management.register``)."""

    plugin: Metadata = msgspec.field(default_factory=Metadata)
    base_path: str = ""
    resource_base_path: str = ""


class ManagementRoute(Wire, rename=go):
    """One plugin-owned Management API route; its Go ``Handler`` is ``management.handle``."""

    method: str = ""
    path: str = ""
    menu: str = ""
    description: str = ""


class ResourceRoute(Wire, rename=go):
    """One plugin-owned browser-navigable resource route."""

    path: str = ""
    menu: str = ""
    description: str = ""


class ManagementRegistrationResponse(Wire, rename=go):
    """Plugin-owned Management API and resource routes."""

    routes: List[ManagementRoute] = msgspec.field(default_factory=list)
    resources: List[ResourceRoute] = msgspec.field(default_factory=list)


class ManagementRequest(Wire, rename=go):
    """A Management API or resource request (``management.handle``)."""

    method: str = ""
    path: str = ""
    headers: Header = msgspec.field(default_factory=dict)
    query: Values = msgspec.field(default_factory=dict)
    body: Bytes = b""


class ManagementResponse(Wire, rename=go):
    """A plugin Management API response; ``status_code`` 0 means 200."""

    status_code: int = 0
    headers: Header = msgspec.field(default_factory=dict)
    body: Bytes = b""
