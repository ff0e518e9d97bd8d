"""A host killed with SIGKILL gets no chance to stop its plugins: they must exit by themselves."""

from __future__ import annotations

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
        os.kill(host.pid, signal.SIGKILL)
        host.wait(10)
        if host.stdout is not None:
            host.stdout.close()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), f"plugin {pid} outlived its killed host"
