"""What an operator reads: the start-up summary and the report of ``pluginrt check``."""

from __future__ import annotations

from dataclasses import dataclass

from pluginrt._host import MANAGEMENT_BASE, Host
from pluginrt.host import PluginState

from ._management import capability_names

__all__ = ["CheckReport", "check_report", "summary"]


def _plugin_lines(host: Host) -> list[str]:
    lines = []
    width = max((len(p.id) for p in host.config.plugins), default=0)
    for plugin in host.config.plugins:
        handle = host.plugins.get(plugin.id)
        if handle is None:
            lines.append(f"  {plugin.id:<{width}}  disabled")
            continue
        caps = ", ".join(capability_names(handle.capabilities)) or "-"
        if handle.state is PluginState.RUNNING:
            name = f"{handle.metadata.name} {handle.metadata.version}".strip()
            lines.append(f"  {plugin.id:<{width}}  {handle.state!s:<8} {name}: {caps}")
        else:
            lines.append(f"  {plugin.id:<{width}}  {handle.state!s}: {handle.last_error}")
    return lines


def _models(host: Host) -> str:
    models = sorted({m.id for h in host.active() for m in h.registrations.models})
    return ", ".join(models) if models else "(none)"


def _client_access(host: Host) -> str:
    """Who gets in, as the pipeline's frontend auth step will decide it."""
    providers = [h for h in host.active() if h.capabilities.frontend_auth_provider]
    exclusive = [h for h in providers if h.capabilities.frontend_auth_provider_exclusive]
    if exclusive:
        return f"frontend auth by {exclusive[0].id} alone (api-keys off)"
    ways = [f"{len(host.config.api_keys)} API key(s)"] if host.config.api_keys else []
    if providers:
        ways.append("frontend auth by " + ", ".join(h.id for h in providers))
    if ways:
        return " or ".join(ways)
    unknown = [h.id for h in host.down() if h.declaration is None]
    if unknown:
        return f"none let in until {', '.join(unknown)} declares itself (it may be a frontend auth)"
    return "open to all (no api-keys, no frontend auth plugin)"


def summary(host: Host, binds: list[str]) -> str:
    """The start-up summary an operator reads: address, plugins, models, management."""
    lines = [f"pluginrt listening on {', '.join(binds)}"]
    lines.append("plugins:")
    lines += _plugin_lines(host)
    lines.append(f"models: {_models(host)}")
    lines.append(f"clients: {_client_access(host)}")
    if host.config.management_key:
        lines.append(f"management API: {MANAGEMENT_BASE}/ (management key required)")
    else:
        lines.append("management API: off (no management-key)")
    return "\n".join(lines)


@dataclass(frozen=True)
class CheckReport:
    """``ok`` when every enabled plugin handshook; ``text`` says what each one is."""

    ok: bool
    text: str


def check_report(host: Host) -> CheckReport:
    """The report of ``pluginrt check``: each plugin, its capabilities, the models."""
    failed = [
        p.id
        for p in host.config.plugins
        if p.enabled
        and (h := host.plugins.get(p.id)) is not None
        and h.state is not PluginState.RUNNING
    ]
    lines = ["plugins:", *_plugin_lines(host), f"models: {_models(host)}"]
    flags = [f"--{b.flag.name} ({b.plugin_id})" for b in host.flags()]
    if flags:
        lines.append(f"plugin flags: {', '.join(flags)}")
    routes = [f"{r.method} {r.path} ({r.plugin_id})" for r in host.routes()]
    routes += [f"GET {r.path} ({r.plugin_id})" for r in host.resources()]
    if routes:
        lines.append("plugin routes:")
        lines += [f"  {r}" for r in routes]
    if failed:
        lines.append(f"FAILED: {', '.join(failed)} did not start")
    else:
        lines.append(f"config OK: {sum(p.enabled for p in host.config.plugins)} plugin(s) ready")
    return CheckReport(not failed, "\n".join(lines))
