"""Hypothesis fuzzing of what parses outside input: the config loader and the route normalizers.

CI runs a bounded number of examples; for a deeper local run set
``PLUGINRT_FUZZ_EXAMPLES`` (e.g. ``PLUGINRT_FUZZ_EXAMPLES=20000 pytest tests/faults -k fuzz``).
The line framer's properties live in ``tests/rpc/test_rpc_framing.py``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pluginrt._host import MANAGEMENT_BASE, RESOURCE_BASE, _management_route, _resource_route
from pluginrt.api import ManagementRoute, ResourceRoute
from pluginrt.config import ConfigError, load_config

EXAMPLES = int(os.environ.get("PLUGINRT_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_keys = st.sampled_from(
    [
        "host",
        "port",
        "api-keys",
        "management-key",
        "auth-dir",
        "plugins",
        "id",
        "command",
        "timeout",
        "restart",
        "max-restarts",
        "backoff",
        "env",
        "config",
        "logging",
        "level",
        "max-body-size",
        "enabled",
        "priority",
        "max-line",
        "scheduler",
        "bogus",
    ]
)
_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=12) | st.sampled_from(["30s", "500ms", "-1s", "2m", "1e9h", "x.py"])
)  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_keys | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=15,
)
_documents = st.dictionaries(_keys, _values, max_size=6).map(
    lambda d: yaml.safe_dump(d, allow_unicode=True)
)
_texts = st.text(max_size=200) | _documents


@fuzz
@given(_texts)
def test_fuzz_any_yaml_text_loads_or_is_a_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        with contextlib.suppress(ConfigError):
            load_config(path)


@fuzz
@given(st.binary(max_size=200))
def test_fuzz_any_bytes_in_a_config_file_load_or_are_a_config_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_bytes(data)
        with contextlib.suppress(ConfigError):
            load_config(path)


_paths = st.lists(
    st.sampled_from(["", ".", "..", "a", "v0", "management", "resource", "plugins", "p",
                     "%2e%2e", "a b", "x:y", "*", "\\..", "\x00", "\t"]) | st.text(max_size=6),
    max_size=6,
).map("/".join) | st.text(max_size=30)  # fmt: skip


def _safe(path: str) -> bool:
    segments = path.split("/")
    return ".." not in segments and not any(c.isspace() for c in path)


@fuzz
@given(_paths, st.text(max_size=8))
def test_fuzz_a_management_route_is_refused_or_lands_under_the_management_base(
    path: str, method: str
) -> None:
    binding = _management_route("p", ManagementRoute(method=method, path=path))
    if binding is not None:
        assert binding.path.startswith(MANAGEMENT_BASE + "/")
        assert _safe(binding.path)
        assert binding.method == (method or "GET").upper()


@fuzz
@given(_paths)
def test_fuzz_a_resource_route_is_refused_or_lands_under_its_plugins_base(path: str) -> None:
    binding = _resource_route("p", ResourceRoute(path=path))
    if binding is not None:
        assert binding.path.startswith(f"{RESOURCE_BASE}/p/")
        assert _safe(binding.path)
        assert binding.method == "GET"
