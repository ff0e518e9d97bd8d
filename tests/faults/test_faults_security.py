"""Security defaults: what a plugin inherits of the host's environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fault_harness import faulty, hosted, make_config, served


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
