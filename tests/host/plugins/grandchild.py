"""Spawns a grandchild that inherits (and keeps open) all three pipes, then may die."""

import os
import subprocess
import sys

import _raw

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
_raw.log(f"grandchild: spawned {child.pid}")


def die(params, message):
    _raw.log("grandchild: leaving my child behind")
    os._exit(5)


_raw.serve({"test.die": die, "test.grandchild": lambda p, m: {"pid": child.pid}})
