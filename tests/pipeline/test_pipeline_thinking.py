"""Thinking appliers: one per provider, the first in order; a failure changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pipeline_harness import Lab, complete, request


def _body(**extra: Any) -> bytes:
    return json.dumps({"model": "m1", "messages": [], **extra}).encode()


#: A model that takes budgets and levels, and none and auto as they are.
SUPPORT = {"Min": 1024, "Max": 32768, "ZeroAllowed": True, "DynamicAllowed": True,
           "Levels": ["low", "medium", "high"]}  # fmt: skip


async def _sent(
    lab: Lab, *thinkers: dict[str, Any], body: bytes, support: Any = SUPPORT
) -> dict[str, Any]:
    """The payload the executor got for ``body`` with ``thinkers`` loaded, its model
    declaring ``support`` (``ModelInfo.Thinking``)."""
    executor = lab.plugin("executor", "executor", reply="payload", thinking=support)
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


async def test_a_model_that_declares_no_thinking_support_reaches_no_applier(lab: Lab) -> None:
    # As the Go proxy: reasoning controls apply to the models that declare them.
    body = _body(reasoning_effort="high")
    sent = await _sent(lab, lab.plugin("thinker", "thinker"), body=body, support=None)
    assert sent == json.loads(body)
    assert lab.calls("thinking.apply") == []


@pytest.mark.parametrize(
    ("support", "asked", "applied"),
    [
        ({"Min": 1024, "Max": 8192}, {"thinking": {"type": "enabled", "budget_tokens": 100000}},
         ("budget", 8192, "")),
        ({"Min": 1024, "Max": 8192}, {"thinking": {"type": "enabled", "budget_tokens": 10}},
         ("budget", 1024, "")),
        ({"Min": 128, "Max": 32768}, {"reasoning_effort": "low"}, ("budget", 1024, "low")),
        ({"Min": 512, "Max": 4096}, {"thinking": {"type": "disabled"}}, ("budget", 512, "")),
        ({"Min": 512, "Max": 4096, "ZeroAllowed": True}, {"thinking": {"type": "disabled"}},
         ("none", 0, "")),
        ({"Min": 1000, "Max": 3000}, {"thinking": {"type": "enabled"}}, ("budget", 2000, "")),
        ({"Levels": ["low", "high"]}, {"reasoning_effort": "HIGH"}, ("level", 0, "high")),
        ({"Levels": ["low", "medium", "high"]},
         {"thinking": {"type": "enabled", "budget_tokens": 5000}}, ("level", 0, "medium")),
    ],
)  # fmt: skip
async def test_the_applier_gets_the_config_normalized_to_what_the_model_supports(
    lab: Lab, support: dict[str, Any], asked: dict[str, Any], applied: tuple[str, int, str]
) -> None:
    await _sent(lab, lab.plugin("thinker", "thinker"), body=_body(**asked), support=support)
    (call,) = lab.calls("thinking.apply")
    assert (call["mode"], call["budget"], call["level"]) == applied


async def test_a_level_the_model_does_not_list_is_a_400_naming_the_levels(lab: Lab) -> None:
    executor = lab.plugin("executor", "executor", thinking={"Levels": ["low", "high"]})
    async with lab.host(executor, lab.plugin("thinker", "thinker")) as host:
        answer = await complete(host, request(_body(reasoning_effort="bogus")))
    assert answer.status == 400
    message = json.loads(answer.body)["error"]["message"]
    assert message == "model 'm1' takes the thinking levels low, high, not 'bogus'"
    assert lab.calls("thinking.apply") == [] and lab.calls("execute") == []
