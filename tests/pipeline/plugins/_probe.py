"""Shared by the test plugins: every call is noted in a journal the test reads.

The journal is a JSON-lines file named by the plugin's ``journal`` config
key; each line is ``{"plugin": <id>, "method": <method>, ...fields}``.
"""

import json
from typing import Any

from plugin_sdk import Plugin, PluginError


def note(plugin: Plugin, method: str, **fields: Any) -> None:
    path = plugin.config.get("journal")
    if path:
        line = json.dumps({"plugin": plugin.plugin_id, "method": method, **fields}) + "\n"
        with open(path, "a", encoding="utf-8") as file:
            file.write(line)


def maybe_fail(spec: Any) -> None:
    """Raise the configured error: ``{"message": ..., "http_status": ...}`` (or a message)."""
    if not spec:
        return
    if isinstance(spec, str):
        raise PluginError(spec)
    raise PluginError(spec.get("message", "configured failure"),
                      http_status=int(spec.get("http_status", 0)))  # fmt: skip


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")
