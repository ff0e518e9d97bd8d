"""Gemini clients: the model in the path, ``alt=sse``, keys, and the stream's framing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from gateway_harness import KEY, PATIENCE, PLUGINS, config, gateway

from pluginrt import Config

ECHO = str(PLUGINS / "gemini_echo.py")
ASK = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}


def gemini(tmp_path: Path, **settings: Any) -> Config:
    """A gateway whose one executor speaks Gemini: model ``gemini-echo``."""
    plugin = {"id": "gemini", "command": ECHO, "config": settings}
    return config(tmp_path, overrides={"plugins": [plugin]})


def events(text: str) -> list[dict[str, str]]:
    """Server-sent events as a client parses them: fields per event, data lines joined."""
    parsed = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            if name:
                value = value.removeprefix(" ")
                event[name] = f"{event[name]}\n{value}" if name in event else value
        if event:
            parsed.append(event)
    return parsed


def text_of(event: dict[str, str]) -> str:
    """The text of one streamed ``GenerateContentResponse``."""
    text: str = json.loads(event["data"])["candidates"][0]["content"]["parts"][0]["text"]
    return text


def texts(text: str) -> list[str]:
    return [text_of(event) for event in events(text)]


async def test_a_stream_of_multi_line_json_chunks_reaches_the_client_as_one_event_a_chunk(
    tmp_path: Path,
) -> None:
    # Pretty-printed chunks: every line needs its own "data:", or the client loses all
    # but the first line of each.
    async with (
        gateway(gemini(tmp_path, pretty=True)) as (_, url),
        httpx.AsyncClient(base_url=url) as client,
    ):
        with trio.fail_after(PATIENCE):
            answer = await client.post(
                "/v1beta/models/gemini-echo:streamGenerateContent?alt=sse",
                headers={"x-goog-api-key": KEY},
                json=ASK,
            )
    assert answer.status_code == 200
    assert texts(answer.text) == ["echo:", " hi", " there"]


async def test_generate_stream_and_count_tokens_are_served_under_v1beta_and_v1(
    tmp_path: Path,
) -> None:
    # v1 is what Google's own Python SDK (google-genai) calls unless told otherwise.
    async with (
        gateway(gemini(tmp_path)) as (_, url),
        httpx.AsyncClient(base_url=url, headers={"x-goog-api-key": KEY}) as client,
    ):
        for version in ("v1beta", "v1"):
            base = f"/{version}/models/gemini-echo"
            with trio.fail_after(PATIENCE):
                whole = await client.post(f"{base}:generateContent", json=ASK)
                streamed = await client.post(f"{base}:streamGenerateContent?alt=sse", json=ASK)
                counted = await client.post(f"{base}:countTokens", json=ASK)
            assert whole.status_code == 200, (version, whole.text)
            assert whole.json()["candidates"][0]["content"]["parts"][0]["text"] == "echo: hi there"
            assert streamed.status_code == 200, (version, streamed.text)
            assert streamed.headers["content-type"] == "text/event-stream"
            assert streamed.headers["x-alt"] == "sse"  # the executor is told the client's alt
            assert texts(streamed.text) == ["echo:", " hi", " there"]
            assert counted.json() == {"totalTokens": 2}


async def test_a_gemini_key_counts_in_its_header_or_the_query_and_without_one_each_action_is_401(
    tmp_path: Path,
) -> None:
    base = "/v1beta/models/gemini-echo"
    async with gateway(gemini(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            by_header = await client.post(
                f"{base}:generateContent", headers={"x-goog-api-key": KEY}, json=ASK
            )
            by_query = await client.post(f"{base}:generateContent?key={KEY}", json=ASK)
            refused = [
                await client.post(f"{base}:{action}", json=ASK)
                for action in ("generateContent", "streamGenerateContent?alt=sse", "countTokens")
            ]
    assert (by_header.status_code, by_query.status_code) == (200, 200)
    for answer in refused:
        assert answer.status_code == 401, answer.request.url
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]["type"] == "authentication_error"


async def test_a_gemini_stream_that_fails_midway_ends_with_a_data_event_and_no_event_line(
    tmp_path: Path,
) -> None:
    # README: a stream failing after its headers ends with the error body as a last data:
    # event; only Claude clients get "event: error" (Gemini's SDK reads every line as JSON).
    async with (
        gateway(gemini(tmp_path, fail="upstream fell over")) as (_, url),
        httpx.AsyncClient(base_url=url, headers={"x-goog-api-key": KEY}) as client,
    ):
        with trio.fail_after(PATIENCE):
            answer = await client.post(
                "/v1beta/models/gemini-echo:streamGenerateContent?alt=sse", json=ASK
            )
    assert answer.status_code == 200
    *words, last = events(answer.text)
    assert [text_of(event) for event in words] == ["echo:", " hi", " there"]
    assert list(last) == ["data"]
    assert json.loads(last["data"]) == {
        "error": {
            "message": "upstream fell over",
            "type": "server_error",
            "code": "internal_server_error",
        }
    }


@pytest.mark.parametrize(
    ("content_type", "served"), [([], "text/event-stream"), (["application/json"], None)]
)
async def test_a_stream_is_events_unless_its_executor_names_another_content_type(
    tmp_path: Path, content_type: list[str], served: str | None
) -> None:
    # No Content-Type, or an empty one: events, each chunk a data: event. Another one
    # (Gemini without alt=sse answers a JSON array): the chunks pass as they are.
    async with (
        gateway(gemini(tmp_path, **{"content-type": content_type})) as (_, url),
        httpx.AsyncClient(base_url=url, headers={"x-goog-api-key": KEY}) as client,
    ):
        with trio.fail_after(PATIENCE):
            answer = await client.post("/v1beta/models/gemini-echo:streamGenerateContent", json=ASK)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == (served or content_type[0])
    if served:
        assert texts(answer.text) == ["echo:", " hi", " there"]
    else:
        assert answer.text.startswith('{"candidates": ') and "data:" not in answer.text
