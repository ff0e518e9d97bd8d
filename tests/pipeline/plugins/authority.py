"""An auth provider: parses, refreshes and logs in auth files of its ``provider`` type.

Config: ``provider`` (its identifier, default ``probe``), ``accept`` (more
``type`` values it parses). ``auth.parse`` takes files whose ``type`` is the
provider or accepted, keeping the file's ``proxy_url`` (``"due": true``
makes the refresh due at once, ``"due_in": s`` in s seconds); ``auth.refresh``
answers only a new token (every other field inherits), and the config's
``refresh_attributes`` if any (``refresh_fail``: it fails instead, for auths whose
token is that); a login (whose start answers a ``device_code``
in its Metadata) is ``pending`` on the first poll and ``success`` on the second.
"""

import json
from datetime import UTC, datetime, timedelta

from _probe import note, text

from plugin_sdk import Plugin, PluginError, run
from pluginrt import api

plugin = Plugin("test-authority", version="1", author="tests", github_repository="-")
plugin.auth_provider("probe")
polls: dict[str, int] = {}


@plugin.on_config
def configure(config: dict) -> None:
    plugin.auth_provider(config.get("provider", "probe"))


@plugin.on("auth.parse")
async def parse(request: api.AuthParseRequest) -> api.AuthParseResponse:
    note(plugin, "parse", file=request.file_name)
    data = json.loads(request.raw_json)
    kind = data.get("type")
    if kind not in (plugin.config.get("provider", "probe"), *plugin.config.get("accept", [])):
        return api.AuthParseResponse(handled=False)
    due = datetime.now(UTC) + (timedelta(hours=-1) if data.get("due") else timedelta(hours=1))
    if "due_in" in data:  # seconds from now
        due = datetime.now(UTC) + timedelta(seconds=data["due_in"])
    auth = api.AuthData(provider=kind, label=data.get("label", ""),
                        proxy_url=data.get("proxy_url", ""), storage_json=request.raw_json,
                        metadata={"origin": "parse"}, next_refresh_after=due)  # fmt: skip
    return api.AuthParseResponse(handled=True, auth=auth)


@plugin.on("auth.refresh")
async def refresh(request: api.AuthRefreshRequest) -> api.AuthRefreshResponse:
    note(plugin, "refresh", auth_id=request.auth_id, storage=text(request.storage_json))
    failing = plugin.config.get("refresh_fail")
    if failing and json.loads(request.storage_json).get("token") == failing:
        raise PluginError("the provider refused the refresh token")
    storage = json.dumps({"type": "probe", "token": "refreshed"}).encode()
    later = datetime.now(UTC) + timedelta(hours=1)
    attributes = plugin.config.get("refresh_attributes", {})
    fresh = api.AuthData(storage_json=storage, attributes=attributes)
    return api.AuthRefreshResponse(auth=fresh, next_refresh_after=later)


@plugin.on("auth.login.start")
async def login_start(request: api.AuthLoginStartRequest) -> api.AuthLoginStartResponse:
    state = f"state-{len(polls) + 1}"
    polls[state] = 0
    return api.AuthLoginStartResponse(provider="probe", url="https://login.test/", state=state,
                                      metadata={"device_code": f"code-{state}"})  # fmt: skip


@plugin.on("auth.login.poll")
async def login_poll(request: api.AuthLoginPollRequest) -> api.AuthLoginPollResponse:
    note(plugin, "poll", state=request.state, metadata=request.metadata)
    polls[request.state] += 1
    if polls[request.state] < 2:
        return api.AuthLoginPollResponse(status="pending")
    storage = json.dumps({"type": "probe", "token": f"login-{request.state}"}).encode()
    auth = api.AuthData(provider="probe", id="fresh", file_name="fresh.json", storage_json=storage)
    return api.AuthLoginPollResponse(status="success", auth=auth)


if __name__ == "__main__":
    run(plugin)
