"""Ignores plugin.shutdown, stdin closing and SIGTERM: only SIGKILL stops it."""

import signal
import time

import _raw

signal.signal(signal.SIGTERM, signal.SIG_IGN)


def shutdown(params, message):
    _raw.log("ignores_sigterm: shutdown? no.")
    return {}


_raw.serve({"plugin.shutdown": shutdown})
_raw.log("ignores_sigterm: stdin closed, staying anyway")
while True:
    time.sleep(1)
