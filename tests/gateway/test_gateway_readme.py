"""Every example in README.md runs: the two commands, the curls, and the plugin."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx
import msgspec
import trio
from click.testing import CliRunner
from gateway_harness import EXAMPLES, PATIENCE, ROOT, gateway

from pluginrt import load_config
from pluginrt.cli import main

README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def curls() -> list[list[str]]:
    return [
        shlex.split(line)
        for b in blocks("sh")
        for line in b.splitlines()
        if line.startswith("curl ")
    ]


def as_request(argv: list[str], base: str) -> httpx.Request:
    """The request a curl command line makes (the flags the README uses), against ``base``."""
    headers: dict[str, str] = {}
    data = None
    url = ""
    words = iter(argv[1:])
    for word in words:
        if word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words).encode()
        elif word == "-N":
            continue
        else:
            url = word
    url = url.replace("http://127.0.0.1:8317", base)
    return httpx.Request("POST" if data is not None else "GET", url, headers=headers, content=data)


def test_the_readme_gives_the_two_commands_and_the_test_command_is_what_ci_runs() -> None:
    commands = [b.strip() for b in blocks("sh")]
    assert commands[0] == "pip install -e . && pluginrt run examples/gateway.yaml"
    assert commands[2] == "pip install -e '.[test]' && python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pip install -q -e '.[test]'" in ci
    assert "\npython -m pytest\n" in ci


async def test_the_readme_curls_work_against_the_example_gateway() -> None:
    config = load_config(EXAMPLES / "gateway.yaml")
    config.port = 0
    assert len(curls()) == 4
    async with gateway(config) as (_, base), httpx.AsyncClient() as client:
        answers = []
        for argv in curls():
            with trio.fail_after(PATIENCE):
                answers.append(await client.send(as_request(argv, base)))
    whole, streamed, plugins, page = answers
    assert whole.status_code == 200
    assert whole.json()["choices"][0]["message"]["content"] == "You said: hello there"
    assert streamed.headers["content-type"].startswith("text/event-stream")
    frames = [line for line in streamed.text.splitlines() if line.startswith("data:")]
    words = [json.loads(f[5:])["choices"][0]["delta"].get("content", "") for f in frames[:-1]]
    assert "".join(words) == "You said: hello there"
    assert frames[-1] == "data: [DONE]"
    assert {p["id"] for p in plugins.json()["plugins"]} >= {"mock", "usage", "console"}
    assert all(p["state"] == "running" for p in plugins.json()["plugins"])
    assert page.status_code == 200 and "<h1>" in page.text


async def test_the_readme_plugin_serves_its_model_from_the_config_lines_it_gives(
    tmp_path: Path,
) -> None:
    (snippet,) = blocks("python")
    assert len(snippet.splitlines()) <= 22
    (tmp_path / "shout.py").write_text(snippet)
    entry = re.search(r"Add it to a config as `(- id: shout)` / `(command: shout.py)`", README)
    assert entry is not None
    path = tmp_path / "gateway.yaml"
    path.write_text(f"port: 0\nplugins:\n  {entry[1]}\n    {entry[2]}\n")
    config = load_config(path)  # the script resolves against the config's folder
    body = {"model": "shout", "messages": [{"role": "user", "content": "hello"}]}
    async with gateway(config) as (_, base), httpx.AsyncClient(base_url=base) as client:
        with trio.fail_after(PATIENCE):
            answer = await client.post("/v1/chat/completions", content=msgspec.json.encode(body))
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "HELLO"


def test_inspect_shows_what_the_readme_plugin_declares(tmp_path: Path) -> None:
    assert "`pluginrt\ninspect -- ./plugin` shows what a plugin declares" in README
    (snippet,) = blocks("python")
    (tmp_path / "shout.py").write_text(snippet)
    result = CliRunner().invoke(main, ["inspect", "--", str(tmp_path / "shout.py")])
    assert result.exit_code == 0, result.output
    assert "Executor" in result.output and "shout" in result.output


def test_the_fuzz_command_runs_more_examples_of_the_fuzz_tests() -> None:
    command = "PLUGINRT_FUZZ_EXAMPLES=20000 python -m pytest tests/faults -k fuzz"
    assert f"`{command}`" in README
    fuzz = (ROOT / "tests" / "faults" / "test_faults_fuzz.py").read_text()
    assert 'int(os.environ.get("PLUGINRT_FUZZ_EXAMPLES", ' in fuzz


def test_the_gateway_package_exports_exactly_its_public_names() -> None:
    import pluginrt.gateway

    assert sorted(pluginrt.gateway.__all__) == [
        "CheckReport",
        "Gateway",
        "check_report",
        "client_error",
        "serve",
        "summary",
    ]
