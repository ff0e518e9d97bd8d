"""Request and stream lifecycle at the real gateway: a client that goes away, and usage
records, exactly one per request."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import trio
from gateway_harness import EXAMPLES, KEY, MANAGEMENT_KEY, PATIENCE, PLUGINS, chat, config, gateway

from pluginrt import Config, Host
from pluginrt.pipeline import ClientRequest, ClientResponse, ClientStream

MANAGEMENT = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}


def _with_usage(
    tmp_path: Path, journal: Path, usage: Path, timeout: str = "30s", **slow: object
) -> Config:
    """The mock and the slow executor (50 words, 50 ms apart), and a usage plugin."""
    slow_config = {"words": 50, "delay": 0.05, "journal": str(journal), **slow}
    plugins = [
        {"id": "mock", "command": str(EXAMPLES / "mock_llm.py")},
        {"id": "slow", "command": str(PLUGINS / "slow_stream.py"), "timeout": timeout,
         "config": slow_config},
        {"id": "usage", "command": str(PLUGINS / "usage_journal.py"),
         "config": {"journal": str(usage)}},
    ]  # fmt: skip
    return config(tmp_path, overrides={"plugins": plugins})


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def _hang_up_after(port: int, body: bytes, marker: bytes | None) -> bytes:
    """Send ``body`` on a bare socket, read until ``marker`` (None: nothing), hang up."""
    sock = await trio.open_tcp_stream("127.0.0.1", port)
    seen = b""
    async with sock:
        await sock.send_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        while marker is not None and marker not in seen:
            seen += await sock.receive_some()
    return seen


async def _one_more_request(url: str, usage: Path) -> None:
    """A request that succeeds, and the wait for its usage record: records reach the usage
    plugin in order, so once its record is in, every earlier one is too."""
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.post(
            "/v1/chat/completions", content=chat(), headers={"x-api-key": KEY}
        )
    assert answer.status_code == 200
    while not any(line.startswith("usage 0") for line in _lines(usage)):  # noqa: ASYNC110
        await trio.sleep(0.02)


async def test_a_client_that_hangs_up_mid_stream_makes_exactly_one_usage_record_of_499(
    tmp_path: Path,
) -> None:
    journal, usage = tmp_path / "journal", tmp_path / "usage"
    async with gateway(_with_usage(tmp_path, journal, usage)) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        with trio.fail_after(PATIENCE):
            await _hang_up_after(port, chat("slow", stream=True), b"data:")
            while "cancelled" not in _lines(journal):  # noqa: ASYNC110
                await trio.sleep(0.02)
            await _one_more_request(url, usage)
    assert _lines(usage) == ["usage 499 the client went away", "usage 0 "]


async def test_a_stream_quiet_for_the_plugins_timeout_ends_with_a_504_event_and_one_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal, usage = tmp_path / "journal", tmp_path / "usage"
    cfg = _with_usage(tmp_path, journal, usage, timeout="300ms", delay=0, stall=1)
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            async with client.stream(
                "POST", "/v1/chat/completions", content=chat("slow", stream=True),
                headers={"x-api-key": KEY},
            ) as response:  # fmt: skip
                assert response.status_code == 200
                events = [line async for line in response.aiter_lines() if line]
            while "cancelled" not in _lines(journal):  # noqa: ASYNC110
                await trio.sleep(0.02)
            await _one_more_request(url, usage)
    said = "plugin 'slow': executor.execute_stream timed out after 0.3s waiting for a chunk"
    assert len(events) == 2 and "w0" in events[0]
    error = json.loads(events[1].removeprefix("data: "))["error"]
    assert (error["message"], error["type"]) == (said, "server_error")
    assert _lines(journal) == ["cancelled"]
    assert _lines(usage) == [f"usage 504 {said}", "usage 0 "]
    logged = [r.getMessage() for r in caplog.records if r.name == "pluginrt.pipeline"]
    assert any("plugin slow failed after 1 chunk(s) with 504" in m and said in m for m in logged)


async def test_a_client_that_hangs_up_before_its_answer_cancels_the_executor_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pluginrt")
    journal, usage = tmp_path / "journal", tmp_path / "usage"
    cfg = _with_usage(tmp_path, journal, usage, **{"execute-delay": 30, "log": True})
    async with gateway(cfg) as (host, url):
        port = int(url.rsplit(":", 1)[1])
        with trio.fail_after(PATIENCE):
            await _hang_up_after(port, chat("slow"), None)
            while "execute cancelled" not in _lines(journal):  # noqa: ASYNC110
                await trio.sleep(0.02)
            while host.plugins["slow"].statistics().in_flight:  # noqa: ASYNC110
                await trio.sleep(0.02)
            await _one_more_request(url, usage)
    assert _lines(usage) == ["usage 499 the request was cancelled", "usage 0 "]
    # Cut off inside the pipeline, with no answer: the line still names the request.
    request_id = _request_of(caplog, "execute started")
    assert request_id.startswith("r")
    went = "client went away before its answer; cancelling /v1/chat/completions"
    went += f" (request {request_id})"
    assert went in [r.getMessage() for r in caplog.records]
    assert _access(caplog)[0][1:4] + _access(caplog)[0][5:] == [
        "POST",
        "/v1/chat/completions",
        "499",
        request_id,
    ]


async def test_the_log_names_the_plugin_and_method_of_a_failed_request_and_a_failed_stream(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pluginrt")
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(words=1, delay=0, fail="upstream fell over")
    count = {"model": "slow", "messages": [{"role": "user", "content": "hi"}]}
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            counted = await client.post(
                "/v1/messages/count_tokens", json=count, headers={"x-api-key": KEY}
            )
            streamed = await client.post(
                "/v1/chat/completions", content=chat("slow", stream=True),
                headers={"x-api-key": KEY},
            )  # fmt: skip
    assert counted.status_code == 501  # slow serves no executor.count_tokens
    assert streamed.status_code == 200 and "upstream fell over" in streamed.text
    failures = [r.getMessage() for r in caplog.records if r.name == "pluginrt.pipeline"]
    assert any("plugin 'slow'" in m and "executor.count_tokens" in m for m in failures), failures
    assert any("plugin slow" in m and "upstream fell over" in m for m in failures), failures
    # The stream's access line says it answered 200 and then ended in an error.
    (count_line, stream_line) = _access(caplog)
    assert count_line[3] == "501" and len(count_line) == 6
    assert stream_line[3] == "200" and stream_line[6:] == ["stream-error=503"], stream_line


async def test_management_usage_counts_the_records_each_usage_plugin_took(tmp_path: Path) -> None:
    usage = tmp_path / "usage"
    async with gateway(_with_usage(tmp_path, tmp_path / "journal", usage)) as (_, url):
        async with httpx.AsyncClient(base_url=url) as client:
            first = await client.get("/v0/management/usage", headers=MANAGEMENT)
        with trio.fail_after(PATIENCE):
            await _one_more_request(url, usage)
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.get("/v0/management/usage", headers=MANAGEMENT)
    assert first.json() == {"plugins": {"usage": {"delivered": 0, "dropped": 0, "queued": 0}}}
    assert answer.status_code == 200
    assert answer.json() == {"plugins": {"usage": {"delivered": 1, "dropped": 0, "queued": 0}}}


async def test_each_answer_names_its_request_id_as_the_access_and_pipeline_logs_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pluginrt")
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            plain = await client.post(
                "/v1/chat/completions", content=chat(), headers={"x-api-key": KEY}
            )
            async with client.stream(
                "POST", "/v1/chat/completions", content=chat(stream=True),
                headers={"x-api-key": KEY},
            ) as streamed:  # fmt: skip
                await streamed.aread()
            missing = await client.post(
                "/v1/chat/completions", content=chat("nope"), headers={"x-api-key": KEY}
            )
    ids = [a.headers["x-request-id"] for a in (plain, streamed, missing)]
    assert len(set(ids)) == 3 and all(i.startswith("r") for i in ids), ids
    access = [r.getMessage() for r in caplog.records if r.name == "pluginrt.access"]
    assert [line.rsplit(" ", 1)[1] for line in access] == ids
    failed = [r.getMessage() for r in caplog.records if r.name == "pluginrt.pipeline"]
    assert any(m.startswith(f"request {ids[2]} ") and "nope" in m for m in failed), failed


def _request_of(caplog: pytest.LogCaptureFixture, message: str) -> str:
    """The request id the host's log line of a plugin's ``host.log(message)`` names."""
    for record in caplog.records:
        line = record.getMessage()
        if line.startswith(f"{message} (request "):
            return line.removeprefix(f"{message} (request ").removesuffix(")")
    return ""


def _access(caplog: pytest.LogCaptureFixture) -> list[list[str]]:
    return [r.getMessage().split() for r in caplog.records if r.name == "pluginrt.access"]


def _handed_over(host: Host) -> trio.Event:
    """Set when ``host.handle`` next hands the gateway an answer (a stream: its headers)."""
    handed_over = trio.Event()
    handle = host.handle

    async def handle_and_tell(request: ClientRequest) -> ClientResponse | ClientStream:
        answer = await handle(request)
        handed_over.set()
        return answer

    host.handle = handle_and_tell  # type: ignore[method-assign]
    return handed_over


async def test_a_client_that_hangs_up_as_its_answer_comes_has_its_request_in_the_499_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pluginrt")
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(log=True)
    went_away = "client went away before its answer"
    async with gateway(cfg) as (host, url):
        answered = trio.Event()
        handle = host.handle

        async def handle_then_wait_for_the_hang_up(
            request: ClientRequest,
        ) -> ClientResponse | ClientStream:
            answer = await handle(request)
            answered.set()
            with trio.CancelScope(shield=True):  # the answer comes as the client goes
                while not any(went_away in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                    await trio.sleep(0.01)
            return answer

        host.handle = handle_then_wait_for_the_hang_up  # type: ignore[method-assign]
        body = chat("slow")
        with trio.fail_after(PATIENCE):
            async with await trio.open_tcp_stream("127.0.0.1", int(url.rsplit(":", 1)[1])) as sock:
                await sock.send_all(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"
                    + f"x-api-key: {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await answered.wait()
            while not _access(caplog) or not _request_of(caplog, "execute started"):  # noqa: ASYNC110
                await trio.sleep(0.02)
    request_id = _request_of(caplog, "execute started")
    assert request_id.startswith("r")
    assert [line[1:4] + line[5:] for line in _access(caplog)] == [
        ["POST", "/v1/chat/completions", "499", request_id]
    ]


async def test_a_stream_cut_off_before_its_first_chunk_gets_503_naming_its_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pluginrt")
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(words=1, delay=60, log=True)
    answers: list[httpx.Response] = []
    with trio.fail_after(PATIENCE):
        # Leaving gateway() cuts the server off, as the end of the shutdown grace does.
        async with (
            httpx.AsyncClient() as client,
            trio.open_nursery() as nursery,
            gateway(cfg) as (host, url),
        ):
            handed_over = _handed_over(host)

            async def ask() -> None:
                answers.append(
                    await client.post(
                        f"{url}/v1/chat/completions",
                        content=chat("slow", stream=True),
                        headers={"x-api-key": KEY},
                    )
                )

            nursery.start_soon(ask)
            await handed_over.wait()
            while not _request_of(caplog, "stream started"):  # noqa: ASYNC110
                await trio.sleep(0.02)
    request_id = _request_of(caplog, "stream started")
    assert [(a.status_code, a.headers.get("x-request-id")) for a in answers] == [(503, request_id)]
    assert [line[1:4] + line[5:] for line in _access(caplog)] == [
        ["POST", "/v1/chat/completions", "503", request_id]
    ]


async def test_a_client_that_hangs_up_mid_upload_has_nothing_run_and_a_499_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pluginrt")
    journal, usage = tmp_path / "journal", tmp_path / "usage"
    cfg = _with_usage(tmp_path, journal, usage, **{"execute-delay": 0})
    body = chat("slow")
    async with gateway(cfg) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        with trio.fail_after(PATIENCE):
            async with await trio.open_tcp_stream("127.0.0.1", port) as sock:
                # Valid JSON as far as it goes, but the declared length is longer.
                await sock.send_all(_chat_head(len(body) + 50) + body)
            while not _access(caplog):  # noqa: ASYNC110 - the log sets no event
                await trio.sleep(0.02)
            await _one_more_request(url, usage)  # a request after it is served
    assert "execute started" not in _lines(journal)
    assert _lines(usage) == ["usage 0 "]  # only the request after it made a record
    assert _access(caplog)[0][1:4] == ["POST", "/v1/chat/completions", "499"]
    went = "client went away before its request body was whole: /v1/chat/completions not run"
    assert went in caplog.messages


async def test_a_request_body_that_stops_coming_is_answered_408(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pluginrt.gateway import _asgi

    monkeypatch.setattr(_asgi, "BODY_STALL", 0.3)
    body = chat()
    async with gateway(config(tmp_path)) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        with trio.fail_after(PATIENCE):
            async with await trio.open_tcp_stream("127.0.0.1", port) as sock:
                await sock.send_all(_chat_head(len(body)) + body[:10])
                answer = b""
                while b"}}" not in answer:
                    answer += await sock.receive_some()
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(rest)["error"]["message"] == "the request body stopped coming for 0.3s"


def _chat_head(length: int) -> bytes:
    """The head of a chat completion request declaring a body of ``length`` bytes."""
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"
        + f"x-api-key: {KEY}\r\nContent-Length: {length}\r\n\r\n".encode()
    )
