"""``run(plugin)``: a script becomes a plugin process speaking JSON-RPC on its stdio.

Guarantees: before any handler runs, the protocol moves to private
descriptors: descriptor 1 (and ``sys.stdout``) point at stderr, so a stray
``print()`` or a C library's banner can never corrupt the protocol, and
descriptor 0 reads ``/dev/null``, so a child process cannot steal the host's
messages. The process returns from ``run`` when stdin reaches EOF, when the
host sends ``plugin.shutdown``, or when its parent dies; a plugin the host
started in a process group of its own then kills what is left in that group
(its own child processes), as the host does after it exits: a host killed
with SIGKILL cannot.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Final

import trio

from pluginrt.rpc import DEFAULT_MAX_LINE

from ._plugin import Plugin
from ._serve import serve

__all__ = ["run"]

logger = logging.getLogger("plugin_sdk")

#: How often the watchdog checks that the parent process is still the same.
PARENT_POLL: Final = 0.5


def run(plugin: Plugin, *, max_line: int = DEFAULT_MAX_LINE) -> None:
    """Serve ``plugin`` on this process's stdin and stdout until the host is done with it.

    Raises ValueError (before touching stdio) if the declaration is invalid.
    """
    plugin.declaration()
    parent = _parent if _taken is not None else os.getppid()
    _log_to_stderr(plugin.name)
    protocol_in, protocol_out = _taken or _take_stdio()
    try:
        trio.run(_main, plugin, parent, protocol_in, protocol_out, max_line)
    finally:
        if os.environ.get("PLUGINRT_PLUGIN_ID"):
            _kill_own_group()


#: Set when ``import plugin_sdk`` already moved the protocol away (see protect_stdio_early).
_taken: tuple[int, int] | None = None
_parent = 0


def protect_stdio_early() -> None:
    """Take stdio at import time when the host started us (``PLUGINRT_PLUGIN_ID`` set).

    So even a ``print()`` at module level, between ``import plugin_sdk`` and
    ``run()``, lands on stderr instead of corrupting the protocol.
    """
    global _taken, _parent
    if _taken is None and os.environ.get("PLUGINRT_PLUGIN_ID"):
        _parent = os.getppid()
        _taken = _take_stdio()


def _take_stdio() -> tuple[int, int]:
    """Move the protocol to private descriptors; 0 becomes /dev/null, 1 becomes stderr."""
    sys.stdout.flush()
    protocol_in = os.dup(0)  # dup'ed descriptors are not inherited by child processes
    protocol_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_in, protocol_out


def _log_to_stderr(name: str) -> None:
    root = logging.getLogger()
    if not root.handlers:  # the author's own logging setup wins
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"[{name}] %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


async def _main(
    plugin: Plugin, parent: int, protocol_in: int, protocol_out: int, max_line: int
) -> None:
    async with (
        trio.lowlevel.FdStream(protocol_in) as receive_stream,
        trio.lowlevel.FdStream(protocol_out) as send_stream,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(_watch_parent, parent, nursery.cancel_scope)
        await serve(plugin, send_stream, receive_stream, max_line=max_line)
        nursery.cancel_scope.cancel()
    logger.info("%s: stopped", plugin.name)


def _kill_own_group() -> None:
    """SIGKILL the other processes of our process group, if we lead one (Linux)."""
    me = os.getpid()
    if os.getpgrp() != me or not os.path.isdir("/proc"):
        return  # a group someone else leads (``sh -c``) is theirs to clean up
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                group = int(file.read().rsplit(b")", 1)[1].split()[2])
            if group == me:
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


async def _watch_parent(parent: int, scope: trio.CancelScope) -> None:
    """Cancel ``scope`` once our parent is gone (we are re-parented)."""
    while os.getppid() == parent:  # noqa: ASYNC110 - no event says a parent died
        await trio.sleep(PARENT_POLL)
    logger.warning("the host (pid %d) is gone; exiting", parent)
    scope.cancel()
