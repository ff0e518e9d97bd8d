"""JSON-RPC 2.0 messages and the engine's own methods (protocol version 1).

One envelope type covers every message kind, so a line is decoded once;
``params`` and ``result`` stay :class:`msgspec.Raw` until the method (or the
waiting caller) says which type they are. :func:`classify` then tells a
request from a notification, a response or an invalid message.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = [
    "CANCELLED",
    "HANDLER_ERROR",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "PROTOCOL_VERSION",
    "CancelParams",
    "Empty",
    "ErrorData",
    "ErrorObject",
    "Message",
    "StreamCancel",
    "StreamChunk",
    "StreamCredit",
    "StreamEnd",
    "StreamEndError",
]

PROTOCOL_VERSION: Final = 1

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
CANCELLED: Final = -32800
HANDLER_ERROR: Final = -32000

#: A request id. JSON-RPC 2.0 allows any number (fractions discouraged, not
#: forbidden) and the wire takes its ids from it: ``1.5`` is an id, and so is
#: ``1.0``, the same number as ``1``; an answer carries the id as it was read.
#: Integers decode as ``int`` (float only where the JSON has a fraction or exponent).
Id = int | float | str


class ErrorData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a handler said about its error, where known."""

    code: str = ""
    retryable: bool = False
    http_status: int = 0


class ErrorObject(msgspec.Struct, kw_only=True):
    """A JSON-RPC error object. ``data`` is whatever the peer sent (any JSON);
    pluginrt sends :class:`ErrorData` there."""

    code: int
    message: str
    data: Any = msgspec.UNSET


class Message(msgspec.Struct, kw_only=True):
    """Any JSON-RPC 2.0 message. Absent members stay ``UNSET`` and are not written.

    ``host_callback_id`` is pluginrt's top-level extension: a host-to-plugin
    call made for a client request carries it, and the plugin's ``host.*``
    calls made while serving that call echo it.

    Go peers often write members they do not use as ``null`` (no omitempty):
    ``"error": null`` beside a result, ``"params": null``, ``"host_callback_id":
    null``. Readers take a null as absent: ``error`` and ``host_callback_id``
    are then None, and ``params`` is ``Raw(b"null")`` (see :func:`params_of`).
    (Fixing them up here would cost every message a Python call.)
    """

    jsonrpc: str = "2.0"
    id: Id | msgspec.UnsetType | None = msgspec.UNSET
    method: str | msgspec.UnsetType = msgspec.UNSET
    params: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    result: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: ErrorObject | msgspec.UnsetType | None = msgspec.UNSET
    host_callback_id: str | msgspec.UnsetType | None = msgspec.UNSET


class Empty(msgspec.Struct, omit_defaults=True):
    """``{}``: the params of ``$/ping`` and the result of several methods."""


class CancelParams(msgspec.Struct):
    """``$/cancel``: the id of the call to cancel."""

    id: Id


class StreamChunk(msgspec.Struct):
    """``stream.chunk``: one payload chunk (base64 on the wire; a Go nil ``[]byte``,
    ``null`` or absent, is the empty chunk)."""

    stream_id: str
    payload: bytes | None = None


class StreamEndError(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Why a stream ended badly."""

    message: str
    code: str = ""
    http_status: int = 0


class StreamEnd(msgspec.Struct):
    """``stream.end``: exactly one per stream; ``error`` is null on success."""

    stream_id: str
    error: StreamEndError | None = None


class StreamCredit(msgspec.Struct):
    """``stream.credit``: the consumer grants ``chunks`` more chunks."""

    stream_id: str
    chunks: int


class StreamCancel(msgspec.Struct):
    """``stream.cancel``: the consumer is gone; the producer should stop."""

    stream_id: str


def error_message(
    code: int, message: str, data: ErrorData | None = None, id: Id | None = None
) -> Message:
    """A response carrying an error (``id`` is null when it could not be read)."""
    error = ErrorObject(code=code, message=message)
    if data is not None:
        error.data = data
    return Message(id=id, error=error)


_NULL: Final = msgspec.Raw(b"null")
_NO_PARAMS: Final = msgspec.Raw(b"{}")


def params_of(message: Message) -> msgspec.Raw:
    """The message's ``params``; ``{}`` where they are absent or null."""
    params = message.params
    if params is msgspec.UNSET or params == _NULL:
        return _NO_PARAMS
    return params


def describe(value: Any) -> str:
    """A short, loggable rendering of a raw JSON value."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)
    return text if len(text) <= 200 else text[:200] + "..."
