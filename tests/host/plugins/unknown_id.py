"""Answers a call nobody made before answering the real one."""

import _raw


def echo(params, message):
    _raw.send({"jsonrpc": "2.0", "id": 987654, "result": {"stray": True}})
    return params


_raw.serve({"test.echo": echo})
