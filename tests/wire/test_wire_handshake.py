"""The handshake, reconfigure and shutdown, as a plugin without an SDK meets them
(PROTOCOL.md, Handshake)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import trio
from wire_harness import PATIENCE, PEER, Wire, client_request, declaration, decoded, run

from pluginrt.api import ExecutorResponse
from pluginrt.host import PluginClosed, PluginSpec, RestartPolicy, open_plugins
from pluginrt.pipeline import ClientResponse


@pytest.mark.parametrize("config", [{}, {"greeting": "hi", "n": [1, 2]}])
async def test_register_params_carry_the_version_the_id_the_config_and_the_host_summary(
    wire: Wire, config: dict[str, object]
) -> None:
    async with wire.host(**config):
        pass
    first = wire.received()[0]
    assert first["method"] == "plugin.register"
    params = first["params"]
    assert set(params) == {"protocol_version", "plugin_id", "config", "host"}
    assert (params["protocol_version"], params["plugin_id"]) == (1, "wire")
    assert params["config"] == config  # an empty section too: {} rather than no key
    assert params["host"]["AuthDir"] == str(wire.dir / "auths")


async def test_reconfigure_hands_over_the_new_section_under_config(wire: Wire) -> None:
    async with wire.host(greeting="hi") as host:
        await host.plugins["wire"].reconfigure({})
        await host.plugins["wire"].reconfigure({"greeting": "ho"})
    sent = [m["params"] for m in wire.received("plugin.reconfigure")]
    assert sent == [{"config": {}}, {"config": {"greeting": "ho"}}]


async def test_a_capability_declared_null_is_not_implemented(wire: Wire) -> None:
    nulls = declaration(RequestInterceptor=None, UsagePlugin=None)
    async with wire.host(declaration=nulls) as host:
        capabilities = host.plugins["wire"].capabilities
        assert capabilities.request_interceptor is None and capabilities.usage_plugin is None
        await run(host, {"do": "request"})
    methods = [m["method"] for m in wire.received() if "method" in m]
    assert methods == ["plugin.register", "model.static", "executor.execute", "plugin.shutdown"]


async def test_shutdown_is_answered_then_stdin_closes_and_no_signal_follows(wire: Wire) -> None:
    async with wire.host(on_shutdown="linger"):
        pass
    assert wire.received()[-1]["method"] == "plugin.shutdown"
    assert wire.events() == ["eof", "exit"]  # stdin closed; it exited before any SIGTERM


async def test_a_plugin_that_lingers_after_stdin_closes_gets_sigterm(tmp_path: Path) -> None:
    wire = Wire(tmp_path)
    spec = PluginSpec(
        id="wire",
        command=(str(PEER),),
        config={"on_shutdown": "stay"},
        env={"WIRE_JOURNAL": str(wire.journal)},
        shutdown_timeout=0.5,
        grace_period=0.5,
        restart=RestartPolicy(max_restarts=0),
    )
    with trio.fail_after(PATIENCE):
        async with open_plugins([spec]):
            pass
    assert wire.events() == ["eof", "sigterm"]


async def test_calls_answered_after_the_shutdown_answer_reach_their_callers(wire: Wire) -> None:
    answers: list[object] = []
    async with wire.host() as host:

        async def held() -> None:
            answers.append(await host.handle(client_request({"do": "hold"})))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(held)
            await wire.until_received("executor.execute")
            await host.plugins.stop("wire")
    [answer] = answers
    assert isinstance(answer, ClientResponse) and answer.status == 200, answer
    assert json.loads(answer.body) == {"held": True}
    out = [e["out"] for e in wire.entries() if "out" in e]
    assert [m.get("result") for m in out[-2:]] == [{}, {"Payload": out[-1]["result"]["Payload"]}]
    assert decoded(out[-1]["result"]["Payload"]) == {"held": True}


async def test_a_call_left_unanswered_when_a_stopped_plugin_exits_fails_as_closed(
    wire: Wire,
) -> None:
    failures: list[BaseException] = []
    async with wire.host(on_shutdown="drop") as host:
        handle = host.plugins["wire"]

        async def held() -> None:
            try:
                await handle.call("executor.execute", _command({"do": "hold"}), dict)
            except PluginClosed as exc:  # we stopped it: not a crash
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(held)
            await wire.until_received("executor.execute")
            await host.plugins.stop("wire")
    [failure] = failures
    assert str(failure) == "plugin 'wire': stopped by the host"


def _command(command: dict[str, object]) -> dict[str, object]:
    return {"Model": "wire-1", "Payload": base64.b64encode(json.dumps(command).encode()).decode()}


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (None, "plugin.register did not answer a protocol_version"),
        (1.0, "Expected `int | null`, got `float` - at `$.protocol_version`"),
        ("1", "Expected `int | null`, got `str` - at `$.protocol_version`"),
    ],
)
async def test_a_protocol_version_that_is_not_the_integer_1_is_refused_naming_the_field(
    wire: Wire, version: object, reason: str
) -> None:
    declaration = {"metadata": {"Name": "wire"}, "capabilities": {"UsagePlugin": {}}}
    if version is not None:
        declaration["protocol_version"] = version
    async with wire.host(declaration=declaration) as host:
        error = host.plugins["wire"].last_error
    assert str(error).startswith("plugin 'wire': ") and str(error).endswith(reason), error


async def test_a_null_result_is_read_as_the_zero_value_as_go_writes_a_nil_pointer_or_map(
    wire: Wire,
) -> None:
    async with wire.host(null_answers=True) as host:
        plugin = host.plugins["wire"]
        await plugin.reconfigure({"greeting": "ho"})  # answered "result": null, not {}
        answer = await plugin.call("executor.execute", _command({"do": "null"}), ExecutorResponse)
    assert answer == ExecutorResponse()
