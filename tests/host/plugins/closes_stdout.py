"""Closes its stdout during a call but keeps running."""

import os
import time

import _raw


def close(params, message):
    _raw.log("closes_stdout: closing stdout, staying alive")
    os.close(1)
    while True:
        time.sleep(1)


_raw.serve({"test.close": close})
