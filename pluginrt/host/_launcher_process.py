"""The Python plugin launcher: a process that has the plugin stack imported
already and forks a plugin for each request of the host.

Run by path (``python _launcher_process.py FD PADDING``), never imported. It imports
the standard library and the third-party stack every SDK plugin imports
(trio, msgspec) and nothing of pluginrt, whose modules read the environment:
a forked plugin imports those itself, under its own environment.

The host talks to it over the Unix socket ``FD`` (SOCK_SEQPACKET, one JSON
message per packet):

- host -> launcher: ``{"argv": [python, script, args...], "env": {...},
  "cwd": "..."}`` with three descriptors, the plugin's stdin, stdout and stderr;
- launcher -> host: ``{"spawned": pid}`` or ``{"failed": "why"}`` for each
  request, in order, and ``{"exited": pid, "status": wait_status}`` as its
  children end.

It exits when the host closes the socket; the plugins it started then see
their parent gone, as they would see the host go. ``PADDING`` (spaces) makes
room in the arguments for a forked plugin's process title.

A forked plugin starts as ``python script args...`` would: a session of its
own, those descriptors as 0, 1 and 2, the request's environment and working
directory, and ``sys.argv``, ``sys.path[0]`` and ``__main__`` as Python sets
them for a script. The host forks here only for plugins whose interpreter
would start the same way as this one (see ``pluginrt.host._launcher``).
"""

from __future__ import annotations

import builtins
import gc
import importlib.machinery
import json
import os
import select
import signal
import socket
import sys
import time
import types
from typing import Any


def _serve(control: socket.socket) -> dict[str, Any] | None:
    """Serve the host until it hangs up (None), or return a request in a forked child."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the select
    while True:
        ready, _, _ = select.select([control.fileno(), wake_r], [], [])
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 4096):
                        break
                except BlockingIOError:
                    break
            _reap(control)
        if control.fileno() not in ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 20, 3)
        except OSError:
            return None
        if not data:
            return None  # the host is gone
        try:
            request = json.loads(data)
            if len(fds) != 3:
                raise ValueError(f"{len(fds)} descriptors came with the request, not 3")
            gc.freeze()  # the child's collections leave the shared pages alone (see main)
            pid = os.fork()
        except (OSError, ValueError) as exc:
            for fd in fds:
                os.close(fd)
            if not _tell(control, {"failed": f"{type(exc).__name__}: {exc}"}):
                return None
            continue
        if pid == 0:
            gc.enable()
            control.close()
            os.close(wake_r)
            os.close(wake_w)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _become(request, fds)
            return dict(request)
        for fd in fds:
            os.close(fd)
        if not _tell(control, {"spawned": pid}):
            return None


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0 or not _tell(control, {"exited": pid, "status": status}):
            return


def _tell(control: socket.socket, message: dict[str, Any]) -> bool:
    """Send ``message`` to the host; False if it is gone."""
    try:
        control.send(json.dumps(message).encode())
    except OSError:
        return False
    return True


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """Turn this forked child into the plugin's process, up to running its script."""
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)  # inheritable, as a spawned process's 0, 1 and 2 are
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()


def _run_script(argv: list[str]) -> None:
    """Run ``argv[1]`` as ``__main__``, with ``argv[1:]`` as ``sys.argv``, as Python does."""
    script = argv[1]
    sys.argv = argv[1:]
    path = os.path.abspath(script)
    if not sys.flags.safe_path:
        sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__dict__["__builtins__"] = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__cached__ = None  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    try:
        with open(path, "rb") as file:
            source = file.read()
    except OSError as exc:  # what python says of a script it cannot open, and its status
        where = os.path.join(os.getcwd(), script)
        reason = f"[Errno {exc.errno}] {exc.strerror}"
        print(f"{sys.executable}: can't open file {where!r}: {reason}", file=sys.stderr)
        raise SystemExit(2) from None
    exec(compile(source, path, "exec"), main.__dict__)


def _title_setter() -> Any:
    """setproctitle's setter, set up before anything touches the environment (it then
    writes titles over this process's arguments alone, see the host's padding);
    None without it."""
    os.environ["SPT_NOENV"] = "1"
    try:
        import setproctitle
    except ImportError:  # pragma: no cover - a dependency of pluginrt
        return None
    finally:
        del os.environ["SPT_NOENV"]
    setproctitle.getproctitle()
    return setproctitle.setproctitle


def _name(name: str) -> None:
    """Set what top shows (Linux: 15 bytes at most); setproctitle set it to the title."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:  # pragma: no cover - not Linux
        pass


def _retitle(argv: list[str], set_title: Any) -> None:
    """Show as ``python script args...`` in ps, and as the interpreter in top."""
    if set_title is not None:
        set_title(" ".join(argv))
    _name(os.path.basename(argv[0]))


if __name__ == "__main__":
    # As the gc module advises before fork without exec: no collections here (no
    # holes in the pages children share), every object frozen before a fork.
    gc.disable()
    if not sys.flags.safe_path:
        sys.path.pop(0)  # this file's folder, pluginrt/host, is no place to import from
    set_title = _title_setter()
    _name("pluginrt-launch")
    try:
        import msgspec  # noqa: F401 - imported once here, for every plugin forked
        import trio  # noqa: F401
    except ImportError:  # pragma: no cover - installed with pluginrt
        pass
    forked = _serve(socket.socket(fileno=int(sys.argv[1])))
    if forked is not None:
        _retitle(forked["argv"], set_title)
        _run_script(forked["argv"])
