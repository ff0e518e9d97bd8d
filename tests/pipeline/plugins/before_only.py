"""A request interceptor serving only ``request.intercept_before`` (a Go plugin could
not, a JSON-RPC one can): it appends ``|before`` and journals each call."""

from _probe import note, text

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-before-only", version="1", author="tests", github_repository="-")


@plugin.on("request.intercept_before")
async def before(request: api.RequestInterceptRequest) -> api.RequestInterceptResponse:
    note(plugin, "before", body=text(request.body))
    return api.RequestInterceptResponse(body=request.body + b"|before")


if __name__ == "__main__":
    run(plugin)
