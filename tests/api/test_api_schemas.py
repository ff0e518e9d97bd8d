"""schemas/ is generated from METHODS and must not drift from the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_api_roundtrip import struct_strategy

from pluginrt.api import METHODS, encode
from pluginrt.api._schema import DIALECT, generate_schemas
from pluginrt.cli import main

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_the_checked_in_schemas_are_what_the_code_generates() -> None:
    expected = generate_schemas()
    on_disk = {p.name: p.read_bytes() for p in SCHEMAS.glob("*.json")}
    assert sorted(on_disk) == sorted(expected)
    drifted = [name for name, content in expected.items() if on_disk[name] != content]
    assert drifted == [], "run `pluginrt schemas` and commit the result"


def test_every_method_has_a_draft_2020_12_schema_of_its_params_and_result() -> None:
    files = generate_schemas()
    for method in METHODS.values():
        doc = json.loads(files[method.name.replace("$/", "_") + ".json"])
        assert doc["$schema"] == DIALECT and doc["title"] == method.name
        params_ref = doc["properties"]["params"]["$ref"]
        assert params_ref == f"#/$defs/{method.params.__name__}"
        if method.result is None:
            assert "result" not in doc["properties"]
        else:
            assert doc["properties"]["result"]["$ref"] == f"#/$defs/{method.result.__name__}"


def test_schemas_carry_go_wire_names_and_accept_null_for_go_nil() -> None:
    doc = json.loads(generate_schemas()["executor.execute_stream.json"])
    props = doc["$defs"]["ExecutorStreamRequest"]["properties"]
    assert {"AuthID", "StorageJSON", "stream_id", "window"} <= set(props)
    assert {"type": "null"} in props["Headers"]["anyOf"]
    assert props["Payload"]["anyOf"][0] == {"type": "string", "contentEncoding": "base64"}


def test_the_cli_check_passes_on_the_repo_and_lists_drifted_files(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["schemas", "--check", str(SCHEMAS)])
    assert ok.exit_code == 0, ok.output

    written = runner.invoke(main, ["schemas", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert runner.invoke(main, ["schemas", "--check", str(tmp_path)]).exit_code == 0

    (tmp_path / "executor.execute.json").write_text("{}")
    (tmp_path / "old.method.json").write_text("{}")
    (tmp_path / "auth.parse.json").unlink()
    drift = runner.invoke(main, ["schemas", "--check", str(tmp_path)])
    assert drift.exit_code == 1
    for name in ("executor.execute.json", "old.method.json", "auth.parse.json"):
        assert name in drift.output
    assert "host.log.json" not in drift.output

    assert runner.invoke(main, ["schemas", str(tmp_path)]).exit_code == 0
    assert not (tmp_path / "old.method.json").exists()
    assert runner.invoke(main, ["schemas", "--check", str(tmp_path)]).exit_code == 0


def test_the_cli_reports_its_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "pluginrt" in result.output


_PARTS = [
    (method.name, part, type_)
    for method in METHODS.values()
    for part, type_ in (("params", method.params), ("result", method.result))
    if type_ is not None
]


@pytest.mark.parametrize(
    ("method", "part", "type_"), _PARTS, ids=[f"{m}:{p}" for m, p, _ in _PARTS]
)
def test_every_value_we_encode_is_valid_against_its_schema(
    method: str, part: str, type_: type[Any]
) -> None:
    # What a peer validating our messages with schemas/ sees: nothing it would refuse.
    doc = json.loads((SCHEMAS / f"{method.replace('$/', '_')}.json").read_text())
    validator = jsonschema.Draft202012Validator(
        {**doc["properties"][part], "$defs": doc.get("$defs", {})},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        value = data.draw(struct_strategy(type_))
        errors = [
            f"{list(e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(json.loads(encode(value)))
        ]
        assert errors == [], errors

    check()


_GO_FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "go_requests.json").read_text())


@pytest.mark.parametrize("name", sorted(_GO_FIXTURES))
def test_every_go_shaped_fixture_is_valid_against_the_schemas_of_its_methods(name: str) -> None:
    # JSON as Go writes it (nulls for nil, nanosecond times): the schemas must accept it too.
    methods = [m.name for m in METHODS.values() if m.params.__name__ == name]
    assert methods, name
    for method in methods:
        doc = json.loads((SCHEMAS / f"{method.replace('$/', '_')}.json").read_text())
        validator = jsonschema.Draft202012Validator(
            {**doc["properties"]["params"], "$defs": doc.get("$defs", {})},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        errors = [
            f"{list(e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(_GO_FIXTURES[name])
        ]
        assert errors == [], (method, errors)
