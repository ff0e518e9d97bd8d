"""A thinking applier for provider ``mock``: turns the canonical thinking config into a field.

The host parses the client's reasoning settings into a ``ThinkingConfig``
(mode, budget, level) and asks the applier registered for the request's
provider to write them in that provider's own way. Here: a ``reasoning``
object in the OpenAI body; mode ``none`` removes it.
"""

import json

from plugin_sdk import Plugin, run
from pluginrt.api import PayloadResponse, ThinkingApplyRequest

plugin = Plugin(
    "mock-thinking",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
plugin.thinking_applier("mock")


@plugin.on("thinking.apply")
async def apply(request: ThinkingApplyRequest) -> PayloadResponse:
    body = json.loads(request.body or b"{}")
    config = request.config
    if config.mode == "none":
        body.pop("reasoning", None)
    else:
        effort = config.level or ("high" if config.budget > 8192 else "medium")
        budget = {"max_tokens": config.budget} if config.budget > 0 else {}
        body["reasoning"] = {"effort": effort, **budget}
    return PayloadResponse(body=json.dumps(body).encode())


if __name__ == "__main__":
    run(plugin)
