"""One-shot use of a plugin by hand: what ``pluginrt inspect`` and ``pluginrt call`` run.

Both start the plugin without restarts, do their one thing, and stop it
cleanly (``plugin.shutdown`` first) before returning or raising.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from pluginrt.api import encode

from ._declaration import Declaration, declared_capabilities
from ._errors import PluginError
from ._plugin import PluginHandle, Registrations
from ._plugins import open_plugins
from ._spec import PluginSpec, RestartPolicy

__all__ = ["PluginReport", "call_once", "inspect_plugin", "one_shot_spec"]


def one_shot_spec(
    command: Sequence[str],
    *,
    plugin_id: str | None = None,
    timeout: float = 10.0,
    config: Mapping[str, Any] | None = None,
) -> PluginSpec:
    """A spec for running ``command`` once by hand: no restarts, ``timeout`` for
    the handshake and each call. The id defaults to the stem of the first
    argument after the program that names a file (the script), else the program's."""
    if plugin_id is None:
        script = next((arg for arg in command[1:] if os.path.isfile(arg)), command[0])
        plugin_id = os.path.splitext(os.path.basename(script))[0] or "plugin"
    return PluginSpec(
        id=plugin_id,
        command=tuple(command),
        call_timeout=timeout,
        handshake_timeout=timeout,
        restart=RestartPolicy(max_restarts=0),
        config=dict(config or {}),
    )


@dataclass(frozen=True, slots=True)
class PluginReport:
    """What a plugin declared and registered, as ``pluginrt inspect`` shows it."""

    id: str
    declaration: Declaration
    registrations: Registrations

    def to_json(self) -> dict[str, Any]:
        """One JSON object, in the wire's (Go) field names."""

        def wire(value: Any) -> Any:
            return msgspec.json.decode(encode(value))

        regs = self.registrations
        return {
            "id": self.id,
            "protocol_version": self.declaration.protocol_version,
            "metadata": wire(self.declaration.metadata),
            "capabilities": wire(self.declaration.capabilities),
            "declared": declared_capabilities(self.declaration.capabilities),
            "warnings": list(self.declaration.warnings),
            "provider": regs.provider,
            "models": [wire(m) for m in regs.models],
            "flags": [wire(f) for f in regs.flags],
            "routes": [wire(r) for r in regs.routes],
            "resources": [wire(r) for r in regs.resources],
        }

    def to_text(self) -> str:
        """A human-readable table."""
        meta = self.declaration.metadata
        caps = self.declaration.capabilities
        regs = self.registrations
        rows: list[tuple[str, str]] = [
            ("plugin", self.id),
            ("name", meta.name),
            ("version", meta.version or "-"),
            ("author", meta.author or "-"),
            ("repository", meta.github_repository or "-"),
            ("protocol", str(self.declaration.protocol_version)),
            ("capabilities", ", ".join(declared_capabilities(caps))),
        ]
        if caps.executor is not None:
            rows.append(
                (
                    "executor",
                    f"{caps.executor.identifier} (scope {caps.executor_model_scope or 'both'}; "
                    f"in {', '.join(caps.executor_input_formats)}; "
                    f"out {', '.join(caps.executor_output_formats)})",
                )
            )
        if regs.provider:
            rows.append(("provider", regs.provider))
        rows += [("model", m.id) for m in regs.models]
        rows += [
            ("flag", f"--{f.name} ({f.type or 'string'}) {f.usage}".rstrip()) for f in regs.flags
        ]
        rows += [("route", f"{r.method} {r.path}") for r in regs.routes]
        rows += [("resource", r.path) for r in regs.resources]
        rows += [("warning", w) for w in self.declaration.warnings]
        width = max(len(key) for key, _ in rows)
        return "\n".join(f"{key:<{width}}  {value}" for key, value in rows)


def _started(handle: PluginHandle) -> Declaration:
    if handle.declaration is None or handle.state != "running":
        error = handle.last_error
        if isinstance(error, PluginError):
            raise error
        raise PluginError(handle.id, f"did not start (state: {handle.state})")
    return handle.declaration


async def inspect_plugin(spec: PluginSpec) -> PluginReport:
    """Start ``spec``, handshake, and return its report; the plugin is stopped before returning.

    Raises the plugin's start failure (a :class:`PluginError`) if it does not come up.
    """
    async with open_plugins([spec]) as plugins:
        handle = plugins[spec.id]
        declaration = _started(handle)
        return PluginReport(handle.id, declaration, handle.registrations)


#: The chunks a stream of :func:`call_once` may send before it is granted more.
_WINDOW = 64


async def call_once(
    spec: PluginSpec,
    method: str,
    params: bytes,
    on_chunk: Callable[[bytes], object] | None = None,
) -> bytes:
    """Start ``spec``, send ``method`` with ``params`` (JSON), and return the result's JSON.

    ``executor.execute_stream`` gets a stream of the host's (its ``stream_id`` and
    ``window`` set in ``params``); each chunk goes to ``on_chunk`` before this returns
    the headers. The plugin is stopped before returning; failures raise
    :class:`PluginError` (a stream the plugin ended with an error, StreamError).
    """
    async with open_plugins([spec]) as plugins:
        handle = plugins[spec.id]
        _started(handle)
        if method != "executor.execute_stream":
            return bytes(await handle.call(method, msgspec.Raw(params), msgspec.Raw))
        async with handle.open_stream(_WINDOW) as stream:
            given = msgspec.json.decode(params)
            asked = {**(given if isinstance(given, dict) else {}),
                     "stream_id": stream.stream_id, "window": _WINDOW}  # fmt: skip
            headers = await handle.call(method, asked, msgspec.Raw)
            async for chunk in stream:
                if on_chunk is not None:
                    on_chunk(chunk)
        return bytes(headers)
