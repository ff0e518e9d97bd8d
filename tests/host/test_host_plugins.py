"""A well-behaved plugin through the host: handshake, registrations, calls, streams, callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing

from pluginrt.api import (
    Empty,
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStreamRequest,
    ExecutorStreamStart,
)
from pluginrt.host import (
    PluginRemoteError,
    PluginSpec,
    PluginState,
    PluginUnavailable,
    open_plugins,
)
from pluginrt.rpc import CallContext, Handler

Shelf = Callable[..., PluginSpec]


async def test_a_good_plugin_is_running_with_its_declaration_and_registrations(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good")]) as plugins:
            good = plugins["good"]
            assert good.state is PluginState.RUNNING
            assert good.pid is not None
            assert good.metadata.name == "good"
            assert good.capabilities.executor is not None
            assert good.capabilities.executor.identifier == "shelf"
            assert good.declaration is not None and good.declaration.warnings == ()
            regs = good.registrations
            assert regs.provider == "goodai"
            assert [m.id for m in regs.models] == ["good-1"]
            assert [f.name for f in regs.flags] == ["good-flag"]
            assert [r.path for r in regs.routes] == ["/v0/management/good/status"]
            assert [r.path for r in regs.resources] == ["/v0/resource/plugins/good/index.html"]
        assert good.state is PluginState.STOPPED
        assert good.pid is None


async def test_a_call_passes_seed_structs_through_a_good_plugin(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good")]) as plugins:
            response = await plugins["good"].call(
                "executor.execute", ExecutorRequest(model="m", payload=b"hi"), ExecutorResponse
            )
            assert response.payload == b"hi"
            assert response.headers == {"X-Plugin": ["good"]}
            stats = plugins["good"].statistics()
            assert (stats.calls, stats.errors, stats.in_flight) == (1, 0, 0)


async def test_an_executor_stream_is_read_through_the_handle(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good")]) as plugins:
            good = plugins["good"]
            stream = good.open_stream(window=8)
            start = await good.call(
                "executor.execute_stream",
                ExecutorStreamRequest(model="m", stream_id=stream.stream_id, window=stream.window),
                ExecutorStreamStart,
            )
            assert start.headers == {"X-Stream": ["yes"]}
            assert [chunk async for chunk in stream] == [b"chunk0", b"chunk1", b"chunk2"]


async def test_a_plugin_error_keeps_its_code_status_and_retryable_flag(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good")]) as plugins:
            with pytest.raises(PluginRemoteError) as info:
                await plugins["good"].call("test.fail", Empty(), Empty)
            error = info.value
            assert error.plugin_id == "good"
            assert (error.code, error.error_code, error.http_status, error.retryable) == (
                -32000,
                "quota",
                429,
                True,
            )
            assert "upstream said no" in str(error)
            stats = plugins["good"].statistics()
            assert stats.errors == 1 and "upstream said no" in (stats.last_error or "")


async def test_host_log_is_logged_with_the_plugin_id_and_callback_id(
    shelf: Shelf,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(10):
        async with open_plugins([shelf("good")]) as plugins:
            await plugins["good"].call("test.log", Empty(), Empty)
            await plugins["good"].call("test.echo", Empty(), Empty)  # the log came before this
    records = [r for r in caplog.records if "hello from good" in r.getMessage()]
    assert len(records) == 1
    assert records[0].name == "pluginrt.plugin.good"
    assert records[0].levelno == logging.WARNING
    assert "cb-7" in records[0].getMessage() and "n=1" in records[0].getMessage()


async def test_callbacks_from_a_factory_serve_the_plugins_host_calls(shelf: Shelf) -> None:
    class Echo(Empty, kw_only=True):
        value: str = ""

    seen = []

    def callbacks(handle: object) -> dict[str, Handler]:
        async def echo(params: Echo, context: CallContext) -> dict[str, str]:
            seen.append(handle)
            return {"echoed": params.value}

        return {"test.host.echo": Handler(Echo, echo)}

    with trio.fail_after(10):
        async with open_plugins([shelf("good")], callbacks=callbacks) as plugins:
            answer = await plugins["good"].call("test.callback", {"value": "ping"}, dict)
            assert answer == {"echoed": "ping"}
            assert seen == [plugins["good"]]


async def test_stop_and_restart_keep_the_same_handle(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good")]) as plugins:
            good = plugins["good"]
            first_pid = good.pid
            await plugins.stop("good")
            assert good.state is PluginState.STOPPED and good.pid is None
            with pytest.raises(PluginUnavailable, match="stopped"):
                await good.call("test.echo", Empty(), Empty)
            assert await plugins.restart("good") is good
            assert good.state is PluginState.RUNNING
            assert good.pid not in (None, first_pid)
            assert await good.call("test.echo", {"a": 1}, dict) == {"a": 1}


async def test_stopping_a_plugin_lets_its_calls_in_flight_finish() -> None:
    # An SDK plugin answers its calls still in flight after plugin.shutdown; the host
    # waits for those answers (within the shutdown timeout) before closing.
    script = Path(__file__).parents[1] / "sdk" / "plugins" / "sdk_echo.py"
    spec = PluginSpec(id="echo", command=(str(script),), shutdown_timeout=5.0)
    answers: list[bytes] = []
    with trio.fail_after(10):
        async with open_plugins([spec]) as plugins:
            echo = plugins["echo"]

            async def slow_call() -> None:  # half a second in the plugin
                request = ExecutorRequest(payload=b"slow")
                answer = await echo.call("executor.execute", request, ExecutorResponse)
                answers.append(answer.payload)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(slow_call)
                # Sent: the plugin reads it before plugin.shutdown, the line after it.
                await trio.testing.wait_all_tasks_blocked()
                assert echo.statistics().in_flight == 1
                await plugins.stop("echo")
            assert echo.state is PluginState.STOPPED
    assert answers == [b"slow"]


async def test_plugins_are_ordered_by_priority_then_id(shelf: Shelf) -> None:
    specs = [
        shelf("good", id="b", priority=1),
        shelf("good", id="a"),
        shelf("good", id="c", priority=1),
    ]
    with trio.fail_after(10):
        async with open_plugins(specs) as plugins:
            assert [h.id for h in plugins.ordered()] == ["b", "c", "a"]
            assert sorted(plugins) == ["a", "b", "c"]
