"""The YAML config: README's keys and defaults, and every mistake named with file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from gateway_harness import EXAMPLES, ROOT

from pluginrt import load_config
from pluginrt.config import (
    DEFAULT_ENV_ALLOW,
    Config,
    ConfigError,
    PluginConfig,
    RestartConfig,
    parse_duration,
)

MOCK = EXAMPLES / "mock_llm.py"
README = (ROOT / "README.md").read_text()


def _rows(table_after: str) -> dict[str, tuple[str, str]]:
    """The ``| `key` | default | meaning |`` rows of the README table after ``table_after``."""
    text = README.split(table_after, 1)[1].split("\n\n", 2)[1]
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines()[2:]:
        key, default, meaning = (cell.strip() for cell in line.strip("|").split("|", 2))
        for name in re.findall(r"`([^`]+)`", key):
            rows[name] = (default, meaning)
    return rows


def _documented(default: str) -> object:
    """A README default cell as a value: `8317`, `30s`, `[]`, `""`, `round-robin`."""
    if default in ("`[]`", "`{}`", '`""`'):
        return {"`[]`": [], "`{}`": {}, '`""`': ""}[default]
    values = re.findall(r"`([^`]*)`", default)
    return values if len(values) > 1 else values[0]


def _matches(actual: object, documented: object) -> bool:
    if isinstance(actual, float) and isinstance(documented, str):
        return parse_duration(documented) == actual
    if isinstance(actual, bool):
        return str(actual).lower() == documented
    if isinstance(actual, int):
        return str(actual) == documented
    return actual == documented


def _fields(struct: type[msgspec.Struct]) -> dict[str, object]:
    return {f.encode_name: f.default for f in msgspec.structs.fields(struct)}


def test_every_key_the_readme_documents_exists_with_its_documented_default() -> None:
    keys = set(_fields(Config)) - {"logging", "base-dir"} | {"logging.level"}  # base-dir: not a key
    top = _rows("Relative paths\nresolve against the config file's folder.")
    assert sorted(top) == sorted(keys)
    defaults = dict(zip(("host", "port"), _documented(top["host"][0]), strict=True))
    config = Config()
    for key, (default, _) in top.items():
        documented = defaults.get(key, _documented(default))
        section = config.logging if key == "logging.level" else config
        actual = getattr(section, key.removeprefix("logging.").replace("-", "_"))
        if key == "env-allow":
            assert tuple(documented) == DEFAULT_ENV_ALLOW
        else:
            assert _matches(actual, documented), (key, actual, documented)


def test_every_plugin_key_the_readme_documents_exists_with_its_documented_default() -> None:
    rows = _rows("Each plugin:")
    assert sorted(rows) == sorted(_fields(PluginConfig))
    plugin = PluginConfig(id="a", command="a.py")
    for key, (default, _) in rows.items():
        if default in ("required", ""):
            continue
        actual = getattr(plugin, key.replace("-", "_"))
        assert _matches(actual, _documented(default)), (key, actual, default)
    restart = dict(re.findall(r"`([a-z-]+)` \(([^)]+)\)", rows["restart"][1]))
    assert sorted(restart) == sorted(_fields(RestartConfig))
    for key, default in restart.items():
        assert _matches(getattr(RestartConfig(), key.replace("-", "_")), default), key


def test_the_example_config_loads() -> None:
    config = load_config(EXAMPLES / "gateway.yaml")
    assert config.request_timeout == 120.0
    assert [p.id for p in config.plugins][:1] == ["mock"]


#: (config text, the error after the file name). {mock} is the example model's script.
MISTAKES = {
    "an unknown key, close to a known one": (
        "api_keys: [k]\n",
        ":1: api_keys: unknown key (did you mean `api-keys`?)",
    ),
    "an unknown plugin key": (
        "plugins:\n  - id: a\n    command: {mock}\n    enabld: false\n",
        ":4: plugins[0].enabld: unknown key (did you mean `enabled`?)",
    ),
    "an unknown restart key": (
        "plugins:\n  - id: a\n    command: {mock}\n    restart:\n      backof: 1s\n",
        ":5: plugins[0].restart.backof: unknown key (did you mean `backoff`?)",
    ),
    "a restart backoff longer than its backoff-max": (
        "plugins:\n  - id: a\n    command: {mock}\n    restart:\n      backoff: 1m\n"
        "      backoff-max: 10s\n",
        ":5: plugins[0].restart.backoff: plugin 'a': backoff 60s is longer than backoff-max 10s "
        "(the longest wait between restarts)",
    ),
    "a backoff-max shorter than the default backoff": (
        "plugins:\n  - id: a\n    command: {mock}\n    restart: {{backoff-max: 100ms}}\n",
        ":4: plugins[0].restart.backoff-max: plugin 'a': backoff 0.5s is longer than "
        "backoff-max 0.1s",
    ),
    "an unknown key like no other": ("colour: red\n", ":1: colour: unknown key\n"),
    "a scheduler that is not built in": (
        "scheduler: random\n",
        ":1: scheduler: expected one of 'round-robin', 'fill-first', got 'random'",
    ),
    "a log level that is not one": (
        "logging:\n  level: verbose\n",
        ":2: logging.level: expected one of 'debug', 'info', 'warning', 'error', got 'verbose'",
    ),
    "a bad duration": (
        "shutdown-grace: 10 minutes\n",
        ":1: shutdown-grace: expected a duration like 500ms, 30s, 2m or a number of seconds, "
        "got '10 minutes'",
    ),
    "a negative duration": (
        "plugins:\n  - id: a\n    command: {mock}\n    timeout: -5\n",
        ":4: plugins[0].timeout: a duration must not be negative",
    ),
    "a duration that is not a number": (
        "shutdown-grace: .nan\n",
        ":1: shutdown-grace: a duration must be a number, not .nan",
    ),
    "a port that is text": ("port: http\n", ":1: port: Expected `int`, got `str`"),
    "a negative port": ("port: -1\n", ":1: port: Expected `int` >= 0"),
    "an env that is a list": (
        "plugins:\n  - id: a\n    command: {mock}\n    env: [A=1]\n",
        ":4: plugins[0].env: Expected `object`, got `array`",
    ),
    "an env value that is not text": (
        "plugins:\n  - id: a\n    command: {mock}\n    env:\n      A: x\n      DEBUG: 1\n",
        ":6: plugins[0].env.DEBUG: Expected `str`, got `int` (quote the value)",
    ),
    "an env name holding '='": (
        "plugins:\n  - id: a\n    command: {mock}\n    env:\n      A=B: x\n",
        ":5: plugins[0].env.A=B: an environment variable's name must be non-empty, without "
        "'=' or NUL: 'A=B'",
    ),
    "an empty env name": (
        "plugins:\n  - id: a\n    command: {mock}\n    env:\n      '': x\n",
        ":5: plugins[0].env: an environment variable's name must be non-empty",
    ),
    "an env value holding NUL": (
        'plugins:\n  - id: a\n    command: {mock}\n    env:\n      A: "x\\0y"\n',
        ":5: plugins[0].env.A: the value of environment variable 'A' holds a NUL byte",
    ),
    "an empty file": ("", ": the config is empty (a config with no key is '{{}}')"),
    "a file of comments only": ("# nothing yet\n", ": the config is empty"),
    "a blank API key": (
        "api-keys:\n  - sk-1\n  - ''\n",
        ":3: api-keys[1]: expected a key, got a blank one",
    ),
    "a blank host": (
        "host: ''\n",
        ":1: host: expected an address to listen on, got a blank one "
        "(0.0.0.0 means every IPv4 one)",
    ),
    "an auth-dir that is a file": (
        "auth-dir: plain.txt\n",
        ":1: auth-dir: '{dir}/plain.txt' is not a folder\n",
    ),
    "an auth-dir inside a file": (
        "auth-dir: plain.txt/auths\n",
        ":1: auth-dir: '{dir}/plain.txt' is not a folder (the auth-dir '{dir}/plain.txt/auths' "
        "would be in it)",
    ),
    "a key given twice": ("port: 1\nhost: h\nport: 2\n", ":3: port: given twice (first on line 1)"),
    "a plugin key given twice": (
        "plugins:\n  - id: a\n    command: {mock}\n    id: b\n",
        ":4: plugins[0].id: given twice (first on line 2)",
    ),
    "a duplicate plugin id": (
        "plugins:\n  - id: a\n    command: {mock}\n  - id: a\n    command: {mock}\n",
        ":4: plugins[1].id: plugin id 'a' is used twice",
    ),
    "an id no management path can hold": (
        "plugins:\n  - id: a/b c\n    command: {mock}\n",
        ":2: plugins[0].id: plugin id 'a/b c' must be letters, digits, '.', '_', '~' or '-' "
        "(it is a path segment of the management API)",
    ),
    "a missing id": (
        "plugins:\n  - command: {mock}\n",
        ":2: plugins[0]: Object missing required field `id`",
    ),
    "a program not on PATH": (
        "plugins:\n  - id: a\n    command: [pluginrt-no-such-program, x]\n",
        ":3: plugins[0].command: program 'pluginrt-no-such-program' is not on PATH",
    ),
    "a script an interpreter is given that does not exist": (
        "plugins:\n  - id: a\n    command: [python3, nothere.py]\n",
        ":3: plugins[0].command: script 'nothere.py' does not exist ('{dir}/nothere.py')",
    ),
    "an alias bomb": (
        "plugins:\n  - id: a\n    command: {mock}\n    config:\n      a0: &a0 [x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"      a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 8)),
        ": the config expands to over 1,000,000 values through YAML aliases (an alias bomb?)",
    ),
    "an alias inside itself": (
        "plugins:\n  - id: a\n    command: {mock}\n    config:\n      a: &a [*a]\n",
        ": the config expands to over 1,000,000 values through YAML aliases",
    ),
    "a program that does not exist": (
        "plugins:\n  - id: a\n    command: ./nope\n",
        ":3: plugins[0].command: program '{dir}/nope' does not exist",
    ),
    "a program that is not executable": (
        "plugins:\n  - id: a\n    command: [./plain.txt]\n",
        ":3: plugins[0].command: program '{dir}/plain.txt' is not executable",
    ),
    "a proxy URL that is not one": (
        "proxy-url: proxy.local:3128\n",
        ":1: proxy-url: expected a URL like http://host:port (schemes: http, https, socks5, "
        "socks5h), got 'proxy.local:3128'",
    ),
    "a tab": (
        "port: 1\n\thost: h\n",
        ":2: not valid YAML: while scanning for the next token; "
        "found character '\\t' that cannot start any token (column 1)\n",
    ),
    "an unclosed list": ("api-keys: [a\n", ":2: not valid YAML: while parsing a flow sequence"),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_a_mistake_is_one_error_line_naming_the_file_the_line_and_the_key(
    tmp_path: Path, case: str
) -> None:
    text, expected = MISTAKES[case]
    (tmp_path / "plain.txt").write_text("not a program\n")
    path = tmp_path / "bad.yaml"
    path.write_text(text.format(mock=MOCK))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{path}{expected.format(dir=tmp_path)}" in message + "\n"


def test_a_program_is_looked_up_on_the_path_the_plugin_gets(tmp_path: Path) -> None:
    program = tmp_path / "bin" / "my-plugin"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    path = tmp_path / "ok.yaml"
    path.write_text(
        f"plugins:\n  - id: a\n    command: [my-plugin]\n    env: {{PATH: '{program.parent}'}}\n"
    )
    assert load_config(path).plugin_command(load_config(path).plugins[0]) == ("my-plugin",)
    path.write_text("plugins:\n  - id: a\n    command: [my-plugin]\n")
    with pytest.raises(ConfigError, match="'my-plugin' is not on PATH"):
        load_config(path)


def test_a_restart_backoff_may_equal_its_backoff_max(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        f"plugins:\n  - id: a\n    command: {MOCK}\n    restart: {{backoff: 2s, backoff-max: 2s}}\n"
    )
    assert load_config(path).plugins[0].restart.backoff_max == 2.0


def test_a_disabled_plugin_may_name_a_command_this_machine_lacks(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        "plugins:\n  - id: a\n    command: [pluginrt-no-such-program]\n    enabled: false\n"
    )
    assert load_config(path).plugins[0].enabled is False
