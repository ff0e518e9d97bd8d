"""A plugin written from PROTOCOL.md alone: raw JSON lines, the standard library, no SDK.

It journals every line it reads and writes (``WIRE_JOURNAL``, one JSON object
a line: ``{"in": message}``, ``{"out": message}``, ``{"event": ...}``) so a
test can hold what the host sent against the documents.

It declares an executor (``wire``, static scope, openai in and out) and a
model provider (model ``wire-1``); the config section's ``declaration``
replaces that answer. ``executor.execute`` and ``executor.execute_stream``
take a command, the JSON of their ``Payload``: ``{"do": NAME, ...}`` (see
``COMMANDS``), and ``executor.execute`` answers the command's outcome as the
JSON of its ``Payload``. Config ``on_shutdown`` says how it meets
``plugin.shutdown`` (see ``shutdown``).
"""

import base64
import json
import os
import signal
import sys

JOURNAL = os.environ["WIRE_JOURNAL"]
CONFIG = {}
HELD = []  # requests answered only at shutdown (command "hold")
STREAMS = {}  # stream_id -> credit left
NEXT_ID = [0]


def journal(entry):
    with open(JOURNAL, "a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")


def send_line(line):
    journal({"out_raw": line})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def send(message):
    journal({"out": message})
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def read():
    """The next message from the host (None at EOF), journaled."""
    line = sys.stdin.readline()
    if not line:
        journal({"event": "eof"})
        return None
    message = json.loads(line)
    journal({"in": message})
    if isinstance(message, dict):
        note_credit(message)
    return message


def wait_for(matches):
    """Read until a message ``matches``, serving the requests read meanwhile (notifications
    and answers need nothing more: credit is counted as it is read)."""
    while True:
        message = read()
        if message is None:
            sys.exit(0)
        if matches(message):
            return message
        if is_request(message):
            dispatch(message)  # a call nested in ours (host.model.execute may call us again)


def is_answer(message, id_):
    return isinstance(message, dict) and "method" not in message and message.get("id") == id_


def is_request(message):
    return isinstance(message, dict) and "method" in message and "id" in message


def is_call(message, *methods):
    return isinstance(message, dict) and message.get("method") in methods


def note_credit(message):
    if message.get("method") == "stream.credit":
        params = message["params"]
        if params["stream_id"] in STREAMS:
            STREAMS[params["stream_id"]] += params["chunks"]


def b64(data):
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def answer(message, result):
    send({"jsonrpc": "2.0", "id": message["id"], "result": result})


def fail(message, code, text, data=None):
    error = {"code": code, "message": text}
    if data is not None:
        error["data"] = data
    send({"jsonrpc": "2.0", "id": message["id"], "error": error})


def call(method, params, callback_id=None, id_=None):
    """Call the host and return its whole answer (a response object)."""
    if id_ is None:
        NEXT_ID[0] += 1
        id_ = f"p{NEXT_ID[0]}"
    request = {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}
    if callback_id is not None:
        request["host_callback_id"] = callback_id
    send(request)
    return wait_for(lambda m: is_answer(m, id_))


def notify(method, params, callback_id=None):
    message = {"jsonrpc": "2.0", "method": method, "params": params}
    if callback_id is not None:
        message["host_callback_id"] = callback_id
    send(message)


def until_ping():
    """Ping the host and return every message read until its answer (the answer last)."""
    NEXT_ID[0] += 1
    id_ = f"ping{NEXT_ID[0]}"
    send({"jsonrpc": "2.0", "id": id_, "method": "$/ping", "params": {}})
    seen = []
    while True:
        message = read()
        if message is None:
            sys.exit(0)
        seen.append(message)
        if is_answer(message, id_):
            return seen


def substitute(value, stream_id):
    """``"$stream_id"`` in params stands for the stream_id of the latest answer that had one."""
    if value == "$stream_id":
        return stream_id
    if isinstance(value, dict):
        return {k: substitute(v, stream_id) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, stream_id) for v in value]
    return value


# -- executor.execute commands: each returns the outcome to answer (None: answered already)


def do_calls(command, message):
    """``calls``: [{method, params, callback: "same"|"none"|ID, id}] in turn; their answers."""
    answers, stream_id = [], ""
    for step in command["calls"]:
        callback = step.get("callback", "same")
        named = {"same": message.get("host_callback_id"), "none": None}
        callback_id = named.get(callback, callback)
        id_ = message["id"] if step.get("id") == "same_as_host" else step.get("id")
        params = substitute(step.get("params", {}), stream_id)
        answers.append(call(step["method"], params, callback_id, id_))
        stream_id = (answers[-1].get("result") or {}).get("stream_id", stream_id)
    return answers


def do_raw(command, message):
    """``raw``: write each of ``lines`` as it is, then ping; every message read meanwhile."""
    for line in command["lines"]:
        send_line(line)
    return until_ping()


def do_cancel_own(command, message):
    """``cancel_own``: make a call, cancel it with ``$/cancel``, read until a ping answers."""
    request = {"jsonrpc": "2.0", "id": "doomed", "method": command["method"]}
    request["params"] = command["params"]
    if message.get("host_callback_id") is not None:
        request["host_callback_id"] = message["host_callback_id"]
    send(request)
    if command.get("first_ping"):
        until_ping()  # the host has read the call, and routed it, before the cancel
    notify("$/cancel", {"id": "doomed"})
    seen = [wait_for(lambda m: is_answer(m, "doomed"))]
    return seen + [m for m in until_ping() if is_answer(m, "doomed")]


def do_request(command, message):
    """``request``: the request as it came (params, and any top-level members)."""
    return message


def do_stderr(command, message):
    """``stderr``: write ``text`` to stderr as it is (bytes given as latin-1)."""
    sys.stderr.buffer.write(command["text"].encode("latin-1"))
    sys.stderr.flush()
    return {}


def do_null(command, message):
    """``null``: answer ``"result": null``, as Go writes a nil pointer or map."""
    answer(message, None)
    return None


def do_hold(command, message):
    """``hold``: answer nothing now; answered with ``{"held": true}`` once shutting down."""
    HELD.append(message)
    return None


COMMANDS = {
    "calls": do_calls,
    "raw": do_raw,
    "cancel_own": do_cancel_own,
    "request": do_request,
    "stderr": do_stderr,
    "hold": do_hold,
    "null": do_null,
}


def execute(message):
    command = json.loads(base64.b64decode(message["params"]["Payload"]))
    outcome = COMMANDS[command["do"]](command, message)
    if outcome is not None:
        answer(message, {"Payload": b64(json.dumps(outcome))})


# -- executor.execute_stream: {"do": "stream", "chunks": [...], "end": error|null, ...}


def chunk(stream_id, text):
    notify("stream.chunk", {"stream_id": stream_id, "payload": b64(text)})


def end(stream_id, error):
    notify("stream.end", {"stream_id": stream_id, "error": error})


def execute_stream(message):
    """Send ``chunks`` within the credit (``ignore_credit``: all at once), then ``end``;
    ``until_cancel``: after them, wait for ``stream.cancel`` and end as cancelled;
    ``before_headers``: wait for a cancel before answering at all."""
    params = message["params"]
    command = json.loads(base64.b64decode(params["Payload"]))
    stream_id = params["stream_id"]
    if command.get("before_headers"):
        stop = wait_for(lambda m: is_call(m, "$/cancel", "stream.cancel"))
        fail(message, -32800, "executor.execute_stream was cancelled")
        if stop["method"] == "stream.cancel":
            end(stream_id, {"message": "cancelled", "code": "cancelled", "http_status": 499})
        return
    STREAMS[stream_id] = params["window"]
    answer(message, {"Headers": {"X-Wire": ["stream"]}})
    for text in command.get("chunks", []):
        if not command.get("ignore_credit"):
            while STREAMS[stream_id] == 0:
                wait_for(lambda m: is_call(m, "stream.credit"))
        STREAMS[stream_id] -= 1
        chunk(stream_id, text)
    if command.get("until_cancel"):
        wait_for(lambda m: is_call(m, "stream.cancel"))
        end(stream_id, {"message": "cancelled", "code": "cancelled", "http_status": 499})
        return
    if command.get("then_ping"):
        until_ping()
    end(stream_id, command.get("end"))


def http_request(message):
    """Answer the request as it came, as the upstream's body (config ``no_http_request``:
    not served)."""
    if CONFIG.get("no_http_request"):
        fail(message, -32601, "wire: method not found: executor.http_request")
        return
    answer(message, {"StatusCode": 200, "Body": b64(json.dumps(message))})


def register(message):
    CONFIG.update(message["params"].get("config") or {})
    declaration = CONFIG.get("declaration") or {
        "protocol_version": 1,
        "metadata": {"Name": "wire", "Version": "1.0.0", "Author": "tests"},
        "capabilities": {
            "Executor": {"identifier": "wire"},
            "ExecutorModelScope": "static",
            "ExecutorInputFormats": ["openai"],
            "ExecutorOutputFormats": ["openai"],
            "ModelProvider": {},
        },
    }
    answer(message, declaration)


def shutdown(message):
    """Answer ``{}``, then the held calls (unless ``drop``), and exit; ``linger``: at
    stdin EOF; ``stay``: not even then, only on SIGTERM."""
    mode = CONFIG.get("on_shutdown", "exit")
    answer(message, {})
    for held in HELD if mode != "drop" else []:
        answer(held, {"Payload": b64(json.dumps({"held": True}))})
    if mode in ("linger", "stay"):
        while read() is not None:
            pass
    if mode == "stay":
        signal.pause()
    journal({"event": "exit"})
    sys.exit(0)


def on_sigterm(signum, frame):
    journal({"event": "sigterm"})
    sys.exit(0)


METHODS = {
    "plugin.register": register,
    "plugin.shutdown": shutdown,
    "plugin.reconfigure": lambda m: answer(m, None if CONFIG.get("null_answers") else {}),
    "model.static": lambda m: answer(m, {"Provider": "wire", "Models": [{"ID": "wire-1"}]}),
    "executor.execute": execute,
    "executor.execute_stream": execute_stream,
    "executor.http_request": http_request,
}


def dispatch(message):
    handler = METHODS.get(message["method"])
    if handler is None:
        fail(message, -32601, f"wire: method not found: {message['method']}")
    else:
        handler(message)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    while True:
        message = read()
        if message is None:
            journal({"event": "exit"})
            return
        if is_request(message):
            dispatch(message)
        # responses, batches and notifications: nothing to answer


main()
