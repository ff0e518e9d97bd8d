"""The public surface of plugin_sdk is pinned: nothing added or dropped by accident."""

from __future__ import annotations

import plugin_sdk
import plugin_sdk.testing


def test_plugin_sdk_exports_exactly_its_curated_names() -> None:
    assert sorted(plugin_sdk.__all__) == [
        "Host",
        "HostStream",
        "Plugin",
        "PluginError",
        "blocking",
        "host",
        "run",
        "serve",
    ]
    public = {name for name in vars(plugin_sdk) if not name.startswith("_")}
    assert public - {"testing"} == set(plugin_sdk.__all__)


def test_plugin_sdk_testing_exports_exactly_its_curated_names() -> None:
    assert sorted(plugin_sdk.testing.__all__) == [
        "HostCall",
        "StreamResult",
        "TestHost",
        "TestStream",
        "open_test_host",
    ]
    public = {name for name in vars(plugin_sdk.testing) if not name.startswith("_")}
    assert public == set(plugin_sdk.testing.__all__)


def test_plugin_error_is_the_engines_handler_error() -> None:
    from pluginrt.rpc import HandlerError

    assert issubclass(plugin_sdk.PluginError, HandlerError)
