"""A host killed with SIGKILL gets no chance to stop its plugins: they must exit by themselves."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fault_harness import ROOT

_HOST_SCRIPT = """
import sys, trio
from pluginrt import open_host
from pluginrt.config import from_mapping

async def main():
    cfg = from_mapping({"auth-dir": sys.argv[1], "plugins": [
        {"id": "mock", "command": sys.argv[2]}]})
    async with open_host(cfg) as host:
        print(host.plugins["mock"].pid, flush=True)
        await trio.sleep_forever()

trio.run(main)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def _sigkill(host: subprocess.Popen[str]) -> None:
    os.kill(host.pid, signal.SIGKILL)
    host.wait(10)
    if host.stdout is not None:
        host.stdout.close()


def _wait_gone(*pids: int, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_plugins_of_a_host_killed_with_sigkill_exit_by_themselves(tmp_path: Path) -> None:
    mock = str(ROOT / "examples" / "mock_llm.py")
    host = subprocess.Popen(
        [sys.executable, "-c", _HOST_SCRIPT, str(tmp_path / "auths"), mock],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        pid = int(host.stdout.readline())
        assert _alive(pid)
    finally:
        _sigkill(host)
    _wait_gone(pid)
    assert not _alive(pid), f"plugin {pid} outlived its killed host"


_PARENT_PLUGIN = """
import subprocess, sys
from plugin_sdk import Plugin, run

# A child of the plugin's own, deaf to SIGTERM, and reading nothing the host could close.
child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
with open(sys.argv[1], "w") as file:
    file.write(str(child.pid))
plugin = Plugin("parent", version="1.0.0")
plugin.executor("parent", input_formats=["openai"], output_formats=["openai"])


@plugin.on("executor.execute")
async def execute(request):
    return None  # never called

if __name__ == "__main__":
    run(plugin)
"""


def test_the_children_of_the_plugins_of_a_host_killed_with_sigkill_exit_too(
    tmp_path: Path,
) -> None:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT_PLUGIN)
    child_pid_file = tmp_path / "child.pid"
    host_script = _HOST_SCRIPT.replace('"command": sys.argv[2]', '"command": sys.argv[2:]')
    plugin_command = [sys.executable, str(script), str(child_pid_file)]
    host = subprocess.Popen(
        [sys.executable, "-c", host_script, str(tmp_path / "auths"), *plugin_command],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        pid = int(host.stdout.readline())
        child = int(child_pid_file.read_text())
        assert _alive(pid) and _alive(child)
    finally:
        _sigkill(host)
    _wait_gone(pid, child)
    try:
        assert not _alive(pid), f"plugin {pid} outlived its killed host"
        assert not _alive(child), f"the plugin's child {child} outlived the killed host"
    finally:
        for leftover in (pid, child):
            with contextlib.suppress(ProcessLookupError):
                os.kill(leftover, signal.SIGKILL)
