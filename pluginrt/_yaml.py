"""YAML config loading with line numbers in every error."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import typing
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import yaml

from .config import Config, ConfigError, PluginConfig, _decode

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"unknown field `(?P<key>[^`]*)`")
_ENUM = re.compile(r"^Invalid enum value (?P<value>.*)$")
_STR = "tag:yaml.org,2002:str"
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def _type_at(path: str) -> object:
    """The config type at a msgspec path like ``$.plugins[0]`` (None past a known section)."""
    type_: object = Config
    for name, index in _STEP.findall(path[1:] if path.startswith("$") else path):
        if name and isinstance(type_, type) and issubclass(type_, msgspec.Struct):
            fields = {f.encode_name: f.type for f in msgspec.structs.fields(type_)}
            type_ = fields.get(name)
        elif index and typing.get_origin(type_) is list:
            type_ = typing.get_args(type_)[0]
        else:
            return None
    return type_


def _did_you_mean(key: str, path: str) -> str:
    """`` (did you mean `api-keys`?)`` when a key of the section at ``path`` is close to ``key``."""
    section = _type_at(path)
    if not (isinstance(section, type) and issubclass(section, msgspec.Struct)):
        return ""
    known = [f.encode_name for f in msgspec.structs.fields(section) if f.encode_name != "base-dir"]
    close = difflib.get_close_matches(key.lower().replace("_", "-"), known, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _enum_reason(reason: str, path: str) -> str:
    """msgspec's "Invalid enum value 'x'" as the values the key takes."""
    match = _ENUM.match(reason)
    choices = typing.get_args(_type_at(path))
    if match is None or not choices:
        return reason
    return f"expected one of {', '.join(map(repr, choices))}, got {match.group('value')}"


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
        hint = _did_you_mean(key, path)
        return ConfigError(f"{source}:{_line(key_node)}: {_key_name(where)}: unknown key{hint}")
    if path.endswith("[...]") and isinstance(value_node, yaml.MappingNode):
        # msgspec names a map's bad value `[...]`: name its key instead.
        key_node, value_node = next(
            ((k, v) for k, v in value_node.value if v.tag != _STR), (key_node, value_node)
        )
        path = path.removesuffix("[...]") + (f".{key_node.value}" if key_node else "")
        reason += " (quote the value)" if isinstance(value_node, yaml.ScalarNode) else ""
    node = value_node if value_node is not None else key_node
    return ConfigError(f"{source}:{_line(node)}: {_key_name(path)}: {_enum_reason(reason, path)}")


def _syntax_error(source: Path, exc: yaml.YAMLError) -> ConfigError:
    """PyYAML's several-line report as one line: file, line, what is wrong, column."""
    mark = getattr(exc, "problem_mark", None)
    if not isinstance(exc, yaml.MarkedYAMLError) or mark is None:
        return ConfigError(f"{source}: not valid YAML: {exc}")
    what = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
    return ConfigError(
        f"{source}:{mark.line + 1}: not valid YAML: {what} (column {mark.column + 1})"
    )


#: A plugin id: URL-safe as it is, for it names the plugin in management paths.
_PLUGIN_ID = re.compile(r"[A-Za-z0-9._~-]+")


#: The most values a config may expand to: aliases repeat what they name, nested ones
#: multiply it (a kilobyte of aliases can stand for gigabytes).
_MOST_VALUES = 1_000_000


def _expanded_size(node: yaml.Node | None, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for once its aliases are expanded (each shared
    node is counted where it is used, but sized once; one that contains itself, more
    than any config may hold)."""
    if node is None:
        return 0
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = _MOST_VALUES + 1  # until sized: a node inside itself is endless
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = size
    return size


def _check_duplicates(source: Path, node: yaml.Node | None, path: str) -> None:
    """A key given twice in one mapping is an error (YAML would keep the last silently)."""
    if isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _check_duplicates(source, item, f"{path}[{position}]")
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[object, int] = {}
    for key, value in node.value:
        name = f"{path}.{key.value}" if path != "$" else str(key.value)
        if key.value in first:
            raise ConfigError(
                f"{source}:{_line(key)}: {_key_name(name)}: "
                f"given twice (first on line {first[key.value]})"
            )
        first[key.value] = _line(key)
        _check_duplicates(source, value, name)


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
        raise _syntax_error(source, exc) from None
    if _expanded_size(root, {}) > _MOST_VALUES:  # before anything walks it, expanded
        raise ConfigError(
            f"{source}: the config expands to over {_MOST_VALUES:,} values through YAML "
            "aliases (an alias bomb?)"
        )
    _check_duplicates(source, root, "$")
    if data is None:
        # Refused, not read as every default: a file truncated mid-save and reloaded
        # would stop every plugin and drop the api-keys, opening the gateway to all.
        raise ConfigError(f"{source}: the config is empty (a config with no key is '{{}}')")
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
    """Rules a type cannot say: keys and host not blank, an auth-dir that can be a folder, unique
    ids, commands that exist, a proxy URL, a restart backoff within its backoff-max."""
    for position, key in enumerate(config.api_keys):
        if not key.strip():  # an unset variable, say: it would admit no one, silently
            where = f"$.api-keys[{position}]"
            raise _located(source, root, "expected a key, got a blank one", where)
    if not config.host.strip():  # an unset variable, say: it would listen on every address
        reason = "expected an address to listen on, got a blank one (0.0.0.0 means every IPv4 one)"
        raise _located(source, root, reason, "$.host")
    auth_dir = config.resolve(config.auth_dir)
    existing = next(path for path in (auth_dir, *auth_dir.parents) if path.exists())
    if not existing.is_dir():
        reason = f"{str(existing)!r} is not a folder" + (
            "" if existing == auth_dir else f" (the auth-dir {str(auth_dir)!r} would be in it)"
        )
        raise _located(source, root, reason, "$.auth-dir")
    if config.proxy_url and not _is_proxy_url(config.proxy_url):
        reason = f"expected a URL like http://host:port (schemes: {', '.join(_PROXY_SCHEMES)})"
        raise _located(source, root, f"{reason}, got {config.proxy_url!r}", "$.proxy-url")
    seen: set[str] = set()
    for position, plugin in enumerate(config.plugins):
        at = f"$.plugins[{position}]"
        if not plugin.id.strip():
            raise _located(source, root, "expected a non-empty plugin id", f"{at}.id")
        if not _PLUGIN_ID.fullmatch(plugin.id) or plugin.id in (".", ".."):
            message = (
                f"plugin id {plugin.id!r} must be letters, digits, '.', '_', '~' or '-' "
                "(it is a path segment of the management API)"
            )
            raise _located(source, root, message, f"{at}.id")
        if plugin.id in seen:
            raise _located(source, root, f"plugin id {plugin.id!r} is used twice", f"{at}.id")
        seen.add(plugin.id)
        # A disabled plugin's command may be missing here (that can be why it is off);
        # enabled later, it fails to start with the same reason.
        problem = _command_problem(config, plugin) if plugin.enabled else ""
        if problem:
            raise _located(source, root, problem, f"{at}.command")
        for name, value in plugin.env.items():
            problem = _env_problem(name, value)
            if problem:  # else every start fails, in the launcher, with a traceback
                raise _located(source, root, problem, f"{at}.env.{name}" if name else f"{at}.env")
        restart = plugin.restart
        if restart.backoff > restart.backoff_max:  # every wait would be backoff-max, silently
            # At the backoff if it is given, else at the backoff-max.
            key_node, _ = _walk(root, f"{at}.restart.backoff")
            given = key_node is not None and key_node.value == "backoff"
            key = "backoff" if given else "backoff-max"
            message = (
                f"plugin {plugin.id!r}: backoff {restart.backoff:g}s is longer than "
                f"backoff-max {restart.backoff_max:g}s (the longest wait between restarts)"
            )
            raise _located(source, root, message, f"{at}.restart.{key}")


def _env_problem(name: str, value: str) -> str:
    """Why a process could not be given the variable ``name=value`` ("" if it could)."""
    if not name or "=" in name or "\0" in name:
        return f"an environment variable's name must be non-empty, without '=' or NUL: {name!r}"
    if "\0" in value:
        return f"the value of environment variable {name!r} holds a NUL byte"
    return ""


def _is_proxy_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in _PROXY_SCHEMES and bool(parts.hostname)


#: What names a script in a command list (its absence fails the start, not the config).
_SCRIPTS = (".py", ".js", ".mjs", ".cjs", ".ts")


def _command_problem(config: Config, plugin: PluginConfig) -> str:
    """Why ``plugin``'s command cannot start ("" if it can): a missing script or program."""
    if not plugin.command:
        return "expected a script path or a command"
    argv = config.plugin_command(plugin)
    if isinstance(plugin.command, str) and plugin.command.endswith(".py"):
        script = argv[1]
        return "" if os.path.isfile(script) else f"plugin script {script!r} does not exist"
    program = argv[0]
    search = plugin.env.get("PATH", os.environ.get("PATH", os.defpath))
    if os.sep in program:
        if not os.path.isfile(program):
            return f"program {program!r} does not exist"
        if not os.access(program, os.X_OK):
            return f"program {program!r} is not executable (chmod +x it, or name its interpreter)"
    elif shutil.which(program, path=search) is None:
        return f"program {program!r} is not on PATH"
    # A script its interpreter would fail to open: named relative to the config's folder.
    scripts = [a for a in argv[1:] if a.endswith(_SCRIPTS) and not a.startswith("-")]
    missing = next((a for a in scripts if not os.path.isfile(os.path.join(config.base_dir, a))),
                   None)  # fmt: skip
    if missing is not None:
        where = os.path.join(config.base_dir, missing)
        return f"script {missing!r} does not exist ({where!r})"
    return ""
