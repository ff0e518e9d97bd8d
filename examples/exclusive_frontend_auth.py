"""An exclusive frontend auth provider: when declared, it is the only gatekeeper.

``plugin.frontend_auth(..., exclusive=True)`` makes the host stop honouring its
configured API keys: every client request is decided here. This one admits
requests carrying the shared secret of its config section in ``X-Team-Secret``,
and names the principal after ``X-Team-Member``.
"""

from plugin_sdk import Plugin, run
from pluginrt.api import FrontendAuthRequest, FrontendAuthResponse

plugin = Plugin(
    "team-gate",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
plugin.frontend_auth("team-gate", exclusive=True)


@plugin.on("frontend_auth.authenticate")
async def authenticate(request: FrontendAuthRequest) -> FrontendAuthResponse:
    headers = {k.lower(): v[0] for k, v in request.headers.items() if v}
    secret = plugin.config.get("secret", "")
    if not secret or headers.get("x-team-secret") != secret:
        return FrontendAuthResponse(authenticated=False)
    member = headers.get("x-team-member", "team")
    return FrontendAuthResponse(authenticated=True, principal=member, metadata={"team": "yes"})


if __name__ == "__main__":
    run(plugin)
