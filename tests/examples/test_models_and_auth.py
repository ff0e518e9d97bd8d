"""Model registrar and provider, auth provider, frontend auth and scheduler examples."""

from __future__ import annotations

import json

import pytest
from examples_harness import start

from pluginrt import api
from pluginrt.host import PluginRemoteError


async def test_the_model_registrar_registers_its_models_at_start() -> None:
    async with start("model_registrar.py") as plugin:
        assert plugin.capabilities.model_registrar is not None
        assert plugin.registrations.provider == "mock"
        assert [m.id for m in plugin.registrations.models] == ["mock-registered"]
        assert plugin.registrations.models[0].owned_by == "model-registrar"


async def test_the_model_provider_answers_static_models_and_models_per_auth_tier() -> None:
    async with start("model_provider.py") as plugin:
        assert [m.id for m in plugin.registrations.models] == ["mock-small"]
        pro = api.AuthModelRequest(auth_id="a1", storage_json=b'{"tier": "pro"}')
        answer = await plugin.call("model.for_auth", pro, api.ModelResponse)
        free = await plugin.call("model.for_auth", api.AuthModelRequest(), api.ModelResponse)
    assert answer.provider == "mock"
    assert [m.id for m in answer.models] == ["mock-small", "mock-large", "mock-pro"]
    assert [m.id for m in free.models] == ["mock-small"]


async def test_the_auth_provider_parses_only_its_own_auth_files() -> None:
    async with start("auth_provider.py") as plugin:
        assert plugin.capabilities.auth_provider == api.CapabilityDecl(identifier="mock")
        mine = api.AuthParseRequest(file_name="m.json", raw_json=b'{"type":"mock","token":"t"}')
        parsed = await plugin.call("auth.parse", mine, api.AuthParseResponse)
        other = api.AuthParseRequest(raw_json=b'{"type": "gemini"}')
        declined = await plugin.call("auth.parse", other, api.AuthParseResponse)
    assert parsed.handled and parsed.auth.provider == "mock" and parsed.auth.id == "m.json"
    assert json.loads(parsed.auth.storage_json)["token"] == "t"
    assert not declined.handled


async def test_the_auth_login_flow_is_pending_once_then_succeeds_and_refreshes() -> None:
    async with start("auth_provider.py") as plugin:
        begun = await plugin.call(
            "auth.login.start",
            api.AuthLoginStartRequest(provider="mock"),
            api.AuthLoginStartResponse,
        )
        poll = api.AuthLoginPollRequest(provider="mock", state=begun.state)
        first = await plugin.call("auth.login.poll", poll, api.AuthLoginPollResponse)
        second = await plugin.call("auth.login.poll", poll, api.AuthLoginPollResponse)
        refresh = api.AuthRefreshRequest(auth_id=second.auth.id, auth_provider="mock")
        refreshed = await plugin.call("auth.refresh", refresh, api.AuthRefreshResponse)
    assert begun.url.startswith("https://login.mock/") and begun.state
    assert first.status == api.AuthLoginStatus.PENDING
    assert second.status == api.AuthLoginStatus.SUCCESS
    assert json.loads(second.auth.storage_json)["token"] == f"token-{begun.state}"
    assert json.loads(refreshed.auth.storage_json)["token"] == f"refreshed-{second.auth.id}"
    assert refreshed.next_refresh_after > api.ZERO_TIME


async def test_polling_an_unknown_login_state_fails_with_the_plugins_status() -> None:
    async with start("auth_provider.py") as plugin:
        poll = api.AuthLoginPollRequest(provider="mock", state="nope")
        with pytest.raises(PluginRemoteError, match="unknown login state") as failed:
            await plugin.call("auth.login.poll", poll, api.AuthLoginPollResponse)
    assert failed.value.http_status == 400
    assert failed.value.error_code == "bad_state"


async def test_the_frontend_auth_admits_tokens_from_its_config_section_only() -> None:
    config = {"tokens": {"sk-alice": "alice"}}
    async with start("frontend_auth.py", config=config) as plugin:
        assert not plugin.capabilities.frontend_auth_provider_exclusive
        ok = api.FrontendAuthRequest(headers={"Authorization": ["Bearer sk-alice"]})
        by_key = api.FrontendAuthRequest(headers={"X-Api-Key": ["sk-alice"]})
        bad = api.FrontendAuthRequest(headers={"Authorization": ["Bearer sk-mallory"]})
        answers = [
            await plugin.call("frontend_auth.authenticate", r, api.FrontendAuthResponse)
            for r in (ok, by_key, bad)
        ]
    assert [a.authenticated for a in answers] == [True, True, False]
    assert answers[0].principal == "alice" and answers[0].metadata == {"via": "token-auth"}


async def test_the_exclusive_frontend_auth_declares_itself_exclusive_and_checks_its_secret() -> (
    None
):
    async with start("exclusive_frontend_auth.py", config={"secret": "s3"}) as plugin:
        caps = plugin.capabilities
        assert caps.frontend_auth_provider_exclusive
        assert caps.frontend_auth_provider == api.CapabilityDecl(identifier="team-gate")
        good = api.FrontendAuthRequest(headers={"X-Team-Secret": ["s3"], "X-Team-Member": ["bo"]})
        bad = api.FrontendAuthRequest(headers={"X-Team-Secret": ["guess"]})
        yes = await plugin.call("frontend_auth.authenticate", good, api.FrontendAuthResponse)
        no = await plugin.call("frontend_auth.authenticate", bad, api.FrontendAuthResponse)
    assert yes.authenticated and yes.principal == "bo"
    assert not no.authenticated


async def test_the_scheduler_picks_the_auth_named_in_a_header_else_delegates_to_fill_first() -> (
    None
):
    candidates = [api.SchedulerAuthCandidate(id="a1"), api.SchedulerAuthCandidate(id="a2")]
    chosen = api.SchedulerPickRequest(
        provider="mock",
        candidates=candidates,
        options=api.SchedulerOptions(headers={"X-Mock-Auth": ["a2"]}),
    )
    unknown = api.SchedulerPickRequest(provider="mock", candidates=candidates)
    async with start("scheduler.py") as plugin:
        picked = await plugin.call("scheduler.pick", chosen, api.SchedulerPickResponse)
        delegated = await plugin.call("scheduler.pick", unknown, api.SchedulerPickResponse)
    assert picked == api.SchedulerPickResponse(handled=True, auth_id="a2")
    assert delegated == api.SchedulerPickResponse(
        handled=True, delegate_builtin=api.SCHEDULER_BUILTIN_FILL_FIRST
    )
