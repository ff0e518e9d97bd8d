"""Plugin metadata, its configuration fields, and the host summary sent with calls."""

from __future__ import annotations

import enum

import msgspec

from ._wire import List, Map, Wire, go

__all__ = [
    "ConfigField",
    "ConfigFieldType",
    "HostConfigSummary",
    "Metadata",
    "ModelAlias",
]


class ConfigFieldType(enum.StrEnum):
    """Classifies plugin-owned configuration values for management clients."""

    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ENUM = "enum"
    ARRAY = "array"
    OBJECT = "object"


class ConfigField(Wire, rename=go):
    """A plugin-owned configuration field for management clients.

    ``type`` is a :class:`ConfigFieldType` value; any string is accepted, as in Go.
    """

    name: str = ""
    type: str = ""
    enum_values: List[str] = msgspec.field(default_factory=list)
    description: str = ""


class Metadata(Wire, rename=go):
    """Describes a plugin for registry, logging, and diagnostics."""

    name: str = ""
    version: str = ""
    author: str = ""
    github_repository: str = ""
    logo: str = ""
    config_fields: List[ConfigField] = msgspec.field(default_factory=list)


class ModelAlias(Wire, rename=go):
    """One configured provider model alias."""

    name: str = ""
    alias: str = ""


class HostConfigSummary(Wire, rename=go):
    """Host configuration relevant to plugin providers."""

    auth_dir: str = ""
    proxy_url: str = ""
    force_model_prefix: bool = False
    oauth_model_alias: Map[str, List[ModelAlias]] = msgspec.field(default_factory=dict)
    excluded_models: Map[str, List[str]] = msgspec.field(default_factory=dict)
