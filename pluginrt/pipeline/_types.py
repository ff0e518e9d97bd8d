"""What goes into the pipeline and what comes out, independent of HTTP."""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pluginrt.api import Capabilities, Metadata
from pluginrt.host import Declaration, PluginState
from pluginrt.rpc import IncomingStream

__all__ = [
    "ClientRequest",
    "ClientResponse",
    "ClientStream",
    "Endpoint",
    "PipelineError",
    "PluginLike",
]

T = TypeVar("T")
Headers = dict[str, list[str]]


class Endpoint(enum.StrEnum):
    """What the client asked for."""

    GENERATE = "generate"
    STREAM = "stream"
    COUNT_TOKENS = "count_tokens"
    MODELS = "models"


@dataclass
class ClientRequest:
    """One client request as the pipeline sees it.

    ``format`` is the client's API format (``openai``, ``claude``, ...);
    ``headers`` and ``query`` carry the frontend credentials too.
    """

    format: str
    endpoint: Endpoint
    model: str = ""
    body: bytes = b""
    headers: Headers = field(default_factory=dict)
    query: Headers = field(default_factory=dict)
    method: str = "POST"
    path: str = ""
    alt: str = ""
    #: Set by the pipeline as it takes the request (``r12``, as its log lines name
    #: it), so a caller cut off before the answer can still name the request.
    request_id: str = ""


@dataclass
class ClientResponse:
    """A complete answer: status, headers, body."""

    status: int
    headers: Headers
    body: bytes
    #: The pipeline's id of the request (``r12``), as its log lines name it.
    request_id: str = ""


@dataclass
class ClientStream:
    """A streamed answer: status and headers now, chunks as they come.

    Iterate ``chunks`` to the end, or call :meth:`aclose` to stop early (the
    executor's stream is cancelled). Errors after the headers were sent end
    the iteration with a :class:`PipelineError`. ``batches`` gives the same
    chunks a list at a time: every chunk that was ready together, for a
    consumer that can send several at once. Use one or the other.
    """

    status: int
    headers: Headers
    batches: AsyncIterator[list[bytes]]
    _close: Callable[[], Awaitable[None]]
    #: The pipeline's id of the request (``r12``), as its log lines name it.
    request_id: str = ""

    @functools.cached_property
    def chunks(self) -> AsyncIterator[bytes]:
        return _flatten(self.batches)

    async def aclose(self) -> None:
        await self._close()


async def _flatten(batches: AsyncIterator[list[bytes]]) -> AsyncIterator[bytes]:
    async for batch in batches:
        for chunk in batch:
            yield chunk


class PipelineError(Exception):
    """A request failed; ``status`` and ``body`` are what the client gets.

    ``plugin_id`` names the plugin at fault, when one was.
    """

    def __init__(self, status: int, message: str, *, plugin_id: str = "", code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.plugin_id = plugin_id
        self.code = code


class PluginLike(Protocol):
    """What the pipeline needs of a running plugin (the host's handles provide it)."""

    @property
    def id(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def metadata(self) -> Metadata: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def declaration(self) -> Declaration | None:
        """What it declared in its handshake; None while it never got that far."""
        ...

    @property
    def state(self) -> PluginState: ...

    @property
    def logger(self) -> logging.Logger: ...

    async def call(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        callback_id: str | None = None,
    ) -> T: ...

    async def notify(self, method: str, params: Any) -> None: ...

    def open_stream(self, window: int) -> IncomingStream: ...
