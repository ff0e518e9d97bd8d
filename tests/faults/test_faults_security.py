"""Security defaults: what a plugin inherits of the host's environment, log redaction, resources."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import msgspec
import pytest
import trio
from fault_harness import (
    KEY,
    MANAGEMENT_KEY,
    PATIENCE,
    chat,
    faulty,
    gateway,
    hosted,
    journal_lines,
    make_config,
    served,
)

from pluginrt._logging import REDACTOR, redact
from pluginrt.api import ManagementRequest
from pluginrt.pipeline import ClientResponse

logger = logging.getLogger("pluginrt.host")


async def _plugin_environment(tmp_path: Path, **settings: object) -> list[str]:
    entry = faulty("envy", "env")
    entry["env"] = {"OWN_SETTING": "1"}
    async with hosted(make_config(tmp_path, entry, **settings)) as host:
        answer = await served(host, "envy")
    names: list[str] = json.loads(json.loads(answer.body)["choices"][0]["message"]["content"])
    return names


async def test_a_plugin_inherits_only_the_allowed_host_variables_plus_its_own_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAULTS_SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("LC_FAULTS", "C")
    names = await _plugin_environment(tmp_path)
    assert "FAULTS_SECRET_TOKEN" not in names
    assert {"PATH", "LC_FAULTS", "OWN_SETTING", "PLUGINRT_PLUGIN_ID"} <= set(names)


async def test_env_allow_in_the_config_decides_what_a_plugin_inherits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAULTS_SECRET_TOKEN", "hunter2")
    names = await _plugin_environment(tmp_path, env_allow=["PATH", "FAULTS_*"])
    assert "FAULTS_SECRET_TOKEN" in names
    assert "HOME" not in names
    assert "OWN_SETTING" in names


# ------------------------------------------------------------------ log redaction


async def test_a_plugin_logging_the_api_key_and_an_authorization_header_shows_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pluginrt")
    cfg = make_config(
        tmp_path,
        faulty("leaky", "leaky", secret=KEY),
        api_keys=[KEY],
        management_key=MANAGEMENT_KEY,
    )
    async with hosted(cfg) as host:
        answer = await host.handle(chat("leaky", headers={"authorization": [f"Bearer {KEY}"]}))
        assert isinstance(answer, ClientResponse) and answer.status == 200, answer
        logger.info("client sent Authorization: Bearer %s and key %s", KEY, MANAGEMENT_KEY)
        with trio.fail_after(PATIENCE):  # stderr is drained by its own task: wait for the line
            while not any("stderr with key" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                await trio.sleep(0.02)
    plugin_lines = [r.getMessage() for r in caplog.records if r.name == "pluginrt.plugin.leaky"]
    assert any("stderr with key [redacted]" in line for line in plugin_lines), plugin_lines
    assert any("Authorization: Bearer [redacted]" in line for line in plugin_lines), plugin_lines
    assert any("host.log with key [redacted]" in line for line in plugin_lines), plugin_lines
    assert "Bearer [redacted]" in caplog.text
    assert KEY not in caplog.text
    assert MANAGEMENT_KEY not in caplog.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Authorization: Bearer sk-abc123", "Authorization: Bearer [redacted]"),
        ("{'authorization': 'Basic dXNlcg==', 'x-api-key': 'k1'}",
         "{'authorization': 'Basic [redacted]', 'x-api-key': '[redacted]'}"),
        ('{"X-Goog-Api-Key": ["AIza-1"], "Accept": ["*/*"]}',
         '{"X-Goog-Api-Key": ["[redacted]"], "Accept": ["*/*"]}'),
        ("(b'x-management-key', b'mgmt-1')", "(b'x-management-key', b'[redacted]')"),
        ("GET /v1beta/models?key=AIza-2&alt=sse", "GET /v1beta/models?key=[redacted]&alt=sse"),
        ("token Bearer eyJ.abc.def sent", "token Bearer [redacted] sent"),
        ("authorization failed for plugin x", "authorization failed for plugin x"),
    ],
)  # fmt: skip
def test_credential_header_and_key_query_values_are_redacted_once_and_for_good(
    line: str, expected: str
) -> None:
    assert redact(line) == expected
    assert redact(expected) == expected  # a second filter on the way changes nothing


def test_a_configured_key_is_redacted_only_while_a_host_holds_it() -> None:
    taken = REDACTOR.add(["sk-only-while-held", "abc"])  # too short a key is not taken
    assert taken == ["sk-only-while-held"]
    assert redact("key sk-only-while-held!") == "key [redacted]!"
    REDACTOR.remove(taken)
    assert redact("key sk-only-while-held!") == "key sk-only-while-held!"


# ------------------------------------------------------------- resources and auth files


async def test_a_plugin_resource_gets_no_credentials_and_never_an_auth_files_contents(
    tmp_path: Path,
) -> None:
    auths = tmp_path / "auths"
    auths.mkdir(mode=0o700)
    secret = "auth-file-secret-token-1234"
    (auths / "someone.json").write_text(
        json.dumps({"type": "leaky", "access_token": secret, "api_key": secret})
    )
    journal = tmp_path / "journal"
    cfg = make_config(
        tmp_path,
        faulty("leaky", "leaky", journal=str(journal)),
        api_keys=[KEY],
        management_key=MANAGEMENT_KEY,
    )
    headers = {
        "Authorization": f"Bearer {KEY}",
        "X-Api-Key": KEY,
        "X-Management-Key": MANAGEMENT_KEY,
        "Cookie": f"session={secret}",
        "X-Other": "kept",
    }
    async with gateway(cfg) as (_host, base), httpx.AsyncClient(base_url=base) as client:
        with trio.fail_after(PATIENCE):
            answer = await client.get(
                "/v0/resource/plugins/leaky/echo.json",
                params={"key": KEY, "page": "1"},
                headers=headers,
            )
    assert answer.status_code == 200, answer.text
    received = msgspec.json.decode(answer.content, type=ManagementRequest)
    names = {name.lower() for name in received.headers}
    assert "x-other" in names
    assert not names & {"authorization", "x-api-key", "x-management-key", "cookie"}
    assert set(received.query) == {"page"}
    assert received.body == b""
    assert secret not in answer.text
    assert KEY not in answer.text and MANAGEMENT_KEY not in answer.text
    assert "call management.handle" in journal_lines(journal)


def test_a_reload_restarts_a_plugin_when_env_allow_max_line_or_instances_change() -> None:
    from pluginrt._host import _restart_needed
    from pluginrt.config import PluginConfig

    before = PluginConfig(id="p", command="p.py")
    assert not _restart_needed(before, PluginConfig(id="p", command="p.py"))
    assert _restart_needed(before, PluginConfig(id="p", command="p.py"), env_allow_changed=True)
    assert _restart_needed(before, PluginConfig(id="p", command="p.py", max_line=1024))
    assert _restart_needed(before, PluginConfig(id="p", command="p.py", instances=2))
    changed_config = PluginConfig(id="p", command="p.py", config={"a": 1})
    assert not _restart_needed(before, changed_config)  # plugin.reconfigure is enough
