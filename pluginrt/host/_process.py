"""One plugin process: spawned in its own process group, stderr drained, killed for sure.

A Python plugin is forked from a launcher where it can be (see
:mod:`pluginrt.host._launcher`); the guarantees below hold either way.

Guarantees:

- stderr is read continuously in its own task, line by line, into the
  plugin's logger and a bounded ring buffer (:class:`StderrTail`) used for
  crash reports, so a chatty plugin never blocks on a full pipe.
- When the process exits, its whole process group is killed, so a
  grandchild cannot keep the pipes (and the plugin) half alive.
- :meth:`PluginProcess.kill` and :meth:`PluginProcess.terminate` return
  only once the process is reaped (proven gone by its return code); both
  are shielded and bounded, so a cancelled caller can neither leak a live
  plugin process nor hang on one.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import os
import signal
import subprocess
from collections import deque
from collections.abc import Mapping
from typing import Protocol

import trio

from ._errors import PluginCrashed, PluginStartError
from ._launcher import Launchers
from ._spec import PluginSpec

__all__ = [
    "PluginProcess",
    "Process",
    "StderrTail",
    "inherited_environment",
    "plugin_environment",
    "spawn",
]


class Process(Protocol):
    """What the host uses of a plugin's process: a :class:`trio.Process`, or a
    :class:`~pluginrt.host._launcher.LaunchedProcess` forked by a launcher."""

    @property
    def pid(self) -> int: ...
    @property
    def stdin(self) -> trio.abc.SendStream | None: ...
    @property
    def stdout(self) -> trio.abc.ReceiveStream | None: ...
    @property
    def stderr(self) -> trio.abc.ReceiveStream | None: ...
    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


#: Longest stderr line kept whole; longer ones are cut (a line is for humans).
_MAX_STDERR_LINE = 2048


class StderrTail:
    """The last ``max_lines`` lines (at most ``max_bytes`` in all) a plugin wrote to stderr."""

    def __init__(self, max_lines: int = 50, max_bytes: int = 8192) -> None:
        self._lines: deque[str] = deque()
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._bytes = 0

    def append(self, line: str) -> None:
        self._lines.append(line)
        self._bytes += len(line) + 1
        while self._lines and (len(self._lines) > self._max_lines or self._bytes > self._max_bytes):
            self._bytes -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self._lines)


def inherited_environment(spec: PluginSpec) -> dict[str, str]:
    """The host's variables that ``spec.env_allow`` lets through."""
    inherited = dict(os.environ)
    if spec.env_allow is not None:
        allow = spec.env_allow
        inherited = {
            k: v for k, v in inherited.items() if any(fnmatch.fnmatchcase(k, p) for p in allow)
        }
    return inherited


def plugin_environment(
    spec: PluginSpec, inherited: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The host's variables that ``spec.env_allow`` lets through (``inherited``, if
    known already), then ``spec.env``."""
    if inherited is None:
        inherited = inherited_environment(spec)
    # PLUGINRT_PLUGIN_ID tells plugin_sdk to protect the protocol at import time.
    return {**inherited, **spec.env, "PLUGINRT_PLUGIN_ID": spec.id}


async def spawn(spec: PluginSpec, launchers: Launchers | None = None) -> Process:
    """Start ``spec``'s command with three pipes, in a new session (its own process group).

    A ``.py`` plugin is forked from one of ``launchers`` if it can be (see
    :mod:`pluginrt.host._launcher`), which spares it importing its stack.
    """
    inherited = inherited_environment(spec)
    env = plugin_environment(spec, inherited)
    if launchers is not None:
        launched = await launchers.spawn(spec, env, inherited)
        if launched is not None:
            return launched
    try:
        return await trio.lowlevel.open_process(
            spec.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
            cwd=spec.cwd,
        )
    except OSError as exc:
        raise PluginStartError(spec.id, f"cannot start {spec.argv!r}: {exc}") from exc


class PluginProcess:
    """A running plugin process. Run :meth:`run` in a nursery for as long as it lives."""

    def __init__(self, plugin_id: str, process: Process, logger: logging.Logger) -> None:
        self.plugin_id = plugin_id
        self.process = process
        self.pid = process.pid
        self.stderr_tail = StderrTail()
        #: Set once the process has been reaped.
        self.exited = trio.Event()
        #: Set once stderr reached its end (or could no longer be read).
        self.stderr_done = trio.Event()
        self._logger = logger

    @property
    def stdin(self) -> trio.abc.SendStream:
        assert self.process.stdin is not None
        return self.process.stdin

    @property
    def stdout(self) -> trio.abc.ReceiveStream:
        assert self.process.stdout is not None
        return self.process.stdout

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def run(self) -> None:
        """Drain stderr and watch for the exit until both are done."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._drain_stderr)
            nursery.start_soon(self._watch_exit)

    async def _watch_exit(self) -> None:
        await self.process.wait()
        # The leader is gone: whatever else is in its group goes too (and the
        # pipes a grandchild inherited close with it).
        self.signal_group(signal.SIGKILL)
        self.exited.set()

    async def _drain_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        pending = b""
        skipping = False  # inside a line too long to log whole: its head is logged
        try:
            while data := await stream.receive_some(65536):
                pending += data
                *lines, pending = pending.split(b"\n")
                if skipping and lines:  # the end of the long line: not logged
                    lines.pop(0)
                    skipping = False
                for line in lines:
                    self._on_stderr_line(line)
                if len(pending) > _MAX_STDERR_LINE and not skipping:
                    self._on_stderr_line(pending[:_MAX_STDERR_LINE], cut=True)
                    skipping = True
                if skipping:
                    pending = b""
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            if pending:
                self._on_stderr_line(pending)
            self.stderr_done.set()

    def _on_stderr_line(self, raw: bytes, cut: bool = False) -> None:
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if cut or len(line) > _MAX_STDERR_LINE:
            cut_off = f"... (a line over {_MAX_STDERR_LINE} bytes: its rest not logged)"
            line = line[:_MAX_STDERR_LINE] + cut_off
        self.stderr_tail.append(line)
        self._logger.info("%s", line)

    def signal_group(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the plugin's process group (nothing if it is already gone)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def wait_exited(self, timeout: float) -> bool:  # noqa: ASYNC109 - a grace period
        """Wait up to ``timeout`` seconds for the exit; True if the process is gone."""
        with trio.move_on_after(timeout):
            await self.process.wait()
        return self.process.returncode is not None

    async def kill(self) -> None:
        """SIGKILL the whole group and reap the process. Shielded; returns promptly."""
        with trio.CancelScope(shield=True):
            self.signal_group(signal.SIGKILL)
            await self.process.wait()
            # Reaping the leader may race a grandchild; kill the group once more.
            self.signal_group(signal.SIGKILL)

    async def terminate(self, grace: float) -> None:
        """Close stdin, wait ``grace``, SIGTERM the group, wait ``grace``, SIGKILL, reap.

        Shielded: the whole sequence is bounded by twice ``grace``.
        """
        with trio.CancelScope(shield=True):
            await self.close_stdin()
            if await self.wait_exited(grace):
                self.signal_group(signal.SIGKILL)
                return
            self._logger.info("did not exit after stdin closed; sending SIGTERM")
            self.signal_group(signal.SIGTERM)
            if await self.wait_exited(grace):
                self.signal_group(signal.SIGKILL)
                return
            self._logger.warning("ignored SIGTERM for %gs; sending SIGKILL", grace)
            await self.kill()

    async def close_stdin(self) -> None:
        with (
            trio.CancelScope(shield=True),
            contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
        ):
            await self.stdin.aclose()

    async def close_pipes(self) -> None:
        """Close every pipe (after the process is gone)."""
        with trio.CancelScope(shield=True):
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None:
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await stream.aclose()

    def crash_report(self, detail: str = "") -> PluginCrashed:
        return PluginCrashed(
            self.plugin_id, self.returncode, self.stderr_tail.text(), detail=detail
        )
