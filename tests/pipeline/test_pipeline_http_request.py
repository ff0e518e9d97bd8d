"""``Host.http_request``: an upstream request made with an auth's credential by its executor."""

from __future__ import annotations

import json

import pytest
import trio
from pipeline_harness import Lab, serve_http

from pluginrt.api import HTTPRequest
from pluginrt.pipeline import PipelineError


async def test_the_first_executor_of_the_auths_provider_sends_it_through_the_auths_proxy(
    lab: Lab,
) -> None:
    seen: list[bytes] = []

    async def proxy(stream: trio.SocketStream, head: bytes) -> None:
        seen.append(head)
        await stream.send_all(b"HTTP/1.1 201 Created\r\nx-up: 1\r\nContent-Length: 4\r\n\r\npong")

    async with trio.open_nursery() as nursery:
        port = await serve_http(nursery, proxy)
        proxy_url = f"http://127.0.0.1:{port}"
        lab.write_auth("a.json", {"type": "probe", "token": "t-1", "proxy_url": proxy_url})
        plugins = (
            lab.plugin("authority", "authority"),
            lab.plugin("first", "executor", priority=5),
            lab.plugin("second", "executor"),
        )
        async with lab.host(*plugins) as host:
            request = HTTPRequest(
                method="post", url="http://upstream.invalid/v1/ping",
                headers={"x-trace": ["7"]}, body=b"ping",
            )  # fmt: skip
            answer = await host.http_request("a.json", request)
        nursery.cancel_scope.cancel()
    assert (answer.status_code, answer.body) == (201, b"pong")
    assert answer.headers["X-Up"] == ["1"]
    # Only the auth's proxy could have answered: the executor's host.http.do ran in its scope.
    request_line, *header_lines = seen[0].decode().split("\r\n")
    assert request_line == "POST http://upstream.invalid/v1/ping HTTP/1.1"
    assert "Authorization: Bearer t-1" in header_lines
    [call] = lab.calls("http_request")
    assert call["plugin"] == "first"
    assert (call["auth_id"], call["provider"], call["http_method"]) == ("a.json", "probe", "POST")
    assert (call["url"], call["headers"], call["body"]) == (
        "http://upstream.invalid/v1/ping",
        {"X-Trace": ["7"]},  # Go's canonical names, as for every header handed to plugins
        "ping",
    )
    assert json.loads(call["storage"])["token"] == "t-1"
    assert call["metadata"] == {"origin": "parse"}
    assert call["attributes"] == {"path": str(lab.auth_dir / "a.json"), "source": "file"}


async def test_http_request_errors_name_the_auth_the_provider_the_plugin_and_the_method(
    lab: Lab,
) -> None:
    lab.write_auth("probe.json", {"type": "probe"})
    lab.write_auth("caller.json", {"type": "caller"})
    lab.write_auth("orphan.json", {"type": "nobody"})
    plugins = (
        lab.plugin("exec", "executor", http_fail={"message": "no token", "http_status": 401}),
        lab.plugin("caller", "caller"),  # an executor without executor.http_request
    )
    get = HTTPRequest(method="GET", url="http://upstream.invalid/")
    async with lab.host(*plugins) as host:
        failures = []
        for auth_id, request in [
            ("missing.json", get),
            ("orphan.json", get),
            ("caller.json", get),
            ("probe.json", get),
            ("probe.json", HTTPRequest(method="GE T", url="http://upstream.invalid/")),
            ("probe.json", HTTPRequest(method="GET", url="upstream.invalid/")),
        ]:
            with pytest.raises(PipelineError) as caught:
                await host.http_request(auth_id, request)
            failures.append((caught.value.status, str(caught.value)))
    assert failures == [
        (404, "no auth with id 'missing.json'"),
        (503, "no executor serves provider 'nobody' (auth 'orphan.json')"),
        (501, "plugin 'caller', the executor of provider 'caller', "
              "does not implement executor.http_request"),
        (502, "plugin 'exec': executor.http_request failed: no token (code -32000)"),
        (400, "method must be an HTTP method such as GET, got 'GE T'"),
        (400, "url must be an absolute http(s) URL, got 'upstream.invalid/'"),
    ]  # fmt: skip
    assert [c["auth_id"] for c in lab.calls("http_request")] == ["probe.json"]
