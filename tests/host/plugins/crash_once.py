"""Crashes on its first start (marker file absent), then behaves."""

import os
import sys

import _raw

marker = os.environ["SHELF_MARKER"]
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.stderr.write("crash_once: first start fails\n")
    sys.exit(1)

_raw.serve({"test.echo": lambda p, m: p})
