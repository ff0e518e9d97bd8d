"""Plugin command-line flags: SEMANTICS.md's registration rules and what execution gets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio
import yaml
from pipeline_harness import PATIENCE, PLUGINS, Lab

BAD_FLAGS = [
    {"name": ""},
    {"name": "-dash"},
    {"name": "help"},
    {"name": "h"},
    {"name": "two words"},
    {"name": "tab\there"},
    {"name": "a=b"},
    {"name": "odd", "type": "complex128"},
    {"name": "config"},  # the host's own
]
GOOD_FLAGS = [
    {"name": "plain"},  # no type: bool
    {"name": "on", "type": "bool"},
    {"name": "name", "type": "string", "default": "anon"},
    {"name": "count", "type": "int"},
    {"name": "big", "type": "int64"},
    {"name": "ratio", "type": "float64"},
    {"name": "wait", "type": "duration"},
]


async def test_flags_breaking_a_rule_are_skipped_with_a_warning_and_the_rest_kept_in_order(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    first = lab.plugin("first", "flagger", priority=10, flags=[*BAD_FLAGS, *GOOD_FLAGS])
    later = lab.plugin("later", "flagger", flags=[{"name": "name"}, {"name": "mine"}])
    async with lab.host(first, later) as host:
        bound = [(b.plugin_id, b.flag.name) for b in host.flags()]
    assert bound == [("first", f["name"]) for f in GOOD_FLAGS] + [("later", "mine")]
    warned = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    for flag in BAD_FLAGS:
        assert any(f"flag {flag['name']!r} of plugin first skipped" in w for w in warned), flag
    assert "flag 'name' of plugin later skipped: the name is already taken" in warned


async def test_each_plugin_owning_a_given_flag_gets_every_flag_and_its_own_triggered_ones(
    lab: Lab,
) -> None:
    first = lab.plugin("first", "flagger", priority=10,
                       flags=[{"name": "name", "type": "string", "default": "anon"},
                              {"name": "quiet"}])  # fmt: skip
    later = lab.plugin("later", "flagger", flags=[{"name": "count", "type": "int"}])
    idle = lab.plugin("idle", "flagger", priority=-5, flags=[{"name": "unused"}])
    async with lab.host(first, later, idle) as host:
        answers = await host.execute_flags(
            {"name": "bob", "count": "3"},
            program="pluginrt",
            args=["run", "cfg.yaml", "--name", "bob", "--count=3"],
            config_path="cfg.yaml",
        )
    assert [plugin_id for plugin_id, _ in answers] == ["first", "later"]
    calls = {c["plugin"]: c for c in lab.calls("command_line.execute")}
    assert sorted(calls) == ["first", "later"]  # idle's flag was not given
    every = {
        "name": ["string", "bob", True],
        "quiet": ["bool", "", False],
        "count": ["int", "3", True],
        "unused": ["bool", "", False],
    }
    assert calls["first"]["flags"] == calls["later"]["flags"] == every
    assert calls["first"]["triggered"] == {"name": ["string", "bob", True]}
    assert calls["later"]["triggered"] == {"count": ["int", "3", True]}
    assert calls["first"]["args"] == ["run", "cfg.yaml", "--name", "bob", "--count=3"]
    assert calls["first"]["program"] == "pluginrt"
    assert calls["first"]["config_path"] == "cfg.yaml"


async def test_pluginrt_run_writes_every_output_and_exits_with_the_first_nonzero_code(
    lab: Lab, tmp_path: Path
) -> None:
    def flagger(plugin_id: str, flag: str, exit: int, priority: int) -> dict[str, object]:
        return {
            "id": plugin_id,
            "command": str(PLUGINS / "flagger.py"),
            "priority": priority,
            "config": {"journal": str(lab.journal), "flags": [{"name": flag}], "exit": exit,
                       "stdout": f"{plugin_id} out\n", "stderr": f"{plugin_id} err\n"},
        }  # fmt: skip

    config = tmp_path / "flags.yaml"
    plugins = [flagger("ok", "a", 0, 30), flagger("five", "b", 5, 20), flagger("four", "c", 4, 10)]
    config.write_text(yaml.safe_dump({"port": 0, "plugins": plugins}))
    command = [sys.executable, "-c", "from pluginrt.cli import main; main()", "run", str(config)]
    with trio.fail_after(PATIENCE):
        done = await trio.run_process(
            [*command, "--a", "--b", "--c"], capture_stdout=True, capture_stderr=True, check=False
        )
    assert done.returncode == 5, done.stderr
    assert done.stdout.decode() == "ok out\nfive out\nfour out\n"
    assert [line for line in done.stderr.decode().splitlines() if line.endswith(" err")] == [
        "ok err",
        "five err",
        "four err",
    ]
    assert "listening" not in done.stderr.decode()
    assert [c["plugin"] for c in lab.calls("command_line.execute")] == ["ok", "five", "four"]
