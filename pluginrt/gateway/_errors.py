"""What a failed request gives a client, on every route and for every client format.

SEMANTICS.md: the error message itself if it is JSON, else an OpenAI-style
error object, the same for OpenAI, Claude and Gemini clients; the one rule
is the pipeline's :func:`client_error`, used here for the gateway's own
errors too.
"""

from __future__ import annotations

from pluginrt.pipeline._rules import client_error

__all__ = ["client_error", "error_event"]


def error_event(fmt: str, status: int, message: str) -> bytes:
    """The final SSE event of a stream that failed after its headers were sent.

    Its data is the body a failed request gets (one ``data:`` line per line of
    it); Claude clients notice a failure only as ``event: error``.
    """
    body = client_error(status, message)
    head = b"event: error\n" if fmt == "claude" else b""
    return head + b"".join(b"data: " + line + b"\n" for line in body.splitlines()) + b"\n"
