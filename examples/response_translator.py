"""A response translator: OpenAI chat completions back into Claude messages, streams too.

``openai -> claude`` only (it declines anything else with an empty body). A
whole ``chat.completion`` becomes a ``message``; each ``chat.completion.chunk``
SSE frame becomes the Claude stream events it stands for, and ``[DONE]``
becomes ``message_stop``.
"""

import json
from typing import Any

from plugin_sdk import Plugin, run
from pluginrt.api import PayloadResponse, ResponseTransformRequest

plugin = Plugin(
    "openai-to-claude",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
STOP = {"stop": "end_turn", "length": "max_tokens"}


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"


def frame(chunk: dict[str, Any]) -> str:
    """The Claude events one OpenAI chunk stands for (may be none)."""
    choice = chunk["choices"][0] if chunk.get("choices") else {}
    delta, finish = choice.get("delta", {}), choice.get("finish_reason")
    out = ""
    if delta.get("role"):
        usage = {"input_tokens": 0, "output_tokens": 0}
        message: dict[str, Any] = {"id": chunk.get("id"), "type": "message", "content": []}
        message |= {"role": "assistant", "model": chunk.get("model"), "usage": usage}
        out += event("message_start", {"message": message})
        block = {"type": "text", "text": ""}
        out += event("content_block_start", {"index": 0, "content_block": block})
    if delta.get("content"):
        text = {"type": "text_delta", "text": delta["content"]}
        out += event("content_block_delta", {"index": 0, "delta": text})
    if finish:
        out += event("content_block_stop", {"index": 0})
        usage = {"output_tokens": (chunk.get("usage") or {}).get("completion_tokens", 0)}
        stop = {"stop_reason": STOP.get(finish, "end_turn")}
        out += event("message_delta", {"delta": stop, "usage": usage})  # clients need usage
    return out


@plugin.on("response.translate")
async def translate(request: ResponseTransformRequest) -> PayloadResponse:
    if (request.from_format, request.to_format) != ("openai", "claude"):
        return PayloadResponse()
    if request.stream:
        data = request.body.decode().strip().removeprefix("data:").strip()
        out = event("message_stop", {}) if data == "[DONE]" else frame(json.loads(data))
        return PayloadResponse(body=(out or ":\n\n").encode())  # ":" is an SSE comment
    done = json.loads(request.body)
    if "choices" not in done:  # e.g. a count_tokens answer, {"input_tokens": n}: same shape
        return PayloadResponse(body=request.body)
    choice, usage = done["choices"][0], done.get("usage", {})
    text = choice["message"].get("content") or ""
    message = {"id": done.get("id"), "type": "message", "role": "assistant",
               "model": done.get("model"), "content": [{"type": "text", "text": text}],
               "stop_reason": STOP.get(choice.get("finish_reason"), "end_turn"),
               "usage": {"input_tokens": usage.get("prompt_tokens", 0),
                         "output_tokens": usage.get("completion_tokens", 0)}}  # fmt: skip
    return PayloadResponse(body=json.dumps(message).encode())


if __name__ == "__main__":
    run(plugin)
