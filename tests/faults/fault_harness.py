"""Real hosts (and gateways) over the faulty plugin, and the checks every fault case makes.

``faulty(id, mode, **config)`` is one plugin entry of ``plugins/faulty.py``;
``good()`` an example plugin that must keep serving; ``settle_fds(before)``
waits until this process holds no more descriptors than before (a small
tolerance: trio and the OS cache a few).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final

import trio

from pluginrt import Config, Host, open_host
from pluginrt.config import from_mapping
from pluginrt.gateway import serve
from pluginrt.pipeline import ClientRequest, ClientResponse, Endpoint

ROOT: Final = Path(__file__).resolve().parents[2]
PLUGINS: Final = Path(__file__).resolve().parent / "plugins"
KEY: Final = "sk-fault"
MANAGEMENT_KEY: Final = "mgmt-fault"
PATIENCE: Final = 15.0
#: Descriptors trio, hypercorn or the OS may keep cached between two counts.
FD_TOLERANCE: Final = 4


def faulty(plugin_id: str, mode: str, **config: Any) -> dict[str, Any]:
    return {
        "id": plugin_id,
        "command": str(PLUGINS / "faulty.py"),
        "timeout": config.pop("timeout", 5),
        "handshake-timeout": 5,
        "restart": config.pop("restart", {"max-restarts": 0}),
        "config": {"mode": mode, **config},
    }


def good(plugin_id: str = "mock") -> dict[str, Any]:
    return {"id": plugin_id, "command": str(ROOT / "examples" / "mock_llm.py"), "priority": 10}


def make_config(tmp_path: Path, *plugins: dict[str, Any], **settings: Any) -> Config:
    data: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "auth-dir": str(tmp_path / "auths"),
        "plugins": list(plugins),
    }
    data.update({k.replace("_", "-"): v for k, v in settings.items()})
    return from_mapping(data, base_dir=str(tmp_path))


def chat_body(model: str, text: str = "hello", **extra: Any) -> bytes:
    return json.dumps(
        {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    ).encode()


def chat(
    model: str, *, stream: bool = False, headers: dict[str, list[str]] | None = None
) -> ClientRequest:
    endpoint = Endpoint.STREAM if stream else Endpoint.GENERATE
    body = chat_body(model, stream=stream)
    return ClientRequest("openai", endpoint, model=model, body=body, headers=headers or {})


async def served(host: Host, model: str = "mock-small") -> ClientResponse:
    """Assert that ``host`` still answers a plain request to ``model`` with 200."""
    answer = await host.handle(chat(model))
    assert isinstance(answer, ClientResponse), answer
    assert answer.status == 200, answer.body
    return answer


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settle_fds(before: int) -> None:
    """Wait (bounded) until the descriptor count is back within tolerance of ``before``."""
    with trio.move_on_after(3):
        while fd_count() > before + FD_TOLERANCE:  # noqa: ASYNC110 - closes come with no event
            await trio.sleep(0.02)
    assert fd_count() <= before + FD_TOLERANCE, f"descriptors left: {before} -> {fd_count()}"


def auth_dir_clean(tmp_path: Path) -> None:
    """No temporary file left in the auth directory."""
    folder = tmp_path / "auths"
    if folder.exists():
        left = [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
        assert not left, f"temporary files left in the auth dir: {left}"


@asynccontextmanager
async def hosted(cfg: Config) -> AsyncIterator[Host]:
    with trio.fail_after(PATIENCE):
        async with open_host(cfg) as host:
            yield host


@asynccontextmanager
async def gateway(cfg: Config) -> AsyncIterator[tuple[Host, str]]:
    """A host serving ``cfg`` over HTTP; yields it and the base URL."""
    async with open_host(cfg) as host, trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            binds = await nursery.start(partial(serve, host, handle_signals=False))
        yield host, binds[0]
        nursery.cancel_scope.cancel()


def journal_lines(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1] if path.exists() else []
