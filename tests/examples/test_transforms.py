"""Translator, normalizer and thinking applier examples: payloads in, payloads out."""

from __future__ import annotations

import json
from typing import Any

from examples_harness import start

from pluginrt import api

CLAUDE = {
    "model": "claude-x",
    "system": [{"type": "text", "text": "Be brief."}],
    "max_tokens": 64,
    "stream": True,
    "stop_sequences": ["\n\n"],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
}
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "mock-small",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello  "},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}  # fmt: skip


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def sse(frames: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``event: NAME`` / ``data: JSON`` pairs of a Claude SSE text."""
    events = []
    for block in frames.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_the_request_translator_turns_a_claude_request_into_openai_messages() -> None:
    request = api.RequestTransformRequest(
        from_format="claude", to_format="openai", model="mock-small", body=body(CLAUDE)
    )
    async with start("request_translator.py") as plugin:
        answer = await plugin.call("request.translate", request, api.PayloadResponse)
    assert json.loads(answer.body) == {
        "model": "mock-small",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "max_tokens": 64,
        "stream": True,
        "stop": ["\n\n"],
    }


async def test_the_request_translator_declines_other_formats_with_an_empty_body() -> None:
    request = api.RequestTransformRequest(from_format="gemini", to_format="openai", body=b"{}")
    async with start("request_translator.py") as plugin:
        answer = await plugin.call("request.translate", request, api.PayloadResponse)
    assert answer.body == b""


async def test_the_request_normalizer_drops_nulls_and_fills_max_tokens_from_config() -> None:
    request = api.RequestTransformRequest(body=body({"model": "m", "user": None}))
    async with start("request_normalizer.py", config={"default_max_tokens": 99}) as plugin:
        answer = await plugin.call("request.normalize", request, api.PayloadResponse)
        kept = await plugin.call(
            "request.normalize", api.RequestTransformRequest(body=b"not json"), api.PayloadResponse
        )
    assert json.loads(answer.body) == {"model": "m", "max_tokens": 99}
    assert kept.body == b""


async def test_the_response_translator_turns_a_chat_completion_into_a_claude_message() -> None:
    request = api.ResponseTransformRequest(
        from_format="openai", to_format="claude", body=body(COMPLETION)
    )
    async with start("response_translator.py") as plugin:
        answer = await plugin.call("response.translate", request, api.PayloadResponse)
    assert json.loads(answer.body) == {
        "id": "chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "mock-small",
        "content": [{"type": "text", "text": "Hello  "}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }


async def test_the_response_translator_turns_each_stream_frame_into_claude_events() -> None:
    def frame(delta: dict[str, str], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}
        return b"data: " + body(chunk) + b"\n\n"

    frames = [frame({"role": "assistant", "content": ""}), frame({"content": "Hi"}),
              frame({}, "length"), b"data: [DONE]\n\n"]  # fmt: skip
    events = []
    async with start("response_translator.py") as plugin:
        for payload in frames:
            request = api.ResponseTransformRequest(
                from_format="openai", to_format="claude", stream=True, body=payload
            )
            answer = await plugin.call("response.translate", request, api.PayloadResponse)
            events += sse(answer.body)
    assert [name for name, _ in events] == [
        "message_start", "content_block_start", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]  # fmt: skip
    assert events[0][1]["message"]["role"] == "assistant"
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "Hi"}
    assert events[4][1]["delta"] == {"stop_reason": "max_tokens"}


async def test_the_response_normalizers_trim_before_and_mark_after_translation() -> None:
    async with start("response_normalizers.py") as plugin:
        before = await plugin.call(
            "response.normalize_before",
            api.ResponseTransformRequest(from_format="openai", body=body(COMPLETION)),
            api.PayloadResponse,
        )
        after = await plugin.call(
            "response.normalize_after",
            api.ResponseTransformRequest(body=body({"type": "message"})),
            api.PayloadResponse,
        )
        frame = await plugin.call(
            "response.normalize_after",
            api.ResponseTransformRequest(stream=True, body=b'event: x\ndata: {"a": 1}\n\n'),
            api.PayloadResponse,
        )
        done = await plugin.call(
            "response.normalize_after",
            api.ResponseTransformRequest(stream=True, body=b"data: [DONE]\n\n"),
            api.PayloadResponse,
        )
    assert json.loads(before.body)["choices"][0]["message"]["content"] == "Hello"
    assert json.loads(after.body) == {"type": "message", "x_normalized": True}
    assert frame.body == b'event: x\ndata: {"a": 1, "x_normalized": true}\n\n'
    assert done.body == b""


async def test_the_thinking_applier_sets_a_reasoning_field_for_provider_mock() -> None:
    async with start("thinking_applier.py") as plugin:
        assert plugin.capabilities.thinking_applier == api.CapabilityDecl(identifier="mock")
        request = api.ThinkingApplyRequest(
            provider="mock",
            config=api.ThinkingConfig(mode="budget", budget=16000),
            body=body({"model": "mock-large", "reasoning": "old"}),
        )
        applied = await plugin.call("thinking.apply", request, api.PayloadResponse)
        request.config = api.ThinkingConfig(mode="none")
        removed = await plugin.call("thinking.apply", request, api.PayloadResponse)
    assert json.loads(applied.body) == {
        "model": "mock-large",
        "reasoning": {"effort": "high", "max_tokens": 16000},
    }
    assert json.loads(removed.body) == {"model": "mock-large"}
