"""A plugin run as several instances: calls spread over them, a crash leaves the rest serving."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable

import pytest
import trio

from pluginrt.api import (
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStreamRequest,
    ExecutorStreamStart,
)
from pluginrt.host import PluginSpec, PluginState, RestartPolicy, open_plugins
from pluginrt.host._group import PluginGroup

Shelf = Callable[..., PluginSpec]
Until = Callable[[Callable[[], bool]], Awaitable[None]]


async def test_two_instances_both_receive_calls(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good", instances=2)]) as plugins:
            group = plugins["good"]
            assert isinstance(group, PluginGroup)
            assert group.state is PluginState.RUNNING
            assert len({pid for pid in group.pids if pid is not None}) == 2
            request = ExecutorRequest(model="m", payload=b"hi")
            answers: list[bytes] = []

            async def one() -> None:
                answer = await group.call("executor.execute", request, ExecutorResponse)
                answers.append(answer.payload)

            async with trio.open_nursery() as nursery:
                for _ in range(4):  # in flight together: least in flight alternates
                    nursery.start_soon(one)
            assert answers == [b"hi"] * 4
            assert [s.calls for s in group.instance_statistics()] == [2, 2]
            assert group.statistics().calls == 4
        assert group.state is PluginState.STOPPED
        assert group.pids == (None, None)


async def test_a_stream_stays_on_the_instance_that_opened_it(shelf: Shelf) -> None:
    with trio.fail_after(10):
        async with open_plugins([shelf("good", instances=2)]) as plugins:
            group = plugins["good"]
            assert isinstance(group, PluginGroup)
            streams = [group.open_stream(8) for _ in range(2)]
            assert streams[0].stream_id != streams[1].stream_id
            for stream in streams:
                params = ExecutorStreamRequest(model="m", stream_id=stream.stream_id, window=8)
                await group.call("executor.execute_stream", params, ExecutorStreamStart)
                async with stream:
                    while await stream.receive_batch():
                        pass
            assert [s.calls for s in group.instance_statistics()] == [1, 1]


async def test_a_crashed_instance_leaves_the_other_serving(shelf: Shelf, until: Until) -> None:
    policy = RestartPolicy(max_restarts=1, backoff_initial=30.0)
    with trio.fail_after(10):
        async with open_plugins([shelf("good", instances=2, restart=policy)]) as plugins:
            group = plugins["good"]
            assert isinstance(group, PluginGroup)
            first, second = group.instances
            assert first.pid is not None
            os.kill(first.pid, signal.SIGKILL)
            await until(lambda: first.state is not PluginState.RUNNING)
            assert group.state is PluginState.RUNNING
            request = ExecutorRequest(model="m", payload=b"still")
            for _ in range(3):
                answer = await group.call("executor.execute", request, ExecutorResponse)
                assert answer.payload == b"still"
            assert second.statistics().calls == 3
            assert first.statistics().calls == 0


async def test_a_new_config_reaches_every_instance_and_survives_a_restart(
    shelf: Shelf, until: Until
) -> None:
    policy = RestartPolicy(max_restarts=1, backoff_initial=0.01)
    with trio.fail_after(10):
        spec = shelf("good", instances=2, restart=policy, config={"v": 1})
        async with open_plugins([spec]) as plugins:
            group = plugins["good"]
            assert isinstance(group, PluginGroup)
            await group.reconfigure({"v": 2})
            for handle in group.instances:
                assert await handle.call("test.config", {}, dict) == {"v": 2}
            first = group.instances[0]
            old_pid = first.pid
            assert old_pid is not None
            os.kill(old_pid, signal.SIGKILL)
            await until(lambda: first.state is PluginState.RUNNING and first.pid != old_pid)
            assert await first.call("test.config", {}, dict) == {"v": 2}  # not the first {"v": 1}


def test_instances_must_be_at_least_one(shelf: Shelf) -> None:
    with pytest.raises(ValueError, match="instances"):
        shelf("good", instances=0)


async def test_an_instance_restarting_during_a_reconfigure_comes_back_with_the_new_config(
    shelf: Shelf, until: Until
) -> None:
    policy = RestartPolicy(max_restarts=1, backoff_initial=0.2)
    with trio.fail_after(10):
        spec = shelf("good", instances=2, restart=policy, config={"v": 1})
        async with open_plugins([spec]) as plugins:
            group = plugins["good"]
            assert isinstance(group, PluginGroup)
            first, second = group.instances
            old_pid = first.pid
            assert old_pid is not None
            os.kill(old_pid, signal.SIGKILL)
            await until(lambda: first.state is PluginState.RESTARTING)
            await group.reconfigure({"v": 2})  # reaches the running instance only
            await until(lambda: first.state is PluginState.RUNNING and first.pid != old_pid)
            assert await first.call("test.config", {}, dict) == {"v": 2}  # not the old {"v": 1}
            assert await second.call("test.config", {}, dict) == {"v": 2}
