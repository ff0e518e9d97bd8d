"""Starts a stream, sends one chunk, then sends nothing more; ``test.cancelled`` lists
the streams the host cancelled (``stream.cancel``)."""

import _raw

CANCELLED = []


def execute_stream(params, message):
    _raw.result(message, {"Headers": {}})
    _raw.send(
        {
            "jsonrpc": "2.0",
            "method": "stream.chunk",
            "params": {"stream_id": params["stream_id"], "payload": "YQ=="},
        }
    )
    return NotImplemented


def cancelled(params, message):
    CANCELLED.append(params["stream_id"])


_raw.serve(
    {"executor.execute_stream": execute_stream, "test.cancelled": lambda p, m: CANCELLED},
    {"stream.cancel": cancelled},
)
