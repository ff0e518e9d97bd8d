"""Answers with a line far over the host's (small, configured) limit."""

import _raw


def echo(params, message):
    return {"blob": "x" * 100_000}


_raw.serve({"test.echo": echo})
