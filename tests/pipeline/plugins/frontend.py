"""A frontend auth provider driven by its config.

Config: ``token`` (the Bearer token it accepts), ``exclusive``, ``fail`` (an error instead),
``metadata`` (what it answers with an accepted token; its principal is the plugin id).
"""

from _probe import maybe_fail, note

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-frontend", version="1", author="tests", github_repository="-")
plugin.frontend_auth("gate")


@plugin.on_config
def configure(config: dict) -> None:
    plugin.frontend_auth("gate", exclusive=bool(config.get("exclusive")))


@plugin.on("frontend_auth.authenticate")
async def authenticate(request: api.FrontendAuthRequest) -> api.FrontendAuthResponse:
    presented = request.headers.get("Authorization", [""])[0].removeprefix("Bearer ")
    note(plugin, "authenticate", presented=presented)
    maybe_fail(plugin.config.get("fail"))
    if presented and presented == plugin.config.get("token"):
        metadata = plugin.config.get("metadata", {})
        return api.FrontendAuthResponse(authenticated=True, principal=plugin.plugin_id,
                                        metadata=metadata)  # fmt: skip
    return api.FrontendAuthResponse(authenticated=False)


if __name__ == "__main__":
    run(plugin)
