"""The error a handler raises on purpose."""

from __future__ import annotations

from pluginrt.rpc import HandlerError

__all__ = ["PluginError"]


class PluginError(HandlerError):
    """Raise from any handler to fail the call with ``-32000`` and these details.

    ``code`` (a short machine word), ``http_status`` (what the client should
    see) and ``retryable`` reach the host in the error's ``data``. Raised from
    a streaming executor after its first chunk, it ends the stream with
    ``{"message", "code", "http_status"}`` instead.
    """

    def __init__(
        self, message: str, *, code: str = "", http_status: int = 0, retryable: bool = False
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, retryable=retryable)
