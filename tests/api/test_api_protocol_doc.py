"""Every example exchange in PROTOCOL.md is a valid message of the method table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pluginrt.api as api
from pluginrt.rpc._messages import ErrorObject

DOC = (Path(__file__).resolve().parents[2] / "PROTOCOL.md").read_text()


def example_lines() -> list[list[dict[str, Any]]]:
    blocks = re.findall(r"```json\n(.*?)```", DOC, re.S)
    return [[json.loads(line) for line in block.splitlines() if line.strip()] for block in blocks]


def test_every_example_message_fits_its_method() -> None:
    blocks = example_lines()
    assert len(blocks) >= 8
    checked = 0
    pending: dict[Any, str] = {}  # ids in flight across the whole page, by method
    invalid: set[Any] = set()  # requests shown with bad params: must get -32602
    for block in blocks:
        for message in block:
            assert message["jsonrpc"] == "2.0"
            if "method" in message:
                method = api.METHODS[message["method"]]
                try:
                    api.decode(json.dumps(message["params"]), method.params)
                except api.ValidationError:
                    invalid.add(message["id"])
                assert ("id" in message) == (not method.is_notification), message
                if "id" in message:
                    pending[message["id"]] = method.name
            elif "result" in message:
                method = api.METHODS[pending[message["id"]]]
                assert method.result is not None
                api.decode(json.dumps(message["result"]), method.result)
            else:
                error = api.decode(json.dumps(message["error"]), ErrorObject)
                if message["id"] in invalid:
                    invalid.remove(message["id"])
                    assert error.code == -32602
            checked += 1
    assert checked >= 20
    assert invalid == set()


def test_the_handshake_example_declares_an_executor() -> None:
    result = next(
        m["result"] for block in example_lines() for m in block if "protocol_version" in str(m)
        and "result" in m
    )  # fmt: skip
    decoded = api.decode(json.dumps(result), api.RegisterResult)
    assert decoded.capabilities.executor == api.CapabilityDecl(identifier="echo")


def test_every_method_of_the_table_is_documented() -> None:
    missing = [name for name in api.METHODS if f"`{name}`" not in DOC]
    assert missing == []
