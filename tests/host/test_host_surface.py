"""The public surface of pluginrt.host is pinned: nothing is added or dropped by accident."""

from __future__ import annotations

import pytest

import pluginrt.host
from pluginrt.api import HostConfigSummary
from pluginrt.host import PluginHandle, Plugins, PluginSpec

EXPECTED = {
    "Callbacks",
    "Declaration",
    "PluginClosed",
    "PluginCrashed",
    "PluginDeclarationError",
    "PluginError",
    "PluginFailed",
    "PluginHandle",
    "PluginProtocolError",
    "PluginRemoteError",
    "PluginReport",
    "PluginSpec",
    "PluginStartError",
    "PluginState",
    "PluginStatistics",
    "PluginTimeout",
    "PluginUnavailable",
    "Plugins",
    "Registrations",
    "RestartPolicy",
    "call_once",
    "inspect_plugin",
    "one_shot_spec",
    "open_plugins",
}


def test_the_public_names_are_exactly_the_pinned_list() -> None:
    assert set(pluginrt.host.__all__) == EXPECTED
    public = {name for name in dir(pluginrt.host) if not name.startswith("_")}
    assert public == EXPECTED


def test_every_host_error_is_a_plugin_error_naming_its_plugin() -> None:
    errors = [getattr(pluginrt.host, n) for n in EXPECTED if n.startswith("Plugin")]
    for error in errors:
        if isinstance(error, type) and issubclass(error, Exception):
            assert issubclass(error, pluginrt.host.PluginError)


def test_error_messages_name_the_plugin_and_the_method_once() -> None:
    # The engine and the SDK name the method (and the connection its plugin) themselves.
    from pluginrt.host._errors import map_error
    from pluginrt.rpc import ProtocolError, RemoteError

    raised = "executor.execute failed: TypeError: boom"
    remote = map_error("p", "executor.execute", RemoteError(-32603, raised))
    assert str(remote) == f"plugin 'p': {raised} (code -32603)"
    plain = map_error("p", "executor.execute", RemoteError(-32000, "upstream said no"))
    assert str(plain) == "plugin 'p': executor.execute failed: upstream said no (code -32000)"
    invalid = "executor.execute answered with an invalid result (ExecutorResponse): bad"
    protocol = map_error("p", "executor.execute", ProtocolError(f"plugin p: {invalid}"))
    assert str(protocol) == f"plugin 'p': {invalid}"
    failed = pluginrt.host.PluginFailed("p", remote)
    assert str(failed) == f"plugin 'p': failed and is no longer started: {raised} (code -32603)"


def test_handles_and_registries_have_no_public_constructor() -> None:
    spec = PluginSpec(id="x", command=("x.py",))
    with pytest.raises(TypeError, match="no public constructor"):
        PluginHandle(object(), spec, None, HostConfigSummary())
    with pytest.raises(TypeError, match="no public constructor"):
        Plugins(object(), None, None, HostConfigSummary())  # type: ignore[arg-type]


def test_a_lone_script_runs_under_the_current_python() -> None:
    import sys

    assert PluginSpec(id="x", command=("a/p.py",)).argv == [sys.executable, "a/p.py"]
    assert PluginSpec(id="x", command=("node", "p.js")).argv == ["node", "p.js"]
    with pytest.raises(ValueError, match="non-blank id"):
        PluginSpec(id=" ", command=("p.py",))
    with pytest.raises(ValueError, match="empty"):
        PluginSpec(id="x", command=())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("call_timeout", 0.0, "call_timeout must be positive"),
        ("call_timeout", float("nan"), "call_timeout must be positive"),
        ("handshake_timeout", -1.0, "handshake_timeout must be positive"),
        ("shutdown_timeout", -0.5, "shutdown_timeout must not be negative"),
        ("grace_period", float("nan"), "grace_period must not be negative"),
    ],
)
def test_a_spec_refuses_a_timeout_trio_could_not_wait_for(
    field: str, value: float, message: str
) -> None:
    # A negative handshake timeout used to hang the supervisor, not fail.
    with pytest.raises(ValueError, match=f"plugin 'x': {message}"):
        PluginSpec(id="x", command=("p.py",), **{field: value})
    PluginSpec(id="x", command=("p.py",), call_timeout=None, shutdown_timeout=0.0)
