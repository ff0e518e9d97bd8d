"""Response normalizers on both sides of the response translator, in one script.

``response.normalize_before`` sees the executor's own format (here: it strips
trailing whitespace from OpenAI message contents); ``response.normalize_after``
sees what the client will get, each stream frame on its own (here: it stamps a
``"x_normalized": true`` marker into JSON bodies). An empty answer keeps the body.
"""

import json

from plugin_sdk import Plugin, run
from pluginrt.api import PayloadResponse, ResponseTransformRequest

plugin = Plugin(
    "response-tidy",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


@plugin.on("response.normalize_before")
async def before(request: ResponseTransformRequest) -> PayloadResponse:
    if request.stream or request.from_format != "openai":
        return PayloadResponse()
    body = json.loads(request.body)
    for choice in body.get("choices", []):
        message = choice.get("message") or {}
        if isinstance(message.get("content"), str):
            message["content"] = message["content"].rstrip()
    return PayloadResponse(body=json.dumps(body).encode())


@plugin.on("response.normalize_after")
async def after(request: ResponseTransformRequest) -> PayloadResponse:
    text = request.body.decode()
    framed = request.stream and "data: " in text  # a stream frame ends with its data line
    head, _, data = text.rpartition("data: ") if framed else ("", "", text)
    try:
        body = json.loads(data)
    except ValueError:
        return PayloadResponse()  # "[DONE]", comments, non-JSON: unchanged
    if not isinstance(body, dict):
        return PayloadResponse()
    body["x_normalized"] = True
    out = f"{head}data: {json.dumps(body)}\n\n" if framed else json.dumps(body)
    return PayloadResponse(body=out.encode())


if __name__ == "__main__":
    run(plugin)
