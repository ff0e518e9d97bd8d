"""Run a real gateway (hypercorn on 127.0.0.1, port 0) over a host of real plugin processes."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final

import trio

from pluginrt import Config, Host, open_host
from pluginrt.config import from_mapping
from pluginrt.gateway import serve

ROOT: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = ROOT / "examples"
PLUGINS: Final = Path(__file__).resolve().parent / "plugins"
KEY: Final = "sk-test"
MANAGEMENT_KEY: Final = "mgmt-test"
#: Every wait on a real process or socket is bounded by this.
PATIENCE: Final = 15.0


def config(
    tmp_path: Path, *, journal: Path | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """The example plugins, plus the slow test executor, on a port of the OS's choosing."""
    slow: dict[str, Any] = {"words": 5, "delay": 0.1}
    if journal is not None:
        slow["journal"] = str(journal)
    data: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "api-keys": [KEY],
        "management-key": MANAGEMENT_KEY,
        "auth-dir": str(tmp_path / "auths"),
        "plugins": [
            {"id": "mock", "command": str(EXAMPLES / "mock_llm.py"), "priority": 10},
            {"id": "claude-in", "command": str(EXAMPLES / "request_translator.py")},
            {"id": "claude-out", "command": str(EXAMPLES / "response_translator.py")},
            {"id": "console", "command": str(EXAMPLES / "management_api.py")},
            {"id": "slow", "command": str(PLUGINS / "slow_stream.py"), "config": slow},
        ],
    }
    data.update(overrides or {})
    return from_mapping(data, base_dir=str(tmp_path))


@asynccontextmanager
async def gateway(cfg: Config, config_path: str | None = None) -> AsyncIterator[tuple[Host, str]]:
    """A host serving ``cfg`` over HTTP; yields it and the base URL (``http://127.0.0.1:N``)."""
    async with open_host(cfg) as host, trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            binds = await nursery.start(
                partial(serve, host, config_path=config_path, handle_signals=False)
            )
        yield host, binds[0]
        nursery.cancel_scope.cancel()


def chat(model: str = "mock-small", text: str = "hello there", **extra: Any) -> bytes:
    return json.dumps(
        {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    ).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
