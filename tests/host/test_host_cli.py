"""``pluginrt inspect`` and ``pluginrt call`` through click's CliRunner, with real plugins."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import trio
from click.testing import CliRunner

from pluginrt.cli import main

PLUGINS = Path(__file__).parent / "plugins"
GOOD = str(PLUGINS / "good.py")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_inspect_prints_metadata_capabilities_models_flags_and_routes() -> None:
    code, out, _ = run("inspect", "--", GOOD)
    assert code == 0
    for expected in (
        "name          good",
        "ModelProvider, Executor, UsagePlugin, CommandLinePlugin, ManagementAPI",
        "good-1",
        "--good-flag (bool) be good",
        "GET /v0/management/good/status",
        "/v0/resource/plugins/good/index.html",
    ):
        assert expected in out


def test_inspect_json_is_one_object_in_wire_names() -> None:
    code, out, _ = run("inspect", "--json", "--id", "g", "--", GOOD)
    assert code == 0
    report = json.loads(out)
    assert report["id"] == "g"
    assert report["metadata"]["Name"] == "good"
    assert report["capabilities"]["Executor"] == {"identifier": "shelf"}
    assert report["models"] == [{"ID": "good-1"}]
    assert report["flags"][0]["Name"] == "good-flag"
    assert report["routes"][0]["Path"] == "/v0/management/good/status"
    assert report["resources"][0]["Path"] == "/v0/resource/plugins/g/index.html"


def test_inspect_accepts_an_explicit_interpreter_and_arguments() -> None:
    code, out, _ = run("inspect", "--json", "--", sys.executable, "-u", GOOD)
    assert code == 0
    assert json.loads(out)["id"] == "good"


def test_the_default_id_is_the_first_argument_naming_a_script_else_the_program(
    tmp_path: Path,
) -> None:
    good = f"import runpy, sys; sys.path.insert(0, {str(PLUGINS)!r}); runpy.run_path({GOOD!r})"
    script = tmp_path / "echo_plugin.js"  # any language: the extension does not matter
    script.write_text(good)
    code, out, _ = run("inspect", "--json", "--", sys.executable, "-u", str(script), "x")
    assert code == 0
    assert json.loads(out)["id"] == "echo_plugin"
    code, out, _ = run("inspect", "--json", "--", sys.executable, "-c", good)
    assert code == 0
    assert json.loads(out)["id"] == Path(sys.executable).stem


def test_inspect_of_a_plugin_that_will_not_start_exits_1_with_the_reason() -> None:
    code, _, err = run("inspect", "--", str(PLUGINS / "crash_on_start.py"))
    assert code == 1
    assert "crash_on_start" in err and "exited with status 3" in err
    assert "cannot read my config" in err


def test_call_prints_the_json_result() -> None:
    code, out, _ = run("call", "--params", '{"Payload": "aGk="}', "--", GOOD, "executor.execute")
    assert code == 0
    assert json.loads(out)["Payload"] == "aGk="


def test_call_takes_the_method_as_an_option_too() -> None:
    code, out, _ = run("call", "-m", "test.echo", "--params", '{"a": [1]}', "--", GOOD)
    assert code == 0
    assert json.loads(out) == {"a": [1]}


def test_call_of_execute_stream_opens_the_stream_and_prints_its_chunks_then_its_headers() -> None:
    mock = str(Path(__file__).parents[2] / "examples" / "mock_llm.py")
    body = json.dumps({"model": "mock-small", "messages": [{"role": "user", "content": "hi"}]})
    params = json.dumps(
        {"Model": "mock-small", "Payload": base64.b64encode(body.encode()).decode()}
    )
    code, out, err = run("call", "--params", params, "--", mock, "executor.execute_stream")
    assert code == 0, err
    frames, _, headers = out.rpartition("data: [DONE]\n\n")
    words = [json.loads(f.removeprefix("data: "))["choices"][0]["delta"].get("content", "")
             for f in frames.split("\n\n") if f]  # fmt: skip
    assert "".join(words) == "You said: hi"
    assert json.loads(headers) == {"Headers": {"Content-Type": ["text/event-stream"]}}


def test_call_of_a_stream_that_ends_in_an_error_exits_1_naming_the_plugin(tmp_path: Path) -> None:
    script = tmp_path / "breaks.py"
    script.write_text(
        "from plugin_sdk import Plugin, run\n"
        "plugin = Plugin('breaks', version='1')\n"
        "plugin.executor('breaks', input_formats=['openai'], output_formats=['openai'])\n"
        "@plugin.on('executor.execute_stream')\n"
        "async def stream(request):\n"
        "    yield b'one'\n"
        "    raise ValueError('midstream failure')\n"
        "run(plugin)\n"
    )
    code, out, err = run("call", "--", str(script), "executor.execute_stream")
    assert (code, out) == (1, "one")
    assert err == (
        "Error: plugin 'breaks': executor.execute_stream: the stream ended with an error: "
        "ValueError: midstream failure\n"
    )


def test_call_of_plugin_shutdown_answers_and_stops_the_plugin_cleanly() -> None:
    # The plugin exits after answering: stopping it then must not fail on the way out.
    code, out, err = run("call", "-m", "plugin.shutdown", "--", GOOD)
    assert (code, json.loads(out), err) == (0, {}, "")


def test_a_failed_call_exits_1_with_the_error() -> None:
    code, _, err = run("call", "--", GOOD, "test.fail")
    assert code == 1
    assert "'good'" in err and "upstream said no" in err and "-32000" in err
    assert "[code 'quota', http_status 429, retryable True]" in err  # the error's data


def test_a_call_that_times_out_exits_1_naming_the_method() -> None:
    code, _, err = run("call", "--timeout", "0.3", "--", GOOD, "test.hang")
    assert code == 1
    assert "test.hang timed out" in err


def test_call_refuses_params_that_are_not_json() -> None:
    code, _, err = run("call", "--params", "{nope", "--", GOOD, "test.echo")
    assert code == 2
    assert "not JSON" in err


def test_call_without_a_method_is_a_usage_error() -> None:
    code, _, err = run("call", "--", GOOD)
    assert code == 2
    assert "METHOD" in err


def test_a_timeout_that_is_not_above_zero_is_a_usage_error() -> None:
    for command in ("inspect", "call"):
        code, _, err = run(command, "--timeout", "0", "--", GOOD, "test.echo")
        assert code == 2
        assert "Invalid value for '--timeout': 0.0 is not in the range x>0" in err


def test_a_blank_id_is_a_usage_error() -> None:
    code, _, err = run("inspect", "--id", " ", "--", GOOD)
    assert code == 2
    assert "Invalid value for --id: the plugin id must not be blank" in err


async def test_a_plugin_that_will_not_start_is_one_error_line_without_verbose(
    tmp_path: Path,
) -> None:
    script = str(tmp_path / "gone.py")

    async def inspect(*flags: str) -> str:
        # A process of its own: the log's handlers are its own, not pytest's.
        argv = ["inspect", *flags, "--", script]
        with trio.fail_after(10):
            done = await trio.run_process(
                [sys.executable, "-c", "from pluginrt.cli import main; main()", *argv],
                capture_stderr=True,
                check=False,
            )
        assert done.returncode == 1
        return str(done.stderr.decode())

    quiet = await inspect()
    assert quiet.startswith("Error: plugin 'gone': failed to start")
    assert quiet.count("can't open file") == 1
    given_up = "ERROR pluginrt.plugin.gone: failed after 0 restart(s) in a row; not restarted"
    assert given_up in await inspect("-v")
