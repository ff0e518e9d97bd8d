"""Faults and bad input at the real gateway: the right status, the client's error shape,
nothing reaching a plugin that should not, and the gateway serving on."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import trio
from fault_harness import (
    KEY,
    PATIENCE,
    chat_body,
    faulty,
    fd_count,
    gateway,
    good,
    journal_lines,
    make_config,
    settle_fds,
)


def _cfg(tmp_path: Path, journal: Path, mode: str = "good", **settings: object):  # type: ignore[no-untyped-def]
    return make_config(
        tmp_path,
        faulty("target", mode, journal=str(journal)),
        good(),
        api_keys=[KEY],
        **settings,
    )


def _openai_error(answer: httpx.Response) -> str:
    error = answer.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert "type" in error
    message: str = error["message"]
    return message


async def test_plugin_returned_headers_with_cr_lf_never_reach_the_client(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    async with (
        gateway(_cfg(tmp_path, journal, "bad_header")) as (_, url),
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client,
    ):
        answer = await client.post(
            "/v1/chat/completions", content=chat_body("target"), headers={"x-api-key": KEY}
        )
        assert answer.status_code == 200
        assert "x-evil" not in answer.headers
        assert "set-cookie" not in answer.headers
        assert answer.headers["x-fine"] == "ok"
        again = await client.post(
            "/v1/chat/completions", content=chat_body("mock-small"), headers={"x-api-key": KEY}
        )
        assert again.status_code == 200


async def test_a_plugin_killed_mid_stream_ends_the_sse_with_an_error_naming_the_method(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal"
    async with (
        gateway(_cfg(tmp_path, journal, "crash_mid_stream")) as (_, url),
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client,
        client.stream(
            "POST", "/v1/chat/completions", content=chat_body("target", stream=True),
            headers={"x-api-key": KEY},
        ) as answer,
    ):  # fmt: skip
        assert answer.status_code == 200
        events = [line async for line in answer.aiter_lines() if line]
    said = "plugin 'target': crashed during executor.execute_stream (killed by SIGKILL)"
    assert len(events) == 2 and '"a"' in events[0]
    assert said in json.loads(events[1].removeprefix("data: "))["error"]["message"]
    logged = [r.getMessage() for r in caplog.records if r.name == "pluginrt.pipeline"]
    assert any("plugin target failed after 1 chunk(s) with 500" in m and said in m for m in logged)


async def test_bad_client_input_is_refused_in_the_clients_shape_before_any_plugin_call(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    before = fd_count()
    cfg = _cfg(tmp_path, journal, max_body_size=10_000)
    async with (
        gateway(cfg) as (_, url),
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client,
    ):
        ok = {"x-api-key": KEY}
        path = "/v1/chat/completions"
        cases = [
            (await client.post(path, content=b"{not json", headers=ok), 400),
            (await client.post(path, content=b"[1, 2]", headers=ok), 400),
            (await client.post(path, content=b"\xff\xfe", headers=ok), 400),
            (await client.post(path, content=b"x" * 20_000, headers=ok), 413),
            (await client.post(path, content=chat_body("target", "y" * 20_000), headers=ok), 413),
            (await client.post(path, content=chat_body("no-such-model"), headers=ok), 404),
            (await client.post(path, content=chat_body("target")), 401),
            (
                await client.post(path, content=chat_body("target"), headers={"x-api-key": "no"}),
                401,
            ),
            (await client.get(path, headers=ok), 405),
        ]
        for answer, status in cases:
            assert answer.status_code == status, (status, answer.text)
            _openai_error(answer)
        claude = await client.post("/v1/messages", content=b"{", headers=ok)
        assert claude.status_code == 400
        _openai_error(claude)
        for path in (
            "/v0/resource/../auths/x.json",
            "/v0/resource/%2e%2e/%2e%2e/etc/passwd",
            "/v0/management/auth-files/..%2f..%2fetc%2fpasswd",
            "/v0/management/auth-files/../../etc/passwd",
        ):
            answer = await client.get(path, headers={"authorization": "Bearer mgmt-none"})
            assert answer.status_code in (400, 401, 403, 404), (path, answer.status_code)
            assert b"root:" not in answer.content
        fine = await client.post(path := "/v1/chat/completions", content=chat_body("target"),
                                 headers=ok)  # fmt: skip
        assert fine.status_code == 200, fine.text
    # Only the one good request reached the plugin.
    assert journal_lines(journal) == ["call executor.execute"]
    await settle_fds(before)


async def test_a_slow_client_reading_byte_by_byte_does_not_slow_other_streams(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    async with gateway(_cfg(tmp_path, journal)) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        body = chat_body("mock-small", stream=True)
        request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n"
            + f"x-api-key: {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with trio.fail_after(PATIENCE):
            slow = await trio.open_tcp_stream("127.0.0.1", port)
            async with slow, httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client:
                await slow.send_all(request)
                first = await slow.receive_some(1)
                assert first == b"H"
                started = trio.current_time()
                for _ in range(5):
                    async with client.stream(
                        "POST", "/v1/chat/completions", content=body, headers={"x-api-key": KEY}
                    ) as answer:
                        assert answer.status_code == 200
                        text = b"".join([c async for c in answer.aiter_bytes()])
                        assert b"[DONE]" in text
                assert trio.current_time() - started < 5
                for _ in range(20):
                    assert await slow.receive_some(1)


async def test_an_api_key_with_non_ascii_bytes_is_refused_with_401_not_a_crash(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    async with (
        gateway(_cfg(tmp_path, journal)) as (_, url),
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client,
    ):
        for key in (b"sk-\xe9t\xe9", b"sk-fault" + b"\xff"):
            answer = await client.post(
                "/v1/chat/completions", content=chat_body("target"), headers={"x-api-key": key}
            )
            assert answer.status_code == 401, answer.text
            _openai_error(answer)
    assert journal_lines(journal) == []
