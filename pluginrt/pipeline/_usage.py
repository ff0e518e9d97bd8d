"""Usage records to every usage plugin, through a bounded queue that never delays a client.

A usage plugin that is (re)starting gets the record once it runs again: the
delivery is retried for up to ``retry_for`` seconds (records arriving
meanwhile wait in the queue; a full queue drops and counts). A plugin that
failed for good, or stays away longer, loses the record, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from pluginrt.api import UsageRecord
from pluginrt.host import PluginCrashed, PluginUnavailable

from ._types import PluginLike

__all__ = ["UsageQueue"]

logger = logging.getLogger("pluginrt.usage")
#: States of a plugin that will be running again soon (plugin states' values).
_COMING_BACK = frozenset({"starting", "restarting"})


class UsageQueue:
    """:meth:`put` never blocks: a full queue drops the record and counts it."""

    def __init__(self, capacity: int = 1024, *, retry_for: float = 10.0) -> None:
        self.retry_for = retry_for
        self._send, self._receive = trio.open_memory_channel[
            tuple[UsageRecord, Sequence[PluginLike]]
        ](capacity)
        self.delivered = 0
        self.dropped = 0

    def put(self, record: UsageRecord, plugins: Sequence[PluginLike]) -> None:
        if not plugins:
            return
        try:
            self._send.send_nowait((record, plugins))
        except trio.WouldBlock:
            self.dropped += 1
            logger.warning("usage queue full: a record was dropped (%d so far)", self.dropped)

    async def run(self) -> None:
        """Deliver records until cancelled (run it in the host's nursery)."""
        async for record, plugins in self._receive:
            for plugin in plugins:
                await self._deliver(plugin, record)

    async def _deliver(self, plugin: PluginLike, record: UsageRecord) -> None:
        deadline = trio.current_time() + self.retry_for
        delay = 0.05
        while True:
            try:
                await plugin.notify("usage.handle", record)
            except (PluginUnavailable, PluginCrashed) as exc:
                # Back soon (crashed, starting, restarting): wait for it, within the bound.
                coming_back = getattr(exc, "state", "restarting") in _COMING_BACK
                if not coming_back or trio.current_time() + delay > deadline:
                    logger.warning("usage plugin %s did not take a record: %s", plugin.id, exc)
                    return
                await trio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except Exception as exc:
                logger.warning("usage plugin %s did not take a record: %s", plugin.id, exc)
                return
            else:
                self.delivered += 1
                return
