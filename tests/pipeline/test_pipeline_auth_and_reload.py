"""The auth store through an auth provider plugin, and reloading with calls in flight."""

from __future__ import annotations

import json
import logging
import stat

import msgspec
import pytest
import trio
from pipeline_harness import Lab, alive, complete, report, request

from pluginrt import ClientResponse, ClientStream, Endpoint
from pluginrt.host import PluginState

AUTHORITY = ("authority", "authority")


async def test_a_due_refresh_is_called_and_its_result_merged_over_the_old_auth(lab: Lab) -> None:
    lab.write_auth("due.json", {"type": "probe", "label": "mine", "due": True, "token": "old"})
    lab.write_auth("fresh.json", {"type": "probe", "token": "still good"})
    async with lab.host(lab.plugin(*AUTHORITY)) as host:
        assert await host.auths.refresh_due(host.active()) == 1
        assert await host.auths.refresh_due(host.active()) == 0
        entry = {e.name: e for e in host.auths.entries()}["due.json"]
    assert [(c["auth_id"], json.loads(c["storage"])["token"]) for c in lab.calls("refresh")] == [
        ("due.json", "old")
    ]
    data = entry.data
    assert json.loads(data.storage_json) == {"type": "probe", "token": "refreshed"}
    assert (data.id, data.provider, data.label) == ("due.json", "probe", "mine")
    assert data.metadata == {"origin": "parse"}
    assert data.attributes["path"] == str(lab.auth_dir / "due.json")
    assert json.loads((lab.auth_dir / "due.json").read_text())["token"] == "refreshed"


async def test_an_auth_whose_refresh_failed_is_picked_only_when_no_other_one_can_serve(
    lab: Lab,
) -> None:
    lab.write_auth("bad.json", {"type": "probe", "due": True, "token": "revoked"})
    lab.write_auth("good.json", {"type": "probe", "token": "fine"})
    authority = lab.plugin(*AUTHORITY, refresh_fail="revoked")
    async with lab.host(authority, lab.plugin("exec", "executor")) as host:
        await host.auths.refresh_due(host.active())
        statuses = {e.name: e.status for e in host.auths.entries()}
        picked = [report(await complete(host, request()))["auth_id"] for _ in range(4)]
        (lab.auth_dir / "good.json").unlink()
        await host.auths.load(host.active())
        alone = report(await complete(host, request()))["auth_id"]
    assert statuses == {"bad.json": "error", "good.json": "active"}
    assert picked == ["good.json"] * 4  # round-robin, among the healthy ones
    assert alone == "bad.json"  # the one left still serves


async def test_a_refresh_answering_attributes_keeps_the_hosts_path_and_source(lab: Lab) -> None:
    path = lab.write_auth("due.json", {"type": "probe", "due": True})
    authority = lab.plugin(*AUTHORITY, refresh_attributes={"tier": "gold", "path": "/elsewhere"})
    async with lab.host(authority, lab.plugin("e", "executor")) as host:
        assert await host.auths.refresh_due(host.active()) == 1
        served = report(await complete(host, request()))
    assert served["auth_attributes"] == {"tier": "gold", "path": str(path), "source": "file"}


async def test_an_auth_of_a_foreign_type_is_refreshed_by_the_plugin_that_parsed_it(
    lab: Lab,
) -> None:
    # No plugin's identifier is "legacy": the fallback parser took the file, so it
    # refreshes it too (else the auth would never be refreshed).
    lab.write_auth("old.json", {"type": "legacy", "due": True, "token": "old"})
    async with lab.host(lab.plugin(*AUTHORITY, accept=["legacy"])) as host:
        assert host.auths.next_refresh(host.active()) is not None
        assert await host.auths.refresh_due(host.active()) == 1
        entry = {e.name: e for e in host.auths.entries()}["old.json"]
    assert [c["auth_id"] for c in lab.calls("refresh")] == ["old.json"]
    assert (entry.data.provider, json.loads(entry.data.storage_json)["token"]) == (
        "legacy",
        "refreshed",
    )


async def test_an_auth_is_refreshed_soon_after_its_next_refresh_passes(lab: Lab) -> None:
    # Not at the next 30-second look: at the time the auth asked for (within a second).
    lab.write_auth("soon.json", {"type": "probe", "due_in": 1})
    async with lab.host(lab.plugin(*AUTHORITY)):
        with trio.fail_after(10):
            while not lab.calls("refresh"):  # noqa: ASYNC110
                await trio.sleep(0.05)
    assert [c["auth_id"] for c in lab.calls("refresh")] == ["soon.json"]


async def test_an_auth_file_goes_to_the_parser_of_its_type_else_to_each_in_order_until_handled(
    lab: Lab,
) -> None:
    lab.write_auth("a.json", {"type": "alpha"})
    lab.write_auth("o.json", {"type": "other"})
    alpha = lab.plugin("p-alpha", "authority", 30, provider="alpha")
    beta = lab.plugin("p-beta", "authority", 20, provider="beta", accept=["alpha", "other"])
    gamma = lab.plugin("p-gamma", "authority", 10, provider="gamma", accept=["other"])
    async with lab.host(gamma, beta, alpha) as host:
        providers = {e.name: e.data.provider for e in host.auths.entries()}
    asked = [(c["plugin"], c["file"]) for c in lab.calls("parse")]
    assert asked == [("p-alpha", "a.json"), ("p-alpha", "o.json"), ("p-beta", "o.json")]
    assert providers == {"a.json": "alpha", "o.json": "other"}


async def test_a_login_started_and_polled_to_success_saves_an_auth_file(lab: Lab) -> None:
    async with lab.host(lab.plugin(*AUTHORITY)) as host:
        started = await host.auths.start_login(host.active(), "probe")
        pending, nothing = await host.auths.poll_login(host.active(), "probe", started.state)
        done, entry = await host.auths.poll_login(host.active(), "probe", started.state)
        names = [e.name for e in host.auths.entries()]
    assert (started.state, pending.status, nothing) == ("state-1", "pending", None)
    # Each poll gets the Metadata the start answered: the plugin's polling context.
    assert [c["metadata"] for c in lab.calls("poll")] == [{"device_code": "code-state-1"}] * 2
    assert done.status == "success"
    assert entry is not None and entry.name == "fresh.json"
    assert names == ["fresh.json"]
    path = lab.auth_dir / "fresh.json"
    assert msgspec.json.decode(path.read_bytes()) == {
        "type": "probe",
        "token": "login-state-1",
        "id": "fresh",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_malformed_auth_file_is_skipped_with_its_name_in_the_log(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    lab.write_auth("broken.json", "{not json")
    lab.write_auth("array.json", "[1, 2]")
    lab.write_auth("good.json", {"type": "probe"})
    with caplog.at_level(logging.ERROR, logger="pluginrt.auth"):
        async with lab.host(lab.plugin(*AUTHORITY)) as host:
            names = [e.name for e in host.auths.entries()]
    assert names == ["good.json"]
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "pluginrt.auth")
    assert "auth file broken.json skipped" in logged
    assert "auth file array.json skipped: it is not a JSON object" in logged


async def test_auth_files_in_folders_are_loaded_under_their_relative_path(lab: Lab) -> None:
    # As the Go host walks its auth directory: any folder depth, any case of .json;
    # dot files and dot folders are skipped.
    for name in ("top.json", "team/a.json", "team/deeper/b.json", "upper.JSON"):
        lab.write_auth(name, {"type": "probe"})
    lab.write_auth(".hidden.json", {"type": "probe"})
    lab.write_auth(".trash/c.json", {"type": "probe"})
    lab.write_auth("team/notes.txt", "not an auth")
    async with lab.host(lab.plugin(*AUTHORITY)) as host:
        entries = host.auths.entries()
        listed = [e.name for e in entries]
        ids = [e.data.id for e in entries]
        paths = [e.data.attributes["path"] for e in entries]
    expected = ["team/a.json", "team/deeper/b.json", "top.json", "upper.JSON"]
    assert listed == ids == expected
    assert paths == [str(lab.auth_dir / name) for name in expected]


async def test_a_reload_reconfigures_changed_sections_starts_new_plugins_and_stops_removed_ones(
    lab: Lab,
) -> None:
    keep = lab.plugin("a-keep", "interceptor", 30, stages=["before"], append="|keep")
    change = lab.plugin("b-change", "interceptor", 20, stages=["before"], append="|old")
    gone = lab.plugin("c-gone", "interceptor", 10, stages=["before"], append="|gone")
    executor = lab.plugin("exec", "executor")
    async with lab.host(keep, change, gone, executor) as host:
        before = report(await complete(host, request("x")))["payload"]
        changed = {**change, "config": {**change["config"], "append": "|new"}}
        added = lab.plugin("d-added", "interceptor", 5, stages=["before"], append="|added")
        assert await host.reload(lab.config(keep, changed, added, executor)) == {}
        after = report(await complete(host, request("y")))["payload"]
        assert sorted(host.plugins) == ["a-keep", "b-change", "d-added", "exec"]
    assert (before, after) == ("x|keep|old|gone", "y|keep|new|added")
    calls = {p: [(c["pid"], c["configured"]) for c in lab.calls("before", p)] for p in
             ("a-keep", "b-change", "d-added")}  # fmt: skip
    keep_pid, change_pid = calls["a-keep"][0][0], calls["b-change"][0][0]
    assert calls["a-keep"] == [(keep_pid, 1), (keep_pid, 1)]  # no reconfigure, no restart
    assert calls["b-change"] == [(change_pid, 1), (change_pid, 2)]  # reconfigured in place
    assert [n for _, n in calls["d-added"]] == [1]


async def test_a_reload_logs_one_line_for_each_plugin_it_starts_stops_restarts_or_reconfigures(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    keep = lab.plugin("a-keep", "interceptor", stages=["before"])
    section = lab.plugin("b-section", "interceptor", stages=["before"])
    moved = lab.plugin("c-moved", "interceptor", stages=["before"])
    gone = lab.plugin("d-gone", "interceptor", stages=["before"])
    off = lab.plugin("e-off", "interceptor", stages=["before"])
    async with lab.host(keep, section, moved, gone, off) as host:
        caplog.set_level(logging.INFO, logger="pluginrt.host")
        await host.reload(
            lab.config(
                keep,
                {**section, "config": {**section["config"], "append": "|new"}},
                {**moved, "priority": 7, "timeout": "6s"},
                {**off, "enabled": False},
                lab.plugin("f-new", "interceptor", stages=["before"]),
            )
        )
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("reload:")] == [
        "reload: stopping plugin d-gone (no longer in the config)",
        "reload: handing plugin b-section its new config section",
        "reload: restarting plugin c-moved (changed: priority, timeout)",
        "reload: stopping plugin e-off (disabled)",
        "reload: starting plugin f-new",
    ]


async def test_a_reload_with_calls_in_flight_loses_none_of_them(lab: Lab) -> None:
    executor = lab.plugin("exec", "executor", 10, sleep=0.5)
    interceptor = lab.plugin("icpt", "interceptor", stages=["before"], append="|old")
    answers: list[ClientResponse] = []

    async def one() -> None:
        answers.append(await complete(host, request("x")))

    async with lab.host(executor, interceptor) as host:
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(one)
            await lab.until(lambda: len(lab.calls("execute")) == 4)
            changed = {**executor, "priority": 20, "config": {**executor["config"], "sleep": 0}}
            added = lab.plugin("icpt2", "interceptor", stages=["before"], append="|new")
            await host.reload(lab.config(changed, added))
        after = await complete(host, request("y"))
    assert [a.status for a in answers] == [200] * 4
    assert [report(a)["payload"] for a in answers] == ["x|old"] * 4
    assert report(after)["payload"] == "y|new"


async def test_a_stream_left_unread_delays_a_reload_only_by_the_shutdown_grace(lab: Lab) -> None:
    executor = lab.plugin("exec", "executor")
    interceptor = lab.plugin("icpt", "interceptor", stages=["before"])
    settings = {"shutdown-grace": 0.3}
    async with lab.host(executor, interceptor, **settings) as host:
        stream = await host.handle(request(endpoint=Endpoint.STREAM))
        assert isinstance(stream, ClientStream)
        with trio.fail_after(2):
            await host.reload(lab.config(executor, **settings))
        assert [h.id for h in host.active()] == ["exec"]
        await stream.aclose()
        assert (await complete(host, request())).status == 200


async def test_a_restart_lets_an_open_stream_end_on_the_old_process_and_serves_new_ones_at_once(
    lab: Lab,
) -> None:
    executor = lab.plugin("exec", "executor", chunks=["a", "b", "c"], sleep=0.3)
    async with lab.host(executor) as host:
        old_pid = host.plugins["exec"].pid
        stream = await host.handle(request(endpoint=Endpoint.STREAM))
        assert isinstance(stream, ClientStream)
        chunks: list[bytes] = []

        async def read() -> None:
            chunks.extend([chunk async for chunk in stream.chunks])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            nursery.start_soon(host.restart, "exec")
            await lab.until(lambda: host.plugins["exec"].pid not in (None, old_pid))
            during = await complete(host, request())  # the new process, the stream still open
            assert not chunks or len(chunks) < 3
        assert old_pid is not None and not alive(old_pid)  # stopped once the stream ended
    assert chunks == [b"a", b"b", b"c"]
    assert during.status == 200


async def test_a_removed_plugin_takes_no_new_request_while_its_own_finish(lab: Lab) -> None:
    slow = lab.plugin("slow", "interceptor", stages=["before"], append="|slow", sleep=0.6)
    executor = lab.plugin("exec", "executor")
    async with lab.host(slow, executor) as host, trio.open_nursery() as nursery:
        answers: list[ClientResponse] = []

        async def one() -> None:
            answers.append(await complete(host, request("x")))

        nursery.start_soon(one)
        await lab.until(lambda: len(lab.calls("before")) == 1)
        nursery.start_soon(host.reload, lab.config(executor))
        await lab.until(lambda: "slow" not in host.plugins)
        after = await complete(host, request("y"))  # while slow still serves the first
        assert not answers
    assert report(answers[0])["payload"] == "x|slow"
    assert report(after)["payload"] == "y"
    assert len(lab.calls("before")) == 1


async def test_leaving_the_host_during_a_reloads_drain_stops_the_old_processes_too(
    lab: Lab,
) -> None:
    executor = lab.plugin("exec", "executor", chunks=["a"], stall=True)
    settings = {"shutdown-grace": 30}
    with trio.fail_after(15):
        async with lab.host(executor, **settings) as host, trio.open_nursery() as nursery:
            old_pid = host.plugins["exec"].pid
            stream = await host.handle(request(endpoint=Endpoint.STREAM))
            assert isinstance(stream, ClientStream)
            swapped = {**executor, "env": {"CHANGED": "1"}}
            nursery.start_soon(host.reload, lab.config(swapped, **settings))
            await lab.until(lambda: host.plugins["exec"].pid not in (None, old_pid))
            nursery.cancel_scope.cancel()  # the reload waits on the stream: leave it there
    assert old_pid is not None and not alive(old_pid)


@pytest.mark.parametrize("broken", ["exits", "never answers"])
async def test_a_reload_whose_new_process_does_not_start_keeps_the_running_one(
    lab: Lab, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    script = lab.dir / "broken.py"
    script.write_text(
        "import sys, time\n" + ("sys.exit(3)" if broken == "exits" else "time.sleep(60)")
    )
    executor = lab.plugin("exec", "executor")
    swapped = {**executor, "command": str(script), "handshake-timeout": 0.5}
    settings = {"shutdown-grace": 60}
    async with lab.host(executor, **settings) as host:
        old, pid = host.plugins["exec"], host.plugins["exec"].pid
        stream = await host.handle(request(endpoint=Endpoint.STREAM))  # left unread
        with caplog.at_level(logging.ERROR, logger="pluginrt.host"), trio.fail_after(10):
            refused = await host.reload(lab.config(swapped, **settings))  # nothing to drain
        assert isinstance(stream, ClientStream)
        await stream.aclose()
        assert host.plugins["exec"] is old and old.state is PluginState.RUNNING
        assert report(await complete(host, request("x")))["payload"] == "x"
        assert host.config.plugins[0].command == executor["command"]  # what runs
        assert list(refused) == ["exec"]
        # The next reload with the same broken command tries again.
        assert list(await host.reload(lab.config(swapped, **settings))) == ["exec"]
    said = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith("reload: plugin exec: its new process did not start (")
        and m.endswith(f"the running one (pid {pid}) keeps serving, as it was")
        for m in said
    ), said


async def test_a_reload_whose_config_a_plugin_refuses_keeps_its_previous_config(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    executor = lab.plugin("exec", "executor")
    refused = {**executor, "config": {**executor["config"], "refuse": "no thanks"}}
    with caplog.at_level(logging.ERROR, logger="pluginrt.host"):
        async with lab.host(executor) as host:
            await host.reload(lab.config(refused))
            assert (await complete(host, request())).status == 200
    assert host.config.plugins[0].config == executor["config"]
    assert "plugin exec refused its new config" in caplog.text and "no thanks" in caplog.text


async def test_a_reload_that_fixes_a_failed_plugins_config_starts_it_with_the_new_one(
    lab: Lab,
) -> None:
    refused = {**lab.plugin("exec", "executor"), "restart": {"max-restarts": 0}}
    refused["config"] = {**refused["config"], "refuse": "bad section"}
    async with lab.host(refused) as host:
        assert host.plugins["exec"].state is PluginState.FAILED
        fixed = lab.plugin("exec", "executor")
        await host.reload(lab.config(fixed))
        handle = host.plugins["exec"]
        assert handle.state is PluginState.RUNNING  # not failed still, nor restarted with the old
        assert handle.spec.config == fixed["config"]
        assert (await complete(host, request())).status == 200
