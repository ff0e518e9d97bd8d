"""The built-in schedulers: ``round-robin`` and ``fill-first`` over a provider's auths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pluginrt.api import SchedulerAuthCandidate

__all__ = ["BUILTIN_SCHEDULERS", "BuiltinScheduler"]

#: The names a config or a scheduler plugin's ``DelegateBuiltin`` may use.
BUILTIN_SCHEDULERS: Final = ("round-robin", "fill-first")


class BuiltinScheduler:
    """Picks an auth among candidates; round-robin keeps one cursor per (provider, model)."""

    def __init__(self) -> None:
        self._cursors: dict[tuple[str, str], int] = {}

    def pick(
        self, name: str, provider: str, model: str, candidates: Sequence[SchedulerAuthCandidate]
    ) -> SchedulerAuthCandidate | None:
        """The chosen candidate, or None when there is none. ``name`` must be a builtin."""
        if not candidates:
            return None
        ranked = sorted(candidates, key=lambda c: (-c.priority, c.id))
        if name == "fill-first":
            return ranked[0]
        if name != "round-robin":
            raise ValueError(f"unknown built-in scheduler {name!r}")
        key = (provider, model)
        cursor = self._cursors.get(key, 0)
        self._cursors[key] = cursor + 1
        return ranked[cursor % len(ranked)]
