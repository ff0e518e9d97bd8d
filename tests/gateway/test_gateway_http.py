"""HTTP itself at the real gateway: HEAD wherever GET is served, and ``Allow`` on a 405."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio
from gateway_harness import KEY, MANAGEMENT_KEY, PATIENCE, config, gateway

BEARER = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}
#: Headers that may differ between two answers to the same request.
_PER_ANSWER = {"date", "x-request-id"}

#: (path, headers) of GET answers, each with its status: HEAD must get the same.
GETS = [
    ("/healthz", {}, 200),
    ("/v1/models", {"x-api-key": KEY}, 200),
    ("/v1/models", {}, 401),
    ("/v0/management/plugins", BEARER, 200),
    ("/v0/management/plugins/mock", BEARER, 200),
    ("/v0/management/plugins/mock/config", BEARER, 200),
    ("/v0/management/plugins/nobody", BEARER, 404),
    ("/v0/management/usage", BEARER, 200),
    ("/v0/management/auth-files", BEARER, 200),
    ("/v0/management/plugins", {}, 401),
    ("/v0/management/nothing-here", BEARER, 404),
    ("/v0/management/mock/stats", BEARER, 200),  # a plugin's GET route
    ("/v0/resource/plugins/console/index.html", {}, 200),
]


def _headers(answer: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in answer.headers.multi_items() if k not in _PER_ANSWER]


async def test_head_answers_with_the_status_and_headers_of_get_and_no_body(
    tmp_path: Path,
) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            pairs = [
                (await client.get(path, headers=h), await client.head(path, headers=h), status)
                for path, h, status in GETS
            ]
    for got, head, status in pairs:
        where = f"HEAD {head.request.url.path}"
        assert (got.status_code, head.status_code) == (status, status), where
        assert _headers(head) == _headers(got), where
        assert int(head.headers["content-length"]) == len(got.content) > 0, where
        assert head.content == b"", where
    models = [(g, h) for g, h, _ in pairs if g.request.url.path == "/v1/models"]
    assert models[0][1].headers["x-request-id"].startswith("r")  # served by the pipeline


async def test_no_body_bytes_follow_a_head_answer_on_the_wire(tmp_path: Path) -> None:
    """HEAD then GET on one connection: the GET's status line comes right after the HEAD's
    headers (hypercorn leaves the body out; the gateway does not send it twice)."""
    requests = (
        f"HEAD /v1/models HTTP/1.1\r\nHost: test\r\nx-api-key: {KEY}\r\n\r\n"
        f"HEAD /v0/management/plugins HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {MANAGEMENT_KEY}\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    async with gateway(config(tmp_path)) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        with trio.fail_after(PATIENCE):
            sock = await trio.open_tcp_stream("127.0.0.1", port)
            async with sock:
                await sock.send_all(requests.encode())
                seen = b""
                while data := await sock.receive_some():
                    seen += data
    head_models, head_plugins, health = seen.split(b"\r\n\r\n", 2)
    for head in (head_models, head_plugins):
        assert head.startswith(b"HTTP/1.1 200 ")
        assert int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]) > 0
    assert health.startswith(b"HTTP/1.1 200 ") and b'"status": "ok"' in health


async def test_every_405_lists_head_with_get_in_allow(tmp_path: Path) -> None:
    wrong = [
        ("POST", "/healthz", {}, "GET, HEAD", "use GET on /healthz"),
        ("POST", "/v1/models", {"x-api-key": KEY}, "GET, HEAD", "use GET on /v1/models"),
        ("HEAD", "/v1/chat/completions", {}, "POST", None),
        ("POST", "/v0/management/plugins", BEARER, "GET, HEAD", None),
        ("DELETE", "/v0/management/plugins/mock/config", BEARER, "GET, HEAD, PATCH", None),
        ("HEAD", "/v0/management/reload", BEARER, "POST", None),
        ("PUT", "/v0/management/mock/stats", BEARER, "GET, HEAD", None),  # a plugin's
        ("POST", "/v0/resource/plugins/console/index.html", {}, "GET, HEAD", None),
    ]
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            answers = [await client.request(m, path, headers=h) for m, path, h, _, _ in wrong]
    for answer, (method, path, _, allow, message) in zip(answers, wrong, strict=True):
        assert (answer.status_code, answer.headers.get("allow")) == (405, allow), (method, path)
        if message is not None:
            assert answer.json()["error"]["message"] == message
