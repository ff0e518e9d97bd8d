"""Thinking appliers: one per provider, the first in order; a failure changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pipeline_harness import Lab, complete, request


def _body(**extra: Any) -> bytes:
    return json.dumps({"model": "m1", "messages": [], **extra}).encode()


async def _sent(lab: Lab, *thinkers: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The payload the executor got for ``body`` with ``thinkers`` loaded."""
    executor = lab.plugin("executor", "executor", reply="payload")
    async with lab.host(executor, *thinkers) as host:
        answer = await complete(host, request(body))
    assert answer.status == 200, answer.body
    sent: dict[str, Any] = json.loads(answer.body)
    return sent


async def test_only_the_first_applier_for_the_provider_runs_and_gets_the_parsed_config(
    lab: Lab,
) -> None:
    other = lab.plugin("other", "thinker", priority=30, provider="elsewhere")
    first = lab.plugin("first", "thinker", priority=20)
    second = lab.plugin("second", "thinker", priority=10)
    sent = await _sent(lab, other, first, second, body=_body(reasoning_effort="HIGH"))
    assert sent["thought_by"] == "first"
    calls = lab.calls("thinking.apply")
    assert [c["plugin"] for c in calls] == ["first"]
    assert calls[0]["provider"] == "probe" and calls[0]["model"] == "m1"
    assert (calls[0]["mode"], calls[0]["level"]) == ("level", "high")
    assert json.loads(calls[0]["body"])["reasoning_effort"] == "HIGH"


@pytest.mark.parametrize("answer", ["fail", "empty"])
async def test_an_applier_that_fails_or_answers_empty_leaves_the_payload_unchanged(
    lab: Lab, answer: str
) -> None:
    failing = lab.plugin("failing", "thinker", priority=20, answer=answer)
    later = lab.plugin("later", "thinker", priority=10)
    body = _body(thinking={"type": "enabled", "budget_tokens": 2048})
    sent = await _sent(lab, failing, later, body=body)
    assert sent == json.loads(body)  # and the later applier is not asked instead
    calls = lab.calls("thinking.apply")
    assert [(c["plugin"], c["mode"], c["budget"]) for c in calls] == [("failing", "budget", 2048)]


async def test_a_request_without_reasoning_settings_reaches_no_applier(lab: Lab) -> None:
    sent = await _sent(lab, lab.plugin("thinker", "thinker"), body=_body())
    assert "thought_by" not in sent
    assert lab.calls("thinking.apply") == []
