"""The host callbacks a plugin may call: ``host.log``, ``host.http.*``, ``host.model.*``,
``host.auth.*``; a ``host.log`` line made for a client request names the request.

Outbound HTTP goes through one shared httpx client per proxy URL (an auth's
``ProxyURL`` first, then the configured one). Nested model calls run the
whole pipeline except the calling plugin's interceptors. Streams opened
under a callback scope are closed when that scope closes (the calling RPC
returned, or the executor stream it serves ended); reads give chunks of at
most 32 KiB, then ``done``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import trio

from pluginrt.api import (
    HostAuthGetRequest,
    HostAuthGetResponse,
    HostAuthGetRuntimeResponse,
    HostAuthListResponse,
    HostAuthSaveRequest,
    HostAuthSaveResponse,
    HostHTTPStreamResponse,
    HostModelExecutionRequest,
    HostModelExecutionResponse,
    HostModelStreamCloseRequest,
    HostModelStreamReadRequest,
    HostModelStreamReadResponse,
    HostModelStreamResponse,
    HostStreamCloseRequest,
    HostStreamReadRequest,
    HTTPRequest,
    HTTPResponse,
    LogParams,
)
from pluginrt.host._plugin import log_plugin_line
from pluginrt.rpc import CallContext, Empty, Handler, HandlerError, StreamError

from ._authstore import AuthStore, AuthStoreError
from ._callbacks import CallbackRegistry
from ._pipeline import Pipeline
from ._rules import canonical_headers
from ._types import ClientRequest, ClientResponse, Endpoint, PipelineError, PluginLike

__all__ = ["HTTPBridge", "HostServices"]

logger = logging.getLogger("pluginrt.callbacks")

#: The largest chunk one ``stream_read`` returns.
READ_CHUNK = 32 * 1024


class HTTPBridge:
    """Outbound HTTP for plugins: one httpx client per proxy URL, shared by all calls."""

    def __init__(self, proxy_url: str = "", timeout: float = 60.0) -> None:
        self.proxy_url = proxy_url
        self.timeout = timeout
        self._clients: dict[str, httpx.AsyncClient] = {}

    def client(self, proxy_url: str = "") -> httpx.AsyncClient:
        proxy = proxy_url or self.proxy_url
        client = self._clients.get(proxy)
        if client is None:
            client = self._clients[proxy] = httpx.AsyncClient(
                proxy=proxy or None, timeout=self.timeout, trust_env=False
            )
        return client

    def _request(self, client: httpx.AsyncClient, request: HTTPRequest) -> httpx.Request:
        if not request.url.startswith(("http://", "https://")):
            raise HandlerError(
                f"host.http: URL must be absolute http(s), got {request.url!r}", http_status=400
            )
        headers = [(k, v) for k, values in request.headers.items() for v in values]
        return client.build_request(
            request.method.upper() or "GET", request.url, headers=headers, content=request.body
        )

    def _failed(self, method: str, request: HTTPRequest, exc: httpx.HTTPError) -> HandlerError:
        """The error a plugin gets for a request that got no answer: a timeout (504) says
        so (httpx's message is empty), anything else is unreachable (502)."""
        name = f"{method} {request.method.upper() or 'GET'} {request.url}"
        if isinstance(exc, httpx.TimeoutException):
            return HandlerError(
                f"{name}: no answer within {self.timeout:g}s (request-timeout)",
                code="upstream_timeout",
                http_status=504,
                retryable=True,
            )
        return HandlerError(
            f"{name}: {str(exc) or type(exc).__name__}",
            code="upstream_unreachable",
            http_status=502,
            retryable=True,
        )

    async def do(self, request: HTTPRequest, proxy_url: str = "") -> HTTPResponse:
        client = self.client(proxy_url)
        try:
            response = await client.send(self._request(client, request))
        except httpx.HTTPError as exc:
            raise self._failed("host.http.do", request, exc) from None
        return HTTPResponse(
            status_code=response.status_code,
            headers=canonical_headers(response.headers.multi_items()),
            body=response.content,
        )

    async def open(self, request: HTTPRequest, proxy_url: str = "") -> httpx.Response:
        client = self.client(proxy_url)
        try:
            return await client.send(self._request(client, request), stream=True)
        except httpx.HTTPError as exc:
            raise self._failed("host.http.do_stream", request, exc) from None

    async def body(self, response: httpx.Response, request: HTTPRequest) -> AsyncIterator[bytes]:
        """``response``'s raw body; a failed read raises an error naming the request
        (httpx's own can say nothing: a read timeout's message is empty)."""
        chunks = response.aiter_raw()
        try:
            async for chunk in chunks:
                yield chunk
        except httpx.HTTPError as exc:
            name = f"host.http.do_stream {request.method.upper() or 'GET'} {request.url}"
            why = f"{exc}" or type(exc).__name__
            if isinstance(exc, httpx.TimeoutException):
                why = f"no data for {self.timeout:g}s (request-timeout)"
            raise StreamError(f"{name}: {why}") from None
        finally:
            await _finalize(chunks)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


class _HostStream:
    """A host-owned stream a plugin pulls with ``stream_read``."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        close: Callable[[], Awaitable[None]],
        first: bytes | None = b"",
    ) -> None:
        """``first``: a chunk read from ``chunks`` already (None: they had ended)."""
        self._chunks = chunks
        self._close = close
        self._rest = first or b""
        self._lock = trio.Lock()
        self.done = first is None

    async def read(self) -> HostModelStreamReadResponse:
        async with self._lock:
            if not self._rest and not self.done:
                try:
                    self._rest = await anext(self._chunks)
                except StopAsyncIteration:
                    self.done = True
                except Exception as exc:
                    self.done = True
                    await self.close()
                    return HostModelStreamReadResponse(error=str(exc), done=True)
            if self._rest:
                chunk, self._rest = self._rest[:READ_CHUNK], self._rest[READ_CHUNK:]
                return HostModelStreamReadResponse(payload=chunk)
            await self.close()
            return HostModelStreamReadResponse(done=True)

    async def close(self) -> None:
        """Finalize the chunk iterator now (not when it is collected), then its source."""
        self.done = True
        self._rest = b""
        close, self._close = self._close, _nothing
        if close is _nothing:
            return
        await _finalize(self._chunks)
        await close()


async def _finalize(chunks: AsyncIterator[bytes]) -> None:
    """Finalize an async generator now, not when it is collected."""
    finalize = getattr(chunks, "aclose", None)
    if finalize is not None:
        # RuntimeError: a read is iterating it right now and ends it itself.
        with contextlib.suppress(RuntimeError):
            await finalize()


async def _nothing() -> None:
    return None


class HostServices:
    """Builds the ``host.*`` handlers of each plugin connection."""

    def __init__(
        self,
        pipeline: Pipeline,
        auths: AuthStore,
        http: HTTPBridge,
        callbacks: CallbackRegistry,
        plugins: Callable[[], list[PluginLike]],
    ) -> None:
        self.pipeline = pipeline
        self.auths = auths
        self.http = http
        self.callbacks = callbacks
        self._plugins = plugins
        self._streams: dict[str, _HostStream] = {}
        self._ids = itertools.count(1)

    def handlers_for(self, plugin: PluginLike) -> dict[str, Handler]:
        """The handlers serving ``plugin``'s callbacks (the caller is known by connection)."""
        caller = plugin.id

        async def log(params: LogParams, ctx: CallContext) -> None:
            request = self.callbacks.request_of(ctx.callback_id)
            log_plugin_line(plugin.logger, params, f"request {request}" if request else "")

        async def http_do(params: HTTPRequest, ctx: CallContext) -> HTTPResponse:
            return await self.http.do(params, self._proxy_for(ctx))

        async def http_do_stream(params: HTTPRequest, ctx: CallContext) -> HostHTTPStreamResponse:
            response = await self.http.open(params, self._proxy_for(ctx))
            chunks = self.http.body(response, params)
            stream_id = self._register(ctx, "h", _HostStream(chunks, response.aclose))
            return HostHTTPStreamResponse(
                status_code=response.status_code,
                headers=canonical_headers(response.headers.multi_items()),
                stream_id=stream_id,
            )

        async def stream_read(
            params: HostStreamReadRequest | HostModelStreamReadRequest, ctx: CallContext
        ) -> HostModelStreamReadResponse:
            if not params.stream_id:
                raise HandlerError(f"{ctx.method}: stream_id must not be empty", http_status=400)
            stream = self._streams.get(params.stream_id)
            if stream is None:
                return HostModelStreamReadResponse(done=True)
            answer = await stream.read()
            if answer.done:
                self._streams.pop(params.stream_id, None)
            return answer

        async def stream_close(
            params: HostStreamCloseRequest | HostModelStreamCloseRequest, ctx: CallContext
        ) -> Empty:
            stream = self._streams.pop(params.stream_id, None)
            if stream is not None:
                await stream.close()
            return Empty()

        async def model_execute(
            params: HostModelExecutionRequest, ctx: CallContext
        ) -> HostModelExecutionResponse:
            if params.stream:
                raise HandlerError(
                    "host.model.execute requires stream: false (use host.model.execute_stream)",
                    http_status=400,
                )
            answer = await self.pipeline.handle(
                self._client_request(params, Endpoint.GENERATE),
                exclude=caller,
                authenticated=True,
            )
            assert isinstance(answer, ClientResponse)
            return HostModelExecutionResponse(
                status_code=answer.status, headers=answer.headers, body=answer.body
            )

        async def model_execute_stream(
            params: HostModelExecutionRequest, ctx: CallContext
        ) -> HostModelStreamResponse:
            if not params.stream:
                raise HandlerError(
                    "host.model.execute_stream requires stream: true", http_status=400
                )
            answer = await self.pipeline.handle(
                self._client_request(params, Endpoint.STREAM), exclude=caller, authenticated=True
            )
            if isinstance(answer, ClientResponse):
                raise HandlerError(
                    answer.body.decode("utf-8", "replace"), http_status=answer.status
                )
            # As the gateway does, answer once the first chunk is in: a stream that fails
            # before it fails this call with its status, not a 200 whose first read fails.
            chunks = answer.chunks
            try:
                first = await anext(chunks, None)
            except BaseException as exc:
                with trio.CancelScope(shield=True):
                    await answer.aclose()
                if isinstance(exc, PipelineError):
                    raise HandlerError(exc.message, code=exc.code, http_status=exc.status) from None
                raise
            stream_id = self._register(ctx, "m", _HostStream(chunks, answer.aclose, first))
            return HostModelStreamResponse(
                status_code=answer.status, headers=answer.headers, stream_id=stream_id
            )

        return {
            "host.log": Handler(LogParams, log),
            "host.http.do": Handler(HTTPRequest, http_do),
            "host.http.do_stream": Handler(HTTPRequest, http_do_stream),
            "host.http.stream_read": Handler(HostStreamReadRequest, stream_read),
            "host.http.stream_close": Handler(HostStreamCloseRequest, stream_close),
            "host.model.execute": Handler(HostModelExecutionRequest, model_execute),
            "host.model.execute_stream": Handler(HostModelExecutionRequest, model_execute_stream),
            "host.model.stream_read": Handler(HostModelStreamReadRequest, stream_read),
            "host.model.stream_close": Handler(HostModelStreamCloseRequest, stream_close),
            "host.auth.list": Handler(Empty, self._auth_list),
            "host.auth.get": Handler(HostAuthGetRequest, self._auth_get),
            "host.auth.get_runtime": Handler(HostAuthGetRequest, self._auth_get_runtime),
            "host.auth.save": Handler(HostAuthSaveRequest, self._auth_save),
        }

    # -------------------------------------------------------------- helpers

    def _client_request(self, params: HostModelExecutionRequest, endpoint: Endpoint) -> Any:
        return ClientRequest(
            format=params.entry_protocol or "openai",
            endpoint=endpoint,
            model=params.model,
            body=params.body,
            headers=params.headers,
            query=params.query,
            alt=params.alt,
        )

    def _proxy_for(self, ctx: CallContext) -> str:
        scope = self.callbacks.get(ctx.callback_id)
        return scope.proxy_url if scope is not None else ""

    def _register(self, ctx: CallContext, kind: str, stream: _HostStream) -> str:
        stream_id = f"{kind}{next(self._ids)}"
        self._streams[stream_id] = stream

        async def close() -> None:
            self._streams.pop(stream_id, None)
            await stream.close()

        scope = self.callbacks.get(ctx.callback_id)
        if scope is not None:
            scope.streams[stream_id] = close
        return stream_id

    async def aclose(self) -> None:
        """Close every host stream still open."""
        while self._streams:
            _, stream = self._streams.popitem()
            await stream.close()

    # ---------------------------------------------------------------- auth

    async def _auth_list(self, params: Empty, ctx: CallContext) -> HostAuthListResponse:
        return HostAuthListResponse(files=[e.entry() for e in self.auths.entries()])

    def _entry(self, auth_index: str, method: str) -> Any:
        entry = self.auths.get(auth_index)
        if entry is None:
            raise HandlerError(f"{method}: no auth with auth_index {auth_index!r}", http_status=404)
        return entry

    async def _auth_get(self, params: HostAuthGetRequest, ctx: CallContext) -> HostAuthGetResponse:
        entry = self._entry(params.auth_index, "host.auth.get")
        try:
            value = msgspec.json.decode(await trio.Path(entry.path).read_bytes())
        except (OSError, msgspec.DecodeError) as exc:
            raise HandlerError(f"host.auth.get: {entry.name}: {exc}", http_status=500) from None
        return HostAuthGetResponse(
            auth_index=entry.index, name=entry.name, path=str(entry.path), json=value
        )

    async def _auth_get_runtime(
        self, params: HostAuthGetRequest, ctx: CallContext
    ) -> HostAuthGetRuntimeResponse:
        return HostAuthGetRuntimeResponse(
            auth=self._entry(params.auth_index, "host.auth.get_runtime").entry()
        )

    async def _auth_save(
        self, params: HostAuthSaveRequest, ctx: CallContext
    ) -> HostAuthSaveResponse:
        try:
            entry = await self.auths.add(self._plugins(), params.name, params.json)
        except AuthStoreError as exc:
            raise HandlerError(f"host.auth.save: {exc}", http_status=400) from None
        path = entry.path if entry is not None else self.auths.directory / params.name
        return HostAuthSaveResponse(name=params.name, path=str(path))
