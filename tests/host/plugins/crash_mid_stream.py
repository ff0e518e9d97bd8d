"""Starts a stream, sends one chunk, then is killed by a signal."""

import os
import signal

import _raw


def execute_stream(params, message):
    _raw.result(message, {"Headers": {}})
    _raw.send(
        {
            "jsonrpc": "2.0",
            "method": "stream.chunk",
            "params": {"stream_id": params["stream_id"], "payload": "YQ=="},
        }
    )
    _raw.log("crash_mid_stream: segfaulting now")
    os.kill(os.getpid(), signal.SIGKILL)


_raw.serve({"executor.execute_stream": execute_stream})
