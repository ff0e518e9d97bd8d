"""The one codec both sides use: :func:`encode` and :func:`decode`.

Encoding is Go-compatible by construction of the Structs (see ``_wire``).
Decoding never lets a bare msgspec error escape: every failure is a
:class:`DecodeError` (malformed JSON) or a :class:`ValidationError` (JSON of
the wrong shape) whose message names the expected type and, where msgspec
knows it, the field path: ``ExecutorRequest: Expected `str`, got `int` - at
`$.Headers[...][0]```.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, overload

import msgspec

__all__ = ["DecodeError", "ValidationError", "decode", "encode"]

T = TypeVar("T")

#: Compiled on the first validation error (re caches it): not at every plugin's import.
_PATH = r" - at `(?P<path>[^`]*)`$"


class DecodeError(msgspec.DecodeError):
    """The input could not be decoded as the expected type.

    ``type_name`` is the expected type, ``path`` the JSON path of the offending
    value (``$`` for the whole document), ``reason`` msgspec's own words.
    """

    def __init__(self, type_name: str, reason: str, path: str = "$") -> None:
        self.type_name = type_name
        self.reason = reason
        self.path = path
        super().__init__(f"{type_name}: {reason}")


class ValidationError(DecodeError, msgspec.ValidationError):
    """Well-formed JSON that does not fit the expected type (wrong type, bad
    base64, bad timestamp, missing required field); the message ends with
    ``- at `$.Field...``` whenever the fault is inside the document."""


_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def encode(value: Any) -> bytes:
    """Encode a wire value (a Struct, or any msgspec-encodable value) to JSON bytes."""
    return _encoder.encode(value)


def _type_name(type_: Any) -> str:
    name = getattr(type_, "__name__", None)
    if isinstance(name, str) and not getattr(type_, "__args__", None):
        return name
    return repr(type_).replace("typing.", "")


@overload
def decode(data: bytes | bytearray | memoryview | str | msgspec.Raw, type: type[T]) -> T: ...
@overload
def decode(data: bytes | bytearray | memoryview | str | msgspec.Raw, type: Any) -> Any: ...
def decode(data: bytes | bytearray | memoryview | str | msgspec.Raw, type: Any) -> Any:
    """Decode JSON ``data`` as ``type`` (a Struct class or any msgspec type).

    Raises :class:`ValidationError` for a value of the wrong shape and
    :class:`DecodeError` for input that is not JSON; both name ``type``.
    """
    decoder = _decoders.get(type)
    if decoder is None:
        decoder = _decoders[type] = msgspec.json.Decoder(type)
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        reason = str(exc)
        match = re.search(_PATH, reason)
        raise ValidationError(
            _type_name(type), reason, match.group("path") if match else "$"
        ) from None
    except msgspec.DecodeError as exc:
        raise DecodeError(_type_name(type), f"invalid JSON: {exc}") from None
