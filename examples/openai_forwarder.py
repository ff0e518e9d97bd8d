"""An executor forwarding to any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama, ...).

Config section (all optional but ``base_url`` and ``models``)::

    config:
      base_url: https://api.openai.com/v1
      api_key: sk-...            # or an auth file of type "openai-compatible"
      models: [gpt-4o-mini]
      provider: openai-compatible

An auth file chosen by the scheduler wins over the config: its StorageJSON's
``base_url`` and ``api_key`` are used. Requests go out through the host
(``host.http.do`` / ``host.http.do_stream``), so the host's proxy and timeouts
apply. Streams are re-framed into whole SSE events; an upstream error keeps
its status and body. ``executor.http_request`` (the management API's
``POST /v0/management/api-call``) sends an operator's request with the same key.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from plugin_sdk import Plugin, PluginError, host, run
from pluginrt import api

plugin = Plugin(
    "openai-forwarder",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
plugin.executor("openai-compatible", input_formats=["openai"], output_formats=["openai"])


def settings_for(storage_json: bytes) -> dict[str, Any]:
    """The config section, with the auth's StorageJSON (if any) over it."""
    settings: dict[str, Any] = dict(plugin.config)
    if storage_json:
        settings.update(json.loads(storage_json))
    return settings


def with_key(settings: dict[str, Any], headers: dict[str, list[str]]) -> dict[str, list[str]]:
    """``headers`` with ``Authorization: Bearer <api_key>`` when there is a key."""
    if settings.get("api_key"):
        return {**headers, "Authorization": [f"Bearer {settings['api_key']}"]}
    return headers


def upstream(request: api.ExecutorRequest) -> tuple[str, dict[str, list[str]], bytes]:
    """The URL, headers and body to send for ``request``."""
    settings = settings_for(request.storage_json)
    base_url = str(settings.get("base_url") or "").rstrip("/")
    if not base_url:
        raise PluginError("openai-forwarder: no base_url configured", http_status=500)
    headers = with_key(settings, {"Content-Type": ["application/json"]})
    body = json.loads(request.payload or b"{}")
    body["model"] = request.model or body.get("model")
    body["stream"] = request.stream
    return f"{base_url}/chat/completions", headers, json.dumps(body).encode()


def failure(status: int, body: bytes) -> PluginError:
    # The upstream's own error body (JSON) reaches the client unchanged.
    return PluginError(body.decode("utf-8", "replace") or f"upstream {status}", http_status=status)


@plugin.on("model.static")
async def models(request: api.StaticModelRequest) -> api.ModelResponse:
    provider = str(plugin.config.get("provider", "openai-compatible"))
    names = [str(n) for n in plugin.config.get("models", [])]
    infos = [api.ModelInfo(id=n, object="model", owned_by=provider) for n in names]
    return api.ModelResponse(provider=provider, models=infos)


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    url, headers, body = upstream(request)
    answer = await host.http.do(api.HTTPRequest(method="POST", url=url, headers=headers, body=body))
    if answer.status_code >= 400:
        raise failure(answer.status_code, answer.body)
    return api.ExecutorResponse(payload=answer.body, headers={"Content-Type": ["application/json"]})


@plugin.on("executor.execute_stream")
async def execute_stream(request: api.ExecutorStreamRequest) -> AsyncIterator[object]:
    url, headers, body = upstream(request)
    outbound = api.HTTPRequest(method="POST", url=url, headers=headers, body=body)
    async with await host.http.do_stream(outbound) as response:
        if response.status_code >= 400:
            raise failure(response.status_code, b"".join([c async for c in response]))
        yield api.ExecutorStreamStart(headers={"Content-Type": ["text/event-stream"]})
        pending = b""
        async for data in response:  # network reads split events anywhere: re-frame them
            pending += data.replace(b"\r\n", b"\n")
            *events, pending = pending.split(b"\n\n")
            for event in events:
                if event.strip():
                    yield event + b"\n\n"
        if pending.strip():
            yield pending + b"\n\n"


@plugin.on("executor.count_tokens")
async def count_tokens(request: api.ExecutorRequest) -> api.ExecutorResponse:
    raise PluginError("count_tokens is not part of the OpenAI API", http_status=501)


@plugin.on("executor.http_request")
async def http_request(request: api.ExecutorHTTPRequest) -> api.ExecutorHTTPResponse:
    headers = with_key(settings_for(request.storage_json), request.headers)
    outbound = api.HTTPRequest(
        method=request.method, url=request.url, headers=headers, body=request.body
    )
    answer = await host.http.do(outbound)
    return api.ExecutorHTTPResponse(
        status_code=answer.status_code, headers=answer.headers, body=answer.body
    )


if __name__ == "__main__":
    run(plugin)
