"""The mirror: every struct and field of the seed contract has its Struct and wire name.

The seed (``schemas/pluginapi.go``) is parsed with regular expressions, enough
for its plain ``type X struct { ... }`` blocks. A field is on the wire unless
it is tagged ``json:"-"`` or its type is an interface, a channel or ``error``
(``HTTPClient``, route ``Handler``s, stream ``Chunks``/``Err``).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

import pluginrt.api as api
from pluginrt.api import METHODS
from pluginrt.rpc._messages import StreamChunk, StreamEnd

SEED = Path(__file__).resolve().parents[2] / "schemas" / "pluginapi.go"
SOURCE = SEED.read_text()

STRUCT_RE = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
FIELD_RE = re.compile(r"^\s+(\w+)\s+([^`\s/][^`]*?)\s*(?:`([^`]*)`)?\s*$")
INTERFACES = set(re.findall(r"^type (\w+) interface \{", SOURCE, re.M))
STRING_ENUMS = set(re.findall(r"^type (\w+) string$", SOURCE, re.M))


class GoField:
    def __init__(self, name: str, go_type: str, tag: str | None) -> None:
        self.name = name
        self.go_type = go_type
        json_tag = re.search(r'json:"([^"]*)"', tag or "")
        self.skipped = json_tag is not None and json_tag.group(1) == "-"
        self.wire_name = json_tag.group(1).split(",")[0] if json_tag else name
        self.wire_name = self.wire_name or name

    @property
    def carries_go_runtime_object(self) -> bool:
        base = self.go_type.lstrip("*[]")
        return base in INTERFACES or base == "error" or "chan " in self.go_type


def seed_structs() -> dict[str, list[GoField]]:
    structs: dict[str, list[GoField]] = {}
    for name, body in STRUCT_RE.findall(SOURCE):
        fields = []
        for line in body.splitlines():
            if line.strip().startswith("//") or not line.strip():
                continue
            match = FIELD_RE.match(line)
            assert match, f"unparsed field line in {name}: {line!r}"
            fields.append(GoField(*match.groups()))
        structs[name] = fields
    return structs


SEED_STRUCTS = seed_structs()

# The seed types that only carry Go channels or interfaces, and their wire
# shapes (DESIGN.md, "The wire"): seed field -> wire name (None: not on the
# wire, replaced by a message), plus the wire names the protocol adds.
CARRIERS: dict[str, tuple[type[Any], dict[str, str | None], set[str]]] = {
    # The handshake result is the plugin: lowercase keys, plus the version.
    "Plugin": (
        api.RegisterResult,
        {"Metadata": "metadata", "Capabilities": "capabilities"},
        {"protocol_version"},
    ),
    # Interface-typed capabilities become declaration objects, same names.
    "Capabilities": (api.Capabilities, {}, set()),  # filled below: identity
    # The channel becomes host.http.stream_read on stream_id.
    "HTTPStreamResponse": (
        api.HostHTTPStreamResponse,
        {"StatusCode": "StatusCode", "Headers": "Headers", "Chunks": None},
        {"stream_id"},
    ),
    # The channel becomes stream.chunk / stream.end notifications.
    "ExecutorStreamResponse": (
        api.ExecutorStreamStart,
        {"Headers": "Headers", "Chunks": None},
        set(),
    ),
    # One chunk is a stream.chunk notification; Err is stream.end's error.
    "HTTPStreamChunk": (StreamChunk, {"Payload": "payload", "Err": None}, {"stream_id"}),
    "ExecutorStreamChunk": (StreamChunk, {"Payload": "payload", "Err": None}, {"stream_id"}),
}
CARRIERS["Capabilities"][1].update({f.name: f.name for f in SEED_STRUCTS["Capabilities"]})


def wire_names(cls: type[Any]) -> set[str]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name for f in info.fields}


def test_the_seed_parses_into_its_struct_types() -> None:
    assert len(SEED_STRUCTS) == SOURCE.count(" struct {")
    assert len(SEED_STRUCTS) == 77
    assert {f.name for f in SEED_STRUCTS["AuthLoginStartRequest"] if f.skipped} == {"HTTPClient"}


@pytest.mark.parametrize("name", sorted(set(SEED_STRUCTS) - set(CARRIERS)))
def test_every_seed_struct_has_a_struct_with_the_same_wire_names(name: str) -> None:
    cls = getattr(api, name, None)
    assert isinstance(cls, type) and issubclass(cls, msgspec.Struct), (
        f"pluginrt.api.{name} is missing"
    )
    expected = {
        f.wire_name for f in SEED_STRUCTS[name] if not f.skipped and not f.carries_go_runtime_object
    }
    assert wire_names(cls) == expected


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_every_channel_or_interface_carrier_has_its_documented_wire_shape(name: str) -> None:
    cls, mapping, extra = CARRIERS[name]
    assert {f.name for f in SEED_STRUCTS[name]} == set(mapping), "the seed changed"
    assert wire_names(cls) == {w for w in mapping.values() if w is not None} | extra


def test_stream_chunks_and_their_errors_travel_as_stream_notifications() -> None:
    assert METHODS["stream.chunk"].params is StreamChunk
    assert METHODS["stream.end"].params is StreamEnd
    assert METHODS["executor.execute_stream"].result is api.ExecutorStreamStart
    assert METHODS["host.http.do_stream"].result is api.HostHTTPStreamResponse


def _go_kind(go_type: str) -> str:
    if go_type == "[]byte":
        return "bytes"
    if go_type.startswith("[]"):
        return "list"
    if go_type.startswith("map[") or go_type in {"http.Header", "url.Values"}:
        return "dict"
    if go_type.startswith("*"):
        return "optional " + go_type[1:]
    if go_type in {"string", *STRING_ENUMS}:
        return "str"
    if go_type in {"int", "int64", "time.Duration"}:
        return "int"
    return {"bool": "bool", "time.Time": "datetime", "json.RawMessage": "any"}.get(go_type, go_type)


def _py_kind(t: msgspec.inspect.Type) -> str:
    if isinstance(t, msgspec.inspect.UnionType):
        rest = [m for m in t.types if not isinstance(m, msgspec.inspect.NoneType)]
        assert len(rest) == 1
        kind = _py_kind(rest[0])
        return kind if kind in {"bytes", "list", "dict"} else "optional " + kind
    if isinstance(t, msgspec.inspect.StructType):
        return t.cls.__name__
    simple = {
        msgspec.inspect.BytesType: "bytes",
        msgspec.inspect.ListType: "list",
        msgspec.inspect.DictType: "dict",
        msgspec.inspect.StrType: "str",
        msgspec.inspect.IntType: "int",
        msgspec.inspect.BoolType: "bool",
        msgspec.inspect.DateTimeType: "datetime",
        msgspec.inspect.AnyType: "any",
    }
    return simple[type(t)]


@pytest.mark.parametrize("name", sorted(set(SEED_STRUCTS) - set(CARRIERS)))
def test_every_wire_field_has_the_python_type_of_its_go_type(name: str) -> None:
    info = msgspec.inspect.type_info(getattr(api, name))
    assert isinstance(info, msgspec.inspect.StructType)
    by_wire = {f.encode_name: f for f in info.fields}
    for go_field in SEED_STRUCTS[name]:
        if go_field.skipped or go_field.carries_go_runtime_object:
            continue
        field = by_wire[go_field.wire_name]
        assert _py_kind(field.type) == _go_kind(go_field.go_type), go_field.name


@pytest.mark.parametrize("name", sorted(set(SEED_STRUCTS) - set(CARRIERS)))
def test_every_wire_field_defaults_to_its_go_zero_value(name: str) -> None:
    value = getattr(api, name)()
    zero = {
        "bytes": b"", "list": [], "dict": {}, "str": "", "int": 0, "bool": False,
        "datetime": api.ZERO_TIME, "any": None,
    }  # fmt: skip
    info = msgspec.inspect.type_info(type(value))
    assert isinstance(info, msgspec.inspect.StructType)
    for field in info.fields:
        kind = _py_kind(field.type)
        actual = getattr(value, field.name)
        if kind.startswith("optional "):
            assert actual is None, field.name
        elif kind in zero:
            assert actual == zero[kind] and type(actual) is type(zero[kind]), field.name
        else:
            assert actual == getattr(api, kind)(), field.name


ENUM_CONST_RE = re.compile(r'^\s+(\w+)\s+(\w+)\s+=\s+"([^"]*)"$', re.M)


@pytest.mark.parametrize("enum_name", ["ConfigFieldType", "ExecutorModelScope", "AuthLoginStatus"])
def test_the_string_enums_have_exactly_the_seeds_values(enum_name: str) -> None:
    consts = {
        const[len(enum_name) :]: value
        for const, type_name, value in ENUM_CONST_RE.findall(SOURCE)
        if type_name == enum_name
    }
    assert enum_name in STRING_ENUMS and consts
    enum_cls = getattr(api, enum_name)
    assert {m.name.replace("_", "").lower(): m.value for m in enum_cls} == {
        k.lower(): v for k, v in consts.items()
    }


def test_the_seeds_untyped_constants_have_the_same_values() -> None:
    index = re.search(r"^const StreamChunkHeaderInitIndex = (-?\d+)$", SOURCE, re.M)
    assert index and int(index.group(1)) == api.STREAM_CHUNK_HEADER_INIT_INDEX
    builtins = dict(re.findall(r'^\s+SchedulerBuiltin(\w+) = "([^"]*)"$', SOURCE, re.M))
    assert builtins == {
        "RoundRobin": api.SCHEDULER_BUILTIN_ROUND_ROBIN,
        "FillFirst": api.SCHEDULER_BUILTIN_FILL_FIRST,
    }


def test_zero_time_is_gos_zero_time() -> None:
    assert datetime.datetime(1, 1, 1, tzinfo=datetime.UTC) == api.ZERO_TIME
    assert api.encode(api.ZERO_TIME) == b'"0001-01-01T00:00:00Z"'
