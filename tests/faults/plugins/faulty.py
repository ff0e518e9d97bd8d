"""One raw plugin, many faults: an OpenAI executor whose ``mode`` (its config) says how it breaks.

Model: its id (``--id``-free: the plugin id comes from ``plugin.register``).
Modes: ``good``; ``crash_mid_stream`` (one chunk, then SIGKILL); ``overrun``
(one chunk more than its window, all before its answer);
``crash_on_call`` (exits 3 on a call); ``hang`` (never answers executor calls;
appends ``cancel`` to ``journal`` when ``$/cancel`` arrives);
``no_read`` (stops reading stdin after the handshake); ``duplicate`` (answers
twice); ``wrong_types`` (a result of the wrong shape); ``big`` (a valid answer
of ``size`` bytes); ``close_stdout`` (closes stdout on a call, keeps running);
``bad_header`` (a response header with CR/LF in its value); ``leaky`` (on a
call, writes ``secret`` and an Authorization header to stderr and to
``host.log``; serves the resource ``echo.json``, answering the
ManagementRequest it got as JSON). Every call is
appended to ``journal`` (when given) as ``call <method>``.
"""

import base64
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "host" / "plugins"))

import _raw

STATE = {"mode": "good", "journal": "", "id": "faulty", "size": 0, "secret": ""}


def note(text: str) -> None:
    if STATE["journal"]:
        with open(STATE["journal"], "a") as file:
            file.write(text + "\n")


def answer(text: str) -> str:
    body = {"id": "f", "object": "chat.completion", "created": 0, "model": STATE["id"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}]}  # fmt: skip
    return base64.b64encode(json.dumps(body).encode()).decode()


def register(params, message):
    STATE.update(params.get("config") or {})
    STATE["id"] = params.get("plugin_id", "faulty")
    extra = {"ManagementAPI": {}} if STATE["mode"] == "leaky" else {}
    return {
        "protocol_version": 1,
        "metadata": {
            "Name": STATE["id"],
            "Version": "1.0.0",
            "Author": "tests",
            "GitHubRepository": "https://example.invalid/faulty",
        },
        "capabilities": {
            "Executor": {"identifier": STATE["id"]},
            "ModelProvider": {},
            "ExecutorModelScope": "static",
            "ExecutorInputFormats": ["openai"],
            "ExecutorOutputFormats": ["openai"],
            **extra,
        },
    }


def management_register(params, message):
    return {"Resources": [{"Path": "echo.json"}]}


def management_handle(params, message):
    note("call management.handle")
    body = base64.b64encode(json.dumps(params).encode()).decode()
    return {"Headers": {"Content-Type": ["application/json"]}, "Body": body}


def models(params, message):
    return {"Provider": STATE["id"], "Models": [{"ID": STATE["id"], "Object": "model"}]}


def execute(params, message):
    mode = STATE["mode"]
    note("call executor.execute")
    if mode == "crash_on_call":
        _raw.log("faulty: exiting 3 on a call")
        sys.exit(3)
    if mode == "hang":
        return NotImplemented
    if mode == "no_read":
        time.sleep(3600)
    if mode == "close_stdout":
        os.close(1)
        while True:
            time.sleep(1)
    if mode == "wrong_types":
        return {"Payload": 42, "Headers": "not a map"}
    if mode == "duplicate":
        _raw.result(message, {"Payload": answer("first")})
        _raw.result(message, {"Payload": answer("second")})
        return NotImplemented
    if mode == "big":
        return {"Payload": answer("x" * int(STATE["size"]))}
    if mode == "env":
        return {"Payload": answer(json.dumps(sorted(os.environ)))}
    if mode == "leaky":
        secret = STATE["secret"]
        _raw.log(f"faulty: stderr with key {secret} and Authorization: Bearer {secret}")
        _raw.send({"jsonrpc": "2.0", "method": "host.log",
                   "params": {"level": "warn", "message": f"host.log with key {secret}",
                              "fields": {"Authorization": f"Bearer {secret}"}}})  # fmt: skip
        return {"Payload": answer("logged")}
    if mode == "bad_header":
        headers = {"X-Evil": ["a\r\nSet-Cookie: stolen=1"], "X-Fine": ["ok"]}
        return {"Payload": answer("hi"), "Headers": headers}
    return {"Payload": answer("hi")}


def execute_stream(params, message):
    note("call executor.execute_stream")
    chunk = b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n'
    # Sent before the answer, so all are in before the host reads any (and grants more):
    # the host routes lines in order, so the overrun is seen before anyone consumes.
    for _ in range(params["window"] + 1 if STATE["mode"] == "overrun" else 0):
        _raw.send({"jsonrpc": "2.0", "method": "stream.chunk",
                   "params": {"stream_id": params["stream_id"],
                              "payload": base64.b64encode(chunk).decode()}})  # fmt: skip
    _raw.result(message, {"Headers": {"Content-Type": ["text/event-stream"]}})
    _raw.send({"jsonrpc": "2.0", "method": "stream.chunk",
               "params": {"stream_id": params["stream_id"],
                          "payload": base64.b64encode(chunk).decode()}})  # fmt: skip
    if STATE["mode"] == "crash_mid_stream":
        _raw.log("faulty: killed mid-stream")
        os.kill(os.getpid(), signal.SIGKILL)
    _raw.send({"jsonrpc": "2.0", "method": "stream.end",
               "params": {"stream_id": params["stream_id"]}})  # fmt: skip
    return NotImplemented


def main() -> None:
    table = {"plugin.register": register, "plugin.shutdown": _raw.shutdown,
             "model.static": models, "executor.execute": execute,
             "executor.execute_stream": execute_stream,
             "management.register": management_register,
             "management.handle": management_handle}  # fmt: skip
    for line in sys.stdin:
        message = json.loads(line)
        method = message.get("method")
        if method == "$/cancel":
            note("cancel")
            continue
        if method is None or "id" not in message:
            continue
        handler = table.get(method)
        if handler is None:
            _raw.error(message, -32601, f"method not found: {method}")
            continue
        value = handler(message.get("params") or {}, message)
        if value is not NotImplemented:
            _raw.result(message, value)
        if method == "model.static" and STATE["mode"] == "no_read":
            note("stopped reading")
            time.sleep(3600)


main()
