"""Writes broken JSON, and answers one method with a result of the wrong type."""

import _raw


def echo(params, message):
    _raw.write_raw('{"jsonrpc": "2.0", "id": ' + str(message["id"]) + ', "result": {')
    return params


def wrong_type(params, message):
    return {"Provider": 5}


_raw.serve({"test.echo": echo, "model.static": wrong_type})
