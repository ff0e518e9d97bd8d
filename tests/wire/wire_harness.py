"""A host running the plugin written from PROTOCOL.md alone (``plugins/wire_peer.py``,
no SDK), and that plugin's journal of every line it read and wrote."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from pluginrt import Host, open_host
from pluginrt.config import from_mapping
from pluginrt.gateway import serve
from pluginrt.pipeline import ClientRequest, ClientResponse, Endpoint

PEER = Path(__file__).parent / "plugins" / "wire_peer.py"
#: Every wait on a real process is bounded by this.
PATIENCE = 10.0


def declaration(**capabilities: Any) -> dict[str, Any]:
    """The peer's own declaration (an executor of model ``wire-1``), with ``capabilities``
    added or (given None) declared null."""
    return {
        "protocol_version": 1,
        "metadata": {"Name": "wire"},
        "capabilities": {
            "Executor": {"identifier": "wire"},
            "ExecutorModelScope": "static",
            "ExecutorInputFormats": ["openai"],
            "ExecutorOutputFormats": ["openai"],
            "ModelProvider": {},
            **capabilities,
        },
    }


class Wire:
    """A host running ``wire_peer.py`` as plugin ``wire``, and that plugin's journal."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.journal = tmp_path / "journal.jsonl"

    def plugin(self, **config: Any) -> dict[str, Any]:
        return {
            "id": "wire",
            "command": str(PEER),
            "timeout": 5,
            "handshake-timeout": 5,
            "restart": {"max-restarts": 0},
            "env": {"WIRE_JOURNAL": str(self.journal)},
            "config": config,
        }

    @asynccontextmanager
    async def host(self, **config: Any) -> AsyncIterator[Host]:
        """A host of just this plugin, with ``config`` as its section."""
        mapping = {"auth-dir": str(self.dir / "auths"), "plugins": [self.plugin(**config)]}
        with trio.fail_after(PATIENCE):
            async with open_host(from_mapping(mapping)) as host:
                yield host

    def entries(self) -> list[dict[str, Any]]:
        lines = self.journal.read_text().splitlines() if self.journal.exists() else []
        return [json.loads(line) for line in lines]

    def received(self, method: str | None = None) -> list[dict[str, Any]]:
        """The messages the plugin read (those of ``method`` only, if given)."""
        got = [e["in"] for e in self.entries() if "in" in e]
        if method is None:
            return got
        return [m for m in got if isinstance(m, dict) and m.get("method") == method]

    async def until_received(self, method: str) -> None:
        """Wait until the plugin has read a message of ``method``."""
        # Polls: the plugin is a real process; its journal grows with no event of ours.
        with trio.fail_after(PATIENCE):
            while not self.received(method):  # noqa: ASYNC110
                await trio.sleep(0.01)

    def events(self) -> list[str]:
        return [e["event"] for e in self.entries() if "event" in e]


def client_request(command: dict[str, Any], *, stream: bool = False) -> ClientRequest:
    """A client request for model ``wire-1`` whose body is the plugin's command."""
    body = json.dumps({"model": "wire-1", "stream": stream, **command}).encode()
    return ClientRequest("openai", Endpoint.GENERATE, model="wire-1", body=body, headers={})


async def run(host: Host, command: dict[str, Any]) -> Any:
    """Have the plugin run ``command`` while serving a client request; its outcome."""
    answer = await host.handle(client_request(command))
    assert isinstance(answer, ClientResponse), answer
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


def decoded(value: str) -> Any:
    return json.loads(base64.b64decode(value))


async def serve_http(nursery: trio.Nursery, answer: bytes | None) -> str:
    """A bare HTTP/1.1 server on loopback writing ``answer`` to each request (None: never
    answering). Returns its URL."""

    async def connection(stream: trio.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                data = await stream.receive_some()
                if not data:
                    return
                head += data
            if answer is None:
                await trio.sleep_forever()
            await stream.send_all(answer)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    nursery.start_soon(trio.serve_listeners, connection, listeners)
    return f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"


@asynccontextmanager
async def gateway(wire: Wire, **config: Any) -> AsyncIterator[str]:
    """The real gateway (``pluginrt run``'s server) over a host of the plugin; its base URL."""
    mapping = {
        "host": "127.0.0.1",
        "port": 0,
        "auth-dir": str(wire.dir / "auths"),
        "plugins": [wire.plugin(**config)],
    }
    with trio.fail_after(PATIENCE):
        async with open_host(from_mapping(mapping)) as host, trio.open_nursery() as nursery:
            binds = await nursery.start(partial(serve, host, handle_signals=False))
            yield binds[0]
            nursery.cancel_scope.cancel()
