"""A model provider: static models (``model.static``) and per-auth models (``model.for_auth``).

Static models are the same for everyone; ``model.for_auth`` gets one auth's
stored JSON and answers the models that account may use (here: a ``tier``
field in the auth's storage picks the list).
"""

import json

from plugin_sdk import Plugin, run
from pluginrt.api import AuthModelRequest, ModelInfo, ModelResponse, StaticModelRequest

plugin = Plugin(
    "model-provider",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
TIERS = {"free": ["mock-small"], "pro": ["mock-small", "mock-large", "mock-pro"]}


def info(model_id: str) -> ModelInfo:
    return ModelInfo(id=model_id, object="model", owned_by="mock", display_name=model_id)


@plugin.on("model.static")
async def static(request: StaticModelRequest) -> ModelResponse:
    return ModelResponse(provider="mock", models=[info("mock-small")])


@plugin.on("model.for_auth")
async def for_auth(request: AuthModelRequest) -> ModelResponse:
    storage = json.loads(request.storage_json or b"{}")
    tier = storage.get("tier", "free")
    return ModelResponse(provider="mock", models=[info(m) for m in TIERS.get(tier, [])])


if __name__ == "__main__":
    run(plugin)
