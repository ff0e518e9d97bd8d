"""A well-behaved plugin: models, flags, routes, an executor with streams, host callbacks."""

import base64
import json
import sys

import _raw

_raw.METADATA["Name"] = "good"
_raw.CAPABILITIES.update(
    {
        "ModelProvider": {},
        "CommandLinePlugin": {},
        "ManagementAPI": {},
        "UsagePlugin": {},
    }
)


CONFIG = {}  # the section the host handed over last (register, then reconfigure)


def configure(params, message):
    CONFIG.clear()
    CONFIG.update(params.get("config") or {})
    if message["method"] == "plugin.register":
        return _raw.register(params, message)
    return {}


def execute(params, message):
    return {"Payload": params.get("Payload", ""), "Headers": {"X-Plugin": ["good"]}}


def execute_stream(params, message):
    _raw.result(message, {"Headers": {"X-Stream": ["yes"]}})
    for n in range(3):
        chunk = base64.b64encode(f"chunk{n}".encode()).decode()
        _raw.send(
            {
                "jsonrpc": "2.0",
                "method": "stream.chunk",
                "params": {"stream_id": params["stream_id"], "payload": chunk},
            }
        )
    _raw.send(
        {
            "jsonrpc": "2.0",
            "method": "stream.end",
            "params": {"stream_id": params["stream_id"], "error": None},
        }
    )
    return NotImplemented


def fail(params, message):
    _raw.error(
        message,
        -32000,
        "upstream said no",
        {"code": "quota", "retryable": True, "http_status": 429},
    )
    return NotImplemented


def log(params, message):
    _raw.send(
        {
            "jsonrpc": "2.0",
            "method": "host.log",
            "host_callback_id": "cb-7",
            "params": {"level": "warn", "message": "hello from good", "fields": {"n": 1}},
        }
    )
    return {}


def callback(params, message):
    # Ask the host something and hand its answer back.
    _raw.send(
        {
            "jsonrpc": "2.0",
            "id": "h1",
            "method": "test.host.echo",
            "params": {"value": params.get("value")},
        }
    )
    reply = json.loads(sys.stdin.readline())
    return reply.get("result", reply.get("error"))


_raw.serve(
    {
        "model.static": lambda p, m: {"Provider": "goodai", "Models": [{"ID": "good-1"}]},
        "command_line.register": lambda p, m: {
            "Flags": [{"Name": "good-flag", "Usage": "be good", "Type": "bool"}]
        },
        "management.register": lambda p, m: {
            "Routes": [{"Method": "GET", "Path": p["BasePath"] + "/good/status"}],
            "Resources": [{"Path": p["ResourceBasePath"] + "/index.html"}],
        },
        "executor.execute": execute,
        "executor.execute_stream": execute_stream,
        "test.fail": fail,
        "test.log": log,
        "test.callback": callback,
        "test.echo": lambda p, m: p,
        "test.config": lambda p, m: CONFIG,
        "plugin.register": configure,
        "plugin.reconfigure": configure,
        "test.hang": lambda p, m: NotImplemented,
    }
)
