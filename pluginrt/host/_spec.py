"""What the host needs to know to start one plugin: a plain, immutable value."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pluginrt.rpc import DEFAULT_MAX_LINE

__all__ = ["PluginSpec", "RestartPolicy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPolicy:
    """How a crashed plugin is restarted.

    The n-th restart in a row waits ``min(backoff_initial * 2**n, backoff_max)``
    seconds; after ``max_restarts`` restarts in a row the plugin is marked
    failed. A plugin that has run for ``healthy_after`` seconds since its last
    start has its count of restarts in a row reset to zero.
    """

    max_restarts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    healthy_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """The delay before restart number ``attempt`` (0-based) in a row."""
        return float(min(self.backoff_initial * (2**attempt), self.backoff_max))


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginSpec:
    """One plugin: its id, how to run it, and how to supervise it.

    ``command`` is the argument vector; a single path ending in ``.py`` runs
    under the host's own Python (``sys.executable``). ``env`` is added to the
    host's environment (filtered by ``env_allow``). ``call_timeout`` is the
    default per-call timeout, and the longest wait for each next chunk of an
    executor stream (None: none). ``config`` is the plugin's own config
    section, sent in ``plugin.register``. The grace periods bound each step
    of shutdown.
    """

    id: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    #: Which of the host's variables the plugin inherits: ``fnmatch`` patterns
    #: (``LC_*``); None: all of them. ``env`` is always added on top.
    env_allow: tuple[str, ...] | None = None
    cwd: str | None = None
    priority: int = 0
    call_timeout: float | None = 30.0
    handshake_timeout: float = 10.0
    shutdown_timeout: float = 1.0
    grace_period: float = 2.0
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    max_line: int = DEFAULT_MAX_LINE
    config: Mapping[str, Any] = field(default_factory=dict)
    #: How many processes of the plugin run side by side (calls go to the least busy).
    instances: int = 1

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise ValueError("a plugin spec needs a non-blank id")
        if isinstance(self.command, str):
            # A lone string is almost always a mistake for a one-element command.
            object.__setattr__(self, "command", (self.command,))
        else:
            object.__setattr__(self, "command", tuple(self.command))
        if not self.command:
            raise ValueError(f"plugin {self.id!r}: the command is empty")
        if self.instances < 1:
            raise ValueError(f"plugin {self.id!r}: instances must be at least 1")
        # trio refuses a negative or NaN deadline deep in the supervisor: say so here.
        if self.call_timeout is not None and not self.call_timeout > 0:
            raise ValueError(f"plugin {self.id!r}: call_timeout must be positive (or None)")
        if not self.handshake_timeout > 0:
            raise ValueError(f"plugin {self.id!r}: handshake_timeout must be positive")
        for name in ("shutdown_timeout", "grace_period"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"plugin {self.id!r}: {name} must not be negative")

    @property
    def argv(self) -> list[str]:
        """The argument vector actually executed."""
        if len(self.command) == 1 and self.command[0].endswith(".py"):
            return [sys.executable, self.command[0]]
        return list(self.command)
