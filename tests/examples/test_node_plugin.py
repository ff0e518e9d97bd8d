"""examples/node/echo_plugin.js: a plugin in another language passes the same tests."""

from __future__ import annotations

import shutil

import pytest
from examples_harness import EXAMPLES, start, stream

from pluginrt import api
from pluginrt.host import PluginRemoteError
from pluginrt.rpc import Empty

NODE = EXAMPLES / "node" / "echo_plugin.js"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH: the Node.js example cannot run"
)
PAYLOAD = b'{"messages": [{"role": "user", "content": "hello from python \\u00e9"}]}'


async def test_the_node_plugin_handshakes_and_registers_its_static_model() -> None:
    async with start(NODE) as plugin:
        assert plugin.metadata.name == "node-echo"
        caps = plugin.capabilities
        assert caps.executor == api.CapabilityDecl(identifier="node-echo")
        assert caps.model_provider == api.CapabilityDecl()
        assert caps.executor_model_scope == "static"
        assert caps.executor_input_formats == caps.executor_output_formats == ["openai"]
        assert plugin.registrations.provider == "node-echo"
        assert [m.id for m in plugin.registrations.models] == ["node-echo-1"]
        assert await plugin.call("$/ping", Empty(), Empty) == Empty()


async def test_the_node_plugin_echoes_the_payload_bytes() -> None:
    request = api.ExecutorRequest(model="node-echo-1", format="openai", payload=PAYLOAD)
    async with start(NODE) as plugin:
        answer = await plugin.call("executor.execute", request, api.ExecutorResponse)
    assert answer.payload == PAYLOAD
    assert answer.headers["X-Echo-Model"] == ["node-echo-1"]


@pytest.mark.parametrize("window", [1, 2, 8])
async def test_the_node_plugin_streams_the_payload_in_chunks_within_its_credit(
    window: int,
) -> None:
    request = api.ExecutorRequest(model="node-echo-1", stream=True, payload=PAYLOAD)
    async with start(NODE) as plugin:
        start_, chunks = await stream(plugin, request, window=window)
        # Still healthy afterwards: a credit overrun would have failed the stream.
        assert await plugin.call("$/ping", Empty(), Empty) == Empty()
    assert start_.headers == {"Content-Type": ["application/octet-stream"]}
    assert len(chunks) == 3
    assert b"".join(chunks) == PAYLOAD


async def test_the_node_plugin_answers_an_unknown_method_with_method_not_found() -> None:
    async with start(NODE) as plugin:
        with pytest.raises(PluginRemoteError, match="-32601"):
            await plugin.call("executor.count_tokens", api.ExecutorRequest(), api.ExecutorResponse)
