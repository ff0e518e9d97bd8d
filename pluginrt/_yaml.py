"""YAML config loading with line numbers in every error."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import yaml

from .config import Config, ConfigError, _decode

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"unknown field `(?P<key>[^`]*)`")


def _walk(node: yaml.Node | None, path: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The (key node, value node) at a msgspec path like ``$.plugins[0].timeout``."""
    key_node: yaml.Node | None = None
    for name, index in _STEP.findall(path[1:] if path.startswith("$") else path):
        if isinstance(node, yaml.MappingNode) and name:
            match = next(((k, v) for k, v in node.value if k.value == name), None)
            if match is None:
                return key_node, node
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and index:
            position = int(index)
            if position >= len(node.value):
                return key_node, node
            key_node, node = None, node.value[position]
        else:
            break
    return key_node, node


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _key_name(path: str) -> str:
    return path.removeprefix("$.").removeprefix("$") or "(top level)"


def _located(source: Path, root: yaml.Node | None, reason: str, path: str) -> ConfigError:
    unknown = _UNKNOWN.search(reason)
    key_node, value_node = _walk(root, path)
    if unknown:
        parent = value_node
        key = unknown.group("key")
        if isinstance(parent, yaml.MappingNode):
            key_node = next((k for k, _ in parent.value if k.value == key), key_node)
        where = f"{path}.{key}" if path and path != "$" else key
        return ConfigError(f"{source}:{_line(key_node)}: {_key_name(where)}: unknown key")
    node = value_node if value_node is not None else key_node
    return ConfigError(f"{source}:{_line(node)}: {_key_name(path)}: {reason}")


def load_yaml_config(source: Path) -> Config:
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: the config is not UTF-8 text: {exc.reason}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{line}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config must be a mapping of keys to values")
    try:
        config = _decode(data)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        assert match is not None
        raise _located(source, root, match.group("reason"), match.group("path") or "$") from None
    config.base_dir = str(source.resolve().parent)
    _check(source, root, config)
    return config


def _check(source: Path, root: yaml.Node | None, config: Config) -> None:
    """Rules a type cannot say: unique ids, existing scripts."""
    seen: set[str] = set()
    for position, plugin in enumerate(config.plugins):
        at = f"$.plugins[{position}]"
        if not plugin.id.strip():
            raise _located(source, root, "expected a non-empty plugin id", f"{at}.id")
        if plugin.id in seen:
            raise _located(source, root, f"plugin id {plugin.id!r} is used twice", f"{at}.id")
        seen.add(plugin.id)
        if not plugin.command:
            raise _located(source, root, "expected a script path or a command", f"{at}.command")
        if isinstance(plugin.command, str) and plugin.command.endswith(".py"):
            script = config.resolve(plugin.command)
            if not script.is_file():
                raise _located(
                    source, root, f"plugin script {str(script)!r} does not exist", f"{at}.command"
                )
