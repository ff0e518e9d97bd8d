"""Plugin-owned command-line flags and their execution."""

from __future__ import annotations

import msgspec

from ._auth import AuthData
from ._metadata import HostConfigSummary, Metadata
from ._wire import Bytes, List, Map, Wire, go

__all__ = [
    "CommandLineExecutionRequest",
    "CommandLineExecutionResponse",
    "CommandLineFlag",
    "CommandLineFlagValue",
    "CommandLineRegistrationRequest",
    "CommandLineRegistrationResponse",
]


class CommandLineRegistrationRequest(Wire, rename=go):
    """Host context for command-line registration (``command_line.register``)."""

    plugin: Metadata = msgspec.field(default_factory=Metadata)


class CommandLineFlag(Wire, rename=go):
    """One plugin-owned command-line flag."""

    name: str = ""
    usage: str = ""
    type: str = ""
    default_value: str = ""


class CommandLineRegistrationResponse(Wire, rename=go):
    """Command-line flags owned by a plugin."""

    flags: List[CommandLineFlag] = msgspec.field(default_factory=list)


class CommandLineFlagValue(Wire, rename=go):
    """A parsed command-line flag value."""

    name: str = ""
    type: str = ""
    value: str = ""
    set: bool = False


class CommandLineExecutionRequest(Wire, rename=go):
    """A plugin command-line invocation (``command_line.execute``)."""

    plugin: Metadata = msgspec.field(default_factory=Metadata)
    program: str = ""
    args: List[str] = msgspec.field(default_factory=list)
    config_path: str = ""
    host: HostConfigSummary = msgspec.field(default_factory=HostConfigSummary)
    flags: Map[str, CommandLineFlagValue] = msgspec.field(default_factory=dict)
    triggered_flags: Map[str, CommandLineFlagValue] = msgspec.field(default_factory=dict)


class CommandLineExecutionResponse(Wire, rename=go):
    """Command-line output from a plugin."""

    stdout: Bytes = b""
    stderr: Bytes = b""
    auths: List[AuthData] = msgspec.field(default_factory=list)
    exit_code: int = 0
