"""A request and response interceptor driven by its config.

Config: ``stages`` (of ``before``, ``after``, ``response``; default all),
``append`` (text appended to the body), ``set`` (headers replaced),
``clear`` (headers cleared), ``fail`` (an error instead), ``empty`` (answer
nothing). Every call is journaled with the headers and body it saw.
"""

from typing import Any

from _probe import maybe_fail, note, text

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-interceptor", version="1", author="tests", github_repository="-")


def answer(stage: str, body: bytes) -> dict[str, Any]:
    config = plugin.config
    if stage not in config.get("stages", ["before", "after", "response"]):
        return {}
    maybe_fail(config.get("fail"))
    if config.get("empty"):
        return {}
    edits: dict[str, Any] = {
        "headers": config.get("set", {}),
        "clear_headers": config.get("clear", []),
    }
    if config.get("append"):
        edits["body"] = body + config["append"].encode()
    return edits


@plugin.on("request.intercept_before")
async def before(request: api.RequestInterceptRequest) -> api.RequestInterceptResponse:
    note(plugin, "before", headers=request.headers, body=text(request.body),
         model=request.model, to_format=request.to_format)  # fmt: skip
    return api.RequestInterceptResponse(**answer("before", request.body))


@plugin.on("request.intercept_after")
async def after(request: api.RequestInterceptRequest) -> api.RequestInterceptResponse:
    note(plugin, "after", headers=request.headers, body=text(request.body),
         model=request.model, to_format=request.to_format)  # fmt: skip
    return api.RequestInterceptResponse(**answer("after", request.body))


@plugin.on("response.intercept_after")
async def response(request: api.ResponseInterceptRequest) -> api.ResponseInterceptResponse:
    note(plugin, "response", headers=request.response_headers, body=text(request.body),
         status=request.status_code)  # fmt: skip
    return api.ResponseInterceptResponse(**answer("response", request.body))


if __name__ == "__main__":
    run(plugin)
