"""A deterministic mock LLM speaking the OpenAI chat-completions format: an executor.

Shows ``executor.execute`` (a real ``chat.completion`` with a ``usage`` block),
``executor.execute_stream`` (``chat.completion.chunk`` SSE frames word by word,
then ``data: [DONE]``), ``executor.count_tokens`` (words) and
``executor.http_request`` (bridged to ``host.http.do``), plus ``model.static``.
No network, no keys: the reply is ``You said: <the last user message>``.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from plugin_sdk import Plugin, host, run
from pluginrt import api

plugin = Plugin(
    "mock",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
plugin.executor("mock", input_formats=["openai"], output_formats=["openai"], scope="static")
JSON = {"Content-Type": ["application/json"]}


def text_of(content: Any) -> str:
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def conversation(request: api.ExecutorRequest) -> tuple[str, str, int]:
    """The model, the reply, and the prompt's token (word) count."""
    body = json.loads(request.payload or b"{}")
    messages = body.get("messages") or []
    user = [text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    prompt = sum(len(text_of(m.get("content")).split()) for m in messages)
    reply = f"You said: {user[-1] if user else ''}".strip()
    return request.model or body.get("model", "mock-small"), reply, prompt


def chunk(model: str, delta: dict[str, str], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    frame = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
             "model": model, "choices": [choice]}  # fmt: skip
    return f"data: {json.dumps(frame)}\n\n"


@plugin.on("model.static")
async def models(request: api.StaticModelRequest) -> api.ModelResponse:
    names = ["mock-small", "mock-large"]
    infos = [api.ModelInfo(id=n, object="model", owned_by="mock", display_name=n) for n in names]
    # mock-large takes reasoning settings: a thinking applier for "mock" is asked to write them.
    infos[1].thinking = api.ThinkingSupport(min=1024, max=32768, zero_allowed=True,
                                            dynamic_allowed=True)  # fmt: skip
    return api.ModelResponse(provider="mock", models=infos)


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    model, reply, prompt = conversation(request)
    words = len(reply.split())
    message = {"role": "assistant", "content": reply}
    answer = {"id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
              "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": prompt, "completion_tokens": words,
                        "total_tokens": prompt + words}}  # fmt: skip
    return api.ExecutorResponse(payload=json.dumps(answer).encode(), headers=JSON)


@plugin.on("executor.execute_stream")
async def execute_stream(request: api.ExecutorStreamRequest) -> AsyncIterator[object]:
    model, reply, _ = conversation(request)
    yield api.ExecutorStreamStart(headers={"Content-Type": ["text/event-stream"]})
    yield chunk(model, {"role": "assistant", "content": ""})
    for i, word in enumerate(reply.split()):
        yield chunk(model, {"content": word if i == 0 else " " + word})
    yield chunk(model, {}, "stop")
    yield "data: [DONE]\n\n"


@plugin.on("executor.count_tokens")
async def count_tokens(request: api.ExecutorRequest) -> api.ExecutorResponse:
    _, _, prompt = conversation(request)
    return api.ExecutorResponse(payload=json.dumps({"input_tokens": prompt}).encode(), headers=JSON)


@plugin.on("executor.http_request")
async def http_request(request: api.ExecutorHTTPRequest) -> api.ExecutorHTTPResponse:
    outbound = api.HTTPRequest(
        method=request.method, url=request.url, headers=request.headers, body=request.body
    )
    answer = await host.http.do(outbound)
    return api.ExecutorHTTPResponse(
        status_code=answer.status_code, headers=answer.headers, body=answer.body
    )


if __name__ == "__main__":
    run(plugin)
