"""Hosts of real test plugins for the pipeline tests, and the journal the plugins write.

``lab.plugin(id, script, priority=..., **config)`` describes one plugin of
``tests/pipeline/plugins/``; ``lab.host(*plugins, **settings)`` opens a host
running just those; ``lab.calls(method)`` reads what the plugins journaled.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from pluginrt import Host, open_host
from pluginrt.config import from_mapping
from pluginrt.pipeline import ClientRequest, ClientResponse, ClientStream, Endpoint

PLUGINS = Path(__file__).parent / "plugins"
Respond = Callable[[trio.SocketStream, bytes], Awaitable[None]]
#: Every wait on real processes is bounded by this.
PATIENCE = 15.0


class Lab:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.journal = tmp_path / "journal.jsonl"
        self.auth_dir = tmp_path / "auths"

    def plugin(
        self, plugin_id: str, script: str, priority: int = 0, **config: Any
    ) -> dict[str, Any]:
        return {
            "id": plugin_id,
            "command": str(PLUGINS / f"{script}.py"),
            "priority": priority,
            "timeout": 5,
            "handshake-timeout": 5,
            "restart": {"max-restarts": 0},
            "config": {"journal": str(self.journal), **config},
        }

    def config(self, *plugins: dict[str, Any], **settings: Any) -> Any:
        return from_mapping({"auth-dir": str(self.auth_dir), "plugins": list(plugins), **settings})

    @asynccontextmanager
    async def host(self, *plugins: dict[str, Any], **settings: Any) -> AsyncIterator[Host]:
        with trio.fail_after(PATIENCE):
            async with open_host(self.config(*plugins, **settings)) as host:
                yield host

    def write_auth(self, name: str, value: Any) -> Path:
        path = self.auth_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value if isinstance(value, str) else json.dumps(value))
        return path

    def calls(self, method: str | None = None, plugin: str | None = None) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        lines = [json.loads(line) for line in self.journal.read_text().splitlines()]
        return [
            c
            for c in lines
            if (method is None or c["method"] == method)
            and (plugin is None or c["plugin"] == plugin)
        ]

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Poll until ``predicate`` holds (a real process's writes come with no event of ours)."""
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.01)


async def serve_http(nursery: trio.Nursery, respond: Respond) -> int:
    """A bare HTTP/1.1 server on 127.0.0.1; ``respond`` writes each answer. Returns the port."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")

    async def connection(stream: trio.SocketStream) -> None:
        head = b""
        with trio.move_on_after(10):
            while b"\r\n\r\n" not in head:
                data = await stream.receive_some()
                if not data:
                    return
                head += data
            with contextlib.suppress(trio.BrokenResourceError):  # the client hung up first
                await respond(stream, head)
        await stream.aclose()

    nursery.start_soon(trio.serve_listeners, connection, listeners)
    port: int = listeners[0].socket.getsockname()[1]
    return port


def request(
    body: bytes | str = b"start",
    *,
    model: str = "m1",
    endpoint: Endpoint = Endpoint.GENERATE,
    fmt: str = "openai",
    headers: dict[str, list[str]] | None = None,
) -> ClientRequest:
    data = body.encode() if isinstance(body, str) else body
    return ClientRequest(fmt, endpoint, model=model, body=data, headers=headers or {})


async def complete(host: Host, client_request: ClientRequest) -> ClientResponse:
    answer = await host.handle(client_request)
    assert isinstance(answer, ClientResponse), answer
    return answer


async def streamed(host: Host, client_request: ClientRequest) -> tuple[ClientStream, list[bytes]]:
    answer = await host.handle(client_request)
    assert isinstance(answer, ClientStream), answer
    return answer, [chunk async for chunk in answer.chunks]


def report(answer: ClientResponse) -> dict[str, Any]:
    """The test executor's account of the request it served."""
    assert answer.status == 200, answer.body
    value: dict[str, Any] = json.loads(answer.body)
    return value


def alive(pid: int) -> bool:
    """Whether process ``pid`` still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
