"""Framing is a property: how the bytes are cut into reads never changes the lines."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pluginrt.rpc import LineFramer, LineTooLong

#: Line contents: any bytes but the newline (a trailing "\r" included on purpose).
contents = st.binary(max_size=40).map(lambda data: data.replace(b"\n", b"?"))
#: (content, ends with "\r\n" rather than "\n")
lines = st.lists(st.tuples(contents, st.booleans()), max_size=20)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


def stream_of(entries: list[tuple[bytes, bool]]) -> tuple[bytes, list[bytes]]:
    """The bytes of ``entries`` and the lines a framer must yield for them."""
    data = b"".join(content + (b"\r\n" if crlf else b"\n") for content, crlf in entries)
    expected = []
    for content, crlf in entries:
        raw = content + (b"\r" if crlf else b"")
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line:
            expected.append(line)
    return data, expected


def cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *sorted(point % (len(data) + 1) for point in points), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


@given(lines, st.lists(st.integers(min_value=0), max_size=30))
def test_any_split_of_a_valid_stream_yields_the_same_lines(
    entries: list[tuple[bytes, bool]], points: list[int]
) -> None:
    data, expected = stream_of(entries)
    framer = LineFramer(max_line=64)
    assert feed_all(framer, cut(data, points)) == expected
    assert framer.pending == 0


@given(lines)
def test_a_stream_fed_one_byte_at_a_time_yields_the_same_lines(
    entries: list[tuple[bytes, bool]],
) -> None:
    data, expected = stream_of(entries)
    framer = LineFramer(max_line=64)
    assert feed_all(framer, [data[i : i + 1] for i in range(len(data))]) == expected


@given(st.lists(json_values, min_size=1, max_size=12), st.lists(st.integers(min_value=0)))
def test_any_packing_of_messages_into_chunks_yields_the_same_messages(
    messages: list[Any], points: list[int]
) -> None:
    encoded = [
        msgspec.json.encode({"jsonrpc": "2.0", "method": "m", "params": m}) + b"\n"
        for m in messages
    ]
    bounds = sorted({0, len(encoded), *(point % (len(encoded) + 1) for point in points)})
    chunks = [b"".join(encoded[start:end]) for start, end in itertools.pairwise(bounds)]
    framer = LineFramer()
    decoded = [msgspec.json.decode(line)["params"] for line in feed_all(framer, chunks)]
    assert decoded == messages


@given(
    lines,
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=1, max_value=40),
    st.lists(st.integers(min_value=0), max_size=30),
    st.booleans(),
)
def test_a_line_over_the_limit_raises_whatever_the_split(
    before: list[tuple[bytes, bool]],
    limit: int,
    excess: int,
    points: list[int],
    terminated: bool,
) -> None:
    head, _ = stream_of([(content[:limit], False) for content, _ in before])
    data = head + b"x" * (limit + excess) + (b"\n" if terminated else b"")
    framer = LineFramer(max_line=limit)
    with pytest.raises(LineTooLong) as caught:
        feed_all(framer, cut(data, points))
    assert caught.value.limit == limit


@pytest.mark.parametrize("pieces", [1, 3, 50])
@pytest.mark.parametrize("terminated", [False, True])
def test_a_line_too_long_holds_its_start_and_the_lines_before_it(
    pieces: int, terminated: bool
) -> None:
    start = b'{"jsonrpc":"2.0","id":7,"method":"executor.execute","params":{"Payload":"'
    data = b'{"id":1}\n{"id":2}\n' + start + b"x" * 1000 + (b"\n" if terminated else b"")
    framer = LineFramer(max_line=500)
    step = -(-len(data) // pieces)
    lines: list[bytes] = []
    with pytest.raises(LineTooLong) as caught:
        for at in range(0, len(data), step):
            lines += framer.feed(data[at : at + step])
    assert str(caught.value) == "a message line exceeded the 500-byte limit"  # no content
    assert caught.value.head == (start + b"x" * 1000)[:120]
    # Every line before it comes out, from the feed that raised or the ones before.
    assert lines + caught.value.lines == [b'{"id":1}', b'{"id":2}']


def test_crlf_endings_and_empty_lines_are_tolerated() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":1}\r\n\r\n\n{"b":2}\r') == [b'{"a":1}']
    assert framer.pending == len(b'{"b":2}\r')
    assert framer.feed(b"\n") == [b'{"b":2}']


def test_a_line_of_exactly_the_limit_is_accepted() -> None:
    framer = LineFramer(max_line=5)
    assert framer.feed(b"12345") == []
    assert framer.feed(b"\n") == [b"12345"]
