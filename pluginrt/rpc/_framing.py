"""Newline framing: bytes in, complete lines out, with a hard line-length limit."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_LINE", "LineFramer", "LineTooLong"]

#: Default longest line (message) either side accepts: 64 MiB.
DEFAULT_MAX_LINE = 64 * 1024 * 1024


#: How much of an over-long line is kept to say what it was: enough for its id and method.
_HEAD = 120


class LineTooLong(Exception):
    """A line grew past the limit before its newline arrived.

    ``head`` is the line's start, to log (what it was, since it is never parsed;
    not for the message, which reaches the callers of every call on the
    connection, and so perhaps clients other than the line's); ``lines`` the
    complete lines before it in the data fed last, to route before closing.
    """

    def __init__(self, limit: int, head: bytes = b"", lines: list[bytes] | None = None) -> None:
        super().__init__(f"a message line exceeded the {limit}-byte limit")
        self.limit = limit
        self.head = head[:_HEAD]
        self.lines = lines or []


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
        """Add ``data``; return the lines it completed. Raises :class:`LineTooLong`
        (holding the lines completed before the over-long one)."""
        limit = self._max_line
        if b"\n" not in data:
            if data:
                self._pending += len(data)
                if self._pending > limit:
                    raise LineTooLong(limit, _start(self._parts or [bytes(data)]))
                self._parts.append(bytes(data))
            return []
        lines = bytes(data).split(b"\n")
        if self._parts:
            if self._pending + len(lines[0]) > limit:
                raise LineTooLong(limit, _start(self._parts))
            self._parts.append(lines[0])
            lines[0] = b"".join(self._parts)
            self._parts.clear()
        rest = lines.pop()
        out: list[bytes] = []
        for line in lines:
            if len(line) > limit:
                raise LineTooLong(limit, line, out)
            if line.endswith(b"\r"):
                line = line[:-1]
            if line:
                out.append(line)
        if len(rest) > limit:
            raise LineTooLong(limit, rest, out)
        self._pending = len(rest)
        if rest:
            self._parts.append(rest)
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
