"""The engine's error tree.

Every failed call raises one of these, never a bare transport error:

- :class:`RemoteError`: the peer answered with a JSON-RPC error object.
- :class:`CallTimeout`: we gave up waiting (and told the peer with ``$/cancel``).
- :class:`ConnectionClosed`: the connection ended before the answer came.
- :class:`ProtocolError`: the peer broke the protocol (an over-long line, a
  result of the wrong type); the message says which rule.
- :class:`StreamError`: a stream ended with an error or was failed;
  :class:`StreamTimeout` when its producer sent nothing for the idle timeout.

:class:`HandlerError` is the other direction: a handler raises it on purpose
to answer ``-32000`` with a code, an HTTP status and a retryable flag.
"""

from __future__ import annotations

from typing import Any

from ._messages import CANCELLED, HANDLER_ERROR, ErrorData

__all__ = [
    "CallTimeout",
    "ConnectionClosed",
    "HandlerError",
    "ProtocolError",
    "RPCError",
    "RemoteError",
    "StreamError",
    "StreamTimeout",
]


class RPCError(Exception):
    """Base of every error a call or a stream can end with."""


class RemoteError(RPCError):
    """The peer answered the call with an error object."""

    def __init__(self, code: int, message: str, data: ErrorData | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    @property
    def http_status(self) -> int:
        """The HTTP status the handler asked for, or 0."""
        return self.data.http_status if self.data else 0

    @property
    def retryable(self) -> bool:
        return self.data.retryable if self.data else False

    @property
    def cancelled(self) -> bool:
        return self.code == CANCELLED

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})"


class CallTimeout(RPCError):
    """No answer within the call's timeout; the peer was sent ``$/cancel``."""

    def __init__(self, method: str, timeout: float) -> None:
        super().__init__(f"{method} timed out after {timeout:g}s")
        self.method = method
        self.timeout = timeout


class ConnectionClosed(RPCError):
    """The connection closed before the call was answered (``__cause__`` says why)."""


class ProtocolError(RPCError):
    """The peer broke the wire protocol; the message names the rule."""


class StreamError(RPCError):
    """A stream ended with an error (its producer's, or a broken rule)."""

    def __init__(self, message: str, *, code: str = "", http_status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status


class StreamTimeout(StreamError):
    """The producer sent no chunk for ``timeout`` seconds; it was sent ``stream.cancel``."""

    def __init__(self, name: str, stream_id: str, timeout: float) -> None:
        message = f"{name}: stream {stream_id}: no chunk for {timeout:g}s"
        super().__init__(message, code="timeout", http_status=504)
        self.timeout = timeout


class HandlerError(Exception):
    """Raise from a handler to answer with ``-32000`` and the given details."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        http_status: int = 0,
        retryable: bool = False,
        rpc_code: int = HANDLER_ERROR,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.retryable = retryable
        self.rpc_code = rpc_code

    def data(self) -> ErrorData | None:
        if not (self.code or self.http_status or self.retryable):
            return None
        return ErrorData(code=self.code, http_status=self.http_status, retryable=self.retryable)


def error_data(raw: Any) -> ErrorData | None:
    """Read ``error.data`` leniently: an ErrorData when it looks like one, else None."""
    if not isinstance(raw, dict):
        return None
    status = raw.get("http_status")
    code = raw.get("code")
    return ErrorData(
        code=code if isinstance(code, str) else "",
        retryable=raw.get("retryable") is True,
        http_status=status if isinstance(status, int) and not isinstance(status, bool) else 0,
    )
