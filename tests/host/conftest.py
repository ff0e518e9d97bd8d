"""Host test fixtures: the shelf of plugins, and a check that no descendant outlives a test.

Every process the tests start inherits ``PLUGINRT_TEST_TAG``; after each test
no live process but the test runner itself may carry it (grandchildren that
were re-parented away from us included).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from pluginrt.host import PluginSpec, RestartPolicy

PLUGINS = Path(__file__).parent / "plugins"
_TAG = f"PLUGINRT_TEST_TAG={uuid.uuid4().hex}".encode()
os.environ["PLUGINRT_TEST_TAG"] = _TAG.split(b"=", 1)[1].decode()


def tagged_processes() -> set[int]:
    """Live (not zombie) processes other than this one that inherited the tag."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if _TAG in environ and state not in (b"Z", b"X"):
            found.add(int(entry))
    return found


@pytest.fixture(autouse=True)
def no_grandchild_left_behind() -> Iterator[None]:
    before = tagged_processes()
    yield
    # SIGKILL is delivered asynchronously: give a killed process a moment to die.
    deadline = time.monotonic() + 2.0
    while (left := tagged_processes() - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not left, f"processes left behind: {sorted(left)}"


def make_spec(name: str, **overrides: Any) -> PluginSpec:
    """A spec for ``tests/host/plugins/<name>.py`` with short, test-sized waits."""
    settings: dict[str, Any] = {
        "id": name.replace("_", "-"),
        "command": (str(PLUGINS / f"{name}.py"),),
        "call_timeout": 5.0,
        "handshake_timeout": 5.0,
        "shutdown_timeout": 0.5,
        "grace_period": 0.3,
        "restart": RestartPolicy(max_restarts=0),
    }
    settings.update(overrides)
    return PluginSpec(**settings)


@pytest.fixture
def shelf() -> Callable[..., PluginSpec]:
    """``shelf(name, **overrides)``: a spec for one plugin of the shelf."""
    return make_spec


async def _until(predicate: Callable[[], bool]) -> None:
    # Polls: a real process's state changes with no event of ours to wait on.
    while not predicate():  # noqa: ASYNC110
        await trio.sleep(0.01)


@pytest.fixture
def until() -> Callable[[Callable[[], bool]], Awaitable[None]]:
    """``await until(predicate)``: poll until it holds (wrap in ``trio.fail_after``)."""
    return _until


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


@pytest.fixture
def is_alive() -> Callable[[int], bool]:
    return alive
