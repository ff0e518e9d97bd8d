"""An auth provider with a device-style login flow: parse, login start/poll, refresh.

``auth.parse`` reads auth files of ``type: "mock"``; ``auth.login.start``
hands out a URL and a state; ``auth.login.poll`` stays ``pending`` on the
first poll and succeeds on the second with a new token; ``auth.refresh``
issues a fresh token valid for an hour.
"""

import json
from datetime import UTC, datetime, timedelta

from plugin_sdk import Plugin, PluginError, run
from pluginrt import api

plugin = Plugin(
    "mock-auth",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
plugin.auth_provider("mock")
polls: dict[str, int] = {}  # login state -> polls so far


def auth(auth_id: str, token: str) -> api.AuthData:
    storage = json.dumps({"type": "mock", "token": token}).encode()
    return api.AuthData(provider="mock", id=auth_id, label=auth_id, storage_json=storage,
                        next_refresh_after=datetime.now(UTC) + timedelta(hours=1))  # fmt: skip


@plugin.on("auth.parse")
async def parse(request: api.AuthParseRequest) -> api.AuthParseResponse:
    data = json.loads(request.raw_json or b"{}")
    if data.get("type") != "mock":
        return api.AuthParseResponse(handled=False)
    return api.AuthParseResponse(handled=True, auth=auth(request.file_name, data.get("token", "")))


@plugin.on("auth.login.start")
async def login_start(request: api.AuthLoginStartRequest) -> api.AuthLoginStartResponse:
    state = f"state-{len(polls) + 1}"
    polls[state] = 0
    return api.AuthLoginStartResponse(provider="mock", url=f"https://login.mock/device?s={state}",
                                      state=state)  # fmt: skip


@plugin.on("auth.login.poll")
async def login_poll(request: api.AuthLoginPollRequest) -> api.AuthLoginPollResponse:
    if request.state not in polls:
        raise PluginError(f"unknown login state {request.state!r}", code="bad_state",
                          http_status=400)  # fmt: skip
    polls[request.state] += 1
    if polls[request.state] < 2:
        return api.AuthLoginPollResponse(status="pending", message="waiting for the user")
    token = f"token-{request.state}"
    return api.AuthLoginPollResponse(status="success", auth=auth(f"mock-{request.state}", token))


@plugin.on("auth.refresh")
async def refresh(request: api.AuthRefreshRequest) -> api.AuthRefreshResponse:
    fresh = auth(request.auth_id, f"refreshed-{request.auth_id}")
    return api.AuthRefreshResponse(auth=fresh, next_refresh_after=fresh.next_refresh_after)


if __name__ == "__main__":
    run(plugin)
