"""Callback scopes: which client request (and which plugin call) a ``host.*`` call belongs to.

Every plugin call the pipeline makes for a request opens a scope whose id
travels as ``host_callback_id``; the plugin's callbacks carry it back. A
scope owns the host streams opened under it: when the call returns, the
scope is closed and so are they.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["CallbackRegistry", "CallbackScope"]


@dataclass
class CallbackScope:
    id: str
    request_id: str
    #: The plugin being called: its nested model calls skip its interceptors.
    plugin_id: str
    #: The proxy of the auth chosen for the request (``host.http.*`` goes through it).
    proxy_url: str = ""
    #: Closers of the host streams opened under this scope, by stream id.
    streams: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)


class CallbackRegistry:
    def __init__(self) -> None:
        self._scopes: dict[str, CallbackScope] = {}
        self._ids = itertools.count(1)

    def open(self, request_id: str, plugin_id: str, proxy_url: str = "") -> CallbackScope:
        scope = CallbackScope(f"{request_id}.{next(self._ids)}", request_id, plugin_id, proxy_url)
        self._scopes[scope.id] = scope
        return scope

    @staticmethod
    def request_of(scope_id: str | None) -> str:
        """The request a scope id belongs to (ids are ``<request id>.<n>``), even once closed.

        A ``host.log`` notification may be served after the call it came with
        returned and closed its scope; its id still names the request.
        """
        return scope_id.partition(".")[0] if scope_id else ""

    def get(self, scope_id: str | None) -> CallbackScope | None:
        return self._scopes.get(scope_id) if scope_id else None

    async def close(self, scope_id: str) -> None:
        """Forget the scope and close every stream still open under it."""
        scope = self._scopes.pop(scope_id, None)
        if scope is None:
            return
        while scope.streams:
            _, closer = scope.streams.popitem()
            await closer()

    def __len__(self) -> int:
        return len(self._scopes)
