from dataclasses import dataclass

import msgspec
import pytest

from pluginrt.api import SchedulerAuthCandidate
from pluginrt.pipeline._rules import (
    ChunkHistory,
    apply_header_edits,
    canonical_header_key,
    client_error,
    normalize_format,
    ordered,
)
from pluginrt.pipeline._schedulers import BuiltinScheduler


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("content-type", "Content-Type"),
        ("X-GOOG-API-KEY", "X-Goog-Api-Key"),
        ("www-authenticate", "Www-Authenticate"),
        ("accept", "Accept"),
        ("x--y", "X--Y"),
        ("bad name", "bad name"),
        ("", ""),
    ],
)
def test_header_names_are_canonical_as_go_writes_them(name: str, canonical: str) -> None:
    assert canonical_header_key(name) == canonical


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("chat-completions", "openai"),
        ("chat_completions", "openai"),
        ("openai-chat-completions", "openai"),
        ("OpenAI_Chat_Completions", "openai"),
        ("responses", "openai-response"),
        ("openai-responses", "openai-response"),
        ("openai_responses", "openai-response"),
        ("anthropic", "claude"),
        ("gemini", "gemini"),
        ("", ""),
        ("none", ""),
        (" None ", ""),
    ],
)
def test_format_names_are_normalized(name: str, canonical: str) -> None:
    assert normalize_format(name) == canonical


def test_plugins_are_ordered_by_priority_descending_then_id() -> None:
    @dataclass
    class P:
        id: str
        priority: int

    plugins = [P("b", 10), P("a", 10), P("z", 20), P("c", 0)]
    assert [p.id for p in ordered(plugins)] == ["z", "a", "b", "c"]


def test_header_edits_clear_first_then_replace_never_append() -> None:
    headers = {"X-Plugin": ["high"], "x-remove": ["1"], "Keep": ["k"]}
    result = apply_header_edits(headers, ["X-Remove"], {"x-plugin": ["low"]})
    assert result == {"Keep": ["k"], "X-Plugin": ["low"]}
    assert headers["X-Plugin"] == ["high"], "the input is not mutated"


def test_an_empty_header_list_deletes_the_header() -> None:
    assert apply_header_edits({"A": ["1"], "B": ["2"]}, [], {"a": []}) == {"B": ["2"]}


def test_history_keeps_the_newest_64_chunks() -> None:
    history = ChunkHistory()
    for i in range(70):
        history.add(b"%d" % i)
    snapshot = history.snapshot()
    assert len(snapshot) == 64
    assert snapshot[0] == b"6" and snapshot[-1] == b"69"


def test_history_is_trimmed_to_one_mebibyte_and_a_huge_chunk_empties_it() -> None:
    history = ChunkHistory()
    history.add(b"a" * 600_000)
    history.add(b"b" * 600_000)
    assert [c[:1] for c in history.snapshot()] == [b"b"]
    history.add(b"c" * (2 << 20))
    assert history.snapshot() == []


@pytest.mark.parametrize("message", ['{"error": "nope"}', "[1, 2]", "42", '"quoted"', "null"])
def test_a_json_error_message_is_passed_through_as_is(message: str) -> None:
    assert client_error(403, message) == message.encode()


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (401, "authentication_error", "invalid_api_key"),
        (403, "permission_error", "insufficient_quota"),
        (404, "invalid_request_error", "model_not_found"),
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (500, "server_error", "internal_server_error"),
        (504, "server_error", "internal_server_error"),
        (400, "invalid_request_error", "invalid_request_error"),
    ],
)
def test_other_error_messages_get_an_openai_style_body(status: int, kind: str, code: str) -> None:
    for message in ("broken {", "NaN", ""):
        body = msgspec.json.decode(client_error(status, message))
        assert body == {"error": {"message": message, "type": kind, "code": code}}


def _candidates(*ids: str) -> list[SchedulerAuthCandidate]:
    return [SchedulerAuthCandidate(id=i, provider="p") for i in ids]


def test_round_robin_cycles_through_the_auths_per_model() -> None:
    scheduler = BuiltinScheduler()
    picks = [scheduler.pick("round-robin", "p", "m", _candidates("b", "a")) for _ in range(4)]
    assert [p.id for p in picks if p] == ["a", "b", "a", "b"]
    other = scheduler.pick("round-robin", "p", "other", _candidates("b", "a"))
    assert other is not None and other.id == "a"


def test_fill_first_always_takes_the_first_auth() -> None:
    scheduler = BuiltinScheduler()
    picks = [scheduler.pick("fill-first", "p", "m", _candidates("b", "a")) for _ in range(3)]
    assert [p.id for p in picks if p] == ["a", "a", "a"]


def test_no_candidates_means_no_pick() -> None:
    assert BuiltinScheduler().pick("round-robin", "p", "m", []) is None
