"""Translators, normalizers, frontend auth and the scheduler through real plugin processes."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import pytest
import trio
from pipeline_harness import PATIENCE, Lab, complete, report, request, streamed

from pluginrt import Host
from pluginrt.pipeline import Endpoint

EXECUTOR = ("exec", "executor")
BEARER = "Authorization"


def bearer(token: str) -> dict[str, list[str]]:
    return {BEARER: [f"Bearer {token}"]}


# ------------------------------------------------------------------ translators


async def test_translators_are_first_wins_falling_through_errors_and_empty_answers(
    lab: Lab,
) -> None:
    translators = [
        lab.plugin("t1", "transformer", 40, translate="fail", tag="t1"),
        lab.plugin("t2", "transformer", 30, translate="decline", tag="t2"),
        lab.plugin("t3", "transformer", 20, translate="answer", tag="t3"),
        lab.plugin("t4", "transformer", 10, translate="answer", tag="t4"),
    ]
    async with lab.host(*translators, lab.plugin(*EXECUTOR, reply="payload")) as host:
        answer = await complete(host, request("body", fmt="anthropic"))
    assert answer.status == 200
    assert answer.body == b"body|rt:t3|st:t3"
    assert [c["plugin"] for c in lab.calls("rt")] == ["t1", "t2", "t3"]
    assert [(c["source"], c["target"]) for c in lab.calls("rt")] == [("claude", "openai")] * 3
    assert [(c["source"], c["target"]) for c in lab.calls("st")] == [("openai", "claude")] * 3


async def test_normalizers_chain_each_seeing_the_previous_ones_output_past_errors(
    lab: Lab,
) -> None:
    normalizers = [
        lab.plugin("n1", "transformer", 20, normalize=True, tag="a"),
        lab.plugin("n2", "transformer", 15, normalize="fail", tag="x"),
        lab.plugin("n3", "transformer", 10, normalize=True, tag="b"),
        lab.plugin("n4", "transformer", 5, normalize=False, tag="c"),
    ]
    async with lab.host(*normalizers, lab.plugin(*EXECUTOR, reply="payload")) as host:
        answer = await complete(host, request("x"))
    assert answer.body == b"x|rn:a|rn:b|nb:a|nb:b|na:a|na:b"


async def test_normalize_after_is_asked_about_each_sse_frame_of_a_stream_chunk(lab: Lab) -> None:
    # A translator may turn one chunk into several frames: each is normalized on its own.
    normalizer = lab.plugin("n", "transformer", normalize=True, tag="n")
    chunks = ["data: a\n\ndata: b\n\n", "data: c\n\n"]
    async with lab.host(normalizer, lab.plugin(*EXECUTOR, chunks=chunks)) as host:
        _, delivered = await streamed(host, request("x", endpoint=Endpoint.STREAM))
    assert delivered == [
        b"data: a\n\n|na:ndata: b\n\n|na:n|nb:n|na:n",  # normalize_before's mark is a frame too
        b"data: c\n\n|na:n|nb:n|na:n",
    ]
    assert len(lab.calls("na")) == 5


async def test_equal_formats_pass_through_without_a_translator(lab: Lab) -> None:
    async with lab.host(lab.plugin(*EXECUTOR, reply="payload")) as host:
        answer = await complete(host, request("same", fmt="chat-completions"))
    assert (answer.status, answer.body) == (200, b"same")


async def test_translators_are_asked_when_the_formats_are_equal_and_their_answer_is_used(
    lab: Lab,
) -> None:
    decliner = lab.plugin("t1", "transformer", 20, translate="decline", tag="t1")
    answerer = lab.plugin("t2", "transformer", 10, translate="answer", tag="t2")
    executor = lab.plugin(*EXECUTOR, reply="payload", chunks=["a", "b"])
    async with lab.host(decliner, answerer, executor) as host:
        answer = await complete(host, request("same"))
        _, chunks = await streamed(host, request("same", endpoint=Endpoint.STREAM))
    assert answer.body == b"same|rt:t2|st:t2"
    assert chunks == [b"a|st:t2", b"b|st:t2"]
    asked = [(c["plugin"], c["source"], c["target"]) for c in lab.calls("rt")]
    assert asked == [("t1", "openai", "openai"), ("t2", "openai", "openai")] * 2


async def test_equal_formats_pass_through_when_every_translator_declines(lab: Lab) -> None:
    decliner = lab.plugin("t", "transformer", translate="decline", tag="t")
    async with lab.host(decliner, lab.plugin(*EXECUTOR, reply="payload")) as host:
        answer = await complete(host, request("same"))
    assert (answer.status, answer.body) == (200, b"same")
    assert [(c["source"], c["target"]) for c in lab.calls("st")] == [("openai", "openai")]


async def test_differing_formats_with_no_translator_answering_fail_with_a_clear_error(
    lab: Lab,
) -> None:
    decliner = lab.plugin("t", "transformer", translate="decline", tag="t")
    async with lab.host(decliner, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request("x", fmt="claude"))
    assert answer.status == 400
    assert json.loads(answer.body) == {
        "error": {
            "message": "no translator turns 'claude' requests into 'openai' (model 'm1')",
            "type": "invalid_request_error",
            "code": "invalid_request_error",
        }
    }
    assert lab.calls("execute") == []


async def test_declared_formats_none_and_empty_are_dropped_and_aliases_normalized(
    lab: Lab,
) -> None:
    pairs = [["claude", "openai"], ["openai", "claude"]]
    translator = lab.plugin("t", "transformer", translate="answer", tag="t", formats=pairs)
    after = lab.plugin("icpt", "interceptor", stages=[])
    formats = ["none", "", "chat-completions"]
    executor = lab.plugin(*EXECUTOR, inputs=formats, outputs=formats)
    async with lab.host(translator, after, executor) as host:
        answer = await complete(host, request("x", fmt="anthropic"))
    assert answer.status == 200, answer.body
    body, _, mark = answer.body.rpartition(b"|")
    served = json.loads(body)
    assert (served["source_format"], served["format"], mark) == ("openai", "openai", b"st:t")
    assert lab.calls("after")[0]["to_format"] == "openai"
    assert [(c["source"], c["target"]) for c in lab.calls("rt")] == [("claude", "openai")]


async def test_differing_response_formats_and_no_response_translator_at_all_fail_unexecuted(
    lab: Lab,
) -> None:
    executor = lab.plugin(*EXECUTOR, inputs=["openai"], outputs=["claude"])
    async with lab.host(executor) as host:
        answer = await complete(host, request("x"))
    assert answer.status == 502
    message = json.loads(answer.body)["error"]["message"]
    assert message == (
        "no translator turns 'claude' responses into 'openai' (model 'm1'): "
        "the executor was not called"
    )
    assert lab.calls("execute") == []  # the upstream is not paid for an answer lost


async def test_differing_response_formats_with_no_translator_answering_fail_with_a_clear_error(
    lab: Lab,
) -> None:
    decliner = lab.plugin("t", "transformer", translate="decline", tag="t")
    executor = lab.plugin(*EXECUTOR, inputs=["openai"], outputs=["claude"])
    async with lab.host(decliner, executor) as host:
        answer = await complete(host, request("x"))
    assert answer.status == 502
    message = json.loads(answer.body)["error"]["message"]
    assert message == "no translator turns 'claude' responses into 'openai' (model 'm1')"
    assert [(c["source"], c["target"]) for c in lab.calls("st")] == [("claude", "openai")]


# ---------------------------------------------------------------- frontend auth


async def test_the_lower_frontend_provider_authenticates_when_the_higher_declines(
    lab: Lab,
) -> None:
    high = lab.plugin("fa-high", "frontend", 20, token="high-token")
    low = lab.plugin("fa-low", "frontend", 10, token="low-token")
    async with lab.host(high, low, lab.plugin(*EXECUTOR), **{"api-keys": ["sk-key"]}) as host:
        by_low = await complete(host, request(headers=bearer("low-token")))
        by_key = await complete(host, request(headers=bearer("sk-key")))
    assert (by_low.status, by_key.status) == (200, 200)
    asked = [(c["plugin"], c["presented"]) for c in lab.calls("authenticate")]
    assert asked == [("fa-high", "low-token"), ("fa-low", "low-token")]


async def test_the_winning_providers_principal_and_metadata_travel_with_the_request(
    lab: Lab,
) -> None:
    provider = lab.plugin("fa", "frontend", token="t", metadata={"team": "red"})
    icpt = lab.plugin("icpt", "interceptor", stages=[])
    async with lab.host(provider, icpt, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request(headers=bearer("t")))
    identity = {"principal": "fa", "frontend_auth": {"team": "red"}}
    assert report(answer)["metadata"] == identity
    assert [c["metadata"] for c in lab.calls("before") + lab.calls("after")] == [identity] * 2


async def test_a_frontend_provider_that_errors_is_passed_over(lab: Lab) -> None:
    broken = lab.plugin("fa-broken", "frontend", 20, token="t", fail="auth backend down")
    good = lab.plugin("fa-good", "frontend", 10, token="t")
    async with lab.host(broken, good, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request(headers=bearer("t")))
    assert answer.status == 200


async def test_nobody_authenticating_gives_401(lab: Lab) -> None:
    provider = lab.plugin("fa", "frontend", token="right")
    async with lab.host(provider, lab.plugin(*EXECUTOR), **{"api-keys": ["sk-key"]}) as host:
        wrong = await complete(host, request(headers=bearer("wrong")))
        missing = await complete(host, request())
    for answer in (wrong, missing):
        assert answer.status == 401
        assert json.loads(answer.body)["error"]["type"] == "authentication_error"
    assert lab.calls("execute") == []


async def test_an_exclusive_provider_is_the_only_one_and_disables_configured_api_keys(
    lab: Lab,
) -> None:
    other = lab.plugin("fa-other", "frontend", 30, token="other-token")
    exclusive = lab.plugin("fa-excl", "frontend", 10, token="excl-token", exclusive=True)
    later = lab.plugin("fa-later", "frontend", 5, token="later-token", exclusive=True)
    settings = {"api-keys": ["sk-key"]}
    async with lab.host(other, exclusive, later, lab.plugin(*EXECUTOR), **settings) as host:
        statuses = [
            (await complete(host, request(headers=bearer(token)))).status
            for token in ("sk-key", "other-token", "later-token", "excl-token")
        ]
    assert statuses == [401, 401, 401, 200]
    assert {c["plugin"] for c in lab.calls("authenticate")} == {"fa-excl"}


async def _killed(host: Host, plugin_id: str, until: str = "failed") -> None:
    """Kill a plugin and wait till it is in state ``until`` (the lab's max-restarts is 0:
    it fails at once, unless its spec was given restarts)."""
    handle = host.plugins[plugin_id]
    assert handle.pid is not None
    os.kill(handle.pid, signal.SIGKILL)
    with trio.fail_after(PATIENCE):
        while handle.state != until:  # noqa: ASYNC110 - no event for a state change
            await trio.sleep(0.02)


@pytest.mark.parametrize("keys", [[], ["sk-key"]])
@pytest.mark.parametrize("state", ["failed", "restarting"])
async def test_an_exclusive_provider_down_lets_no_client_in_not_even_with_an_api_key(
    lab: Lab, keys: list[str], state: str
) -> None:
    # Restarting too (between its crash and its restart): a 503, not a 401 telling a
    # client with a good token that its token is bad.
    exclusive = lab.plugin("fa-excl", "frontend", 10, token="excl-token", exclusive=True)
    if state == "restarting":
        exclusive["restart"] = {"max-restarts": 5, "backoff": "60s", "backoff-max": "60s"}
    async with lab.host(exclusive, lab.plugin(*EXECUTOR), **{"api-keys": keys}) as host:
        await _killed(host, "fa-excl", until=state)
        answers = [
            await complete(host, request(headers=bearer(token)))
            for token in ("sk-key", "excl-token", "")
        ]
    assert [a.status for a in answers] == [503, 503, 503]
    assert all("frontend auth plugin 'fa-excl' is not running" in a.body.decode() for a in answers)
    assert lab.calls("execute") == []


async def test_a_failed_exclusive_provider_does_not_hand_the_gate_to_the_next_exclusive_one(
    lab: Lab,
) -> None:
    first = lab.plugin("fa-first", "frontend", 10, token="first-token", exclusive=True)
    second = lab.plugin("fa-second", "frontend", 5, token="second-token", exclusive=True)
    async with lab.host(first, second, lab.plugin(*EXECUTOR)) as host:
        await _killed(host, "fa-first")
        answers = [
            await complete(host, request(headers=bearer(token)))
            for token in ("first-token", "second-token")
        ]
    assert [a.status for a in answers] == [503, 503]
    assert "frontend auth plugin 'fa-first' is not running" in answers[1].body.decode()
    assert lab.calls("execute") == []


async def test_a_failed_provider_that_was_the_only_way_in_does_not_open_the_gateway(
    lab: Lab,
) -> None:
    gate = lab.plugin("fa", "frontend", 10, token="a-token")
    async with lab.host(gate, lab.plugin(*EXECUTOR)) as host:
        await _killed(host, "fa")
        answer = await complete(host, request())
    assert answer.status == 503
    assert lab.calls("execute") == []


async def test_with_api_keys_a_failed_provider_leaves_the_keys_working(lab: Lab) -> None:
    gate = lab.plugin("fa", "frontend", 10, token="a-token")
    async with lab.host(gate, lab.plugin(*EXECUTOR), **{"api-keys": ["sk-key"]}) as host:
        await _killed(host, "fa")
        statuses = [
            (await complete(host, request(headers=bearer(token)))).status
            for token in ("sk-key", "a-token")
        ]
    assert statuses == [200, 401]


def _never_declares(lab: Lab, restarts: int) -> dict[str, Any]:
    """A plugin that exits before its handshake: whether it was a frontend auth is unknown."""
    entry = lab.plugin("mystery", "frontend", 10)
    entry["command"] = [sys.executable, "-c", "raise SystemExit(3)"]
    entry["restart"] = {"max-restarts": restarts, "backoff": "10s"}
    return entry


@pytest.mark.parametrize("restarts", [0, 5])
async def test_a_plugin_that_never_declared_does_not_leave_the_gateway_open(
    lab: Lab, restarts: int
) -> None:
    async with lab.host(_never_declares(lab, restarts), lab.plugin(*EXECUTOR)) as host:
        assert host.plugins["mystery"].declaration is None
        answer = await complete(host, request())
    assert answer.status == 503
    message = json.loads(answer.body)["error"]["message"]
    assert "plugin 'mystery' has not declared its capabilities" in message
    assert lab.calls("execute") == []


async def test_with_api_keys_a_plugin_that_never_declared_leaves_the_keys_working(
    lab: Lab,
) -> None:
    settings = {"api-keys": ["sk-key"]}
    async with lab.host(_never_declares(lab, 0), lab.plugin(*EXECUTOR), **settings) as host:
        statuses = [
            (await complete(host, request(headers=bearer(token)))).status
            for token in ("sk-key", "other")
        ]
    assert statuses == [200, 401]


async def test_a_disabled_plugin_that_never_declared_is_no_bar(lab: Lab) -> None:
    mystery = {**_never_declares(lab, 0), "enabled": False}
    async with lab.host(mystery, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request())
    assert answer.status == 200


# -------------------------------------------------------------------- scheduler


def three_auths(lab: Lab) -> None:
    for name in ("a", "b", "c"):
        lab.write_auth(f"{name}.json", {"type": "probe", "token": name})


async def auth_ids(lab: Lab, count: int = 3, **settings: object) -> list[str]:
    """The auths ``count`` requests ran with (scheduler plugins given in ``settings``)."""
    plugins = settings.pop("plugins", [])
    assert isinstance(plugins, list)
    async with lab.host(*plugins, lab.plugin(*EXECUTOR), **settings) as host:
        return [report(await complete(host, request()))["auth_id"] for _ in range(count)]


async def test_only_the_first_scheduler_plugin_is_asked(lab: Lab) -> None:
    three_auths(lab)
    first = lab.plugin("s1", "scheduler", 20, pick={"auth_id": "b.json"})
    second = lab.plugin("s2", "scheduler", 10, pick={"auth_id": "c.json"})
    assert await auth_ids(lab, plugins=[first, second]) == ["b.json"] * 3
    assert {c["plugin"] for c in lab.calls("pick")} == {"s1"}
    assert lab.calls("pick")[0]["candidates"] == ["a.json", "b.json", "c.json"]


async def test_a_candidate_auth_id_wins_over_a_delegate(lab: Lab) -> None:
    three_auths(lab)
    both = lab.plugin("s", "scheduler", pick={"auth_id": "c.json", "delegate": "round-robin"})
    assert await auth_ids(lab, plugins=[both]) == ["c.json"] * 3


async def test_an_unknown_auth_id_falls_back_to_the_configured_builtin(lab: Lab) -> None:
    three_auths(lab)
    unknown = lab.plugin("s", "scheduler", pick={"auth_id": "nope.json"})
    assert await auth_ids(lab, plugins=[unknown], scheduler="fill-first") == ["a.json"] * 3


async def test_an_unknown_delegate_or_unhandled_pick_falls_back_to_the_builtin(lab: Lab) -> None:
    three_auths(lab)
    unknown = lab.plugin("s", "scheduler", pick={"delegate": "random"})
    assert await auth_ids(lab, plugins=[unknown]) == ["a.json", "b.json", "c.json"]
    unhandled = lab.plugin("s", "scheduler", pick={"handled": False, "auth_id": "c.json"})
    assert await auth_ids(lab, plugins=[unhandled], scheduler="fill-first") == ["a.json"] * 3


async def test_a_fill_first_delegate_overrides_a_round_robin_config(lab: Lab) -> None:
    three_auths(lab)
    delegate = lab.plugin("s", "scheduler", pick={"delegate": "fill-first"})
    assert await auth_ids(lab, plugins=[delegate], scheduler="round-robin") == ["a.json"] * 3


async def test_a_round_robin_delegate_overrides_a_fill_first_config(lab: Lab) -> None:
    three_auths(lab)
    delegate = lab.plugin("s", "scheduler", pick={"delegate": "round-robin"})
    assert await auth_ids(lab, 4, plugins=[delegate], scheduler="fill-first") == [
        "a.json",
        "b.json",
        "c.json",
        "a.json",
    ]


async def test_a_scheduler_error_fails_the_request_with_its_status_else_500(lab: Lab) -> None:
    three_auths(lab)
    limited = lab.plugin("s", "scheduler", fail={"message": "slow down", "http_status": 429})
    async with lab.host(limited, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request())
    assert answer.status == 429
    assert json.loads(answer.body) == {
        "error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}
    }
    plain = lab.plugin("s", "scheduler", fail="scheduler bug")
    async with lab.host(plain, lab.plugin(*EXECUTOR)) as host:
        answer = await complete(host, request())
    assert answer.status == 500
    assert json.loads(answer.body)["error"]["message"] == "scheduler bug"
    assert lab.calls("execute") == []


async def test_the_scheduler_is_not_asked_when_the_provider_has_no_auths(lab: Lab) -> None:
    asked = lab.plugin("s", "scheduler", pick={"auth_id": "a.json"})
    assert await auth_ids(lab, 1, plugins=[asked]) == [""]
    assert lab.calls("pick") == []
