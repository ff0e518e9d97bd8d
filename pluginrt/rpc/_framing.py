"""Newline framing: bytes in, complete lines out, with a hard line-length limit."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_LINE", "LineFramer", "LineTooLong"]

#: Default longest line (message) either side accepts: 64 MiB.
DEFAULT_MAX_LINE = 64 * 1024 * 1024


#: How much of an over-long line its error quotes: enough for its id and method.
_HEAD = 120


class LineTooLong(Exception):
    """A line grew past the limit before its newline arrived. The message quotes the
    line's start (``head``): what it was, when it cannot be parsed."""

    def __init__(self, limit: int, head: bytes = b"") -> None:
        text = head[:_HEAD].decode("utf-8", "replace")
        began = f"; it began {text}..." if text else ""
        super().__init__(f"a message line exceeded the {limit}-byte limit{began}")
        self.limit = limit


class LineFramer:
    """Splits a byte stream into ``\\n``-terminated lines (without the newline).

    Any split of the same stream into chunks yields the same lines. Empty
    lines (and a lone ``\\r`` before the newline) are dropped.
    """

    __slots__ = ("_max_line", "_parts", "_pending")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        # The start of a line whose newline has not come yet, as the pieces
        # read (joined once, when it ends: a big message is copied once).
        self._parts: list[bytes] = []
        self._pending = 0
        self._max_line = max_line

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the lines it completed. Raises :class:`LineTooLong`."""
        if b"\n" not in data:
            if data:
                self._pending += len(data)
                if self._pending > self._max_line:
                    raise LineTooLong(self._max_line, _start(self._parts or [bytes(data)]))
                self._parts.append(bytes(data))
            return []
        lines = bytes(data).split(b"\n")
        if self._parts:
            if self._pending + len(lines[0]) > self._max_line:
                raise LineTooLong(self._max_line, _start(self._parts))
            self._parts.append(lines[0])
            lines[0] = b"".join(self._parts)
            self._parts.clear()
        rest = lines.pop()
        self._pending = len(rest)
        if rest:
            if len(rest) > self._max_line:
                raise LineTooLong(self._max_line, rest)
            self._parts.append(rest)
        out = []
        for line in lines:
            if len(line) > self._max_line:
                raise LineTooLong(self._max_line, line)
            if line.endswith(b"\r"):
                line = line[:-1]
            if line:
                out.append(line)
        return out

    @property
    def pending(self) -> int:
        """Bytes held of a line whose newline has not arrived yet."""
        return self._pending


def _start(parts: list[bytes]) -> bytes:
    """The first bytes of the line held as ``parts`` (enough for LineTooLong to quote)."""
    start = b""
    for part in parts:
        start += part[: _HEAD - len(start)]
        if len(start) >= _HEAD:
            break
    return start
