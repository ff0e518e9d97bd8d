"""The pipeline: one client request carried through every capability, as SEMANTICS.md says.

Order: frontend auth, request interceptors (before auth), model lookup, the
scheduler, request interceptors (after auth), request normalizers, request
translators, the thinking applier, the executor, response normalizers and
translators, response or stream-chunk interceptors, and one usage record.
When the executor declares several input formats, none of them the client's,
the request translators are first asked (before the after-auth interceptors,
which are told the format) which one they reach.

Every plugin call made for a request carries a ``host_callback_id`` that the
host callbacks use to find the request (and to skip the calling plugin's
interceptors on nested model calls). The arrangement of plugins is read once
per request, so a reload never changes a request already in flight.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import hmac
import itertools
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
import trio

from pluginrt.api import (
    ExecutorHTTPRequest,
    ExecutorHTTPResponse,
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStreamRequest,
    ExecutorStreamStart,
    FrontendAuthRequest,
    FrontendAuthResponse,
    HTTPRequest,
    PayloadResponse,
    RequestInterceptRequest,
    RequestInterceptResponse,
    RequestTransformRequest,
    ResponseInterceptRequest,
    ResponseInterceptResponse,
    ResponseTransformRequest,
    SchedulerOptions,
    SchedulerPickRequest,
    SchedulerPickResponse,
    StreamChunkInterceptRequest,
    StreamChunkInterceptResponse,
    ThinkingApplyRequest,
    UsageDetail,
    UsageFailure,
    UsageRecord,
)
from pluginrt.host import (
    PluginClosed,
    PluginCrashed,
    PluginError,
    PluginRemoteError,
    PluginState,
    PluginTimeout,
    PluginUnavailable,
)
from pluginrt.rpc import CANCELLED, INTERNAL_ERROR, METHOD_NOT_FOUND, StreamError

from ._callbacks import CallbackRegistry
from ._models import ModelRegistry, Route
from ._payloads import thinking_config, usage_detail
from ._rules import (
    ChunkHistory,
    apply_header_edits,
    canonical_headers,
    client_error,
    is_token,
    normalize_format,
    ordered,
)
from ._schedulers import BUILTIN_SCHEDULERS, BuiltinScheduler
from ._thinking import normalize_thinking
from ._types import (
    ClientRequest,
    ClientResponse,
    ClientStream,
    Endpoint,
    Headers,
    PipelineError,
    PluginLike,
)
from ._usage import UsageQueue

__all__ = ["Pipeline", "PipelineSettings"]

logger = logging.getLogger("pluginrt.pipeline")
T = TypeVar("T")

_JSON = {"Content-Type": ["application/json"]}


@dataclass
class PipelineSettings:
    """The host configuration the pipeline reads."""

    api_keys: Sequence[str] = ()
    scheduler: str = "round-robin"
    stream_window: int = 256


@dataclass
class _State:
    """One request on its way through the pipeline."""

    request: ClientRequest
    request_id: str
    plugins: list[PluginLike]
    exclude: str
    started: float
    requested_at: datetime.datetime
    stream: bool
    model: str
    headers: Headers
    body: bytes
    api_key: str = ""
    principal: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    route: Route | None = None
    auth_id: str = ""
    auth_index: str = ""
    auth_type: str = ""
    proxy_url: str = ""
    input_format: str = ""
    output_format: str = ""
    payload: bytes = b""
    ttft: float = 0.0
    detail: UsageDetail | None = None
    response_headers: Headers = field(default_factory=dict)
    thinking_effort: str = ""
    generation: int = 0
    finished: bool = False
    #: Chain steps that failed and were skipped: (method, "plugin X: why").
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _has(plugin: PluginLike, capability: str) -> bool:
    return getattr(plugin.capabilities, capability) is not None


def _chain(plugins: Sequence[PluginLike], capability: str) -> list[PluginLike]:
    """The plugins (already in order) that declare ``capability`` (a Capabilities attribute)."""
    return [p for p in plugins if _has(p, capability)]


def status_of(exc: BaseException) -> int:
    """The HTTP status a failed step maps to (SEMANTICS.md's last section); the one seam.

    A pipeline error carries its own; then the host's error tree: a timeout is
    504, a cancelled call 499, a plugin's error its ``http_status`` if that is an
    error status (4xx or 5xx; else 500: an error never answers 200 or a redirect),
    a plugin that is not running (or was given up on, or stopped under the
    call) 503; a stream ended with an error carries its ``http_status``.
    Anything else is 500.
    """
    status = 500
    if isinstance(exc, PipelineError):
        return exc.status
    if isinstance(exc, PluginTimeout):
        return 504
    if isinstance(exc, PluginRemoteError):
        if exc.code == CANCELLED:
            return 499
        status = exc.http_status
    elif isinstance(exc, PluginUnavailable | PluginClosed):
        return 503
    elif isinstance(exc, StreamError):
        status = exc.http_status
    return status if 400 <= status <= 599 else 500


def _auth_down(plugin: PluginLike) -> PipelineError:
    """The 503 of a frontend auth plugin that is down while no other way in is open."""
    return PipelineError(
        503,
        f"frontend auth plugin {plugin.id!r} is not running: no client is let in until it is back",
        plugin_id=plugin.id,
    )


def message_of(exc: BaseException) -> str:
    """What the client reads of ``exc`` (never a crashed plugin's stderr). A plugin's
    own error reads as it gave it (an upstream's message, say); a handler's exception
    (-32603) names the plugin, as the host's own errors do."""
    if isinstance(exc, PluginCrashed):
        return exc.summary
    if isinstance(exc, PluginRemoteError) and exc.code == INTERNAL_ERROR:
        return f"plugin {exc.plugin_id!r}: {exc.message}"
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else str(exc)


class Pipeline:
    """Carries client requests through the plugins that ``plugins()`` returns at the time."""

    def __init__(
        self,
        plugins: Callable[[], Sequence[PluginLike]],
        settings: PipelineSettings,
        models: ModelRegistry,
        usage: UsageQueue,
        callbacks: CallbackRegistry,
        auths: Any = None,
        *,
        down: Callable[[], Sequence[PluginLike]] = tuple,
    ) -> None:
        if settings.scheduler not in BUILTIN_SCHEDULERS:
            raise ValueError(f"scheduler must be one of {BUILTIN_SCHEDULERS}")
        self.settings = settings
        self.models = models
        self.usage = usage
        self.callbacks = callbacks
        self.auths = auths
        self._plugins = plugins
        # Plugins out of the chains now (failed): see _authenticate.
        self._down = down
        self._builtin = BuiltinScheduler()
        self._ids = itertools.count(1)
        #: Requests in flight by generation; :meth:`drain` waits for the older ones.
        self._generation = 0
        self._running: collections.Counter[int] = collections.Counter()
        self._progress = trio.lowlevel.ParkingLot()
        #: (plugin, method, restarts) of chain steps a plugin answered "method not
        #: found": a plugin serving half a capability is not asked the other half.
        self._unserved: set[tuple[str, str, int]] = set()

    # ------------------------------------------------------------- entry

    async def handle(
        self, request: ClientRequest, *, exclude: str = "", authenticated: bool = False
    ) -> ClientResponse | ClientStream:
        """Serve one client request. Errors come back as a :class:`ClientResponse`.

        ``exclude`` names a plugin whose interceptors are skipped (the caller
        of a nested ``host.model.execute``); ``authenticated`` skips frontend auth.
        """
        state = _State(
            request=request,
            request_id=f"r{next(self._ids)}",
            plugins=ordered(self._plugins()),
            exclude=exclude,
            started=time.monotonic(),
            requested_at=datetime.datetime.now(datetime.UTC),
            stream=request.endpoint is Endpoint.STREAM,
            model=request.model,
            headers={k: list(v) for k, v in request.headers.items()},
            body=request.body,
            generation=self._generation,
        )
        request.request_id = state.request_id
        self._running[state.generation] += 1
        streaming = False
        admitted = authenticated
        try:
            if not authenticated:
                await self._authenticate(state)
                admitted = True
            if request.endpoint is Endpoint.MODELS:
                answer: ClientResponse | ClientStream = self._list_models(state)
            else:
                answer = await self._execute(state)
            streaming = isinstance(answer, ClientStream)  # it ends when the stream does
            answer.request_id = state.request_id
            return answer
        except Exception as exc:
            status = status_of(exc)
            message = message_of(exc)
            logger.warning(
                "request %s (%s %s) failed with %d: %s",
                state.request_id,
                request.format,
                state.model or "-",
                status,
                # The plugin and the method named (what the client reads may name
                # neither); a crash's stderr is logged apart.
                str(exc) if isinstance(exc, PluginRemoteError) else message,
            )
            if admitted or status != 401:  # a client refused at the door made no request
                self._record_usage(state, failure=(status, message))
            # A refusal may come without any I/O (no key, a failed plugin): still yield,
            # so a client retrying in a tight loop cannot starve the host.
            await trio.lowlevel.checkpoint()
            body = client_error(status, message)
            return ClientResponse(status, dict(_JSON), body, request_id=state.request_id)
        except trio.Cancelled:  # the client went away, or the host stops: a 499 all the same
            if admitted:  # as with a 401, a client not yet let in made no request
                self._record_usage(state, failure=(499, "the request was cancelled"))
            raise
        finally:
            if not streaming:
                self._finished(state)

    def _finished(self, state: _State) -> None:
        """``state``'s request is over (once only): wake :meth:`drain`."""
        if state.finished:
            return
        state.finished = True
        self._leave(state.generation)

    def _leave(self, generation: int) -> None:
        """A request of ``generation`` is over: wake :meth:`drain`."""
        self._running[generation] -= 1
        if self._running[generation] <= 0:
            del self._running[generation]
        self._progress.unpark_all()

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until every request started before this call has finished.

        A stream counts until it ends or is closed. Gives up after ``timeout``
        seconds; returns whether all of them finished.
        """
        last = self._generation
        self._generation += 1
        with trio.move_on_after(timeout):
            while any(generation <= last for generation in self._running):
                await self._progress.park()
            return True
        logger.warning(
            "%d request(s) still in flight after %gs; going on without them",
            sum(n for g, n in self._running.items() if g <= last),
            timeout,
        )
        return False

    # ------------------------------------------------------ executor HTTP

    async def http_request(self, auth_id: str, request: HTTPRequest) -> ExecutorHTTPResponse:
        """Send ``request`` with auth ``auth_id``'s credential: ``executor.http_request``.

        The executor serving the auth's provider (the first in order) gets the
        request with the auth's ``StorageJSON``, metadata and attributes, and
        injects the credential itself; its ``host.http.*`` calls go through the
        auth's proxy. Raises :class:`PipelineError`: 400 for a bad method or
        URL, 404 for an unknown auth, 503 when no executor serves the auth's
        provider, 501 when that executor does not implement the method, 502
        when it fails (the message names the plugin and the method).
        """
        method = _http_method(request.method)
        if not request.url.startswith(("http://", "https://")):
            raise PipelineError(400, f"url must be an absolute http(s) URL, got {request.url!r}")
        entry = self.auths.find(auth_id) if self.auths is not None else None
        if entry is None:
            raise PipelineError(404, f"no auth with id {auth_id!r}")
        auth = entry.data
        executor = self.models.executor(ordered(self._plugins()), auth.provider)
        if executor is None:
            raise PipelineError(
                503, f"no executor serves provider {auth.provider!r} (auth {auth_id!r})"
            )
        params = ExecutorHTTPRequest(
            auth_id=auth.id,
            auth_provider=auth.provider,
            method=method,
            url=request.url,
            headers=canonical_headers((n, v) for n, vs in request.headers.items() for v in vs),
            body=request.body,
            storage_json=auth.storage_json,
            metadata=auth.metadata,
            attributes=auth.attributes,
        )
        generation = self._generation
        self._running[generation] += 1  # a reload waits for it, as for a client request
        try:
            return await self._scoped_call(
                f"r{next(self._ids)}",
                auth.proxy_url,
                executor,
                "executor.http_request",
                params,
                ExecutorHTTPResponse,
            )
        except PluginError as exc:
            raise _executor_failure(exc, executor.id, auth.provider) from exc
        finally:
            self._leave(generation)

    # ----------------------------------------------------- frontend auth

    def _refuse_while_auth_is_down(self, others: bool) -> None:
        """Fail closed: a frontend auth plugin that failed must not open the gateway. While
        an exclusive one is down no client is let in (the API keys stay off); while any
        is down and there is no other way in (``others``: keys or providers), neither.
        A plugin that never declared itself may be one: with no other way in, it counts."""
        down = self._down()
        auth = [p for p in down if p.capabilities.frontend_auth_provider]
        blocking = [p for p in auth if p.capabilities.frontend_auth_provider_exclusive]
        if blocking or (auth and not others):
            raise _auth_down((blocking or auth)[0])
        unknown = [p for p in down if p.declaration is None]
        if unknown and not others:
            plugin = unknown[0]
            raise PipelineError(
                503,
                f"plugin {plugin.id!r} has not declared its capabilities (it never finished "
                "its handshake): it may be the gateway's frontend auth, so no client is let "
                "in until it starts or is disabled",
                plugin_id=plugin.id,
            )

    async def _authenticate(self, state: _State) -> None:
        request = state.request
        providers = _chain(state.plugins, "frontend_auth_provider")
        exclusive = [p for p in providers if p.capabilities.frontend_auth_provider_exclusive]
        keys: Sequence[str] = () if exclusive else self.settings.api_keys
        # Before the exclusive one is chosen: another exclusive one that failed must not
        # hand the gate to the next in order.
        self._refuse_while_auth_is_down(bool(keys or providers))
        if exclusive:
            providers = exclusive[:1]
        if not keys and not providers:
            return  # no frontend auth configured: the gateway is open
        presented = _presented_key(request)
        # Bytes: compare_digest refuses str with non-ASCII characters (a client's latin-1 header).
        given = presented.encode("utf-8", "surrogateescape")
        if presented and any(hmac.compare_digest(given, k.encode()) for k in keys):
            state.api_key = presented
            return
        auth_request = FrontendAuthRequest(
            method=request.method,
            path=request.path,
            headers=request.headers,
            query=request.query,
            body=request.body,
        )
        down: list[PluginLike] = []  # not running when asked (restarting, crashed under it)
        for plugin in providers:
            try:
                answer = await self._call(
                    state, plugin, "frontend_auth.authenticate", auth_request, FrontendAuthResponse
                )
            except Exception as exc:
                logger.warning("frontend auth %s failed, next one: %s", plugin.id, exc)
                if isinstance(exc, PluginUnavailable | PluginClosed | PluginCrashed):
                    down.append(plugin)
                continue
            if answer.authenticated:
                state.principal = answer.principal
                state.api_key = presented
                state.metadata["principal"] = answer.principal
                state.metadata["frontend_auth"] = dict(answer.metadata)
                return
        if down and (exclusive or (not keys and len(down) == len(providers))):
            # Fail closed, as _refuse_while_auth_is_down: the one way in is down (a
            # restart under way), which is not the client's fault: no 401.
            raise _auth_down(down[0])
        raise PipelineError(401, "missing or invalid API key", code="invalid_api_key")

    # ------------------------------------------------------------ models

    def _list_models(self, state: _State) -> ClientResponse:
        data = [
            {
                "id": info.id,
                "object": info.object or "model",
                "created": info.created,
                "owned_by": info.owned_by or route.provider,
            }
            for info, route in self.models.listing(state.plugins)
        ]
        body = msgspec.json.encode({"object": "list", "data": data})
        return ClientResponse(200, dict(_JSON), body)

    # ---------------------------------------------------------- executing

    async def _execute(self, state: _State) -> ClientResponse | ClientStream:
        request = state.request
        source = normalize_format(request.format)
        await self._intercept_request(state, "request.intercept_before", "", state.model)
        route = self.models.route(state.plugins, state.model)
        if route is None and not state.model:
            raise PipelineError(400, "the request names no model")
        if route is None:
            # Its plugin may be between two processes (a restart, a reload swapping it):
            # a 503 to retry, not a 404 saying the model does not exist.
            down = {p.id: p for p in self._down() if p.state is not PluginState.FAILED}
            owner = next(
                (down[i] for i in self.models.registered_by(state.model) if i in down), None
            )
            if owner is not None:
                raise PipelineError(
                    503,
                    f"model {state.model!r} is served by plugin {owner.id!r}, which is not "
                    f"running now (state: {owner.state})",
                    plugin_id=owner.id,
                )
            raise PipelineError(404, f"model {state.model!r} is not served here")
        state.route = route
        caps = route.executor.capabilities
        state.input_format = _pick_format(caps.executor_input_formats, source)
        auth = await self._schedule(state, route)
        upstream_model = route.info.name or route.info.id if route.info else state.model
        declared = _formats(caps.executor_input_formats)
        probe = None
        if source not in declared and len(declared) > 1:
            probe = await self._reach_input_format(state, source, upstream_model, declared)
        await self._intercept_request(
            state, "request.intercept_after", state.input_format, upstream_model
        )
        payload = await self._normalize_request(state, source)
        payload = await self._translate_request(state, source, payload, upstream_model, probe)
        state.output_format = await self._reach_output_format(
            state, source, _formats(caps.executor_output_formats)
        )
        if state.output_format != source and not _chain(state.plugins, "response_translator"):
            # Its answer could not be turned back: say so before the upstream is paid for.
            raise PipelineError(
                502,
                f"no translator turns {state.output_format!r} responses into {source!r} "
                f"(model {state.model!r}): the executor was not called",
            )
        payload = await self._apply_thinking(state, route, payload)
        state.payload = payload
        # A stream's params are the same request plus its stream_id and window.
        request_type = ExecutorStreamRequest if state.stream else ExecutorRequest
        executor_request = request_type(
            model=upstream_model,
            format=state.output_format,
            stream=state.stream,
            alt=request.alt,
            headers=state.headers,
            query=request.query,
            original_request=request.body,
            source_format=state.input_format,
            payload=payload,
            metadata=dict(state.metadata),
        )
        if auth is not None:
            executor_request.auth_id = auth.data.id
            executor_request.auth_provider = auth.data.provider
            executor_request.storage_json = auth.data.storage_json
            executor_request.auth_metadata = auth.data.metadata
            executor_request.auth_attributes = auth.data.attributes
        if state.stream:
            return await self._execute_stream(state, route, executor_request, source)
        method = (
            "executor.count_tokens"
            if request.endpoint is Endpoint.COUNT_TOKENS
            else "executor.execute"
        )
        try:
            answer = await self._call(
                state, route.executor, method, executor_request, ExecutorResponse
            )
        except PluginRemoteError as exc:
            unserved = _not_implemented(exc, route.executor.id, method, f"model {state.model!r}")
            if unserved is None:
                raise
            raise unserved from exc
        body = await self._response_payload(state, source, answer.payload)
        headers = {k: list(v) for k, v in answer.headers.items()}
        state.detail = usage_detail(answer.payload)
        status, headers, body = await self._intercept_response(state, source, headers, body)
        state.response_headers = headers
        self._record_usage(state)
        return ClientResponse(status, headers, body)

    async def _execute_stream(
        self, state: _State, route: Route, params: ExecutorRequest, source: str
    ) -> ClientStream:
        assert isinstance(params, ExecutorStreamRequest)
        executor = route.executor
        window = self.settings.stream_window
        incoming = executor.open_stream(window)
        params.stream_id, params.window = incoming.stream_id, window
        scope = self.callbacks.open(state.request_id, executor.id, state.proxy_url)
        closed = started = False

        async def close() -> None:
            nonlocal closed
            if not closed:
                closed = True
                incoming.close()
                # Even a cancelled consumer must release the streams opened for it.
                with trio.move_on_after(5) as cleanup:
                    cleanup.shield = True
                    await self.callbacks.close(scope.id)

        # Until the stream is handed over, an error or a cancellation (the client went
        # away) closes it here: nobody else would.
        try:
            start = await executor.call(
                "executor.execute_stream",
                params,
                ExecutorStreamStart,
                callback_id=scope.id,
            )
            interceptors = [
                p
                for p in _chain(state.plugins, "stream_chunk_interceptor")
                if p.id != state.exclude
            ]
            headers = {k: list(v) for k, v in start.headers.items()}
            for plugin in interceptors:
                init = StreamChunkInterceptRequest(
                    source_format=source,
                    model=state.model,
                    requested_model=state.request.model,
                    request_headers=state.headers,
                    response_headers=headers,
                    original_request=state.request.body,
                    request_body=state.payload,
                    chunk_index=-1,
                    metadata=dict(state.metadata),
                )
                answer = await self._try(
                    state,
                    plugin,
                    "response.intercept_stream_chunk",
                    init,
                    StreamChunkInterceptResponse,
                )
                if answer is not None:
                    headers = apply_header_edits(headers, answer.clear_headers, answer.headers)
        except BaseException:
            await close()
            raise
        state.response_headers = headers

        # Chunks that came together go on together, unless a plugin is asked about
        # each: then each goes on as soon as its answers are in, not after the rest's.
        one_by_one = bool(interceptors) or any(
            _chain(state.plugins, capability)
            for capability in (
                "response_translator",
                "response_before_translator",
                "response_after_translator",
            )
        )

        async def batches() -> AsyncGenerator[list[bytes], None]:
            nonlocal started
            started = True  # from here on, this generator's finally records the usage
            chain_headers = dict(headers)
            history = ChunkHistory()
            index = 0
            received = 0  # chunks from the executor, for the log of a failure
            failure: tuple[int, str] | None = None
            try:
                while batch := await incoming.receive_batch():
                    received += len(batch)
                    ready: list[bytes] = []
                    for raw in batch:
                        if state.ttft == 0.0:
                            state.ttft = time.monotonic() - state.started
                        detail = usage_detail(raw)
                        if detail is not None:
                            state.detail = _merge_detail(state.detail, detail)
                        chunk = await self._response_payload(state, source, raw)
                        if not chunk:
                            continue
                        dropped = False
                        for plugin in interceptors:
                            call = StreamChunkInterceptRequest(
                                source_format=source,
                                model=state.model,
                                requested_model=state.request.model,
                                request_headers=state.headers,
                                response_headers=chain_headers,
                                body=chunk,
                                history_chunks=history.snapshot(),
                                chunk_index=index,
                                metadata=state.metadata,
                            )
                            answer = await self._try(
                                state,
                                plugin,
                                "response.intercept_stream_chunk",
                                call,
                                StreamChunkInterceptResponse,
                            )
                            if answer is None:
                                continue
                            chain_headers = apply_header_edits(
                                chain_headers, answer.clear_headers, answer.headers
                            )
                            if answer.drop_chunk:
                                dropped = True
                                break
                            if answer.body:
                                chunk = answer.body
                        index += 1
                        if not dropped:
                            history.add(chunk)
                            ready.append(chunk)
                            if one_by_one:
                                yield ready
                                ready = []
                    if ready:
                        yield ready
            except Exception as exc:
                if closed:  # the consumer closed the stream under this read: it went away
                    failure = (499, "the client went away")
                else:
                    said = message_of(exc)
                    if isinstance(exc, StreamError) and exc.code == "internal":
                        said = f"plugin {executor.id!r}: {said}"  # a handler's exception
                    failure = (status_of(exc), said)
                    logger.warning(
                        "request %s (%s %s): the stream of plugin %s failed after %d chunk(s) "
                        "with %d: %s",
                        state.request_id,
                        state.request.format,
                        state.model or "-",
                        executor.id,
                        received,
                        failure[0],
                        exc,
                    )
                raise PipelineError(*failure, plugin_id=executor.id) from exc
            except BaseException:
                failure = (499, "the client went away")
                raise
            finally:
                await close()
                self._record_usage(state, failure=failure)
                self._finished(state)

        stream = batches()

        async def aclose() -> None:
            """Stop early: the generator is finalized now, not whenever it is collected."""
            # RuntimeError: being iterated right now; its consumer's next step ends it.
            with contextlib.suppress(RuntimeError):
                await stream.aclose()
            await close()
            if not started:  # closed before its first chunk was asked for
                self._record_usage(state, failure=(499, "the stream was closed unread"))
            self._finished(state)

        return ClientStream(200, headers, stream, aclose)

    # ----------------------------------------------------------- chains

    async def _call(
        self,
        state: _State,
        plugin: PluginLike,
        method: str,
        params: Any,
        result_type: type[T],
    ) -> T:
        """One plugin call on behalf of ``state``'s request, with its callback scope."""
        return await self._scoped_call(
            state.request_id, state.proxy_url, plugin, method, params, result_type
        )

    async def _scoped_call(
        self,
        request_id: str,
        proxy_url: str,
        plugin: PluginLike,
        method: str,
        params: Any,
        result_type: type[T],
    ) -> T:
        """A plugin call under a callback scope of request ``request_id`` (its ``host.http.*``
        calls go through ``proxy_url``), closed with its streams when the call returns."""
        scope = self.callbacks.open(request_id, plugin.id, proxy_url)
        try:
            return await plugin.call(method, params, result_type, callback_id=scope.id)
        finally:
            # Even a cancelled call (its client went away) releases the streams it opened.
            with trio.move_on_after(5) as cleanup:
                cleanup.shield = True
                await self.callbacks.close(scope.id)

    async def _try(
        self,
        state: _State,
        plugin: PluginLike,
        method: str,
        params: Any,
        result_type: type[T],
    ) -> T | None:
        """A chain step: an error, a timeout or a crash is logged and the step skipped.

        A plugin that answers "method not found" (it serves only part of its
        capability, say ``request.intercept_before``) is skipped quietly for
        that method from then on, until it restarts.
        """
        key = (plugin.id, method, getattr(plugin, "restarts", 0))
        if key in self._unserved:
            return None
        try:
            return await self._call(state, plugin, method, params, result_type)
        except Exception as exc:
            if isinstance(exc, PluginRemoteError) and exc.code == METHOD_NOT_FOUND:
                self._unserved.add(key)
                logger.info("plugin %s does not serve %s: not asked again", plugin.id, method)
            else:
                logger.warning(
                    "request %s: %s of plugin %s failed, skipped: %s",
                    state.request_id,
                    method,
                    plugin.id,
                    exc,
                )
                if len(state.skipped) < 8:  # a long stream may fail a step at every chunk
                    state.skipped.append((method, f"plugin {plugin.id} failed: {message_of(exc)}"))
            return None

    async def _intercept_request(
        self, state: _State, method: str, to_format: str, model: str
    ) -> None:
        for plugin in _chain(state.plugins, "request_interceptor"):
            if plugin.id == state.exclude:
                continue
            params = RequestInterceptRequest(
                source_format=normalize_format(state.request.format),
                to_format=to_format,
                model=model,
                requested_model=state.request.model,
                stream=state.stream,
                headers=state.headers,
                body=state.body,
                metadata=dict(state.metadata),
            )
            answer = await self._try(state, plugin, method, params, RequestInterceptResponse)
            if answer is not None:
                state.headers = apply_header_edits(
                    state.headers, answer.clear_headers, answer.headers
                )
                if answer.body:
                    state.body = answer.body

    async def _schedule(self, state: _State, route: Route) -> Any:
        """Pick the auth the executor runs with (None: run without one)."""
        if self.auths is None:
            candidates = []
        else:
            candidates = self.auths.candidates(route.provider, state.model)
        scope = route.executor.capabilities.executor_model_scope or "both"
        if not candidates:
            if scope == "oauth":
                raise PipelineError(
                    503,
                    f"no usable auth for provider {route.provider!r} (model {state.model!r})",
                    plugin_id=route.executor.id,
                )
            return None
        offered = [a.candidate() for a in candidates]
        by_id = {a.data.id: a for a in candidates}
        builtin = self.settings.scheduler
        schedulers = _chain(state.plugins, "scheduler")
        if schedulers:
            plugin = schedulers[0]
            params = SchedulerPickRequest(
                plugin=plugin.metadata,
                provider=route.provider,
                providers=[route.provider],
                model=state.model,
                stream=state.stream,
                options=SchedulerOptions(headers=state.headers, metadata=dict(state.metadata)),
                candidates=offered,
            )
            answer = await self._call(
                state, plugin, "scheduler.pick", params, SchedulerPickResponse
            )
            if answer.handled and answer.auth_id in by_id:
                return self._chosen(state, by_id[answer.auth_id])
            if answer.handled and answer.delegate_builtin in BUILTIN_SCHEDULERS:
                builtin = answer.delegate_builtin
            else:
                logger.info(
                    "scheduler %s gave no usable pick (handled=%s auth=%r delegate=%r); using %s",
                    plugin.id,
                    answer.handled,
                    answer.auth_id,
                    answer.delegate_builtin,
                    builtin,
                )
        # An auth whose last refresh failed serves only when no other one can.
        healthy = [c for c in offered if c.status != "error"] or offered
        picked = self._builtin.pick(builtin, route.provider, state.model, healthy)
        assert picked is not None
        return self._chosen(state, by_id[picked.id])

    def _chosen(self, state: _State, auth: Any) -> Any:
        state.auth_id = auth.data.id
        state.auth_index = auth.index
        state.auth_type = auth.data.provider
        state.proxy_url = auth.data.proxy_url
        return auth

    async def _normalize_request(self, state: _State, source: str) -> bytes:
        body = state.body
        for plugin in _chain(state.plugins, "request_normalizer"):
            params = RequestTransformRequest(
                from_format=source,
                to_format=state.input_format,
                model=state.model,
                stream=state.stream,
                body=body,
            )
            answer = await self._try(state, plugin, "request.normalize", params, PayloadResponse)
            if answer is not None and answer.body:
                body = answer.body
        return body

    async def _first_answer(
        self, state: _State, capability: str, method: str, params: Any
    ) -> bytes:
        """A first-wins translation: the first non-empty answer in order, else ``b""``."""
        for plugin in _chain(state.plugins, capability):
            answer = await self._try(state, plugin, method, params, PayloadResponse)
            if answer is not None and answer.body:
                return answer.body
        return b""

    async def _reach_input_format(
        self, state: _State, source: str, model: str, declared: Sequence[str]
    ) -> tuple[bytes, bytes]:
        """Choose the input format among several declared, none of them the client's.

        The first declared one a request translator answers for (asked with the body
        as it is before the after-auth interceptors, which must be told the format);
        returns that body and its translation, for :meth:`_translate_request` to reuse.
        """
        for target in declared:
            translated = await self._translation(state, source, target, state.body, model)
            if translated:
                state.input_format = target
                return state.body, translated
        raise self._untranslatable(state, source, declared)

    async def _reach_output_format(
        self, state: _State, source: str, declared: Sequence[str]
    ) -> str:
        """The client's format if declared, else one whose responses a translator turns
        into it (SEMANTICS.md), the input format first; else the input format or the
        first declared.

        There is no response yet, so each response translator is asked about each
        candidate with the body ``{}``: an answer, or an error, says it translates
        that pair, as one that does not declines with an empty body before reading.
        """
        if source in declared or len(declared) < 2:
            return _pick_format(declared, source)
        candidates = sorted(declared, key=lambda name: name != state.input_format)
        for candidate in candidates:
            params = ResponseTransformRequest(
                from_format=candidate,
                to_format=source,
                model=state.model,
                stream=state.stream,
                original_request=state.request.body,
                body=b"{}",
            )
            for plugin in _chain(state.plugins, "response_translator"):
                try:
                    answer = await self._call(
                        state, plugin, "response.translate", params, PayloadResponse
                    )
                except Exception as exc:
                    if isinstance(exc, PluginRemoteError) and exc.code == METHOD_NOT_FOUND:
                        continue
                    logger.debug("%s failed on a probe: taken as translating", plugin.id)
                    return candidate
                if answer.body:
                    return candidate
        return candidates[0]

    async def _translate_request(
        self,
        state: _State,
        source: str,
        body: bytes,
        model: str,
        probe: tuple[bytes, bytes] | None,
    ) -> bytes:
        """Translate ``body`` to the input format; equal formats pass if nobody answers.

        ``probe`` is what :meth:`_reach_input_format` asked and got: reused when
        the interceptors and normalizers since left the body as it was.
        """
        if probe is not None and probe[0] == body:
            return probe[1]
        translated = await self._translation(state, source, state.input_format, body, model)
        if translated:
            return translated
        if state.input_format == source:
            return body
        raise self._untranslatable(state, source, [state.input_format])

    async def _translation(
        self, state: _State, source: str, target: str, body: bytes, model: str
    ) -> bytes:
        params = RequestTransformRequest(
            from_format=source, to_format=target, model=model, stream=state.stream, body=body
        )
        return await self._first_answer(state, "request_translator", "request.translate", params)

    @staticmethod
    def _untranslatable(state: _State, source: str, targets: Sequence[str]) -> PipelineError:
        return PipelineError(
            400,
            f"no translator turns {source!r} requests into "
            f"{' or '.join(map(repr, targets))} (model {state.model!r}"
            f"{_skipped(state, 'request.translate')})",
        )

    async def _apply_thinking(self, state: _State, route: Route, payload: bytes) -> bytes:
        """The first applier for the route's provider writes the client's reasoning
        settings, normalized to the model's ``Thinking`` support, into ``payload``; a
        model declaring no support gets none (as the Go proxy)."""
        config = thinking_config(state.request.body)
        if config is None:
            return payload
        state.thinking_effort = config.level or config.mode
        applier = next(
            (
                p
                for p in _chain(state.plugins, "thinking_applier")
                if (decl := p.capabilities.thinking_applier) is not None
                and decl.identifier.lower() == route.provider
            ),
            None,
        )
        info = route.info
        if applier is None or info is None or info.thinking is None:
            return payload
        params = ThinkingApplyRequest(
            provider=route.provider,
            model=info,
            config=normalize_thinking(config, info.thinking, state.model),
            body=payload,
        )
        answer = await self._try(state, applier, "thinking.apply", params, PayloadResponse)
        return answer.body if answer is not None and answer.body else payload

    async def _response_payload(self, state: _State, client_format: str, body: bytes) -> bytes:
        """normalize_before, translate back to the client's format, normalize_after."""
        body = await self._normalize_response(state, "response.normalize_before", body)
        params = ResponseTransformRequest(
            from_format=state.output_format,
            to_format=client_format,
            model=state.model,
            stream=state.stream,
            original_request=state.request.body,
            translated_request=state.payload,
            body=body,
        )
        translated = await self._first_answer(
            state, "response_translator", "response.translate", params
        )
        if translated:
            body = translated
        elif state.output_format != client_format:
            raise PipelineError(
                502,
                f"no translator turns {state.output_format!r} responses into "
                f"{client_format!r} (model {state.model!r}"
                f"{_skipped(state, 'response.translate')})",
            )
        frames = _frames(body) if state.stream else [body]
        if len(frames) < 2 or not _chain(state.plugins, "response_after_translator"):
            return await self._normalize_response(state, "response.normalize_after", body)
        # "normalize_after on each output frame": a translator may turn one chunk into several.
        normalized = [
            await self._normalize_response(state, "response.normalize_after", frame)
            for frame in frames
        ]
        return b"".join(normalized)

    async def _normalize_response(self, state: _State, method: str, body: bytes) -> bytes:
        capability = (
            "response_before_translator"
            if method == "response.normalize_before"
            else "response_after_translator"
        )
        for plugin in _chain(state.plugins, capability):
            params = ResponseTransformRequest(
                from_format=state.output_format,
                to_format=normalize_format(state.request.format),
                model=state.model,
                stream=state.stream,
                original_request=state.request.body,
                translated_request=state.payload,
                body=body,
            )
            answer = await self._try(state, plugin, method, params, PayloadResponse)
            if answer is not None and answer.body:
                body = answer.body
        return body

    async def _intercept_response(
        self, state: _State, source: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        for plugin in _chain(state.plugins, "response_interceptor"):
            if plugin.id == state.exclude:
                continue
            params = ResponseInterceptRequest(
                source_format=source,
                model=state.model,
                requested_model=state.request.model,
                stream=False,
                request_headers=state.headers,
                response_headers=headers,
                original_request=state.request.body,
                request_body=state.payload,
                body=body,
                status_code=200,
                metadata=dict(state.metadata),
            )
            answer = await self._try(
                state, plugin, "response.intercept_after", params, ResponseInterceptResponse
            )
            if answer is not None:
                headers = apply_header_edits(headers, answer.clear_headers, answer.headers)
                if answer.body:
                    body = answer.body
        return 200, headers, body

    # ------------------------------------------------------------- usage

    def _record_usage(self, state: _State, failure: tuple[int, str] | None = None) -> None:
        if state.request.endpoint is Endpoint.MODELS:
            return
        route = state.route
        executor_type = ""
        if route is not None and route.executor.capabilities.executor is not None:
            executor_type = route.executor.capabilities.executor.identifier
        record = UsageRecord(
            provider=route.provider if route else "",
            executor_type=executor_type,
            model=state.model,
            alias=state.request.model if route and route.info and route.info.name else "",
            api_key=state.api_key,
            auth_id=state.auth_id,
            auth_index=state.auth_index,
            auth_type=state.auth_type,
            source=normalize_format(state.request.format),
            reasoning_effort=state.thinking_effort,
            requested_at=state.requested_at,
            latency=int((time.monotonic() - state.started) * 1e9),
            ttft=int(state.ttft * 1e9),
            failed=failure is not None,
            failure=UsageFailure(status_code=failure[0], body=failure[1])
            if failure
            else UsageFailure(),
            detail=state.detail or UsageDetail(),
            response_headers=state.response_headers,
        )
        self.usage.put(record, [p for p in state.plugins if _has(p, "usage_plugin")])


def _presented_key(request: ClientRequest) -> str:
    """The API key a client presented: Bearer, x-api-key, x-goog-api-key or ?key=."""
    lowered = {k.lower(): v for k, v in request.headers.items()}
    for value in lowered.get("authorization", []):
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    for name in ("x-api-key", "x-goog-api-key"):
        for value in lowered.get(name, []):
            if value.strip():
                return value.strip()
    for value in request.query.get("key", []):
        if value:
            return value
    return ""


def _http_method(method: str) -> str:
    """``method`` upper-cased; a :class:`PipelineError` (400) unless it is a token."""
    upper = method.strip().upper()
    if not is_token(upper):
        raise PipelineError(400, f"method must be an HTTP method such as GET, got {method!r}")
    return upper


def _not_implemented(
    exc: Exception, plugin_id: str, method: str, serving: str
) -> PipelineError | None:
    """501 naming the executor (``serving``: what it is the executor of), if ``exc`` is
    its "method not found" for ``method``; else None."""
    if isinstance(exc, PluginRemoteError) and exc.code == METHOD_NOT_FOUND:
        return PipelineError(
            501,
            f"plugin {plugin_id!r}, the executor of {serving}, does not implement {method}",
            plugin_id=plugin_id,
        )
    return None


def _executor_failure(exc: PluginError, plugin_id: str, provider: str) -> PipelineError:
    """The error of a failed ``executor.http_request``: 501 not implemented, else 502."""
    method = "executor.http_request"
    unserved = _not_implemented(exc, plugin_id, method, f"provider {provider!r}")
    if unserved is not None:
        return unserved
    message = str(exc) if method in exc.reason else f"plugin {plugin_id!r}: {method}: {exc.reason}"
    return PipelineError(502, message, plugin_id=plugin_id)


def _skipped(state: _State, method: str) -> str:
    """``; plugin X failed: why`` for each ``method`` step of ``state`` that failed."""
    return "".join(f"; {why}" for skipped, why in state.skipped if skipped == method)


def _formats(declared: Sequence[str]) -> list[str]:
    """``declared`` format names normalized; empty and ``none`` are dropped (SEMANTICS.md)."""
    return [name for name in map(normalize_format, declared) if name]


def _frames(chunk: bytes) -> list[bytes]:
    """A stream chunk's SSE frames, each with the blank line that ends it (a rest without
    one last): a chunk that is no SSE is one frame."""
    parts = chunk.split(b"\n\n")
    frames = [part + b"\n\n" for part in parts[:-1]]
    if parts[-1]:
        frames.append(parts[-1])
    return frames


def _pick_format(declared: Sequence[str], *preferred: str) -> str:
    """The first of ``preferred`` that is declared, else the first declared format."""
    formats = _formats(declared)
    for name in preferred:
        if name in formats:
            return name
    return formats[0] if formats else preferred[0]


def _merge_detail(old: UsageDetail | None, new: UsageDetail) -> UsageDetail:
    if old is None:
        return new
    merged = {}
    for name in UsageDetail.__struct_fields__:
        merged[name] = max(getattr(old, name), getattr(new, name))
    return UsageDetail(**merged)
