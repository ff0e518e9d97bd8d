"""Go's flag syntax for plugin-declared flags: the one place that knows it.

The seed's host registers a plugin's flags with Go's ``flag`` package, so a
``DefaultValue`` and a value given on the command line are read as that
package reads them, and ``CommandLineFlagValue.Value`` is the parsed value
as Go prints it:

- bool: ``strconv.ParseBool`` (1 t T TRUE true True, 0 f F FALSE false
  False); printed ``true`` or ``false``.
- int, int64: ``strconv.ParseInt(s, 0, 64)`` (``-42``, ``0x10``, ``0o17``,
  ``017``, ``0b101``, ``1_000``; int64 bounds); printed in decimal.
- float64: ``strconv.ParseFloat`` (``1.5``, ``.5``, ``1e3``, ``1_000.5``,
  ``0x1p-2``, ``inf``, ``NaN``; beyond float64 is out of range); printed as
  ``FormatFloat(f, 'g', -1, 64)`` (``1.5``, ``1e+06``, ``1e-05``, ``+Inf``):
  Python's ``repr`` picks the same shortest round-trip digits, laid out here
  as Go lays them out.
- duration: ``time.ParseDuration`` (``1m30s``, ``300us``, ``300µs``,
  ``-1.5h``, ``0``); printed as ``Duration.String()`` (``1m30s``,
  ``1h30m0s``, ``300µs``, ``0s``).
- string: anything, printed as given.

An empty ``DefaultValue`` is the type's zero value. On the command line a
flag is ``-name`` or ``--name``; a bool flag takes a value only after ``=``
(``-b1=false``): ``-b1`` alone is true and the next argument is not its value
(:func:`spell_flags`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from decimal import Decimal
from fractions import Fraction

__all__ = ["canonical", "format_value", "parse", "spell_flags", "zero"]

Value = bool | int | float | str

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INT64 = 1 << 63
#: Go's duration units in nanoseconds (µ is U+00B5, μ is U+03BC: Go takes both).
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}  # fmt: skip
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_FLOAT = re.compile(r"[+-]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?")
_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][+-]?[0-9_]+"
)
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)


def parse(type_: str, text: str) -> Value:
    """``text`` read as Go's flag package reads a flag of ``type_`` (durations: nanoseconds).

    ValueError says what was expected; an unknown type is one too.
    """
    if type_ in ("", "bool"):
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError("expected a bool: true, false, 1, 0, t or f")
    if type_ == "string":
        return text
    if type_ in ("int", "int64"):
        return _parse_int(text)
    if type_ == "float64":
        return _parse_float(text)
    if type_ == "duration":
        return _parse_duration(text)
    raise ValueError(f"unknown flag type {type_!r}")


def format_value(type_: str, value: Value) -> str:
    """``value`` (from :func:`parse`) as Go prints a flag of ``type_``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_ == "duration" and isinstance(value, int):
        return _duration_string(value)
    if isinstance(value, float):
        return _format_float(value)
    return str(value)


def zero(type_: str) -> str:
    """The zero value of ``type_`` as Go prints it: an empty default means this."""
    return {"": "false", "bool": "false", "int": "0", "int64": "0", "float64": "0",
            "duration": "0s"}.get(type_, "")  # fmt: skip


def canonical(type_: str, text: str) -> str:
    """``text`` parsed and printed as Go would (an empty non-string is the zero value)."""
    if not text and type_ != "string":
        return zero(type_)
    return format_value(type_, parse(type_, text))


def spell_flags(args: Sequence[str], bools: Collection[str], valued: Collection[str]) -> list[str]:
    """``args`` with each flag spelled ``--name=value``, or ``--name`` and then its value.

    Go's flag package takes ``-name`` and ``--name`` alike, a value after
    ``=`` or (not a bool's) in the next argument, and a bool alone as true:
    ``-b false`` is ``b`` true and the argument ``false``. ``bools`` and
    ``valued`` are the names of the bool and the other flags. Any other
    argument with one dash gets two as well, so that an unknown ``-nope`` is
    reported whole (``--nope``), not as its first letter. As in Go, flags end at
    ``--`` or at the first argument that is none (``-`` is one): what follows is
    arguments, after a ``--`` so that no parser reads a flag among them.
    """
    spelled: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            spelled.append(arg)
            spelled.extend(rest)
        elif arg == "-" or not arg.startswith("-"):
            spelled += ["--", arg, *rest]
        else:
            flag = arg[2:] if arg.startswith("--") else arg[1:]
            spelled.append(f"--{flag}=true" if flag in bools else f"--{flag}")
            if flag in valued:
                value = next(rest, None)
                if value is not None:
                    spelled.append(value)
    return spelled


# ------------------------------------------------------------------ numbers


def _parse_int(text: str) -> int:
    """``strconv.ParseInt(text, 0, 64)``: a sign, a base prefix (``0x``, ``0o``, ``0b``,
    or a bare leading ``0`` for octal) and ``_`` between digits."""
    expected = "expected an integer such as 42, -7, 0x10, 0o17, 0b101 or 1_000"
    body = text[1:] if text[:1] in ("+", "-") else text
    # int() would take spaces, "٣" or "+-1"; Go takes none of them.
    if not body.isascii() or not body[:1].isdigit() or body != body.rstrip():
        raise ValueError(expected)
    if len(body) > 1 and body[0] == "0" and body[1] not in "xXoObB":
        text = text[: len(text) - len(body)] + "0o" + body[1:]  # Go's 017 is octal
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(expected) from None
    if not -_INT64 <= value < _INT64:
        raise ValueError("value out of range (int64)")
    return value


def _parse_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``: decimal or hex (``0x1p-2``) with ``_`` between
    digits, or inf, infinity, nan; a number beyond float64 is out of range."""
    if _SPECIAL.fullmatch(text):
        return float(text)
    try:
        if _HEX_FLOAT.fullmatch(text):
            value = float.fromhex(_hex_digits(text))
        elif _FLOAT.fullmatch(text):
            value = float(text)  # Python's "_" rules are Go's for decimals
        else:
            raise ValueError(text)
    except OverflowError:
        value = float("inf")
    except ValueError:
        raise ValueError("expected a number such as 1.5, -2, 1e3 or 0x1p-2") from None
    if value in (float("inf"), float("-inf")):
        raise ValueError("value out of range (float64)")
    return value


def _hex_digits(text: str) -> str:
    """A hex float without its ``_`` separators, if each stands between two digits or
    after the ``0x`` (``float.fromhex`` takes none)."""
    check = re.sub(r"^([+-]?0[xX])_", r"\g<1>0", text)
    if re.search(r"(?<![0-9a-fA-F])_|_(?![0-9a-fA-F])", check):
        raise ValueError(text)
    return text.replace("_", "")


def _format_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 64)``: the shortest digits, in %e form when
    the exponent is below -4 or at least 6 (with at least two exponent digits)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    if digits == "0":
        return "-0" if sign else "0"
    assert isinstance(exponent, int)
    point = len(digits) + exponent  # where the decimal point goes
    minus = "-" if sign else ""
    if not -4 <= point - 1 < 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{minus}{mantissa}e{point - 1:+03d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return minus + digits + "0" * (point - len(digits))
    return f"{minus}{digits[:point]}.{digits[point:]}"


# ---------------------------------------------------------------- durations


def _parse_duration(text: str) -> int:
    """``time.ParseDuration``: ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`` (units ns us µs ms s m h)
    or ``0``; nanoseconds, within int64."""
    expected = "expected a duration such as 1m30s, 300ms, 1.5h, -1s or 0"
    body = text[1:] if text[:1] in ("+", "-") else text
    if body == "0":
        return 0
    if not body:
        raise ValueError(expected)
    total = 0
    position = 0
    while position < len(body):
        match = _COMPONENT.match(body, position)
        assert match is not None  # every group may be empty
        whole, fraction, unit = match.groups()
        if not (whole or fraction) or unit not in _UNITS:
            raise ValueError(expected)
        number = Fraction(int(whole or "0")) + (
            Fraction(int(fraction), 10 ** len(fraction)) if fraction else 0
        )
        total += int(number * _UNITS[unit])  # Go drops a fraction of a nanosecond
        position = match.end()
    nanoseconds = total
    if text.startswith("-"):
        nanoseconds = -nanoseconds
    if not -_INT64 <= nanoseconds < _INT64:
        raise ValueError("value out of range (a duration is at most about 292 years)")
    return nanoseconds


def _duration_string(nanoseconds: int) -> str:
    """Go's ``Duration.String()``: ``1h30m0s``, ``1.5s``, ``300µs``, ``12ns``, ``0s``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    size = abs(nanoseconds)
    if size < 1_000:
        return f"{sign}{size}ns"
    if size < 1_000_000:
        return f"{sign}{_decimal(size, 1_000)}µs"
    if size < 1_000_000_000:
        return f"{sign}{_decimal(size, 1_000_000)}ms"
    minutes, rest = divmod(size, 60_000_000_000)
    text = f"{_decimal(rest, 1_000_000_000)}s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, scale: int) -> str:
    """``value / scale`` written exactly, without trailing zeros (``scale`` a power of 10)."""
    whole, rest = divmod(value, scale)
    if not rest:
        return str(whole)
    width = len(str(scale)) - 1
    return f"{whole}.{str(rest).rjust(width, '0').rstrip('0')}"
