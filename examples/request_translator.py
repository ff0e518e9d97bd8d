"""A request translator: Claude ``/v1/messages`` requests into OpenAI chat completions.

Translators are first-wins: each is asked in turn and declines with an empty
body when the formats are not its own. This one handles ``claude -> openai``:
the ``system`` prompt becomes a system message, content blocks become text.
"""

import json
from typing import Any

from plugin_sdk import Plugin, run
from pluginrt.api import PayloadResponse, RequestTransformRequest

plugin = Plugin(
    "claude-to-openai",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


def text(content: Any) -> str:
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return "".join(b.get("text", "") for b in content if b.get("type") == "text")
    return str(content or "")


@plugin.on("request.translate")
async def translate(request: RequestTransformRequest) -> PayloadResponse:
    if (request.from_format, request.to_format) != ("claude", "openai"):
        return PayloadResponse()  # not ours: the next translator is asked
    claude = json.loads(request.body)
    messages = [{"role": "system", "content": text(claude["system"])}] if "system" in claude else []
    messages += [{"role": m["role"], "content": text(m["content"])} for m in claude["messages"]]
    openai: dict[str, Any] = {"model": request.model or claude.get("model"), "messages": messages}
    for key in ("max_tokens", "temperature", "top_p", "stream"):
        if key in claude:
            openai[key] = claude[key]
    if "stop_sequences" in claude:
        openai["stop"] = claude["stop_sequences"]
    return PayloadResponse(body=json.dumps(openai).encode())


if __name__ == "__main__":
    run(plugin)
