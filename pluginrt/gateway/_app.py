"""The gateway's ASGI application: client endpoints, management API, resources, health.

A thin HTTP layer over :class:`pluginrt.Host`: it maps each route to a client
format and endpoint, hands headers and query through (client API keys are the
pipeline's business), and writes back what the pipeline answers. Streams are
server-sent events flushed chunk by chunk; a client that goes away closes the
executor's stream (the plugin sees ``stream.cancel``). HEAD is served wherever GET
is, as GET (see ``_asgi``: hypercorn leaves the body out).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from pluginrt._host import Host
from pluginrt.config import ConfigError, load_config
from pluginrt.pipeline import ClientRequest, ClientResponse, ClientStream, Endpoint, PipelineError

from ._asgi import (
    BodyStalled,
    ClientGone,
    Receive,
    Response,
    Scope,
    Send,
    TooLarge,
    allowed,
    headers_of,
    json_response,
    parse_json,
    query_of,
    read_body,
    response_headers,
    send_response,
)
from ._errors import client_error, error_event
from ._management import Management, management_error

__all__ = ["Gateway"]

logger = logging.getLogger("pluginrt.gateway")
access = logging.getLogger("pluginrt.access")
#: The response header naming the pipeline's id of the request, as the logs do.
REQUEST_ID = "x-request-id"

#: path -> (client format, endpoint when not chosen by "stream" in the body)
_ROUTES: dict[str, tuple[str, Endpoint | None]] = {
    "/v1/chat/completions": ("openai", None),
    "/v1/responses": ("openai-response", None),
    "/v1/messages": ("claude", None),
    "/v1/messages/count_tokens": ("claude", Endpoint.COUNT_TOKENS),
}
#: Gemini's routes, under v1beta and v1 (the version Google's google-genai SDK calls by default).
_GEMINI = re.compile(
    r"^/v1(?:beta)?/models/(?P<model>[^/:]+)"
    r":(?P<action>generateContent|streamGenerateContent|countTokens)$"
)
_GEMINI_ENDPOINTS = {
    "generateContent": Endpoint.GENERATE,
    "streamGenerateContent": Endpoint.STREAM,
    "countTokens": Endpoint.COUNT_TOKENS,
}
_SSE_FIELDS = (b"data:", b"event:", b"id:", b"retry:", b":")


@dataclass
class _Exchange:
    """One request as its access line tells it: the status answered, and the pipeline's
    id of the request, known once the pipeline took it (a request cut off under way,
    an answer its client did not stay for, are named too); for a stream that answered
    200 and then ended in an error event, that error's status."""

    status: int = 0
    request_id: str = ""
    stream_error: int = 0


class Gateway:
    """The ASGI app serving ``host``. ``config_path`` is re-read by :meth:`reload`."""

    def __init__(self, host: Host, *, config_path: str | None = None) -> None:
        self.host = host
        self.config_path = config_path
        # Held by every config change (a reload, a config PATCH): one at a time.
        self._reload_lock = trio.Lock()
        self.management = Management(host, self.reload, self._reload_lock)

    async def reload(self) -> dict[str, Exception]:
        """Re-read the config file and apply it (ConfigError if it is bad; nothing changes).
        Returns what plugins refused, by id (see :meth:`Host.reload`)."""
        if not self.config_path:
            raise ConfigError("the gateway was not started from a config file")
        async with self._reload_lock:
            config = load_config(self.config_path)
            before = self.host.config
            if (config.host, config.port) != (before.host, before.port):
                logger.warning("host and port changes take effect at the next start")
            refused = await self.host.reload(config)
            logging.getLogger("pluginrt").setLevel(config.logging.level.upper())
            if refused:
                logger.warning(
                    "config reloaded from %s, but not for plugin(s) %s (see above)",
                    self.config_path,
                    ", ".join(refused),
                )
            else:
                logger.info("config reloaded from %s", self.config_path)
            return refused

    # ---------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: not served (hypercorn closes the connection)
        started = trio.current_time()
        exchange = _Exchange()

        async def send_and_note(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            await send(message)

        gone = False
        try:
            await self._dispatch(scope, receive, send_and_note, exchange)
            gone = not exchange.status  # it returned unanswered: the client went away first
        except BaseException as exc:
            # Cut off from outside before it answered (the shutdown grace ran out): a
            # 503 rather than a torn connection, if the client still listens.
            if not exchange.status and _cancelled(exc):
                logger.warning(
                    "%s cut off (shutdown grace over): answered 503 (request %s)",
                    scope["path"],
                    exchange.request_id or "-",
                )
                answer = _error(503, "the gateway is shutting down")
                if exchange.request_id:
                    answer.headers[REQUEST_ID] = [exchange.request_id]
                with trio.move_on_after(1) as last_word:
                    last_word.shield = True
                    await send_response(send_and_note, answer)
            raise
        finally:
            client = scope.get("client") or ("-", 0)
            access.info(
                "%s %s %s %s %.0fms %s%s",
                client[0],
                scope["method"],
                scope["path"],
                exchange.status or ("499" if gone else "-"),
                (trio.current_time() - started) * 1000,
                exchange.request_id or "-",
                f" stream-error={exchange.stream_error}" if exchange.stream_error else "",
            )

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange
    ) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        management = path.startswith(("/v0/management/", "/v0/resource/")) or (
            path == "/v0/management"
        )
        try:
            if path == "/healthz":
                healthy = method in ("GET", "HEAD")
                answer = self._health() if healthy else _not_allowed(["GET"], path)
                await send_response(send, answer)
            elif management:
                body = await read_body(scope, receive, self.host.config.max_body_size)
                answer = await self.management.handle(
                    method, path, headers_of(scope), query_of(scope), body
                )
                await send_response(send, answer)
            elif path == "/v1/models":
                await self._models(scope, send, method, exchange)
            else:
                await self._client(scope, receive, send, path, method, exchange)
        except (TooLarge, BodyStalled) as exc:
            if isinstance(exc, TooLarge):
                status = 413
                limit = self.host.config.max_body_size
                message = f"the request body is larger than the limit of {limit} bytes"
            else:
                status, message = 408, f"the request body stopped coming for {exc.args[0]:g}s"
            answer = management_error(status, message) if management else _error(status, message)
            await send_response(send, answer)
        except ClientGone:
            logger.info("client went away before its request body was whole: %s not run", path)

    def _health(self) -> Response:
        active = self.host.active()
        states = {h.id: str(h.state) for h in self.host.plugins.values()}
        return json_response(200, {"status": "ok", "active": len(active), "plugins": states})

    async def _models(self, scope: Scope, send: Send, method: str, exchange: _Exchange) -> None:
        if method not in ("GET", "HEAD"):
            await send_response(send, _not_allowed(["GET"], "/v1/models"))
            return
        request = ClientRequest(
            "openai",
            Endpoint.MODELS,
            headers=headers_of(scope),
            query=query_of(scope),
            method="GET",  # a HEAD is its GET (a frontend auth decides both alike)
            path=scope["path"],
        )
        try:
            answer = await self.host.handle(request)
        finally:
            exchange.request_id = request.request_id
        assert isinstance(answer, ClientResponse)
        await send_response(send, _response(answer))

    async def _client(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
        method: str,
        exchange: _Exchange,
    ) -> None:
        model = ""
        match = _GEMINI.match(path)
        if match is not None:
            fmt, endpoint = "gemini", _GEMINI_ENDPOINTS[match.group("action")]
            model = match.group("model")
        elif path in _ROUTES:
            fmt, endpoint = _ROUTES[path]  # type: ignore[assignment]
        else:
            await send_response(send, _error(404, f"no route for {path}"))
            return
        if method != "POST":
            await send_response(send, _not_allowed(["POST"], path))
            return
        body = await read_body(scope, receive, self.host.config.max_body_size)
        try:
            parsed: Any = parse_json(body) if body else None
        except ValueError as exc:
            await send_response(send, _error(400, f"the request body is not JSON: {exc}"))
            return
        if not isinstance(parsed, dict):
            await send_response(send, _error(400, "the request body must be a JSON object"))
            return
        if match is None:
            named = parsed.get("model")
            if named is not None and not isinstance(named, str):
                said = json.dumps(named)[:40]
                await send_response(send, _error(400, f'"model" must be a string, got {said}'))
                return
            model = named or ""
        if endpoint is None:
            endpoint = Endpoint.STREAM if parsed.get("stream") is True else Endpoint.GENERATE
        query = query_of(scope)
        request = ClientRequest(
            fmt,
            endpoint,
            model=model,
            body=body,
            headers=headers_of(scope),
            query=query,
            method=method,
            path=path,
            alt=(query.get("alt") or [""])[0],
        )
        answer = await _unless_client_leaves(self.host, request, receive, exchange)
        if answer is None:
            return
        if isinstance(answer, ClientStream):
            await _stream(fmt, answer, receive, send, exchange)
            return
        await send_response(send, _response(answer))


async def _unless_client_leaves(
    host: Host, request: ClientRequest, receive: Receive, exchange: _Exchange
) -> ClientResponse | ClientStream | None:
    """``host.handle(request)``, cancelled if the client hangs up first (None then): the
    plugin call in flight gets ``$/cancel``, and a stream that opened meanwhile is closed.
    The request's id goes into ``exchange``, answered or not."""
    answer: ClientResponse | ClientStream | None = None
    gone = False
    async with trio.open_nursery() as nursery:

        async def watch_for_disconnect() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            logger.info(
                "client went away before its answer; cancelling %s (request %s)",
                request.path,
                request.request_id or "-",
            )
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch_for_disconnect)
        try:
            answer = await host.handle(request)
        finally:  # a request cut off under way is named too (in the access line, a 503)
            exchange.request_id = request.request_id
        nursery.cancel_scope.cancel()
    if gone and isinstance(answer, ClientStream):
        with trio.CancelScope(shield=True):
            await answer.aclose()
    return None if gone else answer


def _error(status: int, message: str) -> Response:
    return Response(status, {"content-type": ["application/json"]}, client_error(status, message))


def _response(answer: ClientResponse) -> Response:
    """The pipeline's answer, with its request id in ``X-Request-Id`` (as the logs name it),
    and ``Content-Type: application/json`` if the executor named none (every client API
    answers JSON)."""
    headers = {k: v for k, v in answer.headers.items() if k.lower() != REQUEST_ID}
    if answer.request_id:
        headers[REQUEST_ID] = [answer.request_id]
    if not any(k.lower() == "content-type" and v for k, v in headers.items()):
        headers["content-type"] = ["application/json"]
    return Response(answer.status, headers, answer.body)


def _not_allowed(methods: Sequence[str], path: str) -> Response:
    """405, with the ``Allow`` header HTTP requires of it (HEAD listed with GET)."""
    answer = _error(405, f"use {' or '.join(methods)} on {path}")
    answer.headers["allow"] = [", ".join(allowed(methods))]
    return answer


def _frame(chunk: bytes, sse: bool) -> bytes:
    """Chunks that are SSE frames already pass as they are; others become ``data:`` events.

    Each line of a chunk gets its own ``data:`` field (a client joins them back with
    newlines): a line without one would be read as another field and lost.
    """
    if not sse or chunk.startswith(_SSE_FIELDS):
        return chunk
    lines = chunk.rstrip(b"\r\n").splitlines() or [b""]
    return b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"


async def _stream(
    fmt: str, stream: ClientStream, receive: Receive, send: Send, exchange: _Exchange
) -> None:
    """Send ``stream`` chunk by chunk; a disconnect closes it (the plugin sees stream.cancel).

    The headers wait for the first chunk (or the end): a stream that fails before
    it answers with the error's status and body, as a failed request does.
    """
    # A header with no values is no header (an interceptor's empty list deletes one).
    headers = {k.lower(): v for k, v in stream.headers.items() if v}
    if stream.request_id:
        headers[REQUEST_ID] = [stream.request_id]
    headers.setdefault("content-type", ["text/event-stream"])
    headers.setdefault("cache-control", ["no-cache"])
    sse = headers["content-type"][0].startswith("text/event-stream")
    start = {"type": "http.response.start", "status": stream.status,
             "headers": response_headers(headers)}  # fmt: skip
    started = finished = False
    try:
        async with trio.open_nursery() as nursery:

            async def watch_for_disconnect() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        if finished:
                            return
                        logger.info(
                            "client went away mid-stream; closing the executor's stream "
                            "(request %s)",
                            stream.request_id or "-",
                        )
                        await stream.aclose()
                        nursery.cancel_scope.cancel()
                        return

            nursery.start_soon(watch_for_disconnect)
            tail = b""
            try:
                async for batch in stream.batches:
                    if not started:
                        started = True
                        await send(start)
                    body = b"".join([_frame(chunk, sse) for chunk in batch])
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            except PipelineError as exc:
                if not started:
                    finished = True
                    answer = _error(exc.status, exc.message)
                    if stream.request_id:
                        answer.headers[REQUEST_ID] = [stream.request_id]
                    await send_response(send, answer)
                    nursery.cancel_scope.cancel()
                    return
                tail = error_event(fmt, exc.status, exc.message)
                exchange.stream_error = exc.status
            if not started:
                started = True
                await send(start)
            finished = True
            await send({"type": "http.response.body", "body": tail, "more_body": False})
            nursery.cancel_scope.cancel()
    except BaseException as exc:
        # Cut off from outside (the shutdown grace ran out): end with an error, not a
        # torn connection, if the client still listens (before the headers, the app
        # answers 503: see Gateway.__call__).
        if started and not finished and _cancelled(exc):
            logger.warning(
                "stream cut off (shutdown grace over); it ends with an error (request %s)",
                stream.request_id or "-",
            )
            with trio.move_on_after(1) as last_word:
                last_word.shield = True
                tail = error_event(fmt, 503, "the gateway is shutting down")
                exchange.stream_error = 503
                await send({"type": "http.response.body", "body": tail, "more_body": False})
        raise
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()
            aclose = getattr(stream.batches, "aclose", None)
            if aclose is not None:
                await aclose()


def _cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is a cancellation: trio's, or a group of nothing else (a nursery's)."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
