"""Scheduler plugins: choosing an auth candidate before the built-in scheduler."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ._metadata import Metadata
from ._wire import List, Map, Wire, go

__all__ = [
    "SCHEDULER_BUILTIN_FILL_FIRST",
    "SCHEDULER_BUILTIN_ROUND_ROBIN",
    "SchedulerAuthCandidate",
    "SchedulerOptions",
    "SchedulerPickRequest",
    "SchedulerPickResponse",
]

#: ``DelegateBuiltin`` value: delegate to the built-in round-robin scheduler.
SCHEDULER_BUILTIN_ROUND_ROBIN: Final = "round-robin"
#: ``DelegateBuiltin`` value: delegate to the built-in fill-first scheduler.
SCHEDULER_BUILTIN_FILL_FIRST: Final = "fill-first"


class SchedulerOptions(Wire, rename=go):
    """Request-scoped scheduler inputs."""

    headers: Map[str, List[str]] = msgspec.field(default_factory=dict)
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class SchedulerAuthCandidate(Wire, rename=go):
    """One auth candidate available to a scheduler."""

    id: str = ""
    provider: str = ""
    priority: int = 0
    status: str = ""
    attributes: Map[str, str] = msgspec.field(default_factory=dict)
    metadata: Map[str, Any] = msgspec.field(default_factory=dict)


class SchedulerPickRequest(Wire, rename=go):
    """The routing context offered to a scheduler plugin (``scheduler.pick``)."""

    plugin: Metadata = msgspec.field(default_factory=Metadata)
    provider: str = ""
    providers: List[str] = msgspec.field(default_factory=list)
    model: str = ""
    stream: bool = False
    options: SchedulerOptions = msgspec.field(default_factory=SchedulerOptions)
    candidates: List[SchedulerAuthCandidate] = msgspec.field(default_factory=list)


class SchedulerPickResponse(Wire, rename=go):
    """A scheduler plugin's routing decision."""

    auth_id: str = ""
    delegate_builtin: str = ""
    handled: bool = False
