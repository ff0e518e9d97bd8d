"""A Gemini-format executor for the gateway tests: model ``gemini-echo``.

``generateContent`` answers ``echo: <the last user text>``; the stream sends
each word as one ``GenerateContentResponse`` chunk; ``countTokens`` counts words.
A stream's headers carry ``X-Alt``: the ``Alt`` it was given. Config: ``model`` (its
name, ``gemini-echo`` if not given), ``fail`` (a message the stream ends with,
as a 503 error, after its words), ``pretty`` (chunks as multi-line JSON),
``content-type`` (the stream's ``Content-Type`` values; none given if not set).
"""

import json
from typing import Any

from plugin_sdk import Plugin, PluginError, run
from pluginrt import api

plugin = Plugin("gemini-echo", version="0.1.0", author="tests")
plugin.executor("gemini", input_formats=["gemini"], output_formats=["gemini"], scope="static")


def said(request: api.ExecutorRequest) -> str:
    contents = json.loads(request.payload or b"{}").get("contents") or [{}]
    return " ".join(p.get("text", "") for p in contents[-1].get("parts", []))


def answer(text: str, finish: str = "") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-echo"}


@plugin.on("model.static")
async def models(request: api.StaticModelRequest) -> api.ModelResponse:
    info = api.ModelInfo(id=plugin.config.get("model", "gemini-echo"), object="model")
    return api.ModelResponse(provider=info.id, models=[info])


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    return api.ExecutorResponse(
        payload=json.dumps(answer(f"echo: {said(request)}", "STOP")).encode()
    )


@plugin.on("executor.execute_stream")
async def execute_stream(request: api.ExecutorStreamRequest):  # type: ignore[no-untyped-def]
    headers = {"X-Alt": [request.alt or "-"]}
    if "content-type" in plugin.config:
        headers["Content-Type"] = plugin.config["content-type"]
    yield api.ExecutorStreamStart(headers=headers)
    indent = 2 if plugin.config.get("pretty") else None
    words = f"echo: {said(request)}".split()
    for i, word in enumerate(words):
        last = i == len(words) - 1 and not plugin.config.get("fail")
        yield json.dumps(
            answer(word if i == 0 else " " + word, "STOP" if last else ""), indent=indent
        )
    if plugin.config.get("fail"):
        raise PluginError(plugin.config["fail"], http_status=503)


@plugin.on("executor.count_tokens")
async def count_tokens(request: api.ExecutorRequest) -> api.ExecutorResponse:
    return api.ExecutorResponse(
        payload=json.dumps({"totalTokens": len(said(request).split())}).encode()
    )


if __name__ == "__main__":
    run(plugin)
