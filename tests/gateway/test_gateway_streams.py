"""Streams: server-sent events flushed as they come, and a client that goes away."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
import trio
from gateway_harness import KEY, PATIENCE, chat, config, gateway


async def test_a_client_that_disconnects_mid_stream_cancels_the_executors_stream(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    cfg = config(tmp_path, journal=journal)
    cfg.plugins[-1].config.update(words=50, delay=0.05)
    body = chat("slow", stream=True)
    async with gateway(cfg) as (host, url):
        port = int(url.rsplit(":", 1)[1])
        with trio.fail_after(PATIENCE):
            # A bare socket, so that hanging up is exactly that: no client library cleanup.
            sock = await trio.open_tcp_stream("127.0.0.1", port)
            async with sock:
                await sock.send_all(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"
                    + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                seen = b""
                while b"data:" not in seen:
                    seen += await sock.receive_some()
            while "cancelled" not in (journal.read_text() if journal.exists() else ""):  # noqa: ASYNC110
                await trio.sleep(0.02)
            while host.plugins["slow"].statistics().in_flight:  # noqa: ASYNC110
                await trio.sleep(0.02)
    assert b"HTTP/1.1 200" in seen
    assert journal.read_text().split() == ["cancelled"]


async def test_each_chunk_reaches_the_client_before_the_executor_sends_the_next(
    tmp_path: Path,
) -> None:
    # The executor holds its second word until this client has read the first: a
    # gateway that buffered the stream (or its headers) would never give it that.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(words=3, delay=0, gate=str(gate))
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            async with client.stream(
                "POST", "/v1/chat/completions", content=chat("slow", stream=True),
                headers={"x-api-key": KEY},
            ) as response:  # fmt: skip
                assert response.headers["content-type"] == "text/event-stream"
                assert response.headers["cache-control"] == "no-cache"
                assert response.headers["transfer-encoding"] == "chunked"
                frames = (line async for line in response.aiter_lines() if line)
                first = await anext(frames)
                await trio.to_thread.run_sync(gate.write_bytes, b"go")
                rest = [line async for line in frames]
    words = [json.loads(f[5:])["choices"][0]["delta"].get("content") for f in [first, *rest[:-1]]]
    assert words == ["w0 ", "w1 ", "w2 ", None]
    assert rest[-1] == "data: [DONE]"


async def test_gemini_routes_take_the_model_from_the_path(tmp_path: Path) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        answer = await client.post(
            "/v1beta/models/no-such-model:generateContent",
            headers={"x-goog-api-key": KEY},
            json={"contents": []},
        )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"
    assert "no-such-model" in answer.json()["error"]["message"]


async def test_a_claude_stream_that_fails_ends_with_an_error_event_of_the_openai_shape(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(words=1, delay=0, fail="upstream fell over")
    body = {"model": "slow", "max_tokens": 5, "stream": True, "messages": []}
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            answer = await client.post("/v1/messages", headers={"x-api-key": KEY}, json=body)
    assert answer.status_code == 200
    event, data = answer.text.rstrip("\n").split("\n")[-2:]
    assert event == "event: error"
    assert json.loads(data.removeprefix("data: ")) == {
        "error": {
            "message": "upstream fell over",
            "type": "server_error",
            "code": "internal_server_error",
        }
    }


@pytest.mark.parametrize(
    ("path", "header"), [("/v1/chat/completions", "authorization"), ("/v1/messages", "x-api-key")]
)
async def test_a_stream_that_fails_before_its_first_chunk_answers_with_the_error_status(
    tmp_path: Path, path: str, header: str
) -> None:
    # The headers wait for the first chunk: a failure before it is an ordinary error
    # response (503 here, the plugin's http_status), not a 200 with an error event.
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(words=0, delay=0, fail="upstream fell over")
    body = {"model": "slow", "max_tokens": 5, "stream": True, "messages": []}
    key = f"Bearer {KEY}" if header == "authorization" else KEY
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            answer = await client.post(path, headers={header: key}, json=body)
        with trio.fail_after(PATIENCE):  # and the gateway serves on
            again = await client.post(path, headers={header: key}, json=body)
    assert (answer.status_code, again.status_code) == (503, 503)
    assert answer.headers["content-type"] == "application/json"
    ids = {answer.headers.get("x-request-id"), again.headers.get("x-request-id")}
    assert len(ids) == 2 and all(i and i.startswith("r") for i in ids), ids
    assert answer.json() == {
        "error": {
            "message": "upstream fell over",
            "type": "server_error",
            "code": "internal_server_error",
        }
    }


async def test_a_stream_with_no_first_chunk_within_the_plugins_timeout_answers_504(
    tmp_path: Path,
) -> None:
    # The headers wait for the first chunk; the wait is the plugin's timeout, and a
    # client still gets a plain error response, its status and body, not a 200.
    cfg = config(tmp_path)
    cfg.plugins[-1].timeout = 0.2
    cfg.plugins[-1].config.update(delay=0, stall=0)
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            answer = await client.post(
                "/v1/chat/completions",
                content=chat("slow", stream=True),
                headers={"x-api-key": KEY},
            )
    assert answer.status_code == 504
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["message"] == (
        "plugin 'slow': executor.execute_stream timed out after 0.2s waiting for a chunk"
    )
    assert error["type"] == "server_error"
