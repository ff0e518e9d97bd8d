"""Starting Python plugins by forking a launcher that has their stack imported already.

A new interpreter spends most of a Python plugin's start importing trio and
msgspec. A launcher (``_launcher_process.py``) imports them once and forks a
plugin per request, which then imports only pluginrt and its own code. The
host uses one for plugins run as a ``.py`` script by its own Python (no
interpreter options), one launcher per interpreter environment: the variables
an interpreter reads as it starts (``PYTHON*``, the locale, ``HOME``) and the
working directory are the launcher's own, so a forked plugin starts as a
spawned one would. What is left apart: its parent is the launcher, and
``/proc/<pid>/environ`` shows what every plugin inherits of the host (a
plugin's own variables are in its ``os.environ``). On Linux only;
``PLUGINRT_LAUNCHER=0`` turns launchers off.

Guarantees:

- A launched plugin is supervised like a spawned one: a process group of its
  own, its exit status (the launcher reaps it and reports it), its pipes.
- A spawn cancelled before the launcher answered leaves no process behind:
  the child is killed as soon as its pid is known.
- If a launcher dies, the plugins it forked are killed and reported killed,
  and the next spawn starts a new launcher.
- :meth:`Launchers.aclose` leaves no launcher behind.
"""

from __future__ import annotations

import array
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from typing import Any

import trio

from ._spec import PluginSpec

__all__ = ["LaunchedProcess", "Launchers"]

logger = logging.getLogger("pluginrt.launcher")

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_launcher_process.py")
#: What a Python interpreter reads of its environment as it starts (sys.path,
#: flags, the locale and so the encodings, the user site).
_STARTUP_PREFIXES = ("PYTHON", "LC_")
_STARTUP_NAMES = frozenset({"LANG", "LANGUAGE", "HOME"})
#: Room in the launcher's arguments for a plugin's process title (``python script``).
_TITLE_ROOM = 256
#: How long a launcher may take to answer a spawn (its own start included) before
#: it is taken for stuck, killed, and the plugin spawned instead.
_ANSWER_TIMEOUT = 30.0
#: How long a closed launcher may take to exit before it is killed.
_EXIT_GRACE = 2.0


class LauncherGone(Exception):
    """The launcher could not fork the plugin (it exited, or fork failed)."""


class LaunchedProcess:
    """A plugin forked by a launcher: the part of :class:`trio.Process` the host uses."""

    def __init__(self, fds: tuple[int, int, int]) -> None:
        stdin, stdout, stderr = fds
        self.stdin: trio.abc.SendStream = trio.lowlevel.FdStream(stdin)
        self.stdout: trio.abc.ReceiveStream = trio.lowlevel.FdStream(stdout)
        self.stderr: trio.abc.ReceiveStream = trio.lowlevel.FdStream(stderr)
        self.pid = 0
        self.returncode: int | None = None
        self._exited = trio.Event()

    async def wait(self) -> int:
        """Wait until the launcher reports the exit; return the exit code (-N: signal N)."""
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode

    def _exit(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
            self._exited.set()


class _Request:
    """A spawn waiting for the launcher's answer."""

    def __init__(self, process: LaunchedProcess) -> None:
        self.process = process
        self.answered = trio.Event()
        self.error = ""
        self.abandoned = False  # its spawn was cancelled: kill what comes of it


class _Launcher:
    """One launcher process, started with ``env``, and the plugins it forked."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self._env = env
        self._cwd = cwd
        self._socket: trio.socket.SocketType | None = None
        self._process: trio.Process | None = None
        self._requests: deque[_Request] = deque()
        self._children: dict[int, LaunchedProcess] = {}
        self._send_lock = trio.Lock()
        self.alive = True

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the launcher and serve its messages until it is gone."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with theirs:
                self._process = await trio.lowlevel.open_process(
                    [sys.executable, _SCRIPT, str(theirs.fileno()), " " * _TITLE_ROOM],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    env=self._env,
                    cwd=self._cwd,
                    start_new_session=True,  # no terminal's signals
                    pass_fds=(theirs.fileno(),),
                )
        except BaseException:
            ours.close()
            self.alive = False
            raise
        self._socket = trio.socket.from_stdlib_socket(ours)
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._log_stderr)
                await self._read()
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._gone()

    async def _read(self) -> None:
        assert self._socket is not None and self._process is not None
        while True:
            try:
                data = await self._socket.recv(65536)
            except OSError:
                return
            if not data:
                return  # it exited (or was told to, see close)
            try:
                self._on_message(json.loads(data))
            except (ValueError, KeyError, TypeError) as exc:  # pragma: no cover - a bug
                logger.error("launcher: a bad message %r (%s); killing it", data, exc)
                self._process.kill()
                return

    def _on_message(self, message: dict[str, Any]) -> None:
        if "exited" in message:
            child = self._children.pop(message["exited"], None)
            if child is not None:
                child._exit(os.waitstatus_to_exitcode(message["status"]))
            return
        if not self._requests:  # pragma: no cover - the launcher answers requests only
            logger.warning("launcher: an answer to no request: %r", message)
            return
        request = self._requests.popleft()
        if "spawned" in message:
            pid = request.process.pid = message["spawned"]
            self._children[pid] = request.process
            if request.abandoned:
                _kill_group(pid)
        else:
            request.error = message.get("failed", "no answer")
        request.answered.set()

    async def _log_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        rest = b""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await self._process.stderr.receive_some(65536):
                *lines, rest = (rest + data).split(b"\n")
                for line in lines:
                    logger.warning("launcher: %s", line.decode("utf-8", "replace"))

    async def _gone(self) -> None:
        """The launcher is gone or going: fail what waits on it, kill what it forked."""
        self.alive = False
        for request in self._requests:
            request.error = "the launcher exited"
            request.answered.set()
        self._requests.clear()
        for pid, child in self._children.items():
            _kill_group(pid)  # unreaped by anyone now: reported killed, and killed
            child._exit(-signal.SIGKILL)
        self._children.clear()
        if self._socket is not None:
            self._socket.close()
        if self._process is not None:
            with trio.move_on_after(_EXIT_GRACE):
                await self._process.wait()
            if self._process.returncode is None:
                self._process.kill()
                await self._process.wait()

    async def spawn(self, argv: list[str], env: Mapping[str, str], cwd: str) -> LaunchedProcess:
        """Fork ``argv`` (``[python, script, ...]``) with ``env`` in ``cwd``.

        Raises :class:`LauncherGone` if the launcher cannot.
        """
        if not self.alive or self._socket is None:
            raise LauncherGone("the launcher is gone")
        pipes = [os.pipe() for _ in range(3)]
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        process = LaunchedProcess((pipes[0][1], pipes[1][0], pipes[2][0]))
        request = _Request(process)
        message = json.dumps({"argv": argv, "env": dict(env), "cwd": cwd}).encode()
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", theirs))]
        try:
            async with self._send_lock:  # answers come in the order of the requests
                self._requests.append(request)
                try:
                    await self._socket.sendmsg([message], fds)
                except BaseException:
                    self._requests.remove(request)  # not sent (trio: cancelled, or failed)
                    raise
        except BaseException as exc:
            with trio.CancelScope(shield=True):
                await _close(process)
            if isinstance(exc, OSError):
                raise LauncherGone(f"the launcher is gone: {exc}") from None
            raise
        finally:
            for fd in theirs:  # the launcher has its own copies now
                os.close(fd)
        try:
            with trio.move_on_after(_ANSWER_TIMEOUT):
                await request.answered.wait()
        except BaseException:
            await self._abandon(request)
            raise
        if not request.answered.is_set():
            await self._abandon(request)
            if self._process is not None:
                self._process.kill()  # stuck: the next spawn starts a new one (see run)
            raise LauncherGone(f"no answer from the launcher in {_ANSWER_TIMEOUT:g}s")
        if request.error:
            await _close(process)
            raise LauncherGone(request.error)
        return process

    async def _abandon(self, request: _Request) -> None:
        """Give up on ``request``: its plugin is killed as soon as its pid is known."""
        request.abandoned = True  # (see _on_message)
        if request.process.pid:
            _kill_group(request.process.pid)
        with trio.CancelScope(shield=True):
            await _close(request.process)

    def close(self) -> None:
        """Hang up: the launcher sees the end of its requests and exits (see run)."""
        if self._socket is not None and self.alive:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_WR)


class Launchers:
    """The launchers of one host, by interpreter environment, started on first use."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._launchers: dict[tuple[object, ...], _Launcher] = {}
        self._starting = trio.Lock()

    @staticmethod
    def serves(spec: PluginSpec) -> bool:
        """Whether ``spec`` runs a ``.py`` script under this Python with no interpreter
        options (``[sys.executable, "x.py", args...]``), and launchers are on."""
        argv = spec.argv
        return (
            len(argv) >= 2
            and argv[0] == sys.executable
            and argv[1].endswith(".py")
            and os.environ.get("PLUGINRT_LAUNCHER", "1") != "0"
            and sys.platform.startswith("linux")  # SOCK_SEQPACKET, /proc
        )

    async def spawn(
        self, spec: PluginSpec, env: Mapping[str, str], inherited: Mapping[str, str]
    ) -> LaunchedProcess | None:
        """``spec``'s plugin, with environment ``env``, forked from the launcher for it;
        None where no launcher serves it or one could not fork it (spawn it instead).

        The launcher runs with ``inherited`` (what every plugin gets of the
        host's environment; never a plugin's own variables) and ``env``'s
        startup variables, in the plugin's working directory; a launcher is
        shared by the plugins whose three agree.
        """
        if not self.serves(spec):
            return None
        cwd = spec.cwd or os.getcwd()
        startup = {name: value for name, value in env.items() if _startup(name)}
        launcher_env = {k: v for k, v in inherited.items() if not _startup(k)} | startup
        key = (cwd, *sorted(launcher_env.items()))
        async with self._starting:
            launcher = self._launchers.get(key)
            if launcher is None or not launcher.alive:
                launcher = self._launchers[key] = _Launcher(launcher_env, cwd)
                try:
                    await self._nursery.start(launcher.run)
                except OSError as exc:
                    logger.warning("cannot start a launcher (%s); spawning instead", exc)
                    return None
        try:
            return await launcher.spawn(spec.argv, env, cwd)
        except LauncherGone as exc:
            logger.warning("plugin %s: %s; spawning it instead", spec.id, exc)
            return None

    async def aclose(self) -> None:
        """Hang up on every launcher; they exit (the host has stopped its plugins by then)."""
        for launcher in self._launchers.values():
            launcher.close()
        self._launchers.clear()


def _startup(name: str) -> bool:
    """Whether an interpreter reads variable ``name`` as it starts (see _STARTUP_*)."""
    return name.startswith(_STARTUP_PREFIXES) or name in _STARTUP_NAMES


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _close(process: LaunchedProcess) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.aclose()
