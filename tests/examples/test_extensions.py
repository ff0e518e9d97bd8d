"""Usage, command-line, management API and host callback examples."""

from __future__ import annotations

import json
import logging

import pytest
import trio
from examples_harness import PATIENCE, FakeHost, start

from pluginrt import api


async def test_the_usage_logger_writes_one_json_line_per_record_with_running_totals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pluginrt.plugin.usage-logger")
    record = api.UsageRecord(
        provider="mock",
        model="mock-small",
        latency=1_500_000_000,
        detail=api.UsageDetail(input_tokens=3, output_tokens=5),
    )

    def lines() -> list[dict[str, object]]:
        return [
            json.loads(r.getMessage())
            for r in caplog.records
            if r.name == "pluginrt.plugin.usage-logger" and r.getMessage().startswith("{")
        ]

    async with start("usage_logger.py") as plugin:
        await plugin.notify("usage.handle", record)
        await plugin.notify("usage.handle", record)
        with trio.fail_after(PATIENCE):
            while len(lines()) < 2:  # noqa: ASYNC110 - the log is the plugin's only output
                await trio.sleep(0.01)
    first, second = lines()
    assert first["usage"] == {
        "provider": "mock",
        "model": "mock-small",
        "auth_id": "",
        "failed": False,
        "latency_ms": 1500,
        "input_tokens": 3,
        "output_tokens": 5,
    }
    assert second["totals"] == {
        "requests": 2, "failed": 0, "input_tokens": 6, "output_tokens": 10,
    }  # fmt: skip


async def test_the_command_line_plugin_registers_its_flags_and_returns_an_auth_to_save() -> None:
    login = api.CommandLineFlagValue(name="mock-login", type="bool", value="true", set=True)
    user = api.CommandLineFlagValue(name="mock-user", type="string", value="ann", set=True)
    flags = {"mock-login": login, "mock-user": user}
    async with start("command_line.py") as plugin:
        assert [(f.name, f.type) for f in plugin.registrations.flags] == [
            ("mock-login", "bool"),
            ("mock-user", "string"),
        ]
        request = api.CommandLineExecutionRequest(
            flags=flags, triggered_flags={"mock-login": flags["mock-login"]}
        )
        answer = await plugin.call(
            "command_line.execute", request, api.CommandLineExecutionResponse
        )
        idle = await plugin.call(
            "command_line.execute",
            api.CommandLineExecutionRequest(),
            api.CommandLineExecutionResponse,
        )
        off = api.CommandLineFlagValue(name="mock-login", type="bool", value="false", set=True)
        declined = await plugin.call(  # -mock-login=false
            "command_line.execute",
            api.CommandLineExecutionRequest(flags={"mock-login": off},
                                            triggered_flags={"mock-login": off}),
            api.CommandLineExecutionResponse,
        )  # fmt: skip
    assert answer.exit_code == 0
    assert answer.stdout == b"logged in to mock as ann; saving mock-ann.json\n"
    [auth] = answer.auths
    assert (auth.provider, auth.id, auth.file_name) == ("mock", "mock-ann", "mock-ann.json")
    assert json.loads(auth.storage_json) == {"type": "mock", "token": "token-ann"}
    assert idle == declined == api.CommandLineExecutionResponse()


async def test_the_management_plugin_serves_a_json_route_and_an_html_resource() -> None:
    async with start("management_api.py") as plugin:
        routes, resources = plugin.registrations.routes, plugin.registrations.resources
        assert [(r.method, r.path) for r in routes] == [("GET", "mock/stats")]
        assert [r.path for r in resources] == ["index.html"]
        page = await plugin.call(
            "management.handle",
            api.ManagementRequest(method="GET", path="/v0/resource/plugins/mock/index.html"),
            api.ManagementResponse,
        )
        stats = await plugin.call(
            "management.handle",
            api.ManagementRequest(method="GET", path="/v0/management/mock/stats"),
            api.ManagementResponse,
        )
        missing = await plugin.call(
            "management.handle", api.ManagementRequest(path="/nope"), api.ManagementResponse
        )
    assert page.headers["Content-Type"] == ["text/html; charset=utf-8"]
    assert page.body.startswith(b"<!doctype html>")
    assert stats.headers["Content-Type"] == ["application/json"]
    assert json.loads(stats.body) == {
        "plugin": "management-api",
        "hits": {
            "/v0/resource/plugins/mock/index.html": 1,
            "/v0/management/mock/stats": 1,
        },
    }
    assert missing.status_code == 404


async def test_host_callbacks_reach_every_host_callback_with_the_calls_callback_id() -> None:
    fake = FakeHost()
    config = {"url": "https://fake.example/echo", "model": "mock-large"}
    async with start("host_callbacks.py", host=fake, config=config) as plugin:
        answer = await plugin.call(
            "executor.execute",
            api.ExecutorRequest(model="callbacks"),
            api.ExecutorResponse,
            callback_id="cb-1",
        )
    summary = json.loads(answer.payload)
    assert summary["http"]["status"] == 200
    assert json.loads(summary["http"]["body"]) == {
        "method": "POST", "url": "https://fake.example/echo", "headers": {}, "body": "ping",
    }  # fmt: skip
    assert summary["http_stream"] == ["one ", "two ", "three"]
    assert summary["model"]["status"] == 200
    nested = json.loads(summary["model"]["body"])
    assert nested["model"] == "mock-large"
    assert nested["echo"]["messages"] == [{"role": "user", "content": "nested"}]
    assert summary["auth_saved"] == "/auths/callbacks-demo.json"
    assert summary["auth_files"] == ["callbacks-demo.json"]
    assert fake.auths == {"callbacks-demo.json": {"type": "mock", "token": "demo"}}
    assert [log.message for log in fake.logs] == ["exercising every host callback"]
    methods = [method for method, _ in fake.calls]
    # Calls are answered in order; a notification (host.log) is served by its own
    # task, so it may be recorded after a call the plugin made later.
    calls = [m for m in methods if m != "host.log"]
    assert calls[:2] == ["host.http.do", "host.http.do_stream"]
    assert methods.count("host.log") == 1
    assert {"host.http.stream_read", "host.model.execute", "host.auth.save", "host.auth.list"} <= (
        set(methods)
    )
    assert {callback for _, callback in fake.calls} == {"cb-1"}
