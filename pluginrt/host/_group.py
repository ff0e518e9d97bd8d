"""A plugin run as several processes (``instances: N``) behind one handle.

Guarantees: a call goes to the running instance with the fewest calls in
flight and streams open (ties in turn); a stream, the
``executor.execute_stream`` call that starts it and the plugin's callbacks
while serving it stay on the instance that opened it. Each instance is
supervised (and restarted) on its own, so a crash of one leaves the others
serving; the group is ``running`` while any is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

import trio

from pluginrt.api import Capabilities, HostConfigSummary, Metadata
from pluginrt.rpc import IncomingStream

from ._declaration import Declaration
from ._launcher import Launchers
from ._plugin import _DEFAULT, _KEY, Callbacks, PluginHandle, PluginState, PluginStatistics
from ._plugin import Registrations as Registrations
from ._spec import PluginSpec

__all__ = ["PluginGroup"]

T = TypeVar("T")


class PluginGroup(PluginHandle):
    """``spec.instances`` handles of one plugin, used as one :class:`PluginHandle`."""

    def __init__(
        self,
        key: object,
        spec: PluginSpec,
        callbacks: Callbacks | None,
        host: HostConfigSummary,
        launchers: Launchers | None = None,
    ) -> None:
        super().__init__(key, spec, callbacks, host, launchers)
        one = dataclasses.replace(spec, instances=1)
        self.instances: tuple[PluginHandle, ...] = tuple(
            PluginHandle(_KEY, one, callbacks, host, launchers) for _ in range(spec.instances)
        )
        for index, handle in enumerate(self.instances):
            handle.instance = index
            handle._stream_prefix = f"i{index}s"
            handle.logger = handle.logger.getChild(str(index))
        # Streams opened and not yet started, by id: the instance that owns each.
        self._owners: dict[str, PluginHandle] = {}
        self._turn = 0

    # ------------------------------------------------------------ properties

    def _current(self) -> PluginHandle:
        """The first running instance (else the first): what the group reports."""
        for handle in self.instances:
            if handle.state is PluginState.RUNNING:
                return handle
        return self.instances[0]

    @property
    def state(self) -> PluginState:
        return self._current().state

    @property
    def pid(self) -> int | None:
        return self._current().pid

    @property
    def pids(self) -> tuple[int | None, ...]:
        """Each instance's pid (None where it is not running)."""
        return tuple(handle.pid for handle in self.instances)

    @property
    def restarts(self) -> int:
        return sum(handle.restarts for handle in self.instances)

    @property
    def declaration(self) -> Declaration | None:
        return self._current().declaration

    @property
    def metadata(self) -> Metadata:
        return self._current().metadata

    @property
    def capabilities(self) -> Capabilities:
        return self._current().capabilities

    @property
    def registrations(self) -> Registrations:
        return self._current().registrations

    @property
    def last_error(self) -> BaseException | None:
        errors = [h.last_error for h in self.instances if h.last_error is not None]
        return errors[-1] if errors else None

    def statistics(self) -> PluginStatistics:
        """The instances' counters summed (see :meth:`instance_statistics` for each)."""
        each = self.instance_statistics()
        error = self.last_error
        return PluginStatistics(
            state=self.state,
            calls=sum(s.calls for s in each),
            errors=sum(s.errors for s in each),
            in_flight=sum(s.in_flight for s in each),
            streams_open=sum(s.streams_open for s in each),
            restarts=sum(s.restarts for s in each),
            last_error=None if error is None else str(error),
        )

    def instance_statistics(self) -> list[PluginStatistics]:
        return [handle.statistics() for handle in self.instances]

    def __repr__(self) -> str:
        return f"<PluginGroup {self.id!r} {self.state} pids={list(self.pids)}>"

    # ----------------------------------------------------------------- calls

    def _least_busy(self) -> PluginHandle:
        """The running instance with the least load; ties go round robin."""
        start = self._turn
        self._turn = (start + 1) % len(self.instances)
        ring = self.instances[start:] + self.instances[:start]
        running = [h for h in ring if h.state is PluginState.RUNNING]
        if not running:
            return self.instances[0]  # fails fast, saying why
        return min(running, key=_load)

    async def call(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        timeout: float | None = _DEFAULT,  # noqa: ASYNC109
        callback_id: str | None = None,
    ) -> T:
        stream_id = getattr(params, "stream_id", None)
        owner = self._owners.pop(stream_id, None) if isinstance(stream_id, str) else None
        handle = owner if owner is not None else self._least_busy()
        return await handle.call(
            method, params, result_type, timeout=timeout, callback_id=callback_id
        )

    async def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Reconfigure every running instance, in order; the first refusal is raised
        (instances before it keep the new section). An instance not running (a
        restart under way) registers with the new section when it starts again."""
        for handle in self.instances:
            if handle.state is PluginState.RUNNING:
                await handle.reconfigure(config)
        for handle in self.instances:
            if handle.state is not PluginState.RUNNING:
                handle.spec = dataclasses.replace(handle.spec, config=config)
        self.spec = dataclasses.replace(self.spec, config=config)

    async def notify(self, method: str, params: Any, *, callback_id: str | None = None) -> None:
        await self._least_busy().notify(method, params, callback_id=callback_id)

    def open_stream(self, window: int) -> IncomingStream:
        handle = self._least_busy()
        stream = handle.open_stream(window)
        if len(self._owners) > 1024:  # opened and never started: forget the oldest
            del self._owners[next(iter(self._owners))]
        self._owners[stream.stream_id] = handle
        return stream

    # ------------------------------------------------------------ supervision

    def _launch(self, nursery: trio.Nursery) -> None:
        assert self._done.is_set(), "already supervised"
        self._done = trio.Event()
        for handle in self.instances:
            handle._launch(nursery)
        nursery.start_soon(self._watch)

    async def _watch(self) -> None:
        for handle in self.instances:
            await handle._done.wait()
        self._done.set()

    async def _wait_settled(self) -> None:
        for handle in self.instances:
            await handle._wait_settled()

    async def _stop(self) -> None:
        async with trio.open_nursery() as nursery:
            for handle in self.instances:
                nursery.start_soon(handle._stop)
        await self._done.wait()


def _load(handle: PluginHandle) -> int:
    """Calls in flight plus streams open on ``handle``'s current run."""
    connection = handle._connection
    return handle._in_flight + (len(connection._incoming) if connection is not None else 0)
