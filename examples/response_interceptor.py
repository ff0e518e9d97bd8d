"""A response interceptor: sees each successful non-streaming response before the client.

It adds an ``X-Served-By`` header, drops the upstream's ``Server`` header, and
appends a footer to OpenAI chat completions (the footer text comes from its
config section, ``footer``). Streams go to stream chunk interceptors instead.
"""

import json

from plugin_sdk import Plugin, run
from pluginrt.api import ResponseInterceptRequest, ResponseInterceptResponse

plugin = Plugin(
    "response-footer",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


@plugin.on("response.intercept_after")
async def intercept(request: ResponseInterceptRequest) -> ResponseInterceptResponse:
    edits = ResponseInterceptResponse(
        headers={"X-Served-By": ["pluginrt"]}, clear_headers=["Server"]
    )
    footer = plugin.config.get("footer", " [via pluginrt]")
    try:
        body = json.loads(request.body)
    except ValueError:
        return edits
    for choice in body.get("choices", []) if isinstance(body, dict) else []:
        message = choice.get("message") or {}
        if isinstance(message.get("content"), str):
            message["content"] += footer
    edits.body = json.dumps(body).encode()
    return edits


if __name__ == "__main__":
    run(plugin)
