"""Small rules of SEMANTICS.md that every chain shares.

Header edits, format names, plugin order, the stream-chunk history bound,
and what a client sees when a request fails. Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

import msgspec

__all__ = [
    "ChunkHistory",
    "client_error",
    "error_kind",
    "apply_header_edits",
    "canonical_header_key",
    "canonical_headers",
    "is_token",
    "normalize_format",
    "ordered",
]

Headers = dict[str, list[str]]

_FORMAT_ALIASES = {
    "chat-completions": "openai",
    "chat_completions": "openai",
    "openai-chat-completions": "openai",
    "openai_chat_completions": "openai",
    "responses": "openai-response",
    "openai-responses": "openai-response",
    "openai_responses": "openai-response",
    "anthropic": "claude",
}


def normalize_format(name: str) -> str:
    """The canonical name of an API format; ``""`` for empty or ``none``."""
    key = name.strip().lower()
    if key in ("", "none"):
        return ""
    return _FORMAT_ALIASES.get(key, key)


class _Ranked(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def priority(self) -> int: ...


R = TypeVar("R", bound=_Ranked)


def ordered(plugins: Iterable[R]) -> list[R]:
    """SEMANTICS.md's "in order": priority descending, then id ascending."""
    return sorted(plugins, key=lambda p: (-p.priority, p.id))


#: The bytes of an HTTP token (RFC 9110): the names Go canonicalizes.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_token(text: str) -> bool:
    """Whether ``text`` is an HTTP token (RFC 9110): a header name, a method."""
    return bool(text) and _TOKEN.issuperset(text)


@functools.lru_cache(maxsize=1024)  # every request repeats the same few names
def canonical_header_key(name: str) -> str:
    """``name`` as Go's ``textproto.CanonicalMIMEHeaderKey`` writes it: ``Content-Type``.

    A Go plugin's ``http.Header.Get`` looks only under the canonical name, so
    headers handed to plugins are keyed so; a name that is not a token stays as it is.
    """
    if not is_token(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def canonical_headers(pairs: Iterable[tuple[str, str]]) -> Headers:
    """Header (name, value) pairs keyed by Go's canonical names, values in order."""
    result: Headers = {}
    for name, value in pairs:
        result.setdefault(canonical_header_key(name), []).append(value)
    return result


def apply_header_edits(
    headers: Mapping[str, list[str]],
    clear: Iterable[str],
    replace: Mapping[str, list[str]],
) -> Headers:
    """Apply an interceptor's answer to ``headers`` (a new dict is returned).

    First every ``clear`` name is deleted (case-insensitively); then each
    ``replace`` key replaces that header's values (never appends), and an
    empty list deletes it. A name set is canonical, as Go's ``Header.Set``
    writes it, so the next plugin's ``Header.Get`` finds it.
    """
    gone = {name.lower() for name in clear} | {name.lower() for name in replace}
    result = {k: list(v) for k, v in headers.items() if k.lower() not in gone}
    for name, values in replace.items():
        if values:
            result[canonical_header_key(name)] = list(values)
    return result


class ChunkHistory:
    """Chunks actually delivered, newest last, trimmed from the front to the bounds.

    A single chunk larger than ``max_bytes`` empties it.
    """

    def __init__(self, max_chunks: int = 64, max_bytes: int = 1 << 20) -> None:
        self.max_chunks = max_chunks
        self.max_bytes = max_bytes
        self._chunks: deque[bytes] = deque()
        self._bytes = 0

    def add(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._bytes += len(chunk)
        while self._chunks and (
            len(self._chunks) > self.max_chunks or self._bytes > self.max_bytes
        ):
            self._bytes -= len(self._chunks.popleft())

    def snapshot(self) -> list[bytes]:
        return list(self._chunks)

    def __len__(self) -> int:
        return len(self._chunks)


_KINDS = {
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "insufficient_quota"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_kind(status: int) -> tuple[str, str]:
    """The OpenAI-style ``(type, code)`` of an error status."""
    if status in _KINDS:
        return _KINDS[status]
    if status >= 500:
        return ("server_error", "internal_server_error")
    return ("invalid_request_error", "invalid_request_error")


def client_error(status: int, message: str) -> bytes:
    """The body any client gets: ``message`` itself if it is JSON text, else an OpenAI error."""
    try:
        msgspec.json.decode(message)  # strict JSON: a scalar is JSON too, NaN is not
    except ValueError:
        pass
    else:
        return message.strip().encode()
    kind, code = error_kind(status)
    return json.dumps(
        {"error": {"message": message, "type": kind, "code": code}}, ensure_ascii=False
    ).encode()
