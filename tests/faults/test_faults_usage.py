"""Usage records while a usage plugin restarts: delivered once it is back, within a bound."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from pluginrt.api import UsageRecord
from pluginrt.host import PluginCrashed, PluginFailed, PluginUnavailable
from pluginrt.pipeline._usage import UsageQueue


class FlakyUsagePlugin:
    """Fails its first ``failures`` notifications with ``error``, then takes them."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.id = "usage"
        self.failures = failures
        self.error = error
        self.attempts = 0
        self.records: list[UsageRecord] = []

    async def notify(self, method: str, params: Any) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error
        self.records.append(params)


async def _deliver(queue: UsageQueue, plugin: FlakyUsagePlugin, count: int = 1) -> None:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            for n in range(count):
                queue.put(UsageRecord(model=f"m{n}"), [plugin])  # type: ignore[list-item]
            while len(plugin.records) < count:  # noqa: ASYNC110 - the queue sets no event
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "error",
    [
        PluginUnavailable("usage", "restarting"),
        PluginUnavailable("usage", "starting"),
        PluginCrashed("usage", -9, ""),
    ],
)
async def test_a_usage_record_waits_for_a_restarting_usage_plugin_and_is_delivered(
    error: Exception,
) -> None:
    queue = UsageQueue(retry_for=30)
    plugin = FlakyUsagePlugin(failures=3, error=error)
    await _deliver(queue, plugin, count=2)
    assert [r.model for r in plugin.records] == ["m0", "m1"]
    assert queue.delivered == 2


async def test_a_usage_record_for_a_failed_usage_plugin_is_dropped_at_once_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = UsageQueue(retry_for=30)
    plugin = FlakyUsagePlugin(failures=10**6, error=PluginFailed("usage", None))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            queue.put(UsageRecord(model="m"), [plugin])  # type: ignore[list-item]
            while plugin.attempts < 1:  # noqa: ASYNC110
                await trio.sleep(0.01)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert plugin.attempts == 1
    assert queue.delivered == 0
    assert any("did not take a record" in r.getMessage() for r in caplog.records)


async def test_a_usage_plugin_that_stays_away_loses_the_record_after_the_retry_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = UsageQueue(retry_for=0.3)
    plugin = FlakyUsagePlugin(failures=10**6, error=PluginUnavailable("usage", "restarting"))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            queue.put(UsageRecord(model="m"), [plugin])  # type: ignore[list-item]
            while not any("did not take a record" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()
    assert 1 < plugin.attempts < 20
    assert queue.delivered == 0


async def test_a_restarting_usage_plugin_does_not_delay_records_for_another_one() -> None:
    queue = UsageQueue(retry_for=60)
    away = FlakyUsagePlugin(failures=10**6, error=PluginUnavailable("away", "restarting"))
    away.id = "away"
    here = FlakyUsagePlugin(failures=0, error=RuntimeError("unused"))
    here.id = "here"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            for n in range(3):
                queue.put(UsageRecord(model=f"m{n}"), [away, here])  # type: ignore[list-item]
            while len(here.records) < 3:  # noqa: ASYNC110 - the queue sets no event
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert [r.model for r in here.records] == ["m0", "m1", "m2"]
    assert away.records == []


async def test_flush_waits_until_every_record_put_is_delivered() -> None:
    # What a stopping host waits for: records still queued would go down with the queue.
    queue = UsageQueue(retry_for=30)
    plugin = FlakyUsagePlugin(failures=2, error=PluginUnavailable("usage", "restarting"))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            await trio.testing.wait_all_tasks_blocked()
            for n in range(5):
                queue.put(UsageRecord(model=f"m{n}"), [plugin])  # type: ignore[list-item]
            await queue.flush()
            nursery.cancel_scope.cancel()
    assert [r.model for r in plugin.records] == [f"m{n}" for n in range(5)]


class StuckUsagePlugin(FlakyUsagePlugin):
    """Takes no record until ``release`` is set."""

    def __init__(self, plugin_id: str) -> None:
        super().__init__(failures=0, error=RuntimeError("unused"))
        self.id = plugin_id
        self.release = trio.Event()

    async def notify(self, method: str, params: Any) -> None:
        await self.release.wait()
        await super().notify(method, params)


async def test_a_full_queue_drops_and_counts_for_its_own_plugin_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = UsageQueue(capacity=2)
    stuck = StuckUsagePlugin("stuck")
    free = FlakyUsagePlugin(failures=0, error=RuntimeError("unused"))
    free.id = "free"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            for n in range(6):
                queue.put(UsageRecord(model=f"m{n}"), [stuck, free])  # type: ignore[list-item]
                await trio.testing.wait_all_tasks_blocked()  # free takes it; m0 stays stuck
            stats = queue.statistics()
            assert stats["stuck"] == {"delivered": 0, "dropped": 3, "queued": 3}
            stuck.release.set()
            await queue.flush()
            nursery.cancel_scope.cancel()
    assert [r.model for r in stuck.records] == ["m0", "m1", "m2"]
    assert [r.model for r in free.records] == [f"m{n}" for n in range(6)]
    assert queue.statistics() == {
        "stuck": {"delivered": 3, "dropped": 3, "queued": 0},
        "free": {"delivered": 6, "dropped": 0, "queued": 0},
    }
    assert (queue.delivered, queue.dropped) == (9, 3)
    # Said at the 1st and 2nd drop, next at the 4th: a full queue does not flood the log.
    said = [r.getMessage() for r in caplog.records if "a record was dropped" in r.getMessage()]
    assert [m.split("(")[-1] for m in said] == [
        "1 so far; next said at 2)",
        "2 so far; next said at 4)",
    ]


class StoppingUsagePlugin(FlakyUsagePlugin):
    """The handle a reload replaced: each notification waits for ``release``, then fails
    as a stopped plugin's does."""

    def __init__(self) -> None:
        super().__init__(failures=10**6, error=PluginUnavailable("usage", "stopped"))
        self.release = trio.Event()

    async def notify(self, method: str, params: Any) -> None:
        await self.release.wait()
        await super().notify(method, params)


async def test_records_queued_for_a_replaced_usage_plugin_go_to_its_new_handle() -> None:
    queue = UsageQueue(retry_for=30)
    old, new = StoppingUsagePlugin(), FlakyUsagePlugin(failures=0, error=RuntimeError("unused"))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            for n in range(3):
                queue.put(UsageRecord(model=f"m{n}"), [old])  # type: ignore[list-item]
            await trio.testing.wait_all_tasks_blocked()  # m0 is with the old handle
            queue.rebind([new])  # type: ignore[list-item]
            old.release.set()  # and it fails as it stops
            while len(new.records) < 3:  # noqa: ASYNC110 - the queue sets no event
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert [r.model for r in new.records] == ["m0", "m1", "m2"]
    assert (old.attempts, queue.delivered, queue.dropped) == (1, 3, 0)
