"""Speaks a protocol from the future."""

import _raw


def register(params, message):
    return {"protocol_version": 99, "metadata": _raw.METADATA, "capabilities": _raw.CAPABILITIES}


_raw.serve({"plugin.register": register})
