"""Newline framing: bytes in, complete lines out, with a hard line-length limit."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_LINE", "LineFramer", "LineTooLong"]

#: Default longest line (message) either side accepts: 64 MiB.
DEFAULT_MAX_LINE = 64 * 1024 * 1024


class LineTooLong(Exception):
    """A line grew past the limit before its newline arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a message line exceeded the {limit}-byte limit")
        self.limit = limit


class LineFramer:
    """Splits a byte stream into ``\\n``-terminated lines (without the newline).

    Any split of the same stream into chunks yields the same lines. Empty
    lines (and a lone ``\\r`` before the newline) are dropped.
    """

    __slots__ = ("_buffer", "_max_line")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._buffer = bytearray()
        self._max_line = max_line

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the lines it completed. Raises :class:`LineTooLong`."""
        if b"\n" not in data:
            self._buffer += data
            if len(self._buffer) > self._max_line:
                raise LineTooLong(self._max_line)
            return []
        if self._buffer:
            self._buffer += data
            chunk = bytes(self._buffer)
            self._buffer.clear()
        else:
            chunk = data
        lines = chunk.split(b"\n")
        rest = lines.pop()
        if rest:
            if len(rest) > self._max_line:
                raise LineTooLong(self._max_line)
            self._buffer += rest
        out = []
        for line in lines:
            if len(line) > self._max_line:
                raise LineTooLong(self._max_line)
            if line.endswith(b"\r"):
                line = line[:-1]
            if line:
                out.append(line)
        return out

    @property
    def pending(self) -> int:
        """Bytes held of a line whose newline has not arrived yet."""
        return len(self._buffer)
