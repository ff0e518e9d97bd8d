"""Handshakes, then dies in the middle of executor.execute (test.hang is never answered)."""

import os

import _raw


def execute(params, message):
    _raw.log("crash_mid_call: about to die")
    os._exit(7)


_raw.serve({"executor.execute": execute, "test.hang": lambda p, m: NotImplemented})
