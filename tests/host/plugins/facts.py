"""Says how it was started (arguments, paths, environment, descriptors, signals), so a
test can hold a plugin forked by a launcher against one spawned afresh."""

import base64
import json
import locale
import os
import signal
import stat
import sys
import time


def _command_line() -> str:
    with open("/proc/self/cmdline", "rb") as cmdline:
        return " ".join(part.decode() for part in cmdline.read().split(b"\0") if part)


FACTS = {
    "argv": sys.argv,
    "file": __file__,
    "name": __name__,
    "main_is_this_module": sys.modules["__main__"].__dict__ is globals(),
    "loader": type(__loader__).__name__,
    "spec": repr(__spec__),
    "path": sys.path,
    "cwd": os.getcwd(),
    "env": dict(os.environ),
    "descriptors": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "stdio_are_pipes": [stat.S_ISFIFO(os.fstat(fd).st_mode) for fd in (0, 1, 2)],
    "own_group_and_session": [os.getpgid(0) == os.getpid(), os.getsid(0) == os.getpid()],
    "signals": {
        name: repr(signal.getsignal(getattr(signal, name)))
        for name in ("SIGINT", "SIGPIPE", "SIGCHLD", "SIGTERM", "SIGHUP")
    },
    "stdout": [sys.stdout.encoding, sys.stdout.line_buffering, sys.stdout.isatty()],
    "encoding": locale.getpreferredencoding(False),
    "time_zone": time.tzname,
    "flags": list(sys.flags),
    "executable": sys.executable,
    "command_line": _command_line(),  # what ps shows
}

import _raw  # noqa: E402 - after the facts: it is the plugin's own import


def execute(params, message):
    return {"Payload": base64.b64encode(json.dumps(FACTS).encode()).decode()}


_raw.serve({"executor.execute": execute})
