"""Python plugins forked by a launcher: started as a spawned plugin would be, supervised alike."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from pluginrt.api import ExecutorRequest, ExecutorResponse
from pluginrt.host import PluginSpec, PluginState, RestartPolicy, open_plugins

Shelf = Callable[..., PluginSpec]


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


async def _facts(shelf: Shelf, env: dict[str, str]) -> tuple[dict[str, Any], int]:
    """What the facts plugin says of its start, and its parent's pid."""
    with trio.fail_after(10):
        async with open_plugins([shelf("facts", env=env)]) as plugins:
            handle = plugins["facts"]
            assert handle.pid is not None, handle.last_error
            answer = await handle.call("executor.execute", ExecutorRequest(), ExecutorResponse)
            parent = parent_of(handle.pid)
    facts: dict[str, Any] = json.loads(answer.payload)
    facts["env"].pop("PLUGINRT_LAUNCHER")  # what the test sets apart
    return facts, parent


@pytest.mark.parametrize(
    "env",
    [
        {},
        # What an interpreter reads as it starts, or (TZ) as it imports time.
        {"PYTHONPATH": "/nowhere/plugin-libs", "PYTHONDONTWRITEBYTECODE": "1", "TZ": "Asia/Tokyo"},
    ],
)
async def test_a_forked_plugin_starts_exactly_as_a_spawned_one_would(
    shelf: Shelf, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.setenv("PLUGINRT_LAUNCHER", "0")
    spawned, spawned_parent = await _facts(shelf, env)
    monkeypatch.setenv("PLUGINRT_LAUNCHER", "1")
    forked, forked_parent = await _facts(shelf, env)
    assert spawned_parent == os.getpid()
    assert forked_parent != os.getpid()  # the launcher
    assert forked == spawned
    assert spawned["command_line"].endswith("facts.py")
    assert all(spawned["env"][name] == value for name, value in env.items())
    if env:  # and they took effect
        assert "/nowhere/plugin-libs" in spawned["path"]
        assert spawned["time_zone"] == ["JST", "JST"]


async def test_plugins_share_one_launcher_which_is_gone_when_the_host_stops(
    shelf: Shelf, is_alive: Callable[[int], bool]
) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good"), shelf("facts")]) as plugins:
            pids = [handle.pid for handle in plugins.values()]
            assert None not in pids
            launchers = {parent_of(pid) for pid in pids if pid is not None}
        assert len(launchers) == 1 and os.getpid() not in launchers
    (launcher,) = launchers
    assert not is_alive(launcher)


async def test_a_killed_launcher_has_its_plugins_restarted_through_a_new_one(
    shelf: Shelf, until: Callable[[Callable[[], bool]], Awaitable[None]]
) -> None:
    spec = shelf("good", restart=RestartPolicy(max_restarts=1, backoff_initial=0.01))
    with trio.fail_after(10):
        async with open_plugins([spec]) as plugins:
            good = plugins["good"]
            first = good.pid
            assert first is not None
            launcher = parent_of(first)
            os.kill(launcher, signal.SIGKILL)
            await until(lambda: good.restarts == 1 and good.state is PluginState.RUNNING)
            assert good.pid is not None and good.pid != first
            assert parent_of(good.pid) not in (launcher, os.getpid())
            assert "SIGKILL" in str(good.last_error)
            request = ExecutorRequest(payload=b"hi")
            answer = await good.call("executor.execute", request, ExecutorResponse)
            assert answer.payload == b"hi"


async def test_a_start_cancelled_while_the_launcher_forks_leaves_no_process(
    shelf: Shelf,
) -> None:
    # The no-process-left-behind fixture checks what this leaves.
    with trio.move_on_after(0.02):
        async with open_plugins([shelf("good")]):
            pytest.fail("started within 20 ms")  # pragma: no cover


@pytest.mark.parametrize("launcher", ["0", "1"])
async def test_a_missing_script_fails_as_python_would_without_a_traceback(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, launcher: str
) -> None:
    monkeypatch.setenv("PLUGINRT_LAUNCHER", launcher)
    script = str(tmp_path / "missing.py")
    spec = PluginSpec(id="missing", command=(script,), restart=RestartPolicy(max_restarts=0))
    with trio.fail_after(10):
        async with open_plugins([spec]) as plugins:
            error = str(plugins["missing"].last_error)
    assert "(exited with status 2)" in error
    assert f"can't open file '{script}': [Errno 2] No such file or directory" in error
    assert "Traceback" not in error
