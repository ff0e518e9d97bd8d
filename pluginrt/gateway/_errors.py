"""Errors in the client's own shape: OpenAI, Claude or Gemini.

The pipeline answers errors in the OpenAI shape (or with a plugin's own JSON
error body). Claude and Gemini clients parse errors by their own shapes, so
an OpenAI-shaped error is converted for them here; any other body (a
plugin's own JSON) passes through unchanged.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["client_error", "convert_error", "error_event"]

_OPENAI_KIND = {
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
_CLAUDE_KIND = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _family(fmt: str) -> str:
    if fmt == "claude":
        return "claude"
    if fmt == "gemini":
        return "gemini"
    return "openai"


def _shape(fmt: str, status: int, message: str, code: str = "") -> dict[str, Any]:
    family = _family(fmt)
    if family == "claude":
        kind = _CLAUDE_KIND.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if family == "gemini":
        name = _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return {"error": {"code": status, "message": message, "status": name}}
    kind, default_code = _OPENAI_KIND.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", "")
    )
    return {"error": {"message": message, "type": kind, "code": code or default_code or None}}


def client_error(fmt: str, status: int, message: str, code: str = "") -> bytes:
    """An error body made by the gateway itself, in ``fmt``'s client shape."""
    return json.dumps(_shape(fmt, status, message, code), ensure_ascii=False).encode()


def _openai_message(body: bytes) -> tuple[str, str] | None:
    """(message, code) if ``body`` is an OpenAI-shaped error, else None."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    error = value.get("error") if isinstance(value, dict) else None
    if not isinstance(error, dict) or "message" not in error or len(value) != 1:
        return None
    if "status" in error and "type" not in error:
        return None  # already Gemini-shaped
    return str(error.get("message", "")), str(error.get("code") or "")


def convert_error(fmt: str, status: int, body: bytes) -> bytes:
    """The pipeline's error ``body`` in ``fmt``'s client shape (other bodies unchanged)."""
    if _family(fmt) == "openai":
        return body
    found = _openai_message(body)
    if found is None:
        return body
    return client_error(fmt, status, found[0], found[1])


def error_event(fmt: str, status: int, message: str) -> bytes:
    """The final SSE event of a stream that failed after its headers were sent."""
    text = message.strip()
    data: Any
    try:
        data = json.loads(text) if text[:1] == "{" else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = _shape(fmt, status, message)
    else:
        found = _openai_message(text.encode())
        if found is not None and _family(fmt) != "openai":
            data = _shape(fmt, status, found[0], found[1])
    payload = json.dumps(data, ensure_ascii=False)
    if _family(fmt) == "claude":
        return f"event: error\ndata: {payload}\n\n".encode()
    return f"data: {payload}\n\n".encode()
