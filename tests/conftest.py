"""Shared by every test folder: no test may leave a child process behind."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator

import pytest

#: How long a test's children get to be reaped after it ends.
_GRACE = 2.0


def _children() -> dict[int, str]:
    """Our direct children (zombies included: unreaped is left behind too), pid -> description."""
    found: dict[int, str] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                stat = file.read().decode("utf-8", "replace")
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        head, _, tail = stat.rpartition(")")
        fields = tail.split()
        if len(fields) >= 2 and int(fields[1]) == me:
            found[int(entry)] = f"pid {entry} {head.partition('(')[2]!r} state {fields[0]}"
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail the test if it leaves a child process (running or unreaped) behind; kill those."""
    if not sys.platform.startswith("linux"):
        yield
        return
    before = set(_children())
    yield
    deadline = time.monotonic() + _GRACE
    while True:
        left = {pid: text for pid, text in _children().items() if pid not in before}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    if left:
        pytest.fail("the test left child processes behind: " + "; ".join(left.values()))
