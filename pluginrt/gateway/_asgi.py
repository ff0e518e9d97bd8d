"""The little ASGI this gateway needs: typed callables, reading a bounded body, answering.

No HTTP parsing happens here: hypercorn parses, this module only moves ASGI
messages. A HEAD request is answered as its GET is (RFC 9110 §9.3.2), with the
same messages, body included: hypercorn sends no body for HEAD (its
``suppress_body``, for HTTP/1.1 and HTTP/2), and h11 keeps the GET's
``Content-Length``, so the app never has to leave the body out itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import trio

from pluginrt.pipeline._rules import canonical_header_key

__all__ = [
    "Receive",
    "Response",
    "Scope",
    "Send",
    "BodyStalled",
    "ClientGone",
    "TooLarge",
    "allowed",
    "headers_of",
    "json_response",
    "parse_json",
    "query_of",
    "read_body",
    "send_response",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = dict[str, list[str]]

logger = logging.getLogger("pluginrt.gateway")

#: Connection-level headers: never passed to plugins, never copied from them.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


#: How long a request body may go without its next piece arriving (a stalled upload).
BODY_STALL = 30.0


class TooLarge(Exception):
    """The request body is over the configured limit."""


class BodyStalled(Exception):
    """No more of the request body came for :data:`BODY_STALL` seconds."""


class ClientGone(Exception):
    """The client hung up before its request body was whole: nothing to answer."""


@dataclass
class Response:
    status: int
    headers: Headers = field(default_factory=dict)
    body: bytes = b""


def json_response(status: int, value: Any) -> Response:
    body = json.dumps(value, ensure_ascii=False).encode()
    return Response(status, {"content-type": ["application/json"]}, body)


def parse_json(data: bytes) -> Any:
    """``data`` parsed as JSON; ValueError if it is not JSON or nests too deeply for
    Python to parse (which raises RecursionError: a 500 with no body, else)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("it nests too deeply") from None


def allowed(methods: Iterable[str]) -> list[str]:
    """The methods an ``Allow`` header lists for ``methods``, each once: HEAD goes with
    GET, since wherever GET is served, HEAD is too."""
    listed = list(dict.fromkeys(methods))
    if "GET" in listed and "HEAD" not in listed:
        listed.insert(listed.index("GET") + 1, "HEAD")
    return listed


def headers_of(scope: Scope) -> Headers:
    """The request headers (canonical names, as Go's ``http.Header``), hop-by-hop ones left out."""
    headers: Headers = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1")
        if name.lower() not in HOP_BY_HOP:
            headers.setdefault(canonical_header_key(name), []).append(raw_value.decode("latin-1"))
    return headers


def query_of(scope: Scope) -> Headers:
    text = scope.get("query_string", b"").decode("latin-1")
    return parse_qs(text, keep_blank_values=True)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; :class:`TooLarge` as soon as it passes ``limit`` (0: none),
    :class:`BodyStalled` when it stops coming, :class:`ClientGone` when the client
    hangs up first (a body cut short is never taken for the whole)."""
    raw: list[tuple[bytes, bytes]] = scope.get("headers", [])
    declared = next((value for name, value in raw if name.lower() == b"content-length"), b"")
    if limit and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    parts: list[bytes] = []
    size = 0
    with trio.CancelScope() as waiting:
        while True:
            waiting.deadline = trio.current_time() + BODY_STALL  # for each piece anew
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit and size > limit:
                raise TooLarge
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)
    raise BodyStalled(BODY_STALL)


def _unsafe(text: str) -> bool:
    """CR, LF or NUL: a header holding one could split the response (header injection)."""
    return "\r" in text or "\n" in text or "\0" in text


def response_headers(headers: Mapping[str, list[str]]) -> list[tuple[bytes, bytes]]:
    """ASGI header pairs from a plugin's headers, hop-by-hop ones left out.

    A name or value holding CR, LF or NUL is dropped (and logged), never sent.
    """
    pairs: list[tuple[bytes, bytes]] = []
    for name, values in headers.items():
        if name.lower() in HOP_BY_HOP:
            continue
        if _unsafe(name):
            logger.warning("dropped a response header with CR/LF in its name: %r", name)
            continue
        for value in values:
            if _unsafe(value):
                logger.warning("dropped response header %r: CR/LF in its value", name)
                continue
            pairs.append((name.lower().encode("latin-1"), value.encode("latin-1", "replace")))
    return pairs


async def send_response(send: Send, response: Response) -> None:
    headers = response_headers(response.headers)
    if not any(name == b"content-type" for name, _ in headers) and response.body:
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})
