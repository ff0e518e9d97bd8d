"""examples/openai_forwarder.py through the gateway, against a local fake OpenAI upstream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import hypercorn.config
import hypercorn.trio
import openai
import trio
from gateway_harness import EXAMPLES, KEY, MANAGEMENT_KEY, PATIENCE, gateway

from pluginrt.config import from_mapping

UPSTREAM_KEY = "sk-upstream"


class FakeUpstream:
    """Answers /v1/chat/completions like an OpenAI server; streams in awkward 7-byte pieces."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        request = json.loads(body)
        self.seen.append((scope["path"], headers.get("authorization", ""), request))
        if headers.get("authorization") != f"Bearer {UPSTREAM_KEY}":
            error = {"error": {"message": "bad upstream key", "type": "invalid_request_error"}}
            await _answer(send, 401, json.dumps(error).encode())
            return
        text = f"upstream {request['model']} says hi"
        if not request.get("stream"):
            choice = {"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": text}}  # fmt: skip
            done = {"id": "up", "object": "chat.completion", "created": 0,
                    "model": request["model"], "choices": [choice]}  # fmt: skip
            await _answer(send, 200, json.dumps(done).encode())
            return
        frames = ""
        for word in text.split(" "):
            delta = {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}
            chunk = {"id": "up", "object": "chat.completion.chunk", "created": 0,
                     "model": request["model"], "choices": [delta]}  # fmt: skip
            frames += f"data: {json.dumps(chunk)}\r\n\r\n"
        frames += "data: [DONE]\r\n\r\n"
        data = frames.encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        for start in range(0, len(data), 7):
            await send({"type": "http.response.body", "body": data[start : start + 7],
                        "more_body": True})  # fmt: skip
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def fake_upstream() -> AsyncIterator[tuple[FakeUpstream, str]]:
    app = FakeUpstream()
    config = hypercorn.config.Config()
    config.bind = ["127.0.0.1:0"]
    serve: Any = hypercorn.trio.serve
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, app, config))
        yield app, binds[0]
        nursery.cancel_scope.cancel()


def forwarder_config(
    tmp_path: Path, upstream: str, api_key: str = UPSTREAM_KEY, **settings: Any
) -> Any:
    section = {"base_url": f"{upstream}/v1", "api_key": api_key, "models": ["up-model"]}
    return from_mapping(
        {
            "host": "127.0.0.1",
            "port": 0,
            "api-keys": [KEY],
            "auth-dir": str(tmp_path / "auths"),
            "plugins": [
                {"id": "up", "command": str(EXAMPLES / "openai_forwarder.py"), "config": section}
            ],
            **settings,
        }
    )


async def test_the_forwarder_relays_completions_and_streams_from_an_openai_upstream(
    tmp_path: Path,
) -> None:
    async with fake_upstream() as (upstream, upstream_url):  # noqa: SIM117
        async with gateway(forwarder_config(tmp_path, upstream_url)) as (_, url):

            def talk() -> tuple[str, str, list[str]]:
                with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
                    models = [m.id for m in client.models.list()]
                    answer = client.chat.completions.create(
                        model="up-model", messages=[{"role": "user", "content": "hi"}]
                    )
                    stream = client.chat.completions.create(
                        model="up-model", messages=[{"role": "user", "content": "hi"}], stream=True
                    )
                    words = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                return answer.choices[0].message.content or "", words, models

            with trio.fail_after(PATIENCE):
                whole, streamed, models = await trio.to_thread.run_sync(talk)
    assert models == ["up-model"]
    assert whole == "upstream up-model says hi"
    assert streamed == "upstream up-model says hi "
    paths = {(path, auth) for path, auth, _ in upstream.seen}
    assert paths == {("/v1/chat/completions", f"Bearer {UPSTREAM_KEY}")}
    assert [request["stream"] for _, _, request in upstream.seen] == [False, True]


async def test_an_upstream_error_keeps_its_status_and_body(tmp_path: Path) -> None:
    async with fake_upstream() as (_, upstream_url):
        cfg = forwarder_config(tmp_path, upstream_url, api_key="wrong")
        async with gateway(cfg) as (_, url):

            def refused() -> openai.APIStatusError:
                with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
                    try:
                        client.chat.completions.create(model="up-model", messages=[])
                    except openai.APIStatusError as exc:
                        return exc
                raise AssertionError("the upstream error did not reach the client")

            with trio.fail_after(PATIENCE):
                error = await trio.to_thread.run_sync(refused)
    assert error.status_code == 401
    assert isinstance(error.body, dict)
    assert error.body["message"] == "bad upstream key"


async def test_an_api_call_reaches_the_upstream_with_the_key_of_the_auth_it_names(
    tmp_path: Path,
) -> None:
    auths = tmp_path / "auths"
    auths.mkdir()
    for name, key in [("good.json", UPSTREAM_KEY), ("stale.json", "sk-stale")]:
        (auths / name).write_text(json.dumps({"type": "openai-compatible", "api_key": key}))
    async with fake_upstream() as (upstream, upstream_url):
        management = {"management-key": MANAGEMENT_KEY}
        cfg = forwarder_config(tmp_path, upstream_url, "sk-config", **management)
        async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
            answers = []
            for auth_id in ("good.json", "stale.json"):
                call = {
                    "auth_id": auth_id,
                    "method": "POST",
                    "url": f"{upstream_url}/v1/chat/completions",
                    "header": {"Content-Type": "application/json"},
                    "data": json.dumps({"model": "any", "messages": []}),
                }
                with trio.fail_after(PATIENCE):
                    answers.append(
                        await client.post(
                            "/v0/management/api-call",
                            json=call,
                            headers={"Authorization": f"Bearer {MANAGEMENT_KEY}"},
                        )
                    )
    good, stale = (answer.json() for answer in answers)
    assert [answer.status_code for answer in answers] == [200, 200]  # the call itself worked
    assert good["status_code"] == 200 and stale["status_code"] == 401  # the upstream's answers
    assert json.loads(good["body"])["choices"][0]["message"]["content"] == "upstream any says hi"
    assert good["header"]["Content-Type"] == ["application/json"]
    assert json.loads(stale["body"])["error"]["message"] == "bad upstream key"
    assert [auth for _, auth, _ in upstream.seen] == [f"Bearer {UPSTREAM_KEY}", "Bearer sk-stale"]
