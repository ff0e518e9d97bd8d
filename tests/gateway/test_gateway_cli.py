"""``pluginrt run`` and ``pluginrt check``: bad configs, plugin flags, and signals."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from click.testing import CliRunner
from gateway_harness import EXAMPLES, KEY, MANAGEMENT_KEY, PATIENCE, PLUGINS

from pluginrt import open_host
from pluginrt.cli import main
from pluginrt.config import from_mapping
from pluginrt.gateway import _serve, summary

BAD_CONFIGS = {
    "unknown key": (
        "port: 0\nplugins:\n  - id: a\n    command: {mock}\n    colour: red\n",
        ":5: plugins[0].colour: unknown key",
    ),
    "the loader's base-dir": (
        "plugins: []\nbase-dir: /elsewhere\n",
        ":2: base-dir: unknown key",
    ),
    "wrong type": ("api-keys: [k]\nport: eighty\n", ":2: port: Expected `int`, got `str`"),
    "missing plugin script": (
        "plugins:\n  - id: a\n    command: missing.py\n",
        ":3: plugins[0].command: plugin script",
    ),
}


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_config_fails_with_the_key_and_the_line_and_exit_status_2(
    tmp_path: Path, command: str, case: str
) -> None:
    text, expected = BAD_CONFIGS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text.format(mock=EXAMPLES / "mock_llm.py"))
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exit_code == 2
    assert f"{path}{expected}" in result.output


#: Numbers out of their bounds: config errors before any plugin starts.
OUT_OF_BOUNDS = {
    "no instances": (
        "plugins:\n  - id: a\n    command: {mock}\n    instances: 0\n",
        ":4: plugins[0].instances: Expected `int` >= 1",
    ),
    "tiny max-line": (
        "plugins:\n  - id: a\n    command: {mock}\n    max-line: 0\n",
        ":4: plugins[0].max-line: Expected `int` >= 1024",
    ),
    "negative max-restarts": (
        "plugins:\n  - id: a\n    command: {mock}\n    restart: {{max-restarts: -1}}\n",
        ":4: plugins[0].restart.max-restarts: Expected `int` >= 0",
    ),
    "zero handshake-timeout": (
        "plugins:\n  - id: a\n    command: {mock}\n    handshake-timeout: 0s\n",
        ":4: plugins[0].handshake-timeout: expected a duration above zero",
    ),
    "negative max-body-size": ("max-body-size: -1\n", ":1: max-body-size: Expected `int` >= 0"),
    "zero request-timeout": (
        "request-timeout: 0\n",
        ":1: request-timeout: expected a duration above zero",
    ),
    "port out of range": ("port: 70000\n", ":1: port: Expected `int` <= 65535"),
}


@pytest.mark.parametrize("case", sorted(OUT_OF_BOUNDS))
def test_a_number_out_of_its_bounds_is_a_config_error_with_the_key_and_the_line(
    tmp_path: Path, case: str
) -> None:
    text, expected = OUT_OF_BOUNDS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text.format(mock=EXAMPLES / "mock_llm.py"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}{expected}" in result.output


def _flag_config(tmp_path: Path, exit_code: int = 0) -> Path:
    path = tmp_path / "gateway.yaml"
    slow = {"journal": str(tmp_path / "journal"), "exit": exit_code}
    path.write_text(
        "port: 0\n"
        "auth-dir: auths\n"
        "plugins:\n"
        f"  - id: mock\n    command: {EXAMPLES / 'mock_llm.py'}\n"
        f"  - id: slow\n    command: {PLUGINS / 'slow_stream.py'}\n"
        f"    config: {json.dumps(slow)}\n"
    )
    return path


def test_check_handshakes_every_plugin_and_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(_flag_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "slow  running  slow 0.1.0: ModelProvider, Executor, CommandLinePlugin" in result.output
    assert "models: mock-large, mock-small, slow" in result.output
    assert "config OK: 2 plugin(s) ready" in result.output


def test_check_exits_1_naming_a_plugin_that_did_not_start(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"plugins:\n  - id: mock\n    command: {EXAMPLES / 'mock_llm.py'}\n"
        f"  - id: quits\n    command: [{sys.executable}, -c, 'raise SystemExit(3)']\n"
        "    restart: {max-restarts: 0}\n"
    )
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert "\n  quits  failed: plugin 'quits': failed to start: " in result.output
    assert "(exited with status 3)" in result.output
    assert result.output.endswith("FAILED: quits did not start\n")


def test_an_auth_dir_that_cannot_be_created_exits_1_with_one_line_naming_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("auth-dir: /proc/pluginrt-auths\nplugins: []\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(
        f"error: {path}: cannot create the auth-dir '/proc/pluginrt-auths': "
    )
    assert len(result.output.splitlines()) == 1


#: Hosts no gateway could listen on: a name that does not resolve (``.invalid`` never does),
#: an address of no interface here (TEST-NET-1, RFC 5737).
UNUSABLE_HOSTS = {
    "no-such-host.invalid": "Name or service not known",
    "192.0.2.1": "Cannot assign requested address",
}


@pytest.mark.parametrize("host", sorted(UNUSABLE_HOSTS))
def test_check_exits_1_with_one_line_naming_a_host_no_gateway_could_listen_on(
    tmp_path: Path, host: str
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(f"host: {host}\nport: 8317\nplugins: []\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    if "did not resolve within" in result.output:
        pytest.skip("a DNS server is configured and did not answer")
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"error: {path}: cannot listen on {host}:8317 (the config's host and port): "
        f"{UNUSABLE_HOSTS[host]}\n"
    )


def test_check_does_not_bind_the_port_a_running_gateway_may_hold(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path.write_text(f"port: {taken.getsockname()[1]}\nplugins: []\n")
        result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "config OK: 0 plugin(s) ready" in result.output


async def test_check_says_a_host_name_that_did_not_resolve_in_time_is_not_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow(host: str, port: int) -> socket.socket:
        time.sleep(0.5)  # a DNS server that does not answer
        raise AssertionError("abandoned")

    monkeypatch.setattr(_serve, "_socket", slow)
    monkeypatch.setattr(_serve, "RESOLVE_TIMEOUT", 0.05)
    with trio.fail_after(PATIENCE):
        assert await _serve.check_address("slow.example", 8317) is False


def test_a_disabled_plugin_is_not_started(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"plugins:\n  - id: mock\n    command: {EXAMPLES / 'mock_llm.py'}\n"
        f"  - id: slow\n    command: {PLUGINS / 'slow_stream.py'}\n    enabled: false\n"
    )
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "  slow  disabled\n" in result.output
    assert "models: mock-large, mock-small\n" in result.output
    assert "config OK: 1 plugin(s) ready" in result.output  # the slow model is not served


def test_a_script_in_a_list_command_resolves_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "mock.py").write_text((EXAMPLES / "mock_llm.py").read_text())
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"port: 0\nplugins:\n  - id: mock\n    command: [{sys.executable}, -u, mock.py]\n"
    )
    result = CliRunner().invoke(main, ["check", str(path)])  # from a cwd without mock.py
    assert result.exit_code == 0, result.output
    assert "config OK: 1 plugin(s) ready" in result.output


def test_a_plugin_flag_appears_in_run_help(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(_flag_config(tmp_path)), "--help"])
    assert result.exit_code == 0, result.output
    assert "Plugin flags (from" in result.output
    assert "--slow-hello TEXT" in result.output
    assert "greet NAME and exit  [plugin slow]" in result.output


def test_giving_a_plugin_flag_runs_it_saves_its_auths_and_exits_without_serving(
    tmp_path: Path,
) -> None:
    config = _flag_config(tmp_path, exit_code=3)
    result = CliRunner().invoke(main, ["run", str(config), "--slow-hello", "bob"])
    assert result.exit_code == 3
    assert "hello bob" in result.stdout
    assert "listening" not in result.output
    assert (tmp_path / "journal").read_text().split() == ["flag", "bob"]
    saved = tmp_path / "auths" / "slow-1.json"
    assert json.loads(saved.read_text())["token"] == "t"


@pytest.mark.parametrize("given", [["--slow-hello=bob"], ["-slow-hello", "bob"]])
async def test_a_plugin_flag_handler_gets_the_program_and_every_argument_as_given(
    tmp_path: Path, given: list[str]
) -> None:
    config = _flag_config(tmp_path)
    argv = ["run", str(config), *given, "extra"]
    with trio.fail_after(PATIENCE):
        done = await trio.run_process(
            [sys.executable, "-c", "from pluginrt.cli import main; main()", *argv],
            capture_stdout=True,
            capture_stderr=True,
        )
    assert done.stdout.decode().splitlines()[1] == json.dumps(["-c", *argv])


_MAIN = "from pluginrt.cli import main; main()"


async def test_a_port_in_use_exits_1_with_one_line_naming_the_address(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path.write_text(f"port: {port}\nplugins: []\n")
        # A process of its own, in development mode: the socket that failed to bind is closed,
        # not left to the GC (a ResourceWarning on stderr).
        argv = ["-X", "dev", "-W", "error::ResourceWarning", "-c", _MAIN, "run", str(path)]
        with trio.fail_after(PATIENCE):
            done = await trio.run_process(
                [sys.executable, *argv],
                capture_stderr=True,
                check=False,
            )
    assert done.returncode == 1
    assert done.stderr.decode() == (
        f"error: {path}: cannot listen on 127.0.0.1:{port} (the config's host and port): "
        "Address already in use\n"
    )


def test_an_unknown_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(_flag_config(tmp_path)), "--nope"])
    assert result.exit_code == 2
    assert "No such option '--nope'" in result.output


_NEVER_DECLARES = {
    "id": "mystery",
    "command": [sys.executable, "-c", "raise SystemExit(3)"],
    "restart": {"max-restarts": 0},
}


@pytest.mark.parametrize(
    ("keys", "plugins", "said"),
    [
        ([KEY], [], "clients: 1 API key(s)"),
        ([], [], "clients: open to all (no api-keys, no frontend auth plugin)"),
        ([KEY], ["frontend_auth"], "clients: 1 API key(s) or frontend auth by frontend_auth"),
        (
            [KEY],
            ["exclusive_frontend_auth"],
            "clients: frontend auth by exclusive_frontend_auth alone (api-keys off)",
        ),
        ([], [_NEVER_DECLARES], "clients: none let in until mystery declares itself"),
    ],
)
async def test_the_start_up_summary_says_who_gets_in(
    tmp_path: Path, keys: list[str], plugins: list[Any], said: str
) -> None:
    entries = [
        p if isinstance(p, dict) else {"id": p, "command": str(EXAMPLES / f"{p}.py")}
        for p in [*plugins, "mock_llm"]
    ]
    config = from_mapping({"auth-dir": str(tmp_path), "api-keys": keys, "plugins": entries})
    with trio.fail_after(PATIENCE):
        async with open_host(config) as host:
            text = summary(host, ["http://127.0.0.1:1"])
    assert said in text.splitlines()[-2]


@asynccontextmanager
async def _running(config: Path) -> AsyncIterator[tuple[trio.Process, str, list[str]]]:
    """``pluginrt run CONFIG`` as a real process; its URL once listening; its stderr lines
    so far. Killed on the way out if it is still running."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", "from pluginrt.cli import main; main()", "run", str(config)],
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        lines: list[str] = []
        buffer = b""
        while not any("listening on" in line for line in lines):
            data = await process.stderr.receive_some()
            assert data, "pluginrt run exited before listening:\n" + "\n".join(lines)
            buffer += data
            *done, buffer = buffer.split(b"\n")
            lines += [line.decode() for line in done]
        url = next(line for line in lines if "listening on" in line).split("listening on ")[1]
        yield process, url.strip(), lines
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stderr.aclose()


async def _rest_of_stderr(process: trio.Process) -> bytes:
    """What ``process`` writes to stderr from now until it closes it."""
    assert process.stderr is not None
    rest = b""
    while data := await process.stderr.receive_some():
        rest += data
    return rest


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


async def _sigterm_mid_stream(path: Path) -> tuple[list[str], int, list[int]]:
    """Run the gateway of ``path``, stream ``slow`` and SIGTERM the gateway at the first
    event: the events received, its exit status, and its plugins' pids."""
    with trio.fail_after(PATIENCE):
        async with _running(path) as (process, url, _):
            async with httpx.AsyncClient(base_url=url) as client:
                listing = await client.get(
                    "/v0/management/plugins", headers={"X-Management-Key": MANAGEMENT_KEY}
                )
                pids = [p["pid"] for p in listing.json()["plugins"]]
                received: list[str] = []
                body = {"model": "slow", "stream": True, "messages": []}
                async with client.stream(
                    "POST", "/v1/chat/completions", json=body, headers={"x-api-key": KEY}
                ) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            received.append(line)
                            if len(received) == 1:
                                process.send_signal(signal.SIGTERM)
            status = await process.wait()
    return received, status, pids


def _slow_gateway(path: Path, grace: str, words: int, *extra: str, **config: object) -> Path:
    slow = {"words": words, "delay": 0.1, **config}
    path.write_text(
        f"port: 0\napi-keys: [{KEY}]\nmanagement-key: {MANAGEMENT_KEY}\n"
        f"shutdown-grace: {grace}\nplugins:\n{''.join(extra)}"
        f"  - id: slow\n    command: {PLUGINS / 'slow_stream.py'}\n    config: {json.dumps(slow)}\n"
    )
    return path


async def test_sigterm_during_a_stream_lets_it_finish_then_exits_0_with_no_plugin_left(
    tmp_path: Path,
) -> None:
    mock = f"  - id: mock\n    command: {EXAMPLES / 'mock_llm.py'}\n"
    path = _slow_gateway(tmp_path / "gateway.yaml", "10s", 10, mock)
    received, status, pids = await _sigterm_mid_stream(path)
    assert len(received) == 12  # ten words, the finish frame, [DONE]
    assert received[-1] == "data: [DONE]"
    assert status == 0
    assert pids and all(isinstance(p, int) for p in pids)
    assert not [p for p in pids if _alive(p)]


async def test_a_stream_still_open_when_the_shutdown_grace_ends_gets_an_error_event(
    tmp_path: Path,
) -> None:
    path = _slow_gateway(tmp_path / "gateway.yaml", "500ms", 100)
    received, status, _ = await _sigterm_mid_stream(path)
    assert 1 < len(received) < 100
    assert json.loads(received[-1].removeprefix("data: ")) == {
        "error": {
            "message": "the gateway is shutting down",
            "type": "server_error",
            "code": "internal_server_error",
        }
    }
    assert status == 0


async def test_a_request_still_in_flight_when_the_shutdown_grace_ends_gets_503(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    slow = {"execute-delay": 60, "journal": str(journal)}
    path = _slow_gateway(tmp_path / "gateway.yaml", "300ms", 1, **slow)
    answers: list[httpx.Response] = []
    with trio.fail_after(PATIENCE):
        async with _running(path) as (process, url, _):
            async with httpx.AsyncClient(base_url=url) as client, trio.open_nursery() as nursery:

                async def ask() -> None:
                    body = {"model": "slow", "messages": []}
                    headers = {"x-api-key": KEY}
                    answers.append(
                        await client.post("/v1/chat/completions", json=body, headers=headers)
                    )

                nursery.start_soon(ask)
                while not journal.exists() or "execute started" not in journal.read_text():  # noqa: ASYNC110
                    await trio.sleep(0.02)
                process.send_signal(signal.SIGTERM)
            rest = (await _rest_of_stderr(process)).decode()
            status = await process.wait()
    assert [a.status_code for a in answers] == [503]
    assert answers[0].json()["error"]["message"] == "the gateway is shutting down"
    assert status == 0
    # Cut off inside the pipeline: the 503 and its access line still name the request.
    request_id = answers[0].headers.get("x-request-id", "")
    assert request_id.startswith("r"), answers[0].headers
    access = [line for line in rest.splitlines() if "POST /v1/chat/completions 503" in line]
    assert len(access) == 1 and access[0].endswith(f" {request_id}"), rest


async def test_logging_level_warning_leaves_out_the_info_lines(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    mock = f"  - id: mock\n    command: {EXAMPLES / 'mock_llm.py'}\n"
    path.write_text(f"port: 0\nlogging:\n  level: warning\nplugins:\n{mock}")
    with trio.fail_after(PATIENCE):
        async with _running(path) as (process, url, lines):
            async with httpx.AsyncClient(base_url=url) as client:
                assert (await client.get("/v1/models")).status_code == 200
            process.send_signal(signal.SIGTERM)
            rest = await _rest_of_stderr(process)
            assert await process.wait() == 0
    logged = [line for line in [*lines, *rest.decode().splitlines()] if " pluginrt." in line]
    assert [line.split(" ", 1)[1] for line in logged] == [
        "WARNING pluginrt.gateway: SIGTERM: shutting down; requests in flight get 10s to finish"
    ]


async def test_sighup_reloads_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    plugins = f"plugins:\n  - id: mock\n    command: {EXAMPLES / 'mock_llm.py'}\n"
    path.write_text(f"port: 0\napi-keys: [{KEY}]\n{plugins}")
    with trio.fail_after(PATIENCE):
        async with _running(path) as (process, url, lines):
            async with httpx.AsyncClient(base_url=url) as client:
                before = await client.get("/v1/models", headers={"x-api-key": "sk-other"})
                path.write_text(f"port: 0\napi-keys: [sk-other]\n{plugins}")
                process.send_signal(signal.SIGHUP)
                while (  # noqa: ASYNC110 - the process's state is only visible over HTTP
                    await client.get("/v1/models", headers={"x-api-key": "sk-other"})
                ).status_code != 200:
                    await trio.sleep(0.05)
            process.send_signal(signal.SIGINT)
            rest = await _rest_of_stderr(process)
            status = await process.wait()
    assert before.status_code == 401
    assert status == 0
    log = "\n".join(lines) + rest.decode()
    assert "Running on" not in log  # hypercorn's, said again by "pluginrt listening on"
    assert f"stopped serving {url}; stopping the plugins" in log
    assert f"config reloaded from {path}" in log
