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


class _Lane:
    """One usage plugin's own bounded queue, so a slow or restarting one delays nobody else."""

    def __init__(self, plugin: PluginLike, capacity: int) -> None:
        self.plugin = plugin
        self.send, self.receive = trio.open_memory_channel[UsageRecord](capacity)
        #: Records queued and not yet delivered or given up on (see UsageQueue.flush).
        self.unsettled = 0
        self.delivered = 0
        self.dropped = 0


class UsageQueue:
    """:meth:`put` never blocks: each usage plugin has a bounded queue of its own, and a
    full one drops the record and counts it."""

    def __init__(self, capacity: int = 1024, *, retry_for: float = 10.0) -> None:
        self.capacity = capacity
        self.retry_for = retry_for
        self._lanes: dict[str, _Lane] = {}
        self._nursery: trio.Nursery | None = None

    def put(self, record: UsageRecord, plugins: Sequence[PluginLike]) -> None:
        for plugin in plugins:
            lane = self._lanes.get(plugin.id)
            if lane is None:
                lane = self._lanes[plugin.id] = _Lane(plugin, self.capacity)
                if self._nursery is not None:
                    self._nursery.start_soon(self._serve, lane)
            lane.plugin = plugin  # the newest handle under this id (a reload may replace it)
            try:
                lane.send.send_nowait(record)
                lane.unsettled += 1
            except trio.WouldBlock:
                lane.dropped += 1
                if lane.dropped & (lane.dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th...: not a flood
                    logger.warning(
                        "usage queue of %s full (%d records): a record was dropped (%d so far; "
                        "next said at %d)",
                        plugin.id,
                        self.capacity,
                        lane.dropped,
                        2 * lane.dropped,
                    )

    @property
    def delivered(self) -> int:
        """Records delivered, to every usage plugin."""
        return sum(lane.delivered for lane in self._lanes.values())

    @property
    def dropped(self) -> int:
        """Records dropped (a full queue, or a plugin that did not take them), in all."""
        return sum(lane.dropped for lane in self._lanes.values())

    def statistics(self) -> dict[str, dict[str, int]]:
        """Per usage plugin: records ``delivered``, ``dropped`` (queue full, or the plugin
        did not take them) and ``queued`` (not yet delivered)."""
        return {
            plugin_id: {
                "delivered": lane.delivered,
                "dropped": lane.dropped,
                "queued": lane.unsettled,
            }
            for plugin_id, lane in self._lanes.items()
        }

    def rebind(self, plugins: Sequence[PluginLike]) -> None:
        """The handles now under these ids (a reload or restart replaced some): records
        queued for an id go to its new handle, not to the old one about to stop."""
        for plugin in plugins:
            lane = self._lanes.get(plugin.id)
            if lane is not None:
                lane.plugin = plugin

    async def run(self) -> None:
        """Deliver records until cancelled (run it in the host's nursery)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for lane in self._lanes.values():
                    nursery.start_soon(self._serve, lane)
                await trio.sleep_forever()
        finally:
            self._nursery = None

    async def flush(self) -> None:
        """Wait until every record put so far is delivered or given up on: the host
        waits for this (within a bound) before it stops, so the records of the last
        requests are not lost with the queue."""
        while any(lane.unsettled for lane in self._lanes.values()):  # noqa: ASYNC110
            await trio.sleep(0.01)

    async def _serve(self, lane: _Lane) -> None:
        async for record in lane.receive:
            delivered = False
            try:
                delivered = await self._deliver(lane, record)
            finally:
                lane.unsettled -= 1
                if delivered:
                    lane.delivered += 1
                else:
                    lane.dropped += 1

    async def _deliver(self, lane: _Lane, record: UsageRecord) -> bool:
        """Hand ``record`` to the lane's plugin, waiting (within ``retry_for``) for one that
        is restarting, or rebound; False if it did not take it."""
        deadline = trio.current_time() + self.retry_for
        delay = 0.05
        while True:
            plugin = lane.plugin
            try:
                await plugin.notify("usage.handle", record)
            except (PluginUnavailable, PluginCrashed) as exc:
                # Back soon (crashed, starting, restarting): wait for it, within the bound.
                coming_back = getattr(exc, "state", "restarting") in _COMING_BACK
                if lane.plugin is not plugin:
                    continue  # rebound meanwhile: try the new handle at once
                if not coming_back or trio.current_time() + delay > deadline:
                    logger.warning("usage plugin %s did not take a record: %s", plugin.id, exc)
                    return False
                await trio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except Exception as exc:
                logger.warning("usage plugin %s did not take a record: %s", plugin.id, exc)
                return False
            else:
                return True
