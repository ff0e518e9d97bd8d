"""The shelf of misbehaving plugins: the host survives each, and says clearly what happened."""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from pluginrt.api import (
    Empty,
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStreamRequest,
    ExecutorStreamStart,
    ModelResponse,
    StaticModelRequest,
)
from pluginrt.host import (
    PluginCrashed,
    PluginDeclarationError,
    PluginFailed,
    PluginProtocolError,
    PluginSpec,
    PluginStartError,
    PluginState,
    PluginTimeout,
    RestartPolicy,
    open_plugins,
)

Shelf = Callable[..., PluginSpec]
Until = Callable[[Callable[[], bool]], Awaitable[None]]
IsAlive = Callable[[int], bool]


async def test_a_stderr_line_too_long_to_log_is_logged_once_cut_saying_so(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    # Not split into a record per read (46 records of a 3 MB line), the rest dropped unsaid.
    caplog.set_level(logging.INFO, logger="pluginrt.plugin.long-stderr")
    with trio.fail_after(10):
        async with open_plugins([shelf("long_stderr")]) as plugins:
            assert plugins["long-stderr"].state is PluginState.FAILED
    lines = [r.getMessage() for r in caplog.records if r.name == "pluginrt.plugin.long-stderr"]
    cut = "x" * 2048 + "... (a line over 2048 bytes: its rest not logged)"
    assert lines[:3] == ["before", cut, "after"]


async def test_a_plugin_that_crashes_on_start_fails_with_its_exit_status_and_stderr(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_on_start"), shelf("good")]) as plugins:
            broken = plugins["crash-on-start"]
            assert broken.state is PluginState.FAILED
            error = broken.last_error
            assert isinstance(error, PluginStartError)
            assert error.plugin_id == "crash-on-start"
            assert "exited with status 3" in str(error)
            assert "cannot read my config" in str(error)
            # Quoted, so that in a log the plugin's lines do not read as the host's.
            assert "; stderr tail:\n    | crash_on_start: cannot read my config" in str(error)
            assert isinstance(error.__cause__, PluginCrashed)
            assert error.__cause__.returncode == 3
            with pytest.raises(PluginFailed, match=r"crash-on-start.*failed"):
                await broken.call("test.echo", Empty(), Empty)
            # The others are not held back.
            assert plugins["good"].state is PluginState.RUNNING


async def test_a_plugin_that_dies_mid_call_fails_the_call_with_its_exit_status(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_mid_call")]) as plugins:
            plugin = plugins["crash-mid-call"]
            with pytest.raises(PluginCrashed) as info:
                await plugin.call("executor.execute", ExecutorRequest(), ExecutorResponse)
            error = info.value
            assert error.plugin_id == "crash-mid-call"
            assert error.returncode == 7
            assert "exited with status 7" in str(error)
            assert "about to die" in error.stderr_tail
            await trio.testing.wait_all_tasks_blocked()
            assert plugin.state in (PluginState.RESTARTING, PluginState.FAILED)


async def test_a_crash_fails_every_call_in_flight_at_once(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_mid_call")]) as plugins:
            plugin = plugins["crash-mid-call"]
            errors: list[BaseException] = []

            async def dying_call() -> None:
                try:
                    await plugin.call("executor.execute", ExecutorRequest(), ExecutorResponse)
                except Exception as exc:
                    errors.append(exc)

            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(dying_call)
            assert len(errors) == 5
            assert all(isinstance(e, PluginCrashed) and e.returncode == 7 for e in errors)
            assert plugin.statistics().in_flight == 0


async def test_each_call_failed_by_a_crash_names_its_own_method(shelf: Shelf, until: Until) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_mid_call")]) as plugins:
            plugin = plugins["crash-mid-call"]
            errors: dict[str, BaseException] = {}

            async def call(method: str) -> None:
                try:
                    await plugin.call(method, ExecutorRequest(), ExecutorResponse)
                except Exception as exc:
                    errors[method] = exc

            async with trio.open_nursery() as nursery:
                nursery.start_soon(call, "test.hang")
                await until(lambda: plugin.statistics().in_flight == 1)
                nursery.start_soon(call, "executor.execute")
            for method in ("test.hang", "executor.execute"):
                error = errors[method]
                assert isinstance(error, PluginCrashed) and error.method == method
                assert f"'crash-mid-call': crashed during {method} (exited with status 7)" in str(
                    error
                )


async def test_a_plugin_that_dies_mid_stream_fails_the_stream_with_its_signal_and_method(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_mid_stream")]) as plugins:
            plugin = plugins["crash-mid-stream"]
            stream = plugin.open_stream(window=4)
            await plugin.call(
                "executor.execute_stream",
                ExecutorStreamRequest(stream_id=stream.stream_id, window=stream.window),
                ExecutorStreamStart,
            )
            chunks = []
            with pytest.raises(PluginCrashed) as info:
                async for chunk in stream:
                    chunks.append(chunk)
            assert chunks == [b"a"]
            assert info.value.signal is signal.SIGKILL
            assert info.value.method == "executor.execute_stream"
            assert (
                "'crash-mid-stream': crashed during executor.execute_stream (killed by SIGKILL)"
                in str(info.value)
            )
            assert "segfaulting now" in info.value.stderr_tail


async def _stalled_stream(plugin: Any, window: int = 4) -> tuple[list[bytes], BaseException]:
    """Open a stream on the stall_mid_stream plugin; its chunks, and what the read raised."""
    stream = plugin.open_stream(window=window)
    await plugin.call(
        "executor.execute_stream",
        ExecutorStreamRequest(stream_id=stream.stream_id, window=stream.window),
        ExecutorStreamStart,
    )
    chunks: list[bytes] = []
    with pytest.raises(PluginTimeout) as info:
        async for chunk in stream:
            chunks.append(chunk)
    # Sent before this call, so the plugin has seen it by the time it answers.
    assert stream.stream_id in await plugin.call("test.cancelled", {}, list)
    return chunks, info.value


async def test_a_stream_that_goes_quiet_for_the_call_timeout_is_cancelled_and_named(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("stall_mid_stream", call_timeout=0.2)]) as plugins:
            plugin = plugins["stall-mid-stream"]
            chunks, error = await _stalled_stream(plugin)
            assert chunks == [b"a"]
            assert isinstance(error, PluginTimeout) and error.method == "executor.execute_stream"
            assert "plugin 'stall-mid-stream': executor.execute_stream timed out after 0.2s" in (
                str(error)
            )
            assert plugin.statistics().streams_open == 0
            assert plugin.statistics().last_error == str(error)
            # The plugin is fine, and a second stream gets its own timeout.
            assert (await _stalled_stream(plugin))[0] == [b"a"]


async def test_a_stream_of_a_plugin_with_no_call_timeout_has_no_idle_limit(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("stall_mid_stream", call_timeout=None)]) as plugins:
            assert plugins["stall-mid-stream"].open_stream(window=4).idle_timeout is None


async def test_a_handshake_that_never_comes_is_a_start_failure_naming_the_plugin(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("never_answers", handshake_timeout=0.3)]) as plugins:
            plugin = plugins["never-answers"]
            assert plugin.state is PluginState.FAILED
            assert isinstance(plugin.last_error, PluginStartError)
            assert "never-answers" in str(plugin.last_error)
            assert "handshake within 0.3s" in str(plugin.last_error)


async def test_a_handshake_timeout_quotes_what_the_plugin_wrote_on_stdout_instead(
    shelf: Shelf,
) -> None:
    # A print() to stdout is the commonest cause of a handshake that never ends.
    with trio.fail_after(10):
        async with open_plugins([shelf("banner_only", handshake_timeout=0.5)]) as plugins:
            error = plugins["banner-only"].last_error
            assert isinstance(error, PluginStartError)
            assert "handshake within 0.5s" in str(error)
            assert "not a JSON-RPC message" in str(error)
            assert "my-plugin v1.0 listening" in str(error)


async def test_a_newer_protocol_version_is_refused_with_both_numbers(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("wrong_version")]) as plugins:
            plugin = plugins["wrong-version"]
            assert plugin.state is PluginState.FAILED
            error = plugin.last_error
            assert isinstance(error, PluginDeclarationError)
            assert "protocol version 99" in str(error) and "protocol version 1" in str(error)


@pytest.mark.parametrize("version", [0, -1])
async def test_a_protocol_version_below_the_first_is_refused_with_both_numbers(
    shelf: Shelf, version: int
) -> None:
    declaration = {"protocol_version": version, "metadata": {"Name": "v"}, "capabilities": {}}
    env = {"SHELF_DECLARATION": json.dumps(declaration)}
    with trio.fail_after(10):
        async with open_plugins([shelf("declaration", env=env)]) as plugins:
            plugin = plugins["declaration"]
            assert plugin.state is PluginState.FAILED
            error = str(plugin.last_error)
            assert f"protocol version {version} does not exist" in error
            assert "protocol version is 1" in error and "declaration" in error


_VALID_META = {"Name": "decl", "Version": "1", "Author": "a", "GitHubRepository": "r"}
_EXECUTOR = {"Executor": {"identifier": "x"}, "ExecutorInputFormats": ["openai"]}


@pytest.mark.parametrize(
    ("declaration", "rule"),
    [
        ({"metadata": {"Name": " "}, "capabilities": {"UsagePlugin": {}}}, "Name is required"),
        ({"metadata": _VALID_META, "capabilities": {}}, "at least one capability"),
        (
            {"metadata": _VALID_META, "capabilities": {"AuthProvider": {}}},
            "AuthProvider needs an identifier",
        ),
        (
            {"metadata": _VALID_META, "capabilities": {"ThinkingApplier": {"identifier": ""}}},
            "ThinkingApplier needs an identifier",
        ),
        (
            {"metadata": _VALID_META, "capabilities": _EXECUTOR},
            "Executor needs ExecutorOutputFormats",
        ),
        ({"metadata": _VALID_META, "capabilities": {"UsagePlugin": {}}}, None),
    ],
)
async def test_a_declaration_is_checked_against_the_rules(
    shelf: Shelf, declaration: dict[str, Any], rule: str | None
) -> None:
    env = {"SHELF_DECLARATION": json.dumps({"protocol_version": 1, **declaration})}
    with trio.fail_after(10):
        async with open_plugins([shelf("declaration", env=env)]) as plugins:
            plugin = plugins["declaration"]
            if rule is None:
                assert plugin.state is PluginState.RUNNING
                return
            assert plugin.state is PluginState.FAILED
            assert isinstance(plugin.last_error, PluginDeclarationError)
            assert rule in str(plugin.last_error) and "declaration" in str(plugin.last_error)


async def test_an_unknown_capability_and_missing_metadata_are_warnings_the_latter_once(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    capabilities = {"UsagePlugin": {}, "Teleporter": {}}
    declaration = {"protocol_version": 1, "metadata": {"Name": "n"}, "capabilities": capabilities}
    env = {"SHELF_DECLARATION": json.dumps(declaration)}
    caplog.set_level(logging.DEBUG, logger="pluginrt")
    with trio.fail_after(10):
        async with open_plugins([shelf("declaration", env=env)]) as plugins:
            assert plugins["declaration"].state is PluginState.RUNNING
            await plugins.restart("declaration")  # a restart says it no more
            assert plugins["declaration"].state is PluginState.RUNNING
    ours = [r for r in caplog.records if r.name == "pluginrt.plugin.declaration"]
    logged = [(r.levelname, r.getMessage()) for r in ours if r.levelno >= logging.WARNING]
    assert logged.count(("WARNING", "unknown capability 'Teleporter' ignored")) == 2
    lacking = "its metadata has no Version, Author, GitHubRepository (for its author to set)"
    assert logged.count(("WARNING", lacking)) == 1
    assert plugins["declaration"].declaration is not None
    assert plugins["declaration"].declaration.warnings[:3] == tuple(
        f"Metadata.{field} is missing" for field in ("Version", "Author", "GitHubRepository")
    )


async def test_an_unknown_executor_model_scope_is_a_warning_and_taken_as_both(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    capabilities = {**_EXECUTOR, "ExecutorOutputFormats": ["openai"], "ExecutorModelScope": "often"}
    declaration = {"protocol_version": 1, "metadata": {"Name": "n"}, "capabilities": capabilities}
    env = {"SHELF_DECLARATION": json.dumps(declaration)}
    with trio.fail_after(10):
        async with open_plugins([shelf("declaration", env=env)]) as plugins:
            assert plugins["declaration"].state is PluginState.RUNNING
    said = "ExecutorModelScope 'often' is not static, oauth or both: taken as both"
    assert said in [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_an_oauth_model_provider_is_asked_neither_model_static_nor_model_register(
    shelf: Shelf,
) -> None:
    # The shelf plugin serves neither method: asking either would fail its start.
    capabilities = {**_EXECUTOR, "ExecutorOutputFormats": ["openai"], "ExecutorModelScope": "oauth",
                    "ModelProvider": {}, "ModelRegistrar": {}}  # fmt: skip
    declaration = {"protocol_version": 1, "metadata": _VALID_META, "capabilities": capabilities}
    env = {"SHELF_DECLARATION": json.dumps(declaration)}
    with trio.fail_after(10):
        async with open_plugins([shelf("declaration", env=env)]) as plugins:
            plugin = plugins["declaration"]
            assert plugin.state is PluginState.RUNNING, plugin.last_error
            assert plugin.registrations.models == ()


async def test_missing_version_author_and_repository_and_unknown_keys_are_only_warnings(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    declaration = {
        "protocol_version": 1,
        "metadata": {"Name": "sparse"},
        "capabilities": {"UsagePlugin": {}, "TimeMachine": {}},
    }
    env = {"SHELF_DECLARATION": json.dumps(declaration)}
    with trio.fail_after(10):
        async with open_plugins([shelf("declaration", env=env)]) as plugins:
            plugin = plugins["declaration"]
            assert plugin.state is PluginState.RUNNING
            assert plugin.declaration is not None
            warnings = " | ".join(plugin.declaration.warnings)
            for expected in ("Version", "Author", "GitHubRepository", "'TimeMachine'"):
                assert expected in warnings
    assert any(r.name == "pluginrt.plugin.declaration" for r in caplog.records)


async def test_stdout_garbage_is_logged_as_a_warning_and_the_plugin_keeps_working(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("stdout_garbage")]) as plugins:
            plugin = plugins["stdout-garbage"]
            assert await plugin.call("test.echo", {"x": 1}, dict) == {"x": 1}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("stdout-garbage" in w and "stray print" in w for w in warnings)
    assert any("got a call" in w for w in warnings)


async def test_invalid_json_is_logged_and_the_real_answer_still_arrives(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("invalid_json")]) as plugins:
            plugin = plugins["invalid-json"]
            assert await plugin.call("test.echo", {"x": 1}, dict) == {"x": 1}
            assert plugin.state is PluginState.RUNNING
    assert any(
        "invalid-json" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )


async def test_a_result_of_the_wrong_type_is_a_protocol_error_naming_the_method(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("invalid_json")]) as plugins:
            with pytest.raises(PluginProtocolError, match=r"model\.static"):
                await plugins["invalid-json"].call(
                    "model.static", StaticModelRequest(), ModelResponse
                )


async def test_a_line_over_the_limit_fails_the_call_and_the_plugin_is_killed(
    shelf: Shelf, until: Until
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("long_line", max_line=4096)]) as plugins:
            plugin = plugins["long-line"]
            with pytest.raises(PluginProtocolError, match="4096-byte limit"):
                await plugin.call("test.echo", {}, dict)
            # With no restarts left it passes through "restarting" on its way to "failed".
            await until(lambda: plugin.state is PluginState.FAILED)
            assert isinstance(plugin.last_error, PluginProtocolError)
            assert str(plugin.last_error) == (  # named once, as every other error is
                "plugin 'long-line': a message line exceeded the 4096-byte limit; killed"
            )


async def test_a_call_over_the_line_limit_fails_unsent_and_the_plugin_lives_on(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good", max_line=4096)]) as plugins:
            plugin = plugins["good"]
            pid = plugin.pid
            with pytest.raises(PluginProtocolError, match="over the line limit of 4096 bytes"):
                await plugin.call("test.echo", {"big": "x" * 5000}, dict)
            assert await plugin.call("test.echo", {"small": 1}, dict) == {"small": 1}
            assert plugin.state is PluginState.RUNNING and plugin.pid == pid


async def test_a_response_to_an_unknown_id_is_logged_and_ignored(
    shelf: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("unknown_id")]) as plugins:
            assert await plugins["unknown-id"].call("test.echo", {"y": 2}, dict) == {"y": 2}
    assert any("unknown id 987654" in r.getMessage() for r in caplog.records)


async def test_a_plugin_that_ignores_sigterm_is_killed(
    shelf: Shelf, caplog: pytest.LogCaptureFixture, is_alive: IsAlive
) -> None:
    caplog.set_level(logging.INFO)
    with trio.fail_after(10):
        async with open_plugins([shelf("ignores_sigterm")]) as plugins:
            plugin = plugins["ignores-sigterm"]
            pid = plugin.pid
            assert pid is not None
            await plugins.stop("ignores-sigterm")
            assert plugin.state is PluginState.STOPPED
    messages = [r.getMessage() for r in caplog.records if r.name.endswith("ignores-sigterm")]
    assert any("SIGTERM" in m for m in messages)
    assert any("SIGKILL" in m for m in messages)
    assert not is_alive(pid)


async def test_a_grandchild_holding_the_pipes_does_not_hide_a_crash(
    shelf: Shelf, until: Until, is_alive: IsAlive
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("grandchild")]) as plugins:
            plugin = plugins["grandchild"]
            grandchild = (await plugin.call("test.grandchild", {}, dict))["pid"]
            with pytest.raises(PluginCrashed, match="exited with status 5"):
                await plugin.call("test.die", {}, dict)
            with trio.fail_after(2):
                await until(lambda: not is_alive(grandchild))


async def test_stopping_a_plugin_kills_its_grandchildren_too(
    shelf: Shelf, until: Until, is_alive: IsAlive
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("grandchild")]) as plugins:
            plugin = plugins["grandchild"]
            grandchild = (await plugin.call("test.grandchild", {}, dict))["pid"]
        with trio.fail_after(2):
            await until(lambda: not is_alive(grandchild))


async def test_a_plugin_that_closes_stdout_but_keeps_running_is_killed_as_crashed(
    shelf: Shelf,
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("closes_stdout")]) as plugins:
            plugin = plugins["closes-stdout"]
            with pytest.raises(PluginCrashed) as info:
                await plugin.call("test.close", {}, dict)
            assert "closed its stdout but kept running" in str(info.value)
            assert info.value.signal is signal.SIGKILL
            assert "closing stdout" in info.value.stderr_tail


async def test_a_cancelled_caller_leaves_no_running_plugin_behind(
    shelf: Shelf, is_alive: IsAlive
) -> None:
    pids = []
    # Cancelled once both run (a fixed delay would cancel a slow start instead).
    with trio.fail_after(10), trio.CancelScope() as caller:
        async with open_plugins([shelf("ignores_sigterm"), shelf("good")]) as plugins:
            pids = [plugins["ignores-sigterm"].pid, plugins["good"].pid]
            caller.cancel()
            await trio.sleep_forever()
    assert caller.cancelled_caught and len(pids) == 2
    assert not any(pid is None or is_alive(pid) for pid in pids)


async def test_a_caller_cancelled_during_the_handshake_leaves_no_process_behind(
    shelf: Shelf,
) -> None:
    # The autouse fixtures prove nothing is left; the handshake would wait 30s.
    with trio.fail_after(10), trio.move_on_after(0.3) as scope:
        async with open_plugins([shelf("never_answers", handshake_timeout=30)]):
            pass  # pragma: no cover - never reached
    assert scope.cancelled_caught


async def test_a_crashing_plugin_is_restarted_with_backoff_then_marked_failed(
    shelf: Shelf, until: Until
) -> None:
    policy = RestartPolicy(max_restarts=3, backoff_initial=0.02, backoff_max=0.05)
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_on_start", restart=policy)]) as plugins:
            plugin = plugins["crash-on-start"]
            assert plugin.state is PluginState.RESTARTING
            start = trio.current_time()
            await until(lambda: plugin.state is PluginState.FAILED)
            # Waited 0.02 + 0.04 + 0.05 at least, between the four attempts.
            assert trio.current_time() - start >= 0.1
            assert plugin.restarts == 3
            assert plugin.statistics().restarts == 3
            with pytest.raises(PluginFailed) as info:
                await plugin.call("test.echo", {}, dict)
            assert "exited with status 3" in str(info.value)


async def test_a_plugin_that_crashes_once_is_running_again_after_a_restart(
    shelf: Shelf, tmp_path: Path, until: Until
) -> None:
    policy = RestartPolicy(max_restarts=2, backoff_initial=0.01)
    env = {"SHELF_MARKER": os.fspath(tmp_path / "marker")}
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_once", restart=policy, env=env)]) as plugins:
            plugin = plugins["crash-once"]
            await until(lambda: plugin.state is PluginState.RUNNING)
            assert plugin.restarts == 1
            assert await plugin.call("test.echo", {"ok": True}, dict) == {"ok": True}


async def test_a_call_that_times_out_names_the_plugin_and_the_method(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good", call_timeout=0.2)]) as plugins:
            good = plugins["good"]
            with pytest.raises(PluginTimeout, match=r"'good'.*test\.hang timed out after 0\.2s"):
                await good.call("test.hang", {}, dict)
            # The plugin is still fine, and the late answer cannot confuse it.
            assert await good.call("test.echo", {"z": 3}, dict) == {"z": 3}
            assert good.statistics().errors == 1


async def test_the_restart_count_resets_once_a_plugin_has_run_healthily(
    shelf: Shelf, until: Until
) -> None:
    # One restart allowed in a row; healthy at once, so every crash is the first.
    policy = RestartPolicy(max_restarts=1, backoff_initial=0.01, healthy_after=0)
    with trio.fail_after(10):
        async with open_plugins([shelf("crash_mid_call", restart=policy)]) as plugins:
            plugin = plugins["crash-mid-call"]
            for expected in (1, 2, 3):
                with pytest.raises(PluginCrashed):
                    await plugin.call("executor.execute", ExecutorRequest(), ExecutorResponse)
                await until(lambda: plugin.state is PluginState.RUNNING)
                assert plugin.restarts == expected
