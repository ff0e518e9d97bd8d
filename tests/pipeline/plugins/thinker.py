"""A thinking applier driven by its config; journals each ``thinking.apply``.

Config: ``provider`` (identifier, default ``probe``) and ``answer``: ``mark``
(the default: adds ``{"thought_by": <plugin id>}`` to the JSON body), ``fail``
(an error) or ``empty`` (an empty body).
"""

import json

from _probe import note, text

from plugin_sdk import Plugin, PluginError, run
from pluginrt import api

plugin = Plugin("test-thinker", version="1", author="tests", github_repository="-")
plugin.thinking_applier("probe")


@plugin.on_config
def configure(config: dict) -> None:
    plugin.thinking_applier(config.get("provider", "probe"))


@plugin.on("thinking.apply")
async def apply(request: api.ThinkingApplyRequest) -> api.PayloadResponse:
    config = request.config
    note(plugin, "thinking.apply", provider=request.provider, model=request.model.id,
         mode=config.mode, budget=config.budget, level=config.level,
         body=text(request.body))  # fmt: skip
    answer = plugin.config.get("answer", "mark")
    if answer == "fail":
        raise PluginError("no thoughts today", http_status=503)
    if answer == "empty":
        return api.PayloadResponse()
    body = json.loads(request.body)
    body["thought_by"] = plugin.plugin_id
    return api.PayloadResponse(body=json.dumps(body).encode())


if __name__ == "__main__":
    run(plugin)
