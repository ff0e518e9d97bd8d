"""Raw JSON-RPC over stdio for the shelf of test plugins (deliberately not plugin_sdk).

A plugin script imports this (its own folder is on ``sys.path``), tweaks
what it must, and calls :func:`serve`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

METADATA: dict[str, Any] = {
    "Name": "shelf",
    "Version": "1.0.0",
    "Author": "tests",
    "GitHubRepository": "https://example.invalid/shelf",
}
CAPABILITIES: dict[str, Any] = {
    "Executor": {"identifier": "shelf"},
    "ExecutorInputFormats": ["openai"],
    "ExecutorOutputFormats": ["openai"],
}

Handler = Callable[[dict[str, Any], dict[str, Any]], Any]


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def write_raw(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def result(message: dict[str, Any], value: Any) -> None:
    send({"jsonrpc": "2.0", "id": message["id"], "result": value})


def error(message: dict[str, Any], code: int, text: str, data: Any = None) -> None:
    body: dict[str, Any] = {"code": code, "message": text}
    if data is not None:
        body["data"] = data
    send({"jsonrpc": "2.0", "id": message["id"], "error": body})


def register(params: dict[str, Any], message: dict[str, Any]) -> Any:
    declaration = os.environ.get("SHELF_DECLARATION")
    if declaration:
        return json.loads(declaration)
    return {"protocol_version": 1, "metadata": METADATA, "capabilities": CAPABILITIES}


def shutdown(params: dict[str, Any], message: dict[str, Any]) -> Any:
    result(message, {})
    sys.exit(0)


def serve(
    handlers: dict[str, Handler] | None = None, notifications: dict[str, Handler] | None = None
) -> None:
    """Answer requests line by line until stdin closes; a handler returning
    ``NotImplemented`` has answered (or chosen not to) by itself. Notifications
    go to ``notifications`` (their result is dropped), else nowhere."""
    table: dict[str, Handler] = {"plugin.register": register, "plugin.shutdown": shutdown}
    table.update(handlers or {})
    for line in sys.stdin:
        message = json.loads(line)
        method = message.get("method")
        if method is not None and "id" not in message and method in (notifications or {}):
            (notifications or {})[method](message.get("params") or {}, message)
        if method is None or "id" not in message:
            continue  # responses and notifications: nothing more to do here
        handler = table.get(method)
        if handler is None:
            error(message, -32601, f"method not found: {method}")
            continue
        value = handler(message.get("params") or {}, message)
        if value is not NotImplemented:
            result(message, value)
