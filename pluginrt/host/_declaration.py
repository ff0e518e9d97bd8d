"""The handshake's answer, checked against DESIGN.md's and SEMANTICS.md's rules.

A plugin is refused (:class:`PluginDeclarationError`, naming the plugin and
the rule) for: a protocol version newer than the host's (both numbers are in
the message; older ones are accepted, and 1 is the first there is), a blank ``Metadata.Name``, no
capability at all, an executor without input or output formats, or a missing
identifier where the seed's interface has ``Identifier()``. A missing
``Version``, ``Author`` or ``GitHubRepository`` is only a warning, and so is
an unknown capability key (it is ignored).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from pluginrt.api import Capabilities, CapabilityDecl, Metadata, decode
from pluginrt.rpc import PROTOCOL_VERSION

from ._errors import PluginDeclarationError

__all__ = ["Declaration", "RegisterAnswer", "declared_capabilities", "validate"]

#: The wire keys of Capabilities, by attribute name.
_WIRE_NAMES: dict[str, str] = {f.name: f.encode_name for f in msgspec.structs.fields(Capabilities)}
#: Capabilities whose declaration must carry an identifier.
_NEEDS_IDENTIFIER = ("auth_provider", "frontend_auth_provider", "executor", "thinking_applier")


class RegisterAnswer(msgspec.Struct):
    """``plugin.register``'s result as first read: the version is checked
    before anything else is decoded, since a newer protocol may change the rest."""

    protocol_version: int | None = None
    metadata: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))
    capabilities: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))


@dataclass(frozen=True, slots=True)
class Declaration:
    """What a plugin said it is in ``plugin.register``, after validation."""

    protocol_version: int
    metadata: Metadata
    capabilities: Capabilities
    #: Not fatal, but worth telling the operator (also logged at start).
    warnings: tuple[str, ...]


def declared_capabilities(capabilities: Capabilities) -> list[str]:
    """The seed names of the interface-typed capabilities declared, in seed order."""
    return [
        _WIRE_NAMES[name]
        for name in _WIRE_NAMES
        if isinstance(getattr(capabilities, name), CapabilityDecl)
    ]


def validate(
    plugin_id: str, answer: RegisterAnswer, logger: logging.Logger, *, again: bool = False
) -> Declaration:
    """Check ``answer`` and return the declaration; raise :class:`PluginDeclarationError`.

    Missing metadata is a warning, logged at the first start only (not ``again``).
    """

    def refuse(rule: str) -> PluginDeclarationError:
        return PluginDeclarationError(plugin_id, f"declaration refused: {rule}")

    version = answer.protocol_version
    if version is None:
        raise refuse("plugin.register did not answer a protocol_version")
    if version > PROTOCOL_VERSION:
        raise refuse(
            f"protocol version {version} is newer than the host's protocol version "
            f"{PROTOCOL_VERSION}"
        )
    if version < 1:
        raise refuse(
            f"protocol version {version} does not exist (the host's protocol version "
            f"is {PROTOCOL_VERSION}; versions start at 1)"
        )
    try:
        metadata = decode(_object(answer.metadata), Metadata)
        capabilities = decode(_object(answer.capabilities), Capabilities)
        raw_keys: Any = msgspec.json.decode(_object(answer.capabilities))
    except msgspec.DecodeError as exc:
        raise refuse(f"invalid plugin.register result: {exc}") from None
    if not metadata.name.strip():
        raise refuse("Metadata.Name is required")
    declared = declared_capabilities(capabilities)
    if not declared:
        raise refuse("at least one capability must be declared")
    for name in _NEEDS_IDENTIFIER:
        decl = getattr(capabilities, name)
        if decl is not None and not decl.identifier.strip():
            raise refuse(f"{_WIRE_NAMES[name]} needs an identifier")
    if capabilities.executor is not None:
        if not capabilities.executor_input_formats:
            raise refuse("an Executor needs ExecutorInputFormats")
        if not capabilities.executor_output_formats:
            raise refuse("an Executor needs ExecutorOutputFormats")
    # Missing metadata is a warning (SEMANTICS.md), the author's to fix: logged once,
    # not at every restart. An unknown capability may be a typo: a warning every time.
    lacking = [
        wire
        for field, wire in (
            ("version", "Version"),
            ("author", "Author"),
            ("github_repository", "GitHubRepository"),
        )
        if not getattr(metadata, field).strip()
    ]
    missing = [f"Metadata.{wire} is missing" for wire in lacking]
    if lacking and not again:
        logger.warning("its metadata has no %s (for its author to set)", ", ".join(lacking))
    unknown = []
    if isinstance(raw_keys, dict):
        known = set(_WIRE_NAMES.values())
        unknown = [f"unknown capability {key!r} ignored" for key in sorted(set(raw_keys) - known)]
    scope = capabilities.executor_model_scope
    if capabilities.executor is not None and scope not in ("", "both", "static", "oauth"):
        unknown.append(f"ExecutorModelScope {scope!r} is not static, oauth or both: taken as both")
    for warning in unknown:
        logger.warning("%s", warning)
    return Declaration(version, metadata, capabilities, (*missing, *unknown))


def _object(raw: msgspec.Raw) -> bytes:
    # Go writes null for a nil map or pointer: read it as an empty object.
    data = bytes(raw)
    return b"{}" if data.strip() in (b"", b"null") else data
