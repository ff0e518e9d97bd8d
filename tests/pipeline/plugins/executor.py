"""An executor and model provider driven by its config.

Config: ``provider`` (identifier, default ``probe``), ``model_provider``
(the provider its models are registered under, default ``provider``), ``scope``,
``inputs`` and ``outputs`` (formats), ``models`` (from ``model.static``),
``auth_models`` (from ``model.for_auth``; a model is an id, or
``[id, name]`` for one whose provider-native name differs), ``thinking`` (the
``ThinkingSupport`` of every model, wire-shaped: ``{"Min": 1024, "Levels": [...]}``),
``reply`` (``report``: a JSON account of the request; ``payload``: the payload as
is), ``fail`` (an
error), ``sleep`` (seconds before answering), ``chunks`` (what a stream
sends: a list of texts, or ``{"count": n, "size": bytes}``), ``stream_fail``
(an error after the chunks), ``stall`` (after the chunks, the stream goes quiet
for good), ``refuse`` (a message ``on_config`` refuses the config with),
``slow_restart`` (``[seconds, marker file]``: every handshake after the first sleeps),
``bug`` (a ValueError's message: execute and, after its chunks, the stream raise it),
``http_fail`` (an error of ``executor.http_request``, which otherwise sends its request
through ``host.http.do`` with ``Authorization: Bearer <the auth storage's token>``).
"""

import json
import os
import time
from collections.abc import AsyncIterator

import trio
from _probe import maybe_fail, note, text

from plugin_sdk import Plugin, PluginError, host, run
from pluginrt import api

plugin = Plugin("test-executor", version="1", author="tests", github_repository="-")
plugin.executor("probe", input_formats=["openai"], output_formats=["openai"])


@plugin.on_config
def configure(config: dict) -> None:
    if config.get("refuse"):
        raise PluginError(config["refuse"])
    if config.get("slow_restart"):  # [seconds, a marker file]: slow from the second start on
        seconds, marker = config["slow_restart"]
        if os.path.exists(marker):
            time.sleep(seconds)
        open(marker, "a").close()
    plugin.executor(config.get("provider", "probe"), scope=config.get("scope", ""),
                    input_formats=config.get("inputs", ["openai"]),
                    output_formats=config.get("outputs", ["openai"]))  # fmt: skip


def model(spec: str | list[str]) -> api.ModelInfo:
    support = plugin.config.get("thinking")
    thinking = api.decode(json.dumps(support).encode(), api.ThinkingSupport) if support else None
    if isinstance(spec, str):
        return api.ModelInfo(id=spec, thinking=thinking)
    return api.ModelInfo(id=spec[0], name=spec[1], thinking=thinking)


@plugin.on("model.static")
async def static(request: api.StaticModelRequest) -> api.ModelResponse:
    note(plugin, "model.static")
    models = [model(m) for m in plugin.config.get("models", ["m1"])]
    provider = plugin.config.get("model_provider", plugin.config.get("provider", "probe"))
    return api.ModelResponse(provider=provider, models=models)


@plugin.on("model.for_auth")
async def for_auth(request: api.AuthModelRequest) -> api.ModelResponse:
    note(plugin, "model.for_auth", auth_id=request.auth_id)
    models = [model(m) for m in plugin.config.get("auth_models", [])]
    return api.ModelResponse(provider=plugin.config.get("provider", "probe"), models=models)


def report(request: api.ExecutorRequest) -> bytes:
    if plugin.config.get("reply") == "payload":
        return request.payload
    return json.dumps({
        "executor": plugin.plugin_id, "model": request.model, "format": request.format,
        "source_format": request.source_format, "payload": text(request.payload),
        "headers": request.headers, "auth_id": request.auth_id,
        "storage": text(request.storage_json), "metadata": request.metadata,
        "auth_provider": request.auth_provider,
        "auth_metadata": request.auth_metadata, "auth_attributes": request.auth_attributes,
    }).encode()  # fmt: skip


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    note(plugin, "execute", model=request.model, auth_id=request.auth_id, pid=os.getpid())
    await trio.sleep(plugin.config.get("sleep", 0))
    maybe_fail(plugin.config.get("fail"))
    if plugin.config.get("bug"):
        raise ValueError(plugin.config["bug"])
    return api.ExecutorResponse(payload=report(request), headers={"X-Executor": [plugin.plugin_id]})


@plugin.on("executor.count_tokens")
async def count_tokens(request: api.ExecutorRequest) -> api.ExecutorResponse:
    note(plugin, "count_tokens", model=request.model)
    return api.ExecutorResponse(payload=b'{"input_tokens": 3}')


@plugin.on("executor.execute_stream")
async def execute_stream(request: api.ExecutorStreamRequest) -> AsyncIterator[object]:
    note(plugin, "execute_stream", model=request.model)
    yield api.ExecutorStreamStart(headers={"Content-Type": ["text/event-stream"]})
    chunks = plugin.config.get("chunks", ["one", "two", "three"])
    try:
        if isinstance(chunks, dict):
            for i in range(chunks["count"]):
                head = f"c{i};".encode()
                yield head + b"x" * max(0, chunks.get("size", 0) - len(head))
        else:
            for chunk in chunks:
                yield chunk.encode()
                await trio.sleep(plugin.config.get("sleep", 0))
        if plugin.config.get("stall"):
            await trio.sleep_forever()
        maybe_fail(plugin.config.get("stream_fail"))
        if plugin.config.get("bug"):
            raise ValueError(plugin.config["bug"])
    finally:
        note(plugin, "stream_closed")


@plugin.on("executor.http_request")
async def http_request(request: api.ExecutorHTTPRequest) -> api.ExecutorHTTPResponse:
    note(plugin, "http_request", auth_id=request.auth_id, provider=request.auth_provider,
         http_method=request.method, url=request.url, headers=request.headers,
         body=text(request.body), storage=text(request.storage_json),
         metadata=request.metadata, attributes=request.attributes)  # fmt: skip
    maybe_fail(plugin.config.get("http_fail"))
    token = json.loads(request.storage_json or b"{}").get("token", "")
    headers = {**request.headers, "Authorization": [f"Bearer {token}"]}
    outbound = api.HTTPRequest(method=request.method, url=request.url, headers=headers,
                               body=request.body)  # fmt: skip
    answer = await host.http.do(outbound)
    return api.ExecutorHTTPResponse(status_code=answer.status_code, headers=answer.headers,
                                    body=answer.body)  # fmt: skip


if __name__ == "__main__":
    run(plugin)
