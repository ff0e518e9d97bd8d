"""The spin before sleep (pluginrt.rpc._spin): when it spins, and when it stops trying."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest
import trio

from pluginrt.rpc import _spin, open_connection


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    os.close(read)
    os.close(write)


def _instrument() -> _spin._Spin:
    return _spin._INSTRUMENT.get()


def test_an_answer_already_waiting_ends_the_spin_at_once_and_keeps_spinning_on(
    pipe: tuple[int, int],
) -> None:
    read, write = pipe

    async def main() -> None:
        calls = {1: "pending"}
        _spin.watch(read, calls)
        spin = _instrument()
        os.write(write, b"answer\n")
        spin.before_io_wait(1.0)
        assert spin._skip == 0 and spin._backoff == 1  # a hit: spin next time too

    trio.run(main)


def test_spins_that_find_nothing_back_off_doubling(pipe: tuple[int, int]) -> None:
    read, _ = pipe

    async def main() -> None:
        _spin.watch(read, {1: "pending"})
        spin = _instrument()
        spin.before_io_wait(1.0)  # nothing comes: a miss
        assert (spin._skip, spin._backoff) == (1, 2)
        spin.before_io_wait(1.0)  # skipped
        assert spin._skip == 0
        spin.before_io_wait(1.0)  # another miss
        assert (spin._skip, spin._backoff) == (2, 4)

    trio.run(main)


def test_no_spin_without_calls_in_flight_or_once_unwatched(pipe: tuple[int, int]) -> None:
    read, _ = pipe

    async def main() -> None:
        calls: dict[int, str] = {}
        unwatch = _spin.watch(read, calls)
        spin = _instrument()
        spin.before_io_wait(1.0)  # nothing in flight: no spin, so no miss either
        assert (spin._skip, spin._backoff) == (0, 1)
        calls[1] = "pending"
        unwatch()
        spin.before_io_wait(1.0)
        assert (spin._skip, spin._backoff) == (0, 1)
        assert spin.watched == {}

    trio.run(main)


def test_a_connection_over_pipes_is_watched_while_open_and_forgotten_when_closed() -> None:
    async def main() -> None:
        read_a, write_a = os.pipe()
        read_b, write_b = os.pipe()
        send = trio.lowlevel.FdStream(write_a)
        receive = trio.lowlevel.FdStream(read_b)
        async with open_connection(send, receive, name="spin") as connection:
            assert [fd for fd, _ in _instrument().watched.values()] == [read_b]
            assert _instrument().watched[id(connection._pending)][1] is connection._pending
        assert _instrument().watched == {}
        for fd in (read_a, write_b):
            os.close(fd)
        await send.aclose()
        await receive.aclose()

    trio.run(main)


def test_a_busy_process_does_not_spin(pipe: tuple[int, int]) -> None:
    read, _ = pipe

    async def main() -> None:
        _spin.watch(read, {index: "pending" for index in range(_spin._MAX_WAITING + 1)})
        spin = _instrument()
        spin.before_io_wait(1.0)  # many calls awaited: no spin, so no miss either
        assert (spin._skip, spin._backoff) == (0, 1)

    trio.run(main)


def test_a_descriptor_past_1024_is_watched_too(pipe: tuple[int, int]) -> None:
    read, write = pipe
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= 1500:
        if hard != resource.RLIM_INFINITY and hard <= 1500:
            pytest.skip("cannot open a descriptor past 1500 here")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1501, hard))
    high = os.dup2(read, 1500)
    try:

        async def main() -> None:
            _spin.watch(high, {1: "pending"})
            spin = _instrument()
            spin.before_io_wait(1.0)  # spun on it, found nothing (select() refuses it)
            assert (spin._skip, spin._backoff) == (1, 2)
            spin.before_io_wait(1.0)  # skipped
            os.write(write, b"answer\n")
            spin.before_io_wait(1.0)  # found the answer
            assert (spin._skip, spin._backoff) == (0, 1)

        trio.run(main)
    finally:
        os.close(high)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
