"""Executors, model scopes, what a client sees on failure, and usage records."""

from __future__ import annotations

import json
import os
import signal

import pytest
import trio
from pipeline_harness import Lab, alive, complete, report, request, streamed

from pluginrt.gateway._management import plugin_status
from pluginrt.host import (
    PluginClosed,
    PluginCrashed,
    PluginFailed,
    PluginRemoteError,
    PluginState,
    PluginTimeout,
    PluginUnavailable,
)
from pluginrt.pipeline import ClientStream, Endpoint, PipelineError
from pluginrt.pipeline._pipeline import status_of
from pluginrt.rpc import CANCELLED, StreamError

KEY = {"authorization": ["Bearer sk-key"]}


async def test_of_two_executors_for_one_provider_the_higher_serves(lab: Lab) -> None:
    high = lab.plugin("e-high", "executor", 20, provider="shared")
    low = lab.plugin("e-low", "executor", 10, provider="shared", models=["m1", "m2"])
    async with lab.host(low, high) as host:
        served = report(await complete(host, request(model="m1")))
        also_low_models = report(await complete(host, request(model="m2")))
    assert served["executor"] == "e-high"
    assert also_low_models["executor"] == "e-high"
    assert lab.calls("execute", "e-low") == []


async def test_per_model_the_first_executor_declaring_it_serves_it(lab: Lab) -> None:
    one = lab.plugin("one", "executor", 20, provider="p1", models=["a"])
    two = lab.plugin("two", "executor", 10, provider="p2", models=["a", "b"])
    async with lab.host(one, two) as host:
        assert report(await complete(host, request(model="a")))["executor"] == "one"
        assert report(await complete(host, request(model="b")))["executor"] == "two"


async def test_the_provider_key_is_the_registered_models_provider_lowercased(lab: Lab) -> None:
    # "own" registers its models under "Shared": its key is "shared", not its identifier.
    own = lab.plugin("own", "executor", 20, provider="own-id", model_provider="Shared")
    other = lab.plugin("other", "executor", 10, provider="shared", models=["m2"])
    async with lab.host(own, other) as host:
        served = report(await complete(host, request(model="m2")))
    assert served["executor"] == "own"
    assert lab.calls("execute", "other") == []


async def test_without_a_models_provider_the_key_is_the_executor_identifier_lowercased(
    lab: Lab,
) -> None:
    lab.write_auth("u.json", {"type": "upper"})
    unnamed = lab.plugin("e", "executor", provider="UPPER", model_provider="")
    async with lab.host(unnamed) as host:
        served = report(await complete(host, request()))
    assert (served["auth_id"], served["auth_provider"]) == ("u.json", "upper")


async def test_the_executor_gets_the_picked_auths_storage_metadata_and_attributes(
    lab: Lab,
) -> None:
    path = lab.write_auth("team/k.json", {"type": "probe", "token": "t"})
    async with lab.host(lab.plugin("a", "authority"), lab.plugin("e", "executor")) as host:
        served = report(await complete(host, request()))
    assert (served["auth_id"], served["auth_provider"]) == ("team/k.json", "probe")
    assert json.loads(served["storage"]) == {"type": "probe", "token": "t"}
    assert served["auth_metadata"] == {"origin": "parse"}
    assert served["auth_attributes"] == {"path": str(path), "source": "file"}


async def test_format_is_the_output_format_and_source_format_the_input_format(
    lab: Lab,
) -> None:
    # The client speaks openai; the executor takes openai but answers claude only.
    pairs = [["claude", "openai"]]
    back = lab.plugin("t", "transformer", translate="answer", tag="t", formats=pairs)
    executor = lab.plugin("e", "executor", inputs=["openai"], outputs=["claude"])
    async with lab.host(back, executor) as host:
        answer = await complete(host, request("x"))
    assert answer.status == 200, answer.body
    body, _, mark = answer.body.rpartition(b"|")
    served = json.loads(body)
    assert (served["format"], served["source_format"], mark) == ("claude", "openai", b"st:t")
    assert [(c["source"], c["target"]) for c in lab.calls("st")] == [("claude", "openai")]


@pytest.mark.parametrize("outputs", [["gemini", "claude"], ["claude", "gemini"]])
async def test_the_output_format_is_one_a_response_translator_turns_into_the_clients(
    lab: Lab, outputs: list[str]
) -> None:
    translator = lab.plugin("t", "transformer", translate="answer", tag="t",
                            formats=[["claude", "openai"]])  # fmt: skip
    executor = lab.plugin("e", "executor", inputs=["openai"], outputs=outputs)
    async with lab.host(translator, executor) as host:
        answer = await complete(host, request("x"))
        _, chunks = await streamed(host, request("x", endpoint=Endpoint.STREAM))
    assert answer.status == 200, answer.body
    body, _, mark = answer.body.rpartition(b"|")
    assert (json.loads(body)["format"], mark) == ("claude", b"st:t")
    assert chunks == [b"one|st:t", b"two|st:t", b"three|st:t"]


async def test_a_static_scope_executor_never_gets_model_for_auth(lab: Lab) -> None:
    lab.write_auth("s.json", {"type": "probe"})
    static = lab.plugin("static", "executor", scope="static", auth_models=["secret"])
    async with lab.host(static) as host:
        answer = await complete(host, request(model="m1"))
        unknown = await complete(host, request(model="secret"))
    assert report(answer)["auth_id"] == "s.json"
    assert unknown.status == 404
    assert [c["method"] for c in lab.calls(plugin="static")] == ["model.static", "execute"]


async def test_an_oauth_scope_executor_never_gets_model_static(lab: Lab) -> None:
    lab.write_auth("o.json", {"type": "probe", "token": "t"})
    async with lab.host(lab.plugin("oauth", "executor", scope="oauth", auth_models=["a"])):
        pass
    assert [c["method"] for c in lab.calls(plugin="oauth")] == ["model.for_auth"]


async def test_an_oauth_scope_executor_serves_only_its_per_auth_models(lab: Lab) -> None:
    lab.write_auth("o.json", {"type": "probe", "token": "t"})
    oauth = lab.plugin("oauth", "executor", scope="oauth", auth_models=["per-auth"])
    async with lab.host(oauth) as host:
        answer = await complete(host, request(model="per-auth"))
        static_model = await complete(host, request(model="m1"))
    seen = report(answer)
    assert (seen["auth_id"], seen["storage"]) == ("o.json", '{"type": "probe", "token": "t"}')
    assert static_model.status == 404
    assert lab.calls("model.for_auth", "oauth") == [
        {"plugin": "oauth", "method": "model.for_auth", "auth_id": "o.json"}
    ]


async def test_a_both_scope_executor_gets_static_and_per_auth_models(lab: Lab) -> None:
    lab.write_auth("b.json", {"type": "probe"})
    both = lab.plugin("both", "executor", auth_models=["extra"])
    async with lab.host(both) as host:
        assert report(await complete(host, request(model="m1")))["auth_id"] == "b.json"
        assert report(await complete(host, request(model="extra")))["auth_id"] == "b.json"
        listed = plugin_status(host, "both")["models"]  # the management API's list
    assert listed == ["m1", "extra"]
    assert [c["method"] for c in lab.calls(plugin="both")][:2] == [
        "model.static",
        "model.for_auth",
    ]


async def test_an_undeclared_client_format_goes_to_the_first_declared_one_a_translator_reaches(
    lab: Lab,
) -> None:
    pairs = [["openai", "claude"], ["claude", "openai"]]
    translator = lab.plugin("t", "transformer", translate="answer", tag="t", formats=pairs)
    watcher = lab.plugin("icpt", "interceptor", stages=[])
    formats = ["gemini", "claude"]
    executor = lab.plugin("e", "executor", inputs=formats, outputs=formats)
    async with lab.host(translator, watcher, executor) as host:
        answer = await complete(host, request("x"))
    assert answer.status == 200, answer.body
    body, _, mark = answer.body.rpartition(b"|")
    served = json.loads(body)
    assert (served["source_format"], served["format"], mark) == ("claude", "claude", b"st:t")
    assert served["payload"] == "x|rt:t"
    assert lab.calls("after")[0]["to_format"] == "claude"  # told before it is translated
    asked = [(c["source"], c["target"]) for c in lab.calls("rt")]
    assert asked == [("openai", "gemini"), ("openai", "claude")]
    # The output format is asked about first (a probe), then the answer is translated.
    assert [(c["source"], c["target"]) for c in lab.calls("st")] == [("claude", "openai")] * 2


async def test_no_translator_says_which_translator_failed_rather_than_declined(lab: Lab) -> None:
    failing = lab.plugin("t", "transformer", translate="fail", tag="t")
    executor = lab.plugin("e", "executor", inputs=["openai"], outputs=["claude"], reply="payload")
    async with lab.host(failing, executor) as host:
        answer = await complete(host, request("x"))
    assert answer.status == 502
    assert json.loads(answer.body)["error"]["message"] == (
        "no translator turns 'claude' responses into 'openai' (model 'm1'; "
        "plugin t failed: configured translation failure)"
    )


async def test_a_body_rewritten_after_auth_is_translated_anew_to_the_format_chosen_before(
    lab: Lab,
) -> None:
    pairs = [["openai", "claude"], ["claude", "openai"]]
    translator = lab.plugin("t", "transformer", translate="answer", tag="t", formats=pairs)
    rewriter = lab.plugin("icpt", "interceptor", stages=["after"], append="|after")
    formats = ["gemini", "claude"]
    executor = lab.plugin("e", "executor", inputs=formats, outputs=formats)
    async with lab.host(translator, rewriter, executor) as host:
        answer = await complete(host, request("x"))
        refused = await complete(host, request("x", fmt="gemini-cli"))
    served = json.loads(answer.body.rpartition(b"|")[0])
    assert (served["source_format"], served["payload"]) == ("claude", "x|after|rt:t")
    asked = [(c["source"], c["target"]) for c in lab.calls("rt")]
    assert asked[:3] == [("openai", "gemini"), ("openai", "claude"), ("openai", "claude")]
    assert refused.status == 400
    assert json.loads(refused.body)["error"]["message"] == (
        "no translator turns 'gemini-cli' requests into 'gemini' or 'claude' (model 'm1')"
    )
    assert len(lab.calls("after")) == 1  # the refused one got no further


async def test_an_executor_error_with_http_status_403_reaches_the_client_as_403(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = lab.plugin("e", "executor", fail={"message": "no access", "http_status": 403})
    async with lab.host(refusing) as host:
        answer = await complete(host, request())
    assert answer.status == 403
    assert answer.headers == {"Content-Type": ["application/json"]}
    assert json.loads(answer.body) == {
        "error": {"message": "no access", "type": "permission_error", "code": "insufficient_quota"}
    }
    # The client reads the plugin's message; the log also names the plugin and the method.
    (logged,) = [r.getMessage() for r in caplog.records if "failed with 403" in r.getMessage()]
    assert logged.endswith(
        "failed with 403: plugin 'e': executor.execute failed: no access (code -32000)"
    )


async def test_an_executor_error_without_a_status_is_a_500_with_an_openai_style_body(
    lab: Lab,
) -> None:
    async with lab.host(lab.plugin("e", "executor", fail="kaput")) as host:
        answer = await complete(host, request())
    assert answer.status == 500
    assert json.loads(answer.body) == {
        "error": {"message": "kaput", "type": "server_error", "code": "internal_server_error"}
    }


async def test_a_json_error_message_is_passed_through_as_is(lab: Lab) -> None:
    upstream = '{"error": {"message": "upstream says no", "type": "overloaded"}}'
    failing = lab.plugin("e", "executor", fail={"message": upstream, "http_status": 529})
    async with lab.host(failing) as host:
        answer = await complete(host, request())
    assert (answer.status, answer.body) == (529, upstream.encode())


async def test_a_handlers_exception_reaches_the_client_naming_the_plugin_a_chosen_error_as_is(
    lab: Lab,
) -> None:
    buggy = lab.plugin("e", "executor", bug="no key 'x'")
    chosen = lab.plugin("c", "executor", fail={"message": "upstream is busy", "http_status": 529})
    async with lab.host(buggy) as host:
        answer = await complete(host, request())
        stream = await host.handle(request(endpoint=Endpoint.STREAM))
        assert isinstance(stream, ClientStream)
        with pytest.raises(PipelineError) as caught:
            [chunk async for chunk in stream.chunks]
    async with lab.host(chosen) as host:
        refused = await complete(host, request())
    assert answer.status == 500
    said = json.loads(answer.body)["error"]["message"]
    assert said == "plugin 'e': executor.execute failed: ValueError: no key 'x'"
    assert caught.value.message == "plugin 'e': ValueError: no key 'x'"
    assert json.loads(refused.body)["error"]["message"] == "upstream is busy"


async def test_an_executor_that_times_out_gives_504(lab: Lab) -> None:
    slow = lab.plugin("e", "executor", sleep=5)
    slow["timeout"] = 0.3
    async with lab.host(slow) as host:
        answer = await complete(host, request())
    assert answer.status == 504
    assert json.loads(answer.body)["error"]["type"] == "server_error"


async def test_an_unknown_model_is_404_model_not_found(lab: Lab) -> None:
    async with lab.host(lab.plugin("e", "executor")) as host:
        answer = await complete(host, request(model="nope"))
    assert answer.status == 404
    assert json.loads(answer.body)["error"]["code"] == "model_not_found"


async def test_a_model_whose_plugin_is_between_two_processes_is_503_not_404(lab: Lab) -> None:
    # Enabled again (a new handle, not declared yet): its models are back in a moment.
    slow = lab.plugin("e", "executor", slow_restart=[1.5, str(lab.dir / "started")])
    keys = {"api-keys": ["sk-key"]}  # a way in: the undeclared plugin cannot be the only one
    async with lab.host(slow, **keys) as host, trio.open_nursery() as nursery:
        await host.set_enabled("e", False)
        nursery.start_soon(host.set_enabled, "e", True)
        await trio.sleep(0.7)  # the new process is in its handshake
        during = await complete(host, request(model="m1", headers=KEY))
    assert during.status == 503, during.body
    message = json.loads(during.body)["error"]["message"]
    assert message.startswith("model 'm1' is served by plugin 'e', which is not running now")


async def test_a_crashed_executors_models_are_503_while_it_restarts(lab: Lab) -> None:
    slow = lab.plugin("e", "executor", slow_restart=[1.5, str(lab.dir / "started")])
    slow["restart"] = {"max-restarts": 1, "backoff": "10ms"}
    async with lab.host(slow) as host:
        handle = host.plugins["e"]
        assert handle.pid is not None
        os.kill(handle.pid, signal.SIGKILL)
        await lab.until(lambda: handle.state is not PluginState.RUNNING)
        during = await complete(host, request(model="m1"))
    assert during.status == 503, during.body
    assert json.loads(during.body)["error"]["message"].startswith("plugin 'e': not available")


async def test_a_reload_swapping_a_plugins_process_serves_from_the_old_until_the_new_is_up(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pluginrt.host")
    slow = lab.plugin("e", "executor", slow_restart=[1.0, str(lab.dir / "started")])
    swapped = {**slow, "env": {"CHANGED": "1"}}  # a change only a new process takes
    async with lab.host(slow) as host:
        old_pid = host.plugins["e"].pid
        async with trio.open_nursery() as nursery:
            nursery.start_soon(host.reload, lab.config(swapped))
            await trio.sleep(0.5)  # the new process is in its handshake
            during = await complete(host, request(model="m1"))
        new_pid = host.plugins["e"].pid
        after = await complete(host, request(model="m1"))
    assert (during.status, after.status) == (200, 200), (during.body, after.body)
    assert old_pid is not None and new_pid is not None and new_pid != old_pid
    assert [c["pid"] for c in lab.calls("execute")] == [old_pid, new_pid]
    assert not alive(old_pid)  # stopped once the reload was done with it
    assert f"plugin e: its previous process (pid {old_pid}) stopped" in caplog.messages


async def test_a_request_naming_no_model_is_400(lab: Lab) -> None:
    async with lab.host(lab.plugin("e", "executor")) as host:
        answer = await complete(host, request(b"{}", model=""))
    assert answer.status == 400
    assert json.loads(answer.body)["error"]["message"] == "the request names no model"


async def test_count_tokens_on_an_executor_without_it_is_501_naming_the_plugin(lab: Lab) -> None:
    async with lab.host(lab.plugin("caller", "caller")) as host:
        answer = await complete(
            host, request(b"{}", model="caller-model", endpoint=Endpoint.COUNT_TOKENS)
        )
    assert answer.status == 501
    assert json.loads(answer.body)["error"]["message"] == (
        "plugin 'caller', the executor of model 'caller-model', "
        "does not implement executor.count_tokens"
    )


# ------------------------------------------------------------------------ usage


async def test_two_usage_plugins_both_receive_every_record(lab: Lab) -> None:
    usage = [lab.plugin("u1", "usage"), lab.plugin("u2", "usage")]
    async with lab.host(*usage, lab.plugin("e", "executor")) as host:
        await complete(host, request(model="m1"))
        await complete(host, request(model="missing"))
        _, chunks = await streamed(host, request(endpoint=Endpoint.STREAM))
        assert chunks == [b"one", b"two", b"three"]
        await lab.until(lambda: len(lab.calls("usage")) == 6)
    for plugin in ("u1", "u2"):
        records = [(c["model"], c["failed"], c["status"]) for c in lab.calls("usage", plugin)]
        assert sorted(records) == [("m1", False, 0), ("m1", False, 0), ("missing", True, 404)]


async def test_an_executors_401_is_a_request_made_and_makes_a_usage_record(lab: Lab) -> None:
    # A client refused at the door makes no record; one let in whose upstream
    # answered 401 (a revoked credential) made a request like any other failure.
    failing = lab.plugin("e", "executor", fail={"message": "upstream: bad key", "http_status": 401})
    async with lab.host(lab.plugin("u", "usage"), failing, **{"api-keys": ["sk-key"]}) as host:
        refused = await complete(host, request(model="refused"))
        failed = await complete(host, request(model="m1", headers=KEY))
        await lab.until(lambda: len(lab.calls("usage")) == 1)  # a refused one's comes first
    assert (refused.status, failed.status) == (401, 401)
    records = [(c["model"], c["failed"], c["status"]) for c in lab.calls("usage")]
    assert records == [("m1", True, 401)]


async def test_a_usage_plugin_that_sleeps_does_not_delay_responses(lab: Lab) -> None:
    sleepy = lab.plugin("sleepy", "usage", sleep=1)
    async with lab.host(sleepy, lab.plugin("e", "executor")) as host:
        with trio.fail_after(0.8):
            for _ in range(5):
                assert (await complete(host, request())).status == 200
        await lab.until(lambda: len(lab.calls("usage")) >= 1)


async def _batches_read_slowly(answer: ClientStream) -> list[list[bytes]]:
    """Every batch of ``answer``, with a pause after each for the executor to get ahead."""
    batches = []
    async for batch in answer.batches:
        batches.append(batch)
        await trio.sleep(0.02)
    return batches


async def test_chunks_that_came_together_reach_the_consumer_as_one_batch(lab: Lab) -> None:
    executor = lab.plugin("e", "executor", chunks={"count": 100, "size": 8})
    async with lab.host(executor) as host:
        answer = await host.handle(request(endpoint=Endpoint.STREAM))
        assert isinstance(answer, ClientStream)
        batches = await _batches_read_slowly(answer)
    assert [chunk for batch in batches for chunk in batch] == [
        f"c{i};".encode().ljust(8, b"x") for i in range(100)
    ]
    # While the consumer paused, chunks piled up: they came in one go, not one await each.
    assert max(map(len, batches)) > 1, [len(batch) for batch in batches]


async def test_with_a_chunk_interceptor_each_chunk_goes_on_as_soon_as_it_is_intercepted(
    lab: Lab,
) -> None:
    executor = lab.plugin("e", "executor", chunks={"count": 20, "size": 8})
    async with lab.host(executor, lab.plugin("i", "chunks", append="!")) as host:
        answer = await host.handle(request(endpoint=Endpoint.STREAM))
        assert isinstance(answer, ClientStream)
        batches = await _batches_read_slowly(answer)
    assert batches == [[f"c{i};".encode().ljust(8, b"x") + b"!"] for i in range(20)]


async def test_a_stream_that_ends_with_an_error_fails_with_its_status_after_the_chunks(
    lab: Lab,
) -> None:
    failing = lab.plugin("e", "executor", chunks=["a"], stream_fail={"message": "quota",
                         "http_status": 429})  # fmt: skip
    async with lab.host(failing, lab.plugin("u", "usage")) as host:
        answer = await host.handle(request(endpoint=Endpoint.STREAM))
        assert isinstance(answer, ClientStream)
        received = []
        with pytest.raises(PipelineError) as caught:
            async for chunk in answer.chunks:
                received.append(chunk)
        await lab.until(lambda: len(lab.calls("usage")) == 1)
    assert received == [b"a"]
    assert (caught.value.status, caught.value.message) == (429, "quota")
    assert lab.calls("usage")[0]["status"] == 429


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PluginTimeout("p", "executor.execute", 1.0), 504),
        (PluginRemoteError("p", "executor.execute", CANCELLED, "cancelled"), 499),
        (PluginRemoteError("p", "executor.execute", -32000, "no", http_status=403), 403),
        (PluginRemoteError("p", "executor.execute", -32000, "odd", http_status=99), 500),
        # An error is never answered with a success or a redirect.
        (PluginRemoteError("p", "executor.execute", -32000, "ok?", http_status=200), 500),
        (PluginRemoteError("p", "executor.execute", -32000, "moved", http_status=302), 500),
        (StreamError("gone", http_status=204), 500),
        (PluginRemoteError("p", "executor.execute", -32603, "bug"), 500),
        (PluginUnavailable("p", "restarting"), 503),
        (PluginFailed("p", None), 503),
        (PluginClosed("p"), 503),
        (PluginCrashed("p", 3, ""), 500),
        (StreamError("gone", http_status=502), 502),
        (PipelineError(418, "teapot"), 418),
        (ValueError("anything else"), 500),
    ],
)
def test_each_error_of_the_host_tree_maps_to_its_client_status(
    error: Exception, status: int
) -> None:
    assert status_of(error) == status
