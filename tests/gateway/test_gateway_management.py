"""The management API and plugin resources, over HTTP."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
from gateway_harness import (
    EXAMPLES,
    KEY,
    MANAGEMENT_KEY,
    PATIENCE,
    ROOT,
    chat,
    config,
    free_port,
    gateway,
)

from pluginrt import Config
from pluginrt.config import from_mapping

BEARER = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}


async def test_management_refuses_requests_without_the_key(tmp_path: Path) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        missing = await client.get("/v0/management/plugins")
        wrong = await client.get("/v0/management/plugins", headers={"X-Management-Key": "nope"})
        client_key = await client.get(
            "/v0/management/plugins", headers={"Authorization": f"Bearer {KEY}"}
        )
        header = await client.get(
            "/v0/management/plugins", headers={"X-Management-Key": MANAGEMENT_KEY}
        )
    assert [missing.status_code, wrong.status_code, client_key.status_code] == [401, 401, 401]
    error = {"message": "missing or invalid management key", "code": 401}  # as README says
    assert missing.json() == {"error": error}
    assert header.status_code == 200


async def test_without_a_management_key_the_management_api_does_not_exist(tmp_path: Path) -> None:
    cfg = config(tmp_path, overrides={"management-key": ""})
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/v0/management/plugins", headers=BEARER)
        resource = await client.get("/v0/resource/plugins/console/index.html")
    assert answer.status_code == 404
    assert resource.status_code == 200  # resources need no key


async def test_management_lists_plugins_with_state_pid_capabilities_and_statistics(
    tmp_path: Path,
) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        await client.post("/v1/chat/completions", content=chat(), headers={"x-api-key": KEY})
        answer = await client.get("/v0/management/plugins", headers=BEARER)
    plugins = {p["id"]: p for p in answer.json()["plugins"]}
    assert list(plugins) == ["mock", "claude-in", "claude-out", "console", "slow"]
    mock = plugins["mock"]
    assert (mock["name"], mock["version"], mock["state"]) == ("mock", "1.0.0", "running")
    assert isinstance(mock["pid"], int) and mock["restarts"] == 0
    assert mock["capabilities"] == ["ModelProvider", "Executor"]
    assert mock["statistics"]["calls"] >= 1 and mock["statistics"]["errors"] == 0


async def test_restarting_a_plugin_does_not_disturb_a_stream_from_another(tmp_path: Path) -> None:
    async with gateway(config(tmp_path)) as (host, url), httpx.AsyncClient(base_url=url) as client:
        old_pid = host.plugins["mock"].pid
        received: list[str] = []
        first = trio.Event()

        async def stream() -> None:
            body = chat("slow", stream=True)
            async with client.stream(
                "POST", "/v1/chat/completions", content=body, headers={"x-api-key": KEY}
            ) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        received.append(line)
                        first.set()

        with trio.fail_after(PATIENCE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream)
                await first.wait()
                restarted = await client.post("/v0/management/plugins/mock/restart", headers=BEARER)
        after = await client.post(
            "/v1/chat/completions", content=chat(), headers={"x-api-key": KEY}
        )
    assert restarted.status_code == 200
    assert restarted.json()["state"] == "running"
    assert restarted.json()["pid"] != old_pid
    assert len(received) == 7  # five words, the finish frame, [DONE]
    assert received[-1] == "data: [DONE]"
    assert after.status_code == 200


async def test_disable_enable_and_patch_a_plugins_config(tmp_path: Path) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        disabled = await client.post("/v0/management/plugins/mock/disable", headers=BEARER)
        missing = await client.post(
            "/v1/chat/completions", content=chat(), headers={"x-api-key": KEY}
        )
        enabled = await client.post("/v0/management/plugins/mock/enable", headers=BEARER)
        back = await client.post("/v1/chat/completions", content=chat(), headers={"x-api-key": KEY})
        patched = await client.patch(
            "/v0/management/plugins/slow/config", headers=BEARER, json={"words": 2, "delay": None}
        )
        read = await client.get("/v0/management/plugins/slow/config", headers=BEARER)
        stream = await client.post(
            "/v1/chat/completions", content=chat("slow", stream=True), headers={"x-api-key": KEY}
        )
        unknown = await client.post("/v0/management/plugins/nope/restart", headers=BEARER)
    assert disabled.json()["state"] == "stopped"
    assert missing.status_code == 404
    assert enabled.json()["state"] == "running"
    assert back.status_code == 200
    assert patched.json() == {"id": "slow", "config": {"words": 2}}
    assert read.json() == patched.json()
    # the plugin got its new config through plugin.reconfigure: two words now
    assert re.findall(r'"content": "(w\d) "', stream.text) == ["w0", "w1"]
    assert unknown.status_code == 404


async def test_a_config_patch_the_plugin_refuses_fails_and_the_old_config_stays(
    tmp_path: Path,
) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        path = "/v0/management/plugins/slow/config"
        refused = await client.patch(path, headers=BEARER, json={"refuse": "no words"})
        teapot = {"refuse": "not now", "refuse-status": 418}
        own_status = await client.patch(path, headers=BEARER, json=teapot)
        read = await client.get(path, headers=BEARER)
        stream = await client.post(
            "/v1/chat/completions", content=chat("slow", stream=True), headers={"x-api-key": KEY}
        )
    assert refused.status_code == 422
    assert refused.json() == {
        "error": {"message": "plugin 'slow' refused the config: no words", "code": 422}
    }
    assert own_status.status_code == 418
    assert read.json() == {"id": "slow", "config": {"words": 5, "delay": 0.1}}
    assert len(re.findall(r'"content": "(w\d) "', stream.text)) == 5  # still the old config


async def test_a_plugin_route_is_served_behind_the_key_and_its_json_is_html_escaped(
    tmp_path: Path,
) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        stats = await client.get("/v0/management/mock/stats", headers=BEARER)
        refused = await client.get("/v0/management/mock/stats")
        echo = await client.post("/v0/management/slow/echo", headers=BEARER, content=b"<b>&")
        broken = await client.get("/v0/management/slow/broken", headers=BEARER)
    assert stats.status_code == 200
    assert stats.json()["plugin"] == "console"
    assert refused.status_code == 401
    assert echo.json() == {"echo": "&lt;b&gt;&amp;"}
    assert broken.status_code == 502
    assert broken.json()["error"]["message"] == (
        "plugin 'slow': management.handle failed: RuntimeError: this route always fails "
        "(code -32603)"
    )


async def test_a_plugin_resource_is_served_without_a_key_and_dot_dot_is_refused(
    tmp_path: Path,
) -> None:
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/v0/resource/plugins/console/index.html")
        sneaky = await client.get("/v0/resource/plugins/console/%2e%2e/slow/index.html")
        posted = await client.post("/v0/resource/plugins/console/index.html")
        nothing = await client.get("/v0/resource/plugins/console/missing.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>mock console</h1>" in page.text
    assert sneaky.status_code == 400
    assert posted.status_code == 405
    assert nothing.status_code == 404


async def test_reload_rereads_the_config_file_and_auth_files_and_logins_answer(
    tmp_path: Path,
) -> None:
    from pluginrt import load_config

    source = tmp_path / "gateway.yaml"
    base = json.loads(json.dumps(_yaml_data(tmp_path)))
    source.write_text(json.dumps(base))  # JSON is YAML
    async with gateway(load_config(source), str(source)) as (_, url):  # noqa: SIM117
        async with httpx.AsyncClient(base_url=url) as client:
            before = await client.get("/v1/models", headers={"x-api-key": "sk-new"})
            base["api-keys"] = ["sk-new"]
            source.write_text(json.dumps(base))
            reloaded = await client.post("/v0/management/reload", headers=BEARER)
            after = await client.get("/v1/models", headers={"x-api-key": "sk-new"})
            source.write_text("api-keys: [1, 2]\n")
            bad = await client.post("/v0/management/reload", headers=BEARER)
            files = await client.get("/v0/management/auth-files", headers=BEARER)
            login = await client.post("/v0/management/auth/nobody/login", headers=BEARER)
            health = await client.get("/healthz")
    assert before.status_code == 401
    assert reloaded.status_code == 200
    assert after.status_code == 200
    assert bad.status_code == 400
    assert "api-keys" in bad.json()["error"]["message"]
    assert files.json() == {"files": []}
    assert login.status_code == 404
    assert health.json()["status"] == "ok"


async def test_a_config_patch_and_a_reload_apply_one_after_the_other(tmp_path: Path) -> None:
    from gateway_harness import PLUGINS

    from pluginrt import load_config

    journal = tmp_path / "journal"
    source = tmp_path / "gateway.yaml"
    slow = {"id": "slow", "command": str(PLUGINS / "slow_stream.py"),
            "config": {"journal": str(journal), "mark": "file"}}  # fmt: skip
    source.write_text(json.dumps({**_yaml_data(tmp_path), "plugins": [slow]}))
    async with gateway(load_config(source), str(source)) as (_, url):  # noqa: SIM117
        async with httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client:
            path = "/v0/management/plugins/slow/config"
            patch = {"pause": 0.5, "mark": "patched"}
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(client.patch, path, headers=BEARER, json=patch))
                await trio.sleep(0.2)  # the PATCH's reconfigure is under way
                await client.post("/v0/management/reload", headers=BEARER)
            read = await client.get(path, headers=BEARER)
    # The reload came second, whole: the file's section is what the host says and
    # what the plugin applied last (not the PATCH's, finishing after the reload's).
    assert read.json()["config"] == slow["config"]
    assert journal.read_text().splitlines()[-1] == "configured file"


def _yaml_data(tmp_path: Path) -> dict[str, object]:
    from gateway_harness import EXAMPLES

    return {
        "host": "127.0.0.1",
        "port": 0,
        "api-keys": [KEY],
        "management-key": MANAGEMENT_KEY,
        "auth-dir": str(tmp_path / "auths"),
        "plugins": [{"id": "mock", "command": str(EXAMPLES / "mock_llm.py")}],
    }


async def test_a_plugin_with_two_instances_serves_from_both_and_lists_each(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    data = {
        "host": "127.0.0.1",
        "port": 0,
        "api-keys": [KEY],
        "management-key": MANAGEMENT_KEY,
        "auth-dir": str(tmp_path / "auths"),
        "plugins": [{"id": "mock", "command": cfg.plugins[0].command, "instances": 2}],
    }
    cfg = from_mapping(data, base_dir=str(tmp_path))
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        for _ in range(4):  # one at a time: the instances take turns
            completion = await client.post(
                "/v1/chat/completions", content=chat(), headers={"x-api-key": KEY}
            )
            assert completion.status_code == 200
        answer = await client.get("/v0/management/plugins", headers=BEARER)
    (mock,) = answer.json()["plugins"]
    assert mock["state"] == "running"
    instances = mock["instances"]
    assert [i["instance"] for i in instances] == [0, 1]
    assert len({i["pid"] for i in instances}) == 2
    assert all(i["state"] == "running" and i["statistics"]["calls"] >= 1 for i in instances)
    assert mock["statistics"]["calls"] == sum(i["statistics"]["calls"] for i in instances)


async def test_management_statistics_count_the_streams_open_until_they_end(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    cfg.plugins[-1].config.update(words=2, delay=0.3)
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:

        async def open_streams() -> int:
            answer = await client.get("/v0/management/plugins", headers=BEARER)
            slow = {p["id"]: p for p in answer.json()["plugins"]}["slow"]
            streams: int = slow["statistics"]["streams_open"]
            return streams

        with trio.fail_after(PATIENCE):
            async with client.stream(
                "POST", "/v1/chat/completions", content=chat("slow", stream=True),
                headers={"x-api-key": KEY},
            ) as response:  # fmt: skip
                lines = response.aiter_lines()
                while not (await anext(lines)).startswith("data:"):
                    pass
                during = await open_streams()
                async for _ in lines:
                    pass
            while await open_streams():  # the host forgets the stream right after its end  # noqa: ASYNC110
                await trio.sleep(0.02)
    assert during == 1


def _auth_provider_config(tmp_path: Path) -> Config:
    """The gateway with the example auth provider (provider ``mock``) as its one plugin."""
    data = _yaml_data(tmp_path)
    data["plugins"] = [{"id": "auth", "command": str(EXAMPLES / "auth_provider.py")}]
    return from_mapping(data, base_dir=str(tmp_path))


async def test_a_login_poll_the_plugin_refuses_answers_its_status_and_message(
    tmp_path: Path,
) -> None:
    cfg = _auth_provider_config(tmp_path)
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        started = await client.post("/v0/management/auth/mock/login", headers=BEARER)
        unknown = await client.get("/v0/management/auth/mock/login/nope", headers=BEARER)
    assert started.status_code == 200
    assert unknown.status_code == 400  # the plugin's PluginError(http_status=400), not a 500
    message = unknown.json()["error"]["message"]
    assert "plugin 'auth'" in message and "unknown login state 'nope'" in message


async def test_api_call_answers_bad_input_unknown_auths_and_failing_plugins_with_clear_errors(
    tmp_path: Path,
) -> None:
    auths = tmp_path / "auths"
    auths.mkdir()
    for name, kind in [("mock.json", "mock"), ("slow.json", "slow"), ("orphan.json", "nobody")]:
        (auths / name).write_text(json.dumps({"type": kind}))
    closed = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    call = {"method": "GET", "url": closed, "header": {"X-A": ["1", "2"], "X-B": "3"}}
    bodies = [
        b"not json",
        json.dumps({"auth_id": "mock.json", "method": "GET"}).encode(),
        json.dumps({**call, "auth_id": "mock.json", "header": {"X-A": 1}}).encode(),
        json.dumps({**call, "auth_id": "mock.json", "url": "ftp://x/"}).encode(),
        json.dumps({**call, "auth_id": "missing.json"}).encode(),
        json.dumps({**call, "auth_id": "orphan.json"}).encode(),
        json.dumps({**call, "auth_id": "slow.json"}).encode(),
        json.dumps({**call, "auth_id": "mock.json"}).encode(),
    ]
    path = "/v0/management/api-call"
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(PATIENCE):
            keyless = await client.post(path, content=bodies[-1])
            wrong_method = await client.get(path, headers=BEARER)
            answers = [await client.post(path, content=b, headers=BEARER) for b in bodies]
    assert (keyless.status_code, wrong_method.status_code) == (401, 405)
    errors = [(a.status_code, a.json()["error"]["message"]) for a in answers]
    assert errors[0][0] == 400 and errors[0][1].startswith("api-call: the body is not JSON")
    assert errors[1:7] == [
        (400, "api-call: url is required"),
        (400, "api-call: header 'X-A' must be a string or a list of strings"),
        (400, "url must be an absolute http(s) URL, got 'ftp://x/'"),
        (404, "no auth with id 'missing.json'"),
        (503, "no executor serves provider 'nobody' (auth 'orphan.json')"),
        (501, "plugin 'slow', the executor of provider 'slow', "
              "does not implement executor.http_request"),
    ]  # fmt: skip
    status, message = errors[7]
    assert status == 502
    assert message.startswith("plugin 'mock': executor.http_request failed:")
    assert f"host.http.do GET {closed}" in message


async def test_a_login_started_and_polled_through_the_management_api_saves_an_auth_file(
    tmp_path: Path,
) -> None:
    cfg = _auth_provider_config(tmp_path)
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        started = (await client.post("/v0/management/auth/mock/login", headers=BEARER)).json()
        poll = f"/v0/management/auth/mock/login/{started['State']}"
        pending = (await client.get(poll, headers=BEARER)).json()
        done = (await client.get(poll, headers=BEARER)).json()
        files = (await client.get("/v0/management/auth-files", headers=BEARER)).json()
    assert started["State"] == "state-1" and started["URL"].startswith("https://login.mock/")
    assert (pending["Status"], pending["Message"]) == ("pending", "waiting for the user")
    assert done["Status"] == "success" and "Auth" not in done  # no credentials over HTTP
    saved = tmp_path / "auths" / done["file"]
    assert json.loads(saved.read_text())["token"] == "token-state-1"
    assert [f["name"] for f in files["files"]] == [done["file"]]


async def test_a_plugin_serves_a_method_or_path_the_host_does_not(tmp_path: Path) -> None:
    routes = [["GET", "reload"], ["POST", "plugins/x/y/z"], ["POST", "reload"]]
    script = ROOT / "tests" / "pipeline" / "plugins" / "routes.py"
    plugin = {"id": "routes", "command": str(script), "config": {"routes": routes}}
    cfg = config(tmp_path, overrides={"plugins": [plugin]})
    async with gateway(cfg) as (_, url), httpx.AsyncClient(base_url=url) as client:
        got = await client.get("/v0/management/reload", headers=BEARER)
        deep = await client.post("/v0/management/plugins/x/y/z", headers=BEARER)
        reloaded = await client.post("/v0/management/reload", headers=BEARER)
        wrong = await client.delete("/v0/management/reload", headers=BEARER)
    assert (got.status_code, got.text) == (200, "/v0/management/reload")
    assert (deep.status_code, deep.text) == (200, "/v0/management/plugins/x/y/z")
    # The host's POST reload (here without a config file to read), not the plugin's, skipped.
    assert reloaded.json()["error"]["message"] == "the gateway was not started from a config file"
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST, GET, HEAD")


async def test_a_wrong_method_on_a_management_path_is_405_with_allow(tmp_path: Path) -> None:
    wrong = [
        ("POST", "/v0/management/plugins", "GET, HEAD"),
        ("GET", "/v0/management/reload", "POST"),
        ("DELETE", "/v0/management/usage", "GET, HEAD"),
        ("GET", "/v0/management/api-call", "POST"),
        ("DELETE", "/v0/management/plugins/mock/config", "GET, HEAD, PATCH"),
        ("GET", "/v0/management/plugins/mock/restart", "POST"),
        ("GET", "/v0/management/auth/mock/login", "POST"),
        ("POST", "/v0/management/auth/mock/login/some-state", "GET, HEAD"),
        ("POST", "/v0/resource/plugins/console/index.html", "GET, HEAD"),
        ("GET", "/v0/management/slow/echo", "POST"),  # a plugin's route
    ]
    async with gateway(config(tmp_path)) as (_, url), httpx.AsyncClient(base_url=url) as client:
        answers = [await client.request(m, path, headers=BEARER) for m, path, _ in wrong]
    assert [(a.status_code, a.headers.get("allow")) for a in answers] == [
        (405, allow) for _, _, allow in wrong
    ]
    assert answers[0].json()["error"]["message"] == "use GET on /v0/management/plugins"


@pytest.mark.parametrize(("change", "expected"), [("disable", 409), ("remove", 404)])
async def test_a_restart_waiting_on_a_reload_that_removes_or_disables_the_plugin_is_refused(
    tmp_path: Path, change: str, expected: int
) -> None:
    from gateway_harness import PLUGINS

    from pluginrt import load_config

    source = tmp_path / "gateway.yaml"
    slow = {"id": "slow", "command": str(PLUGINS / "slow_stream.py"),
            "config": {"words": 30, "delay": 0.05}}  # fmt: skip
    mock = _yaml_data(tmp_path)["plugins"][0]  # type: ignore[index]
    data = {**_yaml_data(tmp_path), "plugins": [mock, slow]}
    source.write_text(json.dumps(data))
    plugins = [{**mock, "enabled": False}, slow] if change == "disable" else [slow]
    first = trio.Event()
    answers: list[httpx.Response] = []
    async with gateway(load_config(source), str(source)) as (host, url):  # noqa: SIM117
        async with httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client:
            source.write_text(json.dumps({**data, "plugins": plugins}))

            async def stream() -> None:
                body = chat("slow", stream=True)
                async with client.stream(
                    "POST", "/v1/chat/completions", content=body, headers={"x-api-key": KEY}
                ) as response:
                    async for _ in response.aiter_lines():
                        first.set()

            async def post(path: str) -> None:
                answers.append(await client.post(f"/v0/management/{path}", headers=BEARER))

            with trio.fail_after(PATIENCE):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(stream)
                    await first.wait()
                    # A restart of slow drains (the stream) holding the lock; a reload
                    # waits on it, and a restart of mock, checked before, on both.
                    for path in ("plugins/slow/restart", "reload", "plugins/mock/restart"):
                        nursery.start_soon(post, path)
                        await trio.sleep(0.2)
            active = [h.id for h in host.active()]
    assert [a.status_code for a in answers] == [200, 200, expected], answers[-1].text
    assert active == ["slow"]
    if change == "disable":
        said = answers[-1].json()["error"]["message"]
        assert said == "plugin 'mock' is disabled; enable it first"


async def test_a_restart_whose_new_process_does_not_start_keeps_the_running_one(
    tmp_path: Path,
) -> None:
    script = tmp_path / "mock_copy.py"
    script.write_text((EXAMPLES / "mock_llm.py").read_text())
    cfg = from_mapping(
        {**_yaml_data(tmp_path), "plugins": [{"id": "mock", "command": str(script)}]}
    )
    async with gateway(cfg) as (host, url), httpx.AsyncClient(base_url=url) as client:
        pid = host.plugins["mock"].pid
        script.write_text("import sys\nsys.exit(3)\n")  # the next process of it fails at once
        with trio.fail_after(PATIENCE):
            restarted = await client.post("/v0/management/plugins/mock/restart", headers=BEARER)
        after = await client.post(
            "/v1/chat/completions", content=chat(), headers={"x-api-key": KEY}
        )
        listed = await client.get("/v0/management/plugins/mock", headers=BEARER)
    assert restarted.status_code == 502
    message = restarted.json()["error"]["message"]
    assert message == (
        "plugin 'mock' did not restart, it runs as it was: failed to start: crashed during "
        "plugin.register (exited with status 3)"
    )
    assert after.status_code == 200
    assert (listed.json()["state"], listed.json()["pid"]) == ("running", pid)


async def test_a_reload_answer_names_the_plugins_that_kept_running_as_they_were(
    tmp_path: Path,
) -> None:
    from pluginrt import load_config

    source = tmp_path / "gateway.yaml"
    broken = tmp_path / "broken.py"
    broken.write_text("import sys\nsys.exit(3)\n")
    data = _yaml_data(tmp_path)
    source.write_text(json.dumps(data))
    async with gateway(load_config(source), str(source)) as (_, url):  # noqa: SIM117
        async with httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client:
            source.write_text(
                json.dumps({**data, "plugins": [{"id": "mock", "command": str(broken)}]})
            )
            reloaded = await client.post("/v0/management/reload", headers=BEARER)
            after = await client.post(
                "/v1/chat/completions", content=chat(), headers={"x-api-key": KEY}
            )
    assert reloaded.status_code == 200
    assert reloaded.json() == {
        "reloaded": True,
        "refused": {"mock": "plugin 'mock': failed to start: crashed during plugin.register "
                    "(exited with status 3)"},
    }  # fmt: skip
    assert after.status_code == 200
