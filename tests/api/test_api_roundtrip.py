"""Every wire Struct survives the wire: decode(encode(x)) == x, and encode is stable.

The Structs are found by walking ``pluginrt.api``'s exports and the method
table, and their values are built from ``msgspec.inspect``, so a new Struct
is covered the day it is added.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pluginrt.api as api


def wire_structs() -> list[type[msgspec.Struct]]:
    found: set[type[msgspec.Struct]] = set()
    for name in api.__all__:
        value = getattr(api, name)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            found.add(value)
    for method in api.METHODS.values():
        found.add(method.params)
        if method.result is not None:
            found.add(method.result)
    return sorted(found, key=lambda c: c.__name__)


INT64 = st.integers(-(2**63), 2**63 - 1)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda m: datetime.timezone(datetime.timedelta(minutes=m))
)
TIMES = st.one_of(
    st.just(api.ZERO_TIME),
    st.datetimes(
        min_value=datetime.datetime(2, 1, 1),
        max_value=datetime.datetime(9998, 12, 31),
        timezones=st.one_of(st.just(datetime.UTC), OFFSETS),
    ),
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | INT64
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


def strategy(t: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    if isinstance(t, msgspec.inspect.StructType):
        return struct_strategy(t.cls)
    if isinstance(t, msgspec.inspect.UnionType):
        return st.one_of(*(strategy(m) for m in t.types))
    if isinstance(t, msgspec.inspect.ListType):
        return st.lists(strategy(t.item_type), max_size=3)
    if isinstance(t, msgspec.inspect.DictType):
        return st.dictionaries(strategy(t.key_type), strategy(t.value_type), max_size=3)
    simple: dict[type[msgspec.inspect.Type], st.SearchStrategy[Any]] = {
        msgspec.inspect.NoneType: st.none(),
        msgspec.inspect.StrType: st.text(),
        msgspec.inspect.BoolType: st.booleans(),
        msgspec.inspect.IntType: INT64,
        msgspec.inspect.FloatType: st.floats(allow_nan=False, allow_infinity=False),
        msgspec.inspect.BytesType: st.binary(max_size=40),
        msgspec.inspect.DateTimeType: TIMES,
        msgspec.inspect.AnyType: JSON,
    }
    return simple[type(t)]


@functools.cache
def struct_strategy(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return st.builds(cls, **{f.name: strategy(f.type) for f in info.fields})


STRUCTS = wire_structs()


def test_the_walk_finds_every_seed_and_protocol_struct() -> None:
    names = {c.__name__ for c in STRUCTS}
    assert {"ExecutorRequest", "HostAuthFileEntry", "RegisterParams", "StreamChunk"} <= names
    assert len(STRUCTS) > 80


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_wire_struct_round_trips_and_encodes_stably(
    cls: type[msgspec.Struct], data: st.DataObject
) -> None:
    value = data.draw(struct_strategy(cls))
    wire = api.encode(value)
    again = api.decode(wire, cls)
    assert again == value
    assert api.encode(again) == wire


@settings(max_examples=50, deadline=None)
@given(when=TIMES)
def test_times_keep_their_offset_and_microseconds(when: datetime.datetime) -> None:
    again = api.decode(api.encode(api.UsageRecord(requested_at=when)), api.UsageRecord)
    assert again.requested_at == when
    assert again.requested_at.utcoffset() == when.utcoffset()
    assert again.requested_at.microsecond == when.microsecond
