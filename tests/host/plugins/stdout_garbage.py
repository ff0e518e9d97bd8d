"""Prints stray text on stdout before and between its answers."""

import _raw

_raw.write_raw("hello from a stray print()")


def echo(params, message):
    _raw.write_raw("debug: got a call")
    return params


_raw.serve({"test.echo": echo})
