"""Wire conventions shared by every contract type.

Go's ``encoding/json`` writes ``null`` for nil slices, maps, byte slices and
pointers, and for nil slices held inside maps and slices. Python code should
not have to care: a field declared ``Bytes``, ``List[T]`` or ``Map[K, V]`` is
typed (for mypy) as plain ``bytes`` / ``list`` / ``dict``, while msgspec is
told it may also be ``null`` on the wire. ``Wire.__post_init__`` then turns
every such ``None`` into the field's empty value, so a decoded value never
holds ``None`` where its type says it cannot.

Go field names are kept on the wire with ``rename=go`` on each class (or a
per-field ``msgspec.field(name=...)`` where the seed gives a ``json`` tag).
"""

from __future__ import annotations

import collections.abc
import datetime
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

import msgspec

__all__ = [
    "ZERO_TIME",
    "Bytes",
    "Duration",
    "Header",
    "List",
    "Map",
    "Time",
    "Values",
    "Wire",
    "go",
]

#: Go's zero ``time.Time``, written ``0001-01-01T00:00:00Z``.
ZERO_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)

#: ``time.Duration``: integer nanoseconds, exact.
Duration = int
#: ``time.Time``: RFC 3339 on the wire, timezone-aware in Python.
Time = datetime.datetime

if TYPE_CHECKING:
    Bytes = bytes
    List = list
    Map = dict
else:
    Bytes = Optional[bytes]  # noqa: UP045 - must be a runtime typing object

    class List:
        """``List[T]``: a Go slice; ``null`` on the wire decodes to ``[]``."""

        def __class_getitem__(cls, item: Any) -> Any:
            return Optional[list[item]]  # noqa: UP045

    class Map:
        """``Map[K, V]``: a Go map; ``null`` on the wire decodes to ``{}``."""

        def __class_getitem__(cls, item: Any) -> Any:
            key, value = item
            return Optional[dict[key, value]]  # noqa: UP045


#: ``http.Header``: header name to its values.
Header = Map[str, List[str]]
#: ``url.Values``: query parameter to its values.
Values = Map[str, List[str]]


# What msgspec decodes as an array or an object (its own table of concrete types),
# by the origin typing.get_origin() gives.
_LISTS: frozenset[Any] = frozenset(
    {
        list,
        collections.abc.Collection,
        collections.abc.MutableSequence,
        collections.abc.Sequence,
    }
)
_DICTS: frozenset[Any] = frozenset({dict, collections.abc.MutableMapping, collections.abc.Mapping})


def _bare(t: Any) -> Any:
    """``t`` without the wrappers msgspec looks through: Annotated, Final, NewType."""
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated or origin is typing.Final:
            t = typing.get_args(t)[0]
        elif getattr(t, "__supertype__", None) is not None:
            t = t.__supertype__
        else:
            return t


def _nullable(t: Any) -> Any:
    """The other member of a union of None and exactly one other type (UNSET aside), else None."""
    t = _bare(t)
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return None
    members = [_bare(m) for m in typing.get_args(t) if m is not msgspec.UnsetType]
    rest = [m for m in members if m is not type(None)]
    return rest[0] if len(rest) == 1 < len(members) else None


def _empty_of(t: Any) -> tuple[Any, tuple[Any, ...]] | None:
    """For a nullable bytes, array or object type ``t``: the factory of the empty
    value its ``null`` stands for, and its type arguments; else None."""
    member = _nullable(t)
    if member is None:
        return None
    if member is bytes:
        return bytes, ()
    container = typing.get_origin(member) or member
    if container in _LISTS:
        return list, typing.get_args(member)
    if container in _DICTS:
        return dict, typing.get_args(member)
    return None


_ACRONYMS = {
    "id": "ID",
    "json": "JSON",
    "url": "URL",
    "http": "HTTP",
    "api": "API",
    "ttft": "TTFT",
    "github": "GitHub",
    "oauth": "OAuth",
}


def go(name: str) -> str:
    """The Go field name of a snake_case attribute: ``storage_json`` -> ``StorageJSON``."""
    return "".join(_ACRONYMS.get(part) or part.capitalize() for part in name.split("_"))


# A fixer is (attribute, empty factory, inner factory or None, inner is dict).
_Fixer = tuple[str, Any, Any, bool]


def _fixer_of(t: Any) -> tuple[Any, Any, bool] | None:
    """The fixer's (empty factory, inner factory or None, inner is dict) for a field
    of resolved type ``t``; None if its ``null`` needs no fixing."""
    empty = _empty_of(t)
    if empty is None:
        return None
    outer, args = empty
    inner = None
    if args:  # a list's items, a dict's values
        nested = _empty_of(args[-1])
        inner = None if nested is None else nested[0]
    return outer, inner, outer is dict


def _fixers_for(cls: type[Wire]) -> tuple[_Fixer, ...]:
    # msgspec.structs.fields resolves this class's own fields only (type_info
    # would resolve every nested type too: milliseconds on a plugin's first call).
    fixers = ((f.name, _fixer_of(f.type)) for f in msgspec.structs.fields(cls))
    return tuple((name, *fixer) for name, fixer in fixers if fixer is not None)


class Wire(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every contract type: keyword-only, zero values omitted, nulls absorbed."""

    def __post_init__(self) -> None:
        fix = _FIX.get(type(self))
        if fix is None:
            fix = _FIX[type(self)] = _compile(_fixers_for(type(self)))
        fix(self)


#: The compiled null fixer of each Wire class, made on its first value.
_FIX: dict[type, Callable[[Any], None]] = {}


def _compile(fixers: tuple[_Fixer, ...]) -> Callable[[Any], None]:
    """One function doing what ``fixers`` say, attribute by attribute, with no loop
    (it runs on every decoded value: a generic loop cost most of a decode)."""
    namespace: dict[str, Any] = {}
    lines = ["def fix(self):", "    pass"]
    for index, (name, outer, inner, is_dict) in enumerate(fixers):
        namespace[f"outer{index}"] = outer
        namespace[f"inner{index}"] = inner
        lines.append(f"    value = self.{name}")
        lines.append(f"    if value is None: self.{name} = outer{index}()")
        if inner is not None and is_dict:
            lines.append("    elif value and None in value.values():")
            lines.append("        for key, item in value.items():")
            lines.append(f"            if item is None: value[key] = inner{index}()")
        elif inner is not None:
            lines.append("    elif value and None in value:")
            lines.append(f"        value[:] = [inner{index}() if v is None else v for v in value]")
    exec("\n".join(lines), namespace)  # field names are identifiers: nothing to escape
    fix: Callable[[Any], None] = namespace["fix"]
    return fix
