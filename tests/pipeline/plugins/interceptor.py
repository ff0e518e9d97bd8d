"""A request and response interceptor driven by its config.

Config: ``stages`` (of ``before``, ``after``, ``response``; default all),
``append`` (text appended to the body), ``set`` (headers replaced),
``clear`` (headers cleared), ``fail`` (an error instead), ``empty`` (answer
nothing), ``hang`` (never answer), ``sleep`` (seconds before answering), ``crash``
(exit at once). Every call is
journaled with the headers, body and metadata it saw; ``before`` calls also
with the pid and how many config sections it was handed (register, reconfigure).
"""

import os
from typing import Any

import trio
from _probe import maybe_fail, note, text

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-interceptor", version="1", author="tests", github_repository="-")
configured = 0


@plugin.on_config
def configure(config: dict[str, Any]) -> None:
    global configured
    configured += 1


async def answer(stage: str, body: bytes) -> dict[str, Any]:
    config = plugin.config
    if stage not in config.get("stages", ["before", "after", "response"]):
        return {}
    if config.get("crash"):
        os._exit(3)
    if config.get("hang"):
        await trio.sleep_forever()
    await trio.sleep(config.get("sleep", 0))
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
         model=request.model, to_format=request.to_format, metadata=request.metadata,
         pid=os.getpid(), configured=configured)  # fmt: skip
    return api.RequestInterceptResponse(**await answer("before", request.body))


@plugin.on("request.intercept_after")
async def after(request: api.RequestInterceptRequest) -> api.RequestInterceptResponse:
    note(plugin, "after", headers=request.headers, body=text(request.body),
         model=request.model, to_format=request.to_format,
         metadata=request.metadata)  # fmt: skip
    return api.RequestInterceptResponse(**await answer("after", request.body))


@plugin.on("response.intercept_after")
async def response(request: api.ResponseInterceptRequest) -> api.ResponseInterceptResponse:
    note(plugin, "response", headers=request.response_headers, body=text(request.body),
         status=request.status_code)  # fmt: skip
    return api.ResponseInterceptResponse(**await answer("response", request.body))


if __name__ == "__main__":
    run(plugin)
