"""Usage records to every usage plugin, through a bounded queue that never delays a client."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from pluginrt.api import UsageRecord

from ._types import PluginLike

__all__ = ["UsageQueue"]

logger = logging.getLogger("pluginrt.usage")


class UsageQueue:
    """:meth:`put` never blocks: a full queue drops the record and counts it."""

    def __init__(self, capacity: int = 1024) -> None:
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
                try:
                    await plugin.notify("usage.handle", record)
                    self.delivered += 1
                except Exception as exc:
                    logger.warning("usage plugin %s did not take a record: %s", plugin.id, exc)
