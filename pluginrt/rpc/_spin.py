"""A short spin before the event loop sleeps, while an answer is due on a pipe.

A process that sleeps in ``epoll_wait`` and is woken by its peer's write pays
the kernel's (and, in a virtual machine, the hypervisor's) wake-up: tens of
microseconds here, more than the rest of a round trip. While one of our
calls awaits its answer, that answer usually comes within microseconds, so
the loop checks the pipes for up to :data:`SPIN` before it sleeps. Spins that
find nothing back off (skipping twice as many sleeps each time, up to
1024), so a process waiting on slow answers (an upstream LLM) spends almost
nothing on them; nor does a busy one (more than two calls awaited: its
peers need the CPU). ``PLUGINRT_SPIN_US`` sets the spin in microseconds (0: never).
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Sized

import trio

__all__ = ["SPIN", "watch"]

#: The longest the loop spins before sleeping (seconds).
SPIN = float(os.environ.get("PLUGINRT_SPIN_US", "100")) * 1e-6
_MAX_SKIP = 1024
#: Spin only while this few calls are awaited: with more, the processes
#: answering them need the CPU more than this loop needs the microseconds.
_MAX_WAITING = 2

_INSTRUMENT: trio.lowlevel.RunVar[_Spin] = trio.lowlevel.RunVar("pluginrt.rpc.spin")


class _Spin(trio.abc.Instrument):
    def __init__(self) -> None:
        # By id(calls): a watched descriptor, and the calls awaiting an answer on it.
        self.watched: dict[int, tuple[int, Sized]] = {}
        self._skip = 0
        self._backoff = 1

    def before_io_wait(self, timeout: float) -> None:
        if timeout <= 0:
            return
        if self._skip:
            self._skip -= 1
            return
        waiting = [(fd, len(calls)) for fd, calls in self.watched.values() if calls]
        if not waiting or sum(count for _, count in waiting) > _MAX_WAITING:
            return
        poller = select.poll()  # not select(): descriptors past 1024 are common in a host
        for fd, _ in waiting:
            poller.register(fd, select.POLLIN)
        end = time.perf_counter() + min(SPIN, timeout)  # never past a deadline
        while not poller.poll(0):
            if time.perf_counter() >= end:
                self._skip = self._backoff
                self._backoff = min(2 * self._backoff, _MAX_SKIP)
                return
        self._backoff = 1


def watch(fd: int, calls: Sized) -> Callable[[], None]:
    """Spin for ``fd`` while ``calls`` is not empty, in the current trio run.

    Returns the function that stops it.
    """
    if SPIN <= 0:
        return _nothing
    try:
        spin = _INSTRUMENT.get()
    except LookupError:
        spin = _Spin()
        _INSTRUMENT.set(spin)
        trio.lowlevel.add_instrument(spin)
    key = id(calls)
    spin.watched[key] = (fd, calls)

    def unwatch() -> None:
        spin.watched.pop(key, None)

    return unwatch


def _nothing() -> None:
    pass
