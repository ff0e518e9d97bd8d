"""The public surface of plugin_sdk is pinned (nothing added or dropped by accident), and
its help says what an author needs to know."""

from __future__ import annotations

import pydoc

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


def help_text(thing: object) -> str:
    return " ".join(pydoc.render_doc(thing, renderer=pydoc.plaintext).split())


def test_help_says_async_tests_need_pytest_trio() -> None:
    text = help_text(plugin_sdk.testing)
    assert "pytest-trio" in text
    assert "trio_mode = true" in text
    assert "@pytest.mark.trio" in text


def test_help_says_where_a_refused_callbacks_string_code_is() -> None:
    # RemoteError.code is the JSON-RPC integer; the host's string code is .data.code.
    text = help_text(plugin_sdk)
    assert "``.data.code``" in text
    assert "``.code`` is the JSON-RPC error number" in text
    assert "``http_status`` and ``code``" not in text


def test_help_says_stream_chunks_may_be_str_as_well_as_bytes() -> None:
    assert "each ``bytes`` or ``str`` (sent as UTF-8)" in help_text(plugin_sdk.Plugin.on)
