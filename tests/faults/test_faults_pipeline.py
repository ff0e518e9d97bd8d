"""Misbehaving plugins through the real host: each fault ends one call cleanly, names the
plugin, leaves the host serving, and leaves no process or descriptor behind.

Cases already proven at the plugin level live in ``tests/host/test_host_faults.py``;
these are about what the *client* of the pipeline sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
from fault_harness import (
    PATIENCE,
    auth_dir_clean,
    chat,
    faulty,
    fd_count,
    good,
    hosted,
    journal_lines,
    make_config,
    served,
    settle_fds,
)

from pluginrt.host import PluginState
from pluginrt.pipeline import ClientRequest, ClientResponse, ClientStream, Endpoint, PipelineError


def _error_message(answer: ClientResponse) -> str:
    message: str = json.loads(answer.body)["error"]["message"]
    return message


async def test_a_plugin_killed_mid_stream_ends_the_client_stream_with_an_error_naming_it(
    tmp_path: Path,
) -> None:
    before = fd_count()
    cfg = make_config(tmp_path, faulty("breaker", "crash_mid_stream"), good())
    async with hosted(cfg) as host:
        answer = await host.handle(chat("breaker", stream=True))
        assert isinstance(answer, ClientStream)
        chunks: list[bytes] = []
        errors: list[PipelineError] = []
        with trio.fail_after(PATIENCE):
            try:
                async for chunk in answer.chunks:
                    chunks.append(chunk)
            except PipelineError as exc:
                errors.append(exc)
        assert len(chunks) == 1
        assert len(errors) == 1
        assert "plugin 'breaker': crashed during executor.execute_stream (killed by SIGKILL)" in (
            errors[0].message
        )
        assert errors[0].status >= 500
        await served(host)
    await settle_fds(before)
    auth_dir_clean(tmp_path)


async def test_a_plugin_sending_past_its_credit_fails_the_stream_naming_it_in_answer_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_config(tmp_path, faulty("greedy", "overrun"))
    async with hosted(cfg) as host:
        answer = await host.handle(chat("greedy", stream=True))
        assert isinstance(answer, ClientStream)
        with trio.fail_after(PATIENCE), pytest.raises(PipelineError) as caught:
            async for _chunk in answer.chunks:
                pass
    assert "plugin greedy" in caught.value.message
    assert "past its credit" in caught.value.message
    logged = [r.getMessage() for r in caplog.records if r.name == "pluginrt.pipeline"]
    assert any("plugin greedy" in line and "past its credit" in line for line in logged), logged


async def test_a_plugin_crashing_in_a_loop_is_failed_and_then_answered_503_fast(
    tmp_path: Path,
) -> None:
    before = fd_count()
    restart = {"max-restarts": 2, "backoff": "10ms", "backoff-max": "20ms"}
    cfg = make_config(tmp_path, faulty("looper", "crash_on_call", restart=restart), good())
    async with hosted(cfg) as host:
        handle = host.plugins["looper"]
        with trio.fail_after(PATIENCE):
            while handle.state != PluginState.FAILED:
                answer = await host.handle(chat("looper"))
                assert isinstance(answer, ClientResponse)
                assert answer.status >= 500
                assert "looper" in _error_message(answer)
                await trio.sleep(0.01)  # a refused request may not yield; let the restarts run
        started = trio.current_time()
        answer = await host.handle(chat("looper"))
        assert isinstance(answer, ClientResponse)
        assert answer.status in (503, 404), answer.body
        assert trio.current_time() - started < 1.0
        await served(host)
    await settle_fds(before)


async def test_a_crash_is_named_to_the_client_without_the_plugins_stderr(
    tmp_path: Path,
) -> None:
    # Its stderr is the plugin's own output (paths, upstream text): for the log, not clients.
    cfg = make_config(tmp_path, faulty("crasher", "crash_on_call"), good())
    async with hosted(cfg) as host:
        with trio.fail_after(PATIENCE):
            answer = await host.handle(chat("crasher"))
            assert isinstance(answer, ClientResponse)
            await served(host)
    assert (answer.status, _error_message(answer)) == (
        500,
        "plugin 'crasher': crashed during executor.execute (exited with status 3)",
    )
    assert isinstance(host.plugins["crasher"].last_error, Exception)
    assert "exiting 3 on a call" in str(host.plugins["crasher"].last_error)  # kept for the log


async def test_a_hanging_call_times_out_with_504_naming_the_plugin_and_it_sees_cancel(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    cfg = make_config(
        tmp_path, faulty("sleeper", "hang", journal=str(journal), timeout="300ms"), good()
    )
    async with hosted(cfg) as host:
        answer = await host.handle(chat("sleeper"))
        assert isinstance(answer, ClientResponse)
        assert answer.status == 504, answer.body
        assert "sleeper" in _error_message(answer)
        with trio.fail_after(PATIENCE):
            while "cancel" not in journal_lines(journal):  # noqa: ASYNC110
                await trio.sleep(0.02)
        await served(host)


async def test_a_plugin_that_stops_reading_stdin_does_not_block_another_plugin(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    cfg = make_config(
        tmp_path, faulty("deaf", "no_read", journal=str(journal), timeout="1s"), good()
    )
    async with hosted(cfg) as host:
        with trio.fail_after(PATIENCE):
            while "stopped reading" not in journal_lines(journal):  # noqa: ASYNC110
                await trio.sleep(0.02)

        outcomes: list[int] = []

        async def flood() -> None:
            # Large requests fill the pipe to the deaf plugin; its writer may block, nobody else.
            big = ClientRequestFactory.big("deaf")
            answer = await host.handle(big)
            assert isinstance(answer, ClientResponse)
            outcomes.append(answer.status)

        with trio.fail_after(PATIENCE):
            async with trio.open_nursery() as nursery:
                for _ in range(4):
                    nursery.start_soon(flood)
                for _ in range(10):
                    await served(host)
        assert outcomes == [504] * 4


class ClientRequestFactory:
    @staticmethod
    def big(model: str) -> ClientRequest:
        body = json.dumps(
            {"model": model, "messages": [{"role": "user", "content": "x" * 200_000}]}
        )
        return ClientRequest("openai", Endpoint.GENERATE, model=model, body=body.encode())


async def test_a_duplicate_response_is_ignored_and_the_first_answer_stands(
    tmp_path: Path,
) -> None:
    cfg = make_config(tmp_path, faulty("echoer", "duplicate"), good())
    async with hosted(cfg) as host:
        for _ in range(3):
            answer = await served(host, "echoer")
            assert json.loads(answer.body)["choices"][0]["message"]["content"] == "first"
        await served(host)
        assert host.plugins["echoer"].state == PluginState.RUNNING


async def test_a_result_of_the_wrong_types_is_a_clear_error_naming_the_plugin_and_method(
    tmp_path: Path,
) -> None:
    cfg = make_config(tmp_path, faulty("typo", "wrong_types"), good())
    async with hosted(cfg) as host:
        answer = await host.handle(chat("typo"))
        assert isinstance(answer, ClientResponse)
        assert answer.status == 500 or answer.status == 502, answer.body
        message = _error_message(answer)
        assert "typo" in message
        assert "executor.execute" in message
        await served(host)


async def test_a_50_mb_answer_arrives_whole_under_a_raised_line_limit(tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    entry = faulty("whale", "big", size=size)
    entry["max-line"] = 128 * 1024 * 1024
    cfg = make_config(tmp_path, entry, good())
    async with hosted(cfg) as host:
        with trio.fail_after(60):
            answer = await served(host, "whale")
        content = json.loads(answer.body)["choices"][0]["message"]["content"]
        assert len(content) == size
        await served(host)


async def test_a_plugin_that_closes_stdout_fails_the_call_naming_it_and_others_keep_serving(
    tmp_path: Path,
) -> None:
    before = fd_count()
    cfg = make_config(tmp_path, faulty("mute", "close_stdout"), good())
    async with hosted(cfg) as host:
        with trio.fail_after(PATIENCE):
            answer = await host.handle(chat("mute"))
        assert isinstance(answer, ClientResponse)
        assert answer.status >= 500
        assert "mute" in _error_message(answer)
        await served(host)
    await settle_fds(before)
