"""What the host reads out of client and upstream payloads: reasoning asked for, tokens used.

Best effort by design: a payload the host cannot read yields nothing, never an error.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pluginrt.api import ThinkingConfig, UsageDetail

__all__ = ["model_of", "thinking_config", "usage_detail"]

_decoder = msgspec.json.Decoder()


def _json(body: bytes) -> Any:
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError:
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def model_of(body: bytes) -> str:
    """The ``model`` member of a JSON request body, or ``""``."""
    data = _json(body)
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else ""


def thinking_config(body: bytes) -> ThinkingConfig | None:
    """The reasoning the client asked for in its own format, or None.

    Reads OpenAI ``reasoning_effort``, Responses ``reasoning.effort``, Claude
    ``thinking`` and Gemini ``generationConfig.thinkingConfig``.
    """
    data = _json(body)
    if not isinstance(data, dict):
        return None
    effort = data.get("reasoning_effort")
    reasoning = data.get("reasoning")
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    if isinstance(effort, str) and effort:
        return _level(effort)
    thinking = data.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "disabled":
            return ThinkingConfig(mode="none")
        budget = _int(thinking.get("budget_tokens"))
        if not budget:
            return ThinkingConfig(mode="auto")
        return ThinkingConfig(mode="budget", budget=budget)
    generation = data.get("generationConfig")
    config = generation.get("thinkingConfig") if isinstance(generation, dict) else None
    if isinstance(config, dict):
        level = config.get("thinkingLevel")
        if isinstance(level, str) and level:
            return _level(level)
        raw_budget = config.get("thinkingBudget")
        if isinstance(raw_budget, int) and not isinstance(raw_budget, bool):
            if raw_budget < 0:
                return ThinkingConfig(mode="auto")
            if raw_budget == 0:
                return ThinkingConfig(mode="none")
            return ThinkingConfig(mode="budget", budget=raw_budget)
    return None


def _level(level: str) -> ThinkingConfig:
    level = level.lower()
    if level == "none":
        return ThinkingConfig(mode="none")
    if level == "auto":
        return ThinkingConfig(mode="auto")
    return ThinkingConfig(mode="level", level=level)


def usage_detail(body: bytes) -> UsageDetail | None:
    """Token counts from a response body or stream chunk (OpenAI, Claude or Gemini shape)."""
    if b"usage" not in body:  # most stream chunks: no need to decode them
        return None
    text = body.strip()
    if text.startswith(b"data:"):
        text = text[5:].strip()
    data = _json(text) if text[:1] == b"{" else None
    if not isinstance(data, dict):
        return None
    usage = data.get("usage")
    if not isinstance(usage, dict) and isinstance(data.get("message"), dict):
        usage = data["message"].get("usage")  # claude message_start
    if not isinstance(usage, dict) and isinstance(data.get("response"), dict):
        usage = data["response"].get("usage")  # responses API completed event
    if isinstance(usage, dict):
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        output = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
        output = output if isinstance(output, dict) else {}
        inputs = _int(usage.get("prompt_tokens")) or _int(usage.get("input_tokens"))
        outputs = _int(usage.get("completion_tokens")) or _int(usage.get("output_tokens"))
        cache_read = _int(usage.get("cache_read_input_tokens"))
        cache_creation = _int(usage.get("cache_creation_input_tokens"))
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
        return UsageDetail(
            input_tokens=inputs,
            output_tokens=outputs,
            reasoning_tokens=_int(output.get("reasoning_tokens")),
            cached_tokens=cached or cache_read,
            cache_read_tokens=cache_read,
            cache_creation_tokens=cache_creation,
            total_tokens=_int(usage.get("total_tokens")) or inputs + outputs,
        )
    meta = data.get("usageMetadata")
    if isinstance(meta, dict):
        return UsageDetail(
            input_tokens=_int(meta.get("promptTokenCount")),
            output_tokens=_int(meta.get("candidatesTokenCount")),
            reasoning_tokens=_int(meta.get("thoughtsTokenCount")),
            cached_tokens=_int(meta.get("cachedContentTokenCount")),
            total_tokens=_int(meta.get("totalTokenCount")),
        )
    return None
