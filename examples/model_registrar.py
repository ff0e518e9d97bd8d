"""A model registrar: contributes models to the host's registry with ``model.register``.

Unlike a model provider it serves no ``model.static``/``model.for_auth``: the
host asks once at start-up and lists the models under the returned provider.
"""

from plugin_sdk import Plugin, run
from pluginrt.api import ModelInfo, ModelRegistrationRequest, ModelRegistrationResponse

plugin = Plugin(
    "model-registrar",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


@plugin.on("model.register")
async def register(request: ModelRegistrationRequest) -> ModelRegistrationResponse:
    models = [
        ModelInfo(id="mock-registered", object="model", owned_by=request.plugin.name,
                  display_name="Mock (registered)", context_length=8192),
    ]  # fmt: skip
    return ModelRegistrationResponse(provider="mock", models=models)


if __name__ == "__main__":
    run(plugin)
