"""Plugin command-line flags: SEMANTICS.md's registration rules and what execution gets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio
import yaml
from click.testing import CliRunner
from pipeline_harness import PATIENCE, PLUGINS, Lab

from pluginrt._goflag import canonical
from pluginrt.cli import main

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
    for name in ("help", "h"):
        assert f"flag {name!r} of plugin first skipped: help and h are reserved for --help" in (
            warned
        )


#: Defaults that Go's flag package would refuse for the type (name: type, default, why).
BAD_DEFAULTS = {
    "badint": ("int", "abc", "expected an integer"),
    "badfloat": ("float64", "x", "expected a number"),
    "badbool": ("bool", "maybe", "expected a bool"),
    "badwait": ("duration", "xyz", "expected a duration"),
    "bare": ("duration", "5", "expected a duration"),  # Go wants a unit
    "huge": ("int64", "9223372036854775808", "value out of range"),
    "infinite": ("float64", "1e400", "value out of range"),
}


async def test_a_flag_whose_default_does_not_parse_for_its_type_is_skipped_with_the_reason(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    bad = [{"name": n, "type": t, "default": d} for n, (t, d, _) in BAD_DEFAULTS.items()]
    empty = [{"name": f"empty-{t}", "type": t} for t in ("bool", "int", "float64", "duration")]
    async with lab.host(lab.plugin("first", "flagger", flags=[*bad, *empty])) as host:
        bound = [b.flag.name for b in host.flags()]
    assert bound == [f["name"] for f in empty]  # an empty default is the zero value
    warned = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    for name, (type_, default, why) in BAD_DEFAULTS.items():
        said = f"flag {name!r} of plugin first skipped: its default {default!r} is not a valid "
        said += f"{type_}: "
        assert any(w.startswith(said) and why in w for w in warned), (name, warned)


@pytest.mark.parametrize(
    ("type_", "text", "printed"),
    [
        ("bool", "", "false"),
        ("bool", "T", "true"),
        ("bool", "0", "false"),
        ("int", "", "0"),
        ("int", "0x10", "16"),
        ("int", "0o17", "15"),
        ("int", "017", "15"),  # Go's leading 0 is octal
        ("int", "0b101", "5"),
        ("int", "-1_000", "-1000"),
        ("int64", "-9223372036854775808", "-9223372036854775808"),
        ("float64", "", "0"),
        ("float64", "1.5", "1.5"),
        ("float64", "1e21", "1e+21"),
        ("float64", "123456", "123456"),
        ("float64", "1234567", "1.234567e+06"),
        ("float64", "0.0001", "0.0001"),
        ("float64", "0.00001", "1e-05"),
        ("float64", "0x1p-2", "0.25"),
        ("float64", "-Inf", "-Inf"),
        ("duration", "", "0s"),
        ("duration", "0", "0s"),
        ("duration", "90s", "1m30s"),
        ("duration", "1.5h", "1h30m0s"),
        ("duration", "300us", "300µs"),
        ("duration", "1500ms", "1.5s"),
        ("duration", "-1s", "-1s"),
        ("duration", "1h2m3.5s4ns", "1h2m3.500000004s"),
        ("string", "", ""),
        ("string", " as is ", " as is "),
    ],
)
def test_a_flag_value_is_parsed_and_printed_as_go_does(type_: str, text: str, printed: str) -> None:
    assert canonical(type_, text) == printed


@pytest.mark.parametrize(
    ("type_", "text"),
    [("int", " 1"), ("int", "1 "), ("int", "1__0"), ("int", "08"), ("int", "+-1"),
     ("int", "\u0663"), ("float64", "1_.5"), ("float64", "0x1.8"), ("duration", "1"),
     ("duration", ".s"), ("duration", "1d"), ("duration", "-"), ("bool", "yes")],
)  # fmt: skip
def test_a_flag_value_go_would_refuse_is_refused(type_: str, text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        canonical(type_, text)


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
        "quiet": ["bool", "false", False],
        "count": ["int", "3", True],
        "unused": ["bool", "false", False],
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


async def test_every_flag_value_is_the_parsed_value_as_go_prints_it(lab: Lab) -> None:
    flags = [{"name": "hex", "type": "int", "default": "0x10"},
             {"name": "wait", "type": "duration", "default": "90s"},
             {"name": "ratio", "type": "float64", "default": "1e21"},
             {"name": "on", "type": "bool", "default": "T"},
             {"name": "count", "type": "int"},
             {"name": "nothing", "type": "duration"},
             {"name": "label", "type": "string"}]  # fmt: skip
    async with lab.host(lab.plugin("first", "flagger", flags=flags)) as host:
        await host.execute_flags(
            {"count": "0b101"}, program="pluginrt", args=[], config_path="cfg.yaml"
        )
    [call] = lab.calls("command_line.execute")
    assert call["flags"] == {
        "hex": ["int", "16", False],
        "wait": ["duration", "1m30s", False],
        "ratio": ["float64", "1e+21", False],
        "on": ["bool", "true", False],
        "count": ["int", "5", True],
        "nothing": ["duration", "0s", False],
        "label": ["string", "", False],
    }


#: Flags for ``pluginrt run``: good ones, and one whose default Go would refuse.
CLI_FLAGS = [
    {"name": "b1", "type": "bool"},
    {"name": "count", "type": "int"},
    {"name": "wait", "type": "duration"},
    {"name": "ratio", "type": "float64"},
    {"name": "badint", "type": "int", "default": "abc"},
    {"name": "acme-login"},  # a bool
    {"name": "v", "type": "string"},  # one letter, as click's short options are
]


def _run(lab: Lab, *argv: str) -> tuple[int, str, dict[str, list[object]]]:
    """``pluginrt run CONFIG *argv``: its status, output and the triggered flags journaled."""
    config = lab.dir / "flags.yaml"
    plugin = lab.plugin("first", "flagger", flags=CLI_FLAGS)
    config.write_text(yaml.safe_dump({"port": 0, "auth-dir": str(lab.auth_dir),
                                      "plugins": [plugin]}))  # fmt: skip
    result = CliRunner().invoke(main, ["run", str(config), *argv])
    calls = lab.calls("command_line.execute")
    return result.exit_code, result.output, calls[0]["triggered"] if calls else {}


def test_pluginrt_run_reads_flags_as_go_does_and_skips_a_flag_with_a_bad_default(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["--b1=false", "--count", "0x10", "--wait=90s", "--ratio", "1e21"]
    status, output, triggered = _run(lab, *argv)
    assert status == 0, output
    assert triggered == {
        "b1": ["bool", "false", True],
        "count": ["int", "16", True],
        "wait": ["duration", "1m30s", True],
        "ratio": ["float64", "1e+21", True],
    }
    assert any(
        "flag 'badint' of plugin first skipped: its default 'abc' is not a valid int"
        in r.getMessage()
        for r in caplog.records
    )


def test_a_bare_bool_flag_is_true_and_does_not_take_the_next_argument(lab: Lab) -> None:
    status, output, triggered = _run(lab, "--b1", "false")
    assert status == 0, output
    assert triggered == {"b1": ["bool", "true", True]}


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--count", "abc"], "Invalid value for '--count': 'abc': expected an integer"),
        (["--wait", "5"], "Invalid value for '--wait': '5': expected a duration"),
        (["--b1=maybe"], "Invalid value for '--b1': 'maybe': expected a bool"),
        (["--count="], "Invalid value for '--count': '': expected an integer"),
        (["--b1="], "Invalid value for '--b1': '': expected a bool"),
        (["--badint", "3"], "No such option '--badint'"),
        # With one dash, as Go takes flags:
        (["-nope"], "No such option '--nope'"),  # whole, not its first letter
        (["-vx"], "No such option '--vx'"),  # Go: not -v with the value x
        (["-verbose"], "No such option '--verbose'"),
        (["-count"], "Option '--count' requires an argument"),
        (["-count", "abc"], "Invalid value for '--count': 'abc': expected an integer"),
        (["-b1=maybe"], "Invalid value for '--b1': 'maybe': expected a bool"),
    ],
)
def test_a_flag_value_that_does_not_parse_or_an_unknown_flag_is_a_usage_error(
    lab: Lab, argv: list[str], said: str
) -> None:
    status, output, triggered = _run(lab, *argv)
    assert status == 2
    assert said in output
    assert triggered == {}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-count", "0x10"], {"count": ["int", "16", True]}),
        (["-count=0x10"], {"count": ["int", "16", True]}),
        (["-count", "-5"], {"count": ["int", "-5", True]}),  # the next argument, as in Go
        (["-acme-login"], {"acme-login": ["bool", "true", True]}),
        (["-b1=false"], {"b1": ["bool", "false", True]}),
        (["-v", "x"], {"v": ["string", "x", True]}),
        (["-v=x"], {"v": ["string", "x", True]}),
        (["--v", "-h"], {"v": ["string", "-h", True]}),  # a value, not a request for help
        (["-acme-login", "--wait=90s", "-ratio", "1e21"],
         {"acme-login": ["bool", "true", True], "wait": ["duration", "1m30s", True],
          "ratio": ["float64", "1e+21", True]}),
    ],
)  # fmt: skip
def test_pluginrt_run_takes_a_flag_with_one_dash_or_two_as_go_does(
    lab: Lab, argv: list[str], expected: dict[str, list[object]]
) -> None:
    status, output, triggered = _run(lab, *argv)
    assert status == 0, output
    assert triggered == expected


def test_a_bare_bool_flag_with_one_dash_leaves_the_next_argument_an_argument(lab: Lab) -> None:
    # ...and flags end there, as in Go: -acme-login after it is an argument too.
    status, output, triggered = _run(lab, "-b1", "false", "-acme-login")
    assert status == 0, output
    assert triggered == {"b1": ["bool", "true", True]}


@pytest.mark.parametrize("argv", [["--", "-acme-login"], ["x", "-acme-login"], ["-", "-b1"]])
def test_flags_end_at_a_double_dash_or_the_first_argument_as_in_go(
    lab: Lab, argv: list[str]
) -> None:
    status, output, triggered = _run(lab, *argv)
    assert status == 2  # nothing to run: the arguments are unexpected
    assert f"error: unexpected argument(s): {' '.join(a for a in argv if a != '--')}" in output
    assert triggered == {}


@pytest.mark.parametrize("spelling", ["--help", "-help", "-h", "--h"])
def test_pluginrt_run_takes_go_s_spellings_of_help(lab: Lab, spelling: str) -> None:
    status, output, triggered = _run(lab, "-count", "3", spelling)
    assert status == 0, output
    assert "Plugin flags (from" in output
    assert "--acme-login " in output and "-acme-login, " not in output  # each flag once
    assert triggered == {}
