"""A frontend auth provider: lets clients in with a token listed in its config section.

The config section (``config: {tokens: {"sk-alice": "alice"}}``) maps tokens
to principals. ``Authorization: Bearer <token>`` or ``x-api-key`` is checked;
an unknown token answers "not handled", so the next provider may try.
"""

from plugin_sdk import Plugin, run
from pluginrt.api import FrontendAuthRequest, FrontendAuthResponse

plugin = Plugin(
    "token-auth",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
plugin.frontend_auth("token-auth")


def token_of(headers: dict[str, list[str]]) -> str:
    lowered = {k.lower(): v for k, v in headers.items() if v}
    bearer = lowered.get("authorization", [""])[0].removeprefix("Bearer ").strip()
    return bearer or lowered.get("x-api-key", [""])[0]


@plugin.on("frontend_auth.authenticate")
async def authenticate(request: FrontendAuthRequest) -> FrontendAuthResponse:
    tokens: dict[str, str] = plugin.config.get("tokens", {})
    principal = tokens.get(token_of(request.headers))
    if principal is None:
        return FrontendAuthResponse(authenticated=False)
    return FrontendAuthResponse(authenticated=True, principal=principal,
                                metadata={"via": "token-auth"})  # fmt: skip


if __name__ == "__main__":
    run(plugin)
