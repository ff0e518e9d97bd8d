"""A slow OpenAI executor for the gateway tests: model ``slow``, one word per ``delay``.

Config: ``words`` (how many), ``delay`` (seconds between words), ``journal``
(a file; ``cancelled`` is appended when the host cancels the stream, ``done``
when a stream ran to its end), ``gate`` (a FIFO: the stream reads it to its end
after its first word, so a test holds the second until it has the first),
``fail`` (a message the stream ends with, as a 503 error, after its words),
``stall`` (how many words it sends before it goes quiet for good),
``execute-delay`` (seconds ``executor.execute`` takes, after it journals
``execute started``; ``execute cancelled`` is journaled if the host cancels it), ``refuse``
(a message ``on_config`` refuses the section with, with the status
``refuse-status``), ``pause`` (seconds ``on_config`` takes), ``mark``
(journaled by ``on_config`` as ``configured <mark>``) and ``log`` (true: it writes
``execute started``, and ``stream started`` once the stream's headers are answered,
with ``host.log``; the host's log line names the request). It also declares one
flag, ``--slow-hello``, whose handler prints a greeting and the argv it was
given (``[Program, *Args]``, as JSON), and exits with ``exit`` from its config.
"""

import json
import time
from pathlib import Path

import trio

from plugin_sdk import Plugin, PluginError, host, run
from pluginrt import api

plugin = Plugin("slow", version="0.1.0", author="tests")
plugin.executor("slow", input_formats=["openai"], output_formats=["openai"], scope="static")


def note(word: str) -> None:
    journal = plugin.config.get("journal")
    if journal:
        with Path(journal).open("a") as file:
            file.write(word + "\n")


def frame(text: str, finish: str | None = None) -> str:
    delta = {"content": text} if text else {}
    data = {"id": "slow", "object": "chat.completion.chunk", "created": 0, "model": "slow",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return f"data: {json.dumps(data)}\n\n"


@plugin.on_config
def configure(config: dict) -> None:
    if config.get("refuse"):
        raise PluginError(config["refuse"], http_status=int(config.get("refuse-status", 0)))
    time.sleep(float(config.get("pause", 0)))
    if "mark" in config and config.get("journal"):  # plugin.config is still the old one
        with Path(config["journal"]).open("a") as file:
            file.write(f"configured {config.get('mark')}\n")


@plugin.on("model.static")
async def models(request: api.StaticModelRequest) -> api.ModelResponse:
    return api.ModelResponse(provider="slow", models=[api.ModelInfo(id="slow", object="model")])


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    note("execute started")
    if plugin.config.get("log"):
        await host.log("info", "execute started")
    try:
        await trio.sleep(float(plugin.config.get("execute-delay", 0)))
    except BaseException:
        note("execute cancelled")
        raise
    answer = {"id": "slow", "object": "chat.completion", "created": 0, "model": "slow",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "slow"}}]}  # fmt: skip
    return api.ExecutorResponse(payload=json.dumps(answer).encode())


@plugin.on("executor.execute_stream")
async def execute_stream(request: api.ExecutorStreamRequest):  # type: ignore[no-untyped-def]
    yield api.ExecutorStreamStart(headers={"Content-Type": ["text/event-stream"]})
    if plugin.config.get("log"):
        await host.log("info", "stream started")
    try:
        for i in range(int(plugin.config.get("words", 5))):
            if i == plugin.config.get("stall"):
                await trio.sleep_forever()
            if i == 1 and plugin.config.get("gate"):
                gate = Path(plugin.config["gate"])
                await trio.to_thread.run_sync(gate.read_bytes, abandon_on_cancel=True)
            await trio.sleep(float(plugin.config.get("delay", 0.1)))
            yield frame(f"w{i} ")
    except BaseException:
        note("cancelled")
        raise
    if plugin.config.get("fail"):
        raise PluginError(plugin.config["fail"], http_status=503)
    yield frame("", "stop")
    yield "data: [DONE]\n\n"
    note("done")


@plugin.on("command_line.register")
async def flags(request: api.CommandLineRegistrationRequest) -> api.CommandLineRegistrationResponse:
    hello = api.CommandLineFlag(name="slow-hello", type="string", usage="greet NAME and exit")
    return api.CommandLineRegistrationResponse(flags=[hello])


@plugin.on("command_line.execute")
async def execute_flags(
    request: api.CommandLineExecutionRequest,
) -> api.CommandLineExecutionResponse:
    name = request.triggered_flags["slow-hello"].value
    note(f"flag {name}")
    auth = api.AuthData(provider="slow", id="slow-1", file_name="slow-1.json",
                        storage_json=b'{"type": "slow", "token": "t"}')  # fmt: skip
    return api.CommandLineExecutionResponse(
        stdout=f"hello {name}\n{json.dumps([request.program, *request.args])}\n".encode(),
        auths=[auth],
        exit_code=int(plugin.config.get("exit", 0)),
    )


@plugin.on("management.register")
async def routes(request: api.ManagementRegistrationRequest) -> api.ManagementRegistrationResponse:
    bad = api.ManagementRoute(method="GET", path="slow/broken")
    echo = api.ManagementRoute(method="POST", path="slow/echo")
    return api.ManagementRegistrationResponse(routes=[bad, echo])


@plugin.on("management.handle")
async def handle(request: api.ManagementRequest) -> api.ManagementResponse:
    if request.path.endswith("/slow/broken"):
        raise RuntimeError("this route always fails")
    return api.ManagementResponse(body=json.dumps({"echo": request.body.decode()}).encode())


if __name__ == "__main__":
    run(plugin)
