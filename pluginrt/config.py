"""The host configuration: one YAML file decoded into msgspec Structs.

Keys are kebab-case (``api-keys``, ``auth-dir``). Durations are written
``500ms``, ``30s``, ``2m``, ``1h`` or as a number of seconds. Every mistake
is a :class:`ConfigError` naming the key, its line and what was expected;
nothing starts on a bad config.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "Config",
    "ConfigError",
    "LoggingConfig",
    "PluginConfig",
    "RestartConfig",
    "load_config",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


#: What a plugin inherits of the host's environment unless ``env-allow`` says otherwise:
#: enough to run (paths, locale, time zone, Python, certificates), no secrets.
DEFAULT_ENV_ALLOW = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR",
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "SYSTEMROOT", "PLUGINRT_*",
)  # fmt: skip


class Duration(float):
    """Seconds, written ``500ms``, ``30s``, ``2m``, ``1h`` or as a number."""


class PositiveDuration(Duration):
    """A duration above zero (a zero timeout would fail every call)."""


def parse_duration(value: object) -> float:
    """Seconds from a duration value; ValueError says what was expected."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 500ms, 30s, 2m or a number of seconds")
    if isinstance(value, int | float):
        if value != value:  # YAML's .nan: every comparison with it is false
            raise ValueError("a duration must be a number, not .nan")
        if value < 0:
            raise ValueError("a duration must not be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(
        f"expected a duration like 500ms, 30s, 2m or a number of seconds, got {value!r}"
    )


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename="kebab"):
    """Base of every config section: unknown keys are errors."""


class RestartConfig(_Section):
    """How a crashed plugin is restarted."""

    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 5
    backoff: Duration = Duration(0.5)
    backoff_max: Duration = Duration(30.0)
    healthy_after: Duration = Duration(60.0)


class PluginConfig(_Section):
    """One plugin: how to start it and its own config section."""

    id: str
    #: A ``.py`` path (run under the current Python) or an argument list (see ``plugin_command``).
    command: str | list[str]
    enabled: bool = True
    priority: int = 0
    #: Per call, and the longest wait for each chunk of an executor stream (0: none).
    timeout: Duration = Duration(30.0)
    handshake_timeout: PositiveDuration = PositiveDuration(10.0)
    #: Processes of this plugin run side by side; calls go to the least busy.
    instances: Annotated[int, msgspec.Meta(ge=1)] = 1
    restart: RestartConfig = msgspec.field(default_factory=RestartConfig)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    #: The longest JSON-RPC line accepted from this plugin, in bytes (64 MiB by default).
    max_line: Annotated[int, msgspec.Meta(ge=1024)] = 64 * 1024 * 1024
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


class Config(_Section):
    """The whole host: server, auth, and plugins."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8317
    api_keys: list[str] = msgspec.field(default_factory=list)
    management_key: str = ""
    auth_dir: str = "auths"
    proxy_url: str = ""
    scheduler: Literal["round-robin", "fill-first"] = "round-robin"
    request_timeout: PositiveDuration = PositiveDuration(300.0)
    shutdown_grace: Duration = Duration(10.0)
    #: The host variables a plugin inherits (``fnmatch`` patterns); its own ``env`` is added.
    env_allow: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_ENV_ALLOW))
    #: The largest request body the gateway accepts, in bytes (0: no limit); larger: 413.
    #: An executor call carries the body twice, base64-encoded (about 2.7 times its size):
    #: 16 MiB leaves that room in a plugin's 64 MiB line.
    max_body_size: Annotated[int, msgspec.Meta(ge=0)] = 16 * 1024 * 1024
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    plugins: list[PluginConfig] = msgspec.field(default_factory=list)
    #: The config file's folder, set by the loader (not a key): relative paths resolve against it.
    base_dir: str = ""

    def resolve(self, path: str) -> Path:
        """``path`` relative to the config file's folder (absolute paths unchanged)."""
        return (Path(self.base_dir or ".") / os.path.expanduser(path)).resolve()

    def plugin_command(self, plugin: PluginConfig) -> tuple[str, ...]:
        """The argv that starts ``plugin``: a ``.py`` path runs under this Python.

        In a list, each relative element naming an existing file in the config's
        folder is made absolute; the rest (``python3``, flags) is passed as given.
        """
        if isinstance(plugin.command, str):
            path = str(self.resolve(plugin.command))
            return (sys.executable, path) if plugin.command.endswith(".py") else (path,)
        return tuple(self._argument(arg) for arg in plugin.command)

    def _argument(self, arg: str) -> str:
        path = os.path.join(self.base_dir, arg)
        if arg.startswith("-") or os.path.isabs(arg) or not os.path.isfile(path):
            return arg
        return os.path.abspath(path)  # not resolve(): a venv's python must stay a symlink


class ConfigError(ValueError):
    """A bad config: the message names the file, the key, the line and what was expected."""


def _dec_hook(type_: type, value: object) -> object:
    if type_ is Duration:
        return Duration(parse_duration(value))
    if type_ is PositiveDuration:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("expected a duration above zero")
        return PositiveDuration(seconds)
    raise NotImplementedError(type_)


def _decode(data: Mapping[str, Any]) -> Config:
    """``data`` as a :class:`Config`; raises msgspec.ValidationError."""
    if "base-dir" in data:  # a field, but the loader's to set
        raise msgspec.ValidationError("Object contains unknown field `base-dir`")
    return msgspec.convert(dict(data), Config, dec_hook=_dec_hook, strict=True)


def from_mapping(data: Mapping[str, Any], base_dir: str = "") -> Config:
    """A :class:`Config` from already-parsed data (ConfigError on mistakes, no line numbers)."""
    try:
        config = _decode(data)
    except msgspec.ValidationError as exc:
        raise ConfigError(str(exc)) from None
    config.base_dir = base_dir
    return config


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a YAML config file. Raises :class:`ConfigError`."""
    from ._yaml import load_yaml_config

    return load_yaml_config(Path(path))
