"""The registry of supervised plugins: :func:`open_plugins` and :class:`Plugins`.

Guarantees: leaving ``open_plugins``'s block stops every plugin (gracefully
on a normal exit, by SIGKILL when cancelled), those replaced but not yet
retired included, and returns only once every process is reaped; one plugin
failing to start never keeps the others out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager

import trio

from pluginrt.api import HostConfigSummary

from ._group import PluginGroup
from ._launcher import Launchers
from ._plugin import _KEY, Callbacks, PluginHandle
from ._spec import PluginSpec

__all__ = ["Plugins", "open_plugins"]


class Plugins(Mapping[str, PluginHandle]):
    """Every plugin the host supervises, by id. Obtained from :func:`open_plugins`."""

    def __init__(
        self,
        key: object,
        nursery: trio.Nursery,
        callbacks: Callbacks | None,
        host: HostConfigSummary,
    ) -> None:
        if key is not _KEY:
            raise TypeError("Plugins has no public constructor; use open_plugins()")
        self._nursery = nursery
        self._callbacks = callbacks
        self._host = host
        self._handles: dict[str, PluginHandle] = {}
        #: Handles out of the registry (replaced, forgotten) whose processes still serve
        #: the requests they had: stopped by retire(), or by aclose().
        self._retiring: set[PluginHandle] = set()
        self._launchers = Launchers(nursery)

    def __getitem__(self, plugin_id: str) -> PluginHandle:
        return self._handles[plugin_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def __len__(self) -> int:
        return len(self._handles)

    def ordered(self) -> list[PluginHandle]:
        """Handles in chain order: priority descending, then id."""
        return sorted(self._handles.values(), key=lambda h: (-h.spec.priority, h.id))

    async def start(self, spec: PluginSpec) -> PluginHandle:
        """Start a new plugin; return its handle once its first start attempt is settled.

        The handle is then ``running``, or ``restarting``/``failed`` with
        ``last_error`` saying why; this never raises for the plugin's own
        failures. An id already present and not stopped is a ValueError.
        """
        await self.start_many([spec])
        return self._handles[spec.id]

    async def start_many(self, specs: Iterable[PluginSpec]) -> None:
        """Start several plugins concurrently (see :meth:`start`)."""
        started: list[PluginHandle] = []
        for spec in specs:
            current = self._handles.get(spec.id)
            if current is not None and current._done.is_set() is False:
                raise ValueError(f"plugin {spec.id!r} is already started")
            self._handles[spec.id] = handle = self._handle(spec)
            started.append(handle)
        await self._launch(started)

    async def start_beside(self, specs: Iterable[PluginSpec]) -> list[PluginHandle]:
        """Start each spec's plugin anew beside the handle of its id, concurrently, and
        return the new handles once their first start attempts are settled: out of
        the registry until :meth:`swap` puts them in (stop those it does not with
        :meth:`retire`). Requests thus never find an id between two processes."""
        fresh = [self._handle(spec) for spec in specs]
        self._retiring.update(fresh)
        await self._launch(fresh)
        return fresh

    def swap(self, handle: PluginHandle) -> PluginHandle:
        """Put a handle from :meth:`start_beside` in its id's place; return the one it
        replaces, still running for the requests that hold it (stop it with :meth:`retire`
        once they are done)."""
        replaced = self._handles[handle.id]
        self._handles[handle.id] = handle
        self._retiring.discard(handle)
        self._retiring.add(replaced)
        return replaced

    def forget(self, plugin_id: str) -> PluginHandle:
        """Take a plugin out of the registry, still running (stop it with :meth:`retire`)."""
        handle = self._handles.pop(plugin_id)
        self._retiring.add(handle)
        return handle

    async def retire(self, handles: Iterable[PluginHandle]) -> None:
        """Stop handles out of the registry (see :meth:`swap`, :meth:`forget`), concurrently."""
        handles = list(handles)
        async with trio.open_nursery() as nursery:
            for handle in handles:
                nursery.start_soon(handle._stop)
        self._retiring.difference_update(handles)

    def _handle(self, spec: PluginSpec) -> PluginHandle:
        kind = PluginGroup if spec.instances > 1 else PluginHandle
        return kind(_KEY, spec, self._callbacks, self._host, self._launchers)

    async def _launch(self, handles: list[PluginHandle]) -> None:
        for handle in handles:
            handle._launch(self._nursery)
        for handle in handles:
            await handle._wait_settled()

    async def stop(self, plugin_id: str) -> None:
        """Stop a plugin gracefully; its handle stays, in state ``stopped``."""
        await self._handles[plugin_id]._stop()

    async def restart(self, plugin_id: str) -> PluginHandle:
        """Stop the plugin and start it again on the same handle (restart count reset)."""
        handle = self._handles[plugin_id]
        await handle._stop()
        handle._launch(self._nursery)
        await handle._wait_settled()
        return handle

    async def remove(self, plugin_id: str) -> None:
        """Stop the plugin and forget its handle."""
        await self.stop(plugin_id)
        del self._handles[plugin_id]

    async def aclose(self) -> None:
        """Stop every plugin (retiring ones too), concurrently, then the launchers."""
        await self.retire([*self._handles.values(), *self._retiring])
        await self._launchers.aclose()


@asynccontextmanager
async def open_plugins(
    specs: Iterable[PluginSpec] = (),
    *,
    callbacks: Callbacks | None = None,
    host: HostConfigSummary | None = None,
) -> AsyncIterator[Plugins]:
    """Start ``specs`` and supervise them for the duration of the block.

    ``callbacks`` serves the plugins' ``host.*`` calls: a mapping of method
    name to :class:`pluginrt.rpc.Handler`, or a factory called once per
    handle with that handle (``host.log`` is served by default and may be
    overridden). ``host`` is the summary sent in ``plugin.register``.
    The block is entered once every plugin's first start attempt is settled.
    """
    specs = list(specs)
    ids = [spec.id for spec in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate plugin ids: {', '.join(duplicates)}")
    # The block's own exception is re-raised outside the nursery, unwrapped.
    error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        plugins = Plugins(_KEY, nursery, callbacks, host or HostConfigSummary())
        try:
            await plugins.start_many(specs)
            yield plugins
        except BaseException as exc:
            error = exc
        finally:
            try:
                # When cancelled, the polite part is skipped; each attempt
                # still kills and reaps its process under a shield.
                await plugins.aclose()
            finally:
                nursery.cancel_scope.cancel()
    if error is not None:
        raise error
