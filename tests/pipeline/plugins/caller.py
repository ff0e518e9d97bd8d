"""An executor whose payload is a command for the host callbacks; it answers what came back.

Commands (the payload's JSON ``do``): ``nested`` (``host.model.execute``),
``nested_stream_flag`` (the same with ``stream: true``), ``stream_flag``
(``host.model.execute_stream`` with ``stream: false``), ``open_stream``
(``host.model.execute_stream``, left open), ``read_stream`` (read the
stream opened earlier), ``read_raw`` (``host.model.stream_read`` of a given
``stream_id``, as any peer may send it), ``model_stream_all``
(``host.model.execute_stream`` read to its end: the chunks and the error it
ended with), ``http`` (``host.http.do``; an error is answered),
``http_headers`` (its response's header names), ``http_stream``
(``host.http.do_stream``, first chunk only), ``http_stream_all`` (read to its
end, as ``model_stream_all``), ``http_stream_sizes`` (every chunk's size),
``auth_save`` (each case of ``cases``, then ``host.auth.list``),
``auth_files`` (``host.auth.list``, then ``host.auth.get`` of each), ``log``
(``host.log`` at each of ``levels``, then fails).
With config ``intercept`` it is also a request interceptor that appends
``|caller`` to the body; with ``intercept_out`` a response interceptor that
appends ``|caller-out``.
"""

import json
from typing import Any

from _probe import text

from plugin_sdk import HostStream, Plugin, host, run
from plugin_sdk._host import _request  # a raw read, with ids no SDK stream would send
from pluginrt import api

plugin = Plugin("test-caller", version="1", author="tests", github_repository="-")
plugin.executor("caller", input_formats=["openai"], output_formats=["openai"], scope="static")
opened: dict[str, HostStream] = {}


@plugin.on("model.static")
async def static(request: api.StaticModelRequest) -> api.ModelResponse:
    return api.ModelResponse(provider="caller", models=[api.ModelInfo(id="caller-model")])


@plugin.on("request.intercept_before")
async def before(request: api.RequestInterceptRequest) -> api.RequestInterceptResponse:
    if not plugin.config.get("intercept"):
        return api.RequestInterceptResponse()
    return api.RequestInterceptResponse(body=request.body + b"|caller")


@plugin.on("request.intercept_after")
async def after(request: api.RequestInterceptRequest) -> api.RequestInterceptResponse:
    return api.RequestInterceptResponse()


@plugin.on("response.intercept_after")
async def response(request: api.ResponseInterceptRequest) -> api.ResponseInterceptResponse:
    if not plugin.config.get("intercept_out"):
        return api.ResponseInterceptResponse()
    return api.ResponseInterceptResponse(body=request.body + b"|caller-out")


def nested(command: dict[str, Any], stream: bool) -> api.HostModelExecutionRequest:
    body = command.get("body", "").encode()
    return api.HostModelExecutionRequest(
        entry_protocol="openai", model=command["model"], body=body, stream=stream
    )


async def read_all(stream: HostStream) -> dict[str, Any]:
    chunks: list[str] = []
    try:
        async with stream:
            async for chunk in stream:
                chunks.append(text(chunk))
    except Exception as exc:
        return {"chunks": chunks, "error": str(exc)}
    return {"chunks": chunks, "error": ""}


async def perform(command: dict[str, Any]) -> Any:
    action = command["do"]
    if action == "nested":
        answer = await host.model.execute(nested(command, False))
        return {"status": answer.status_code, "body": text(answer.body)}
    if action == "nested_stream_flag":
        try:
            await host.model.execute(nested(command, True))
        except Exception as exc:
            return {"error": str(exc)}
        return {"error": ""}
    if action == "open_stream":
        stream = await host.model.execute_stream(nested(command, True))
        opened[stream.stream_id] = stream
        return {"stream_id": stream.stream_id, "first": text(await stream.receive())}
    if action == "read_stream":
        try:
            return {"read": text(await opened[command["stream_id"]].receive()), "error": ""}
        except Exception as exc:
            return {"read": "", "error": str(exc)}
    if action == "model_stream_all":
        try:
            stream = await host.model.execute_stream(nested(command, True))
        except Exception as exc:
            return {"refused": str(exc), "http_status": getattr(exc, "http_status", 0)}
        return await read_all(stream)
    if action == "http_stream_all":
        return await read_all(await host.http.do_stream(api.HTTPRequest(url=command["url"])))
    if action == "stream_flag":
        try:
            await host.model.execute_stream(nested(command, False))
        except Exception as exc:
            return {"error": str(exc)}
        return {"error": ""}
    if action == "read_raw":
        params = api.HostModelStreamReadRequest(stream_id=command["stream_id"])
        try:
            read = await _request("host.model.stream_read", params, api.HostModelStreamReadResponse)
        except Exception as exc:
            return {"raised": str(exc)}
        return {"done": read.done, "error": read.error, "payload": text(read.payload)}
    if action == "http":
        try:
            answer = await host.http.do(api.HTTPRequest(method="GET", url=command["url"]))
        except Exception as exc:
            said, status = getattr(exc, "message", str(exc)), getattr(exc, "http_status", 0)
            return {"error": said, "http_status": status}
        return {"status": answer.status_code, "body": text(answer.body)}
    if action == "http_headers":
        answer = await host.http.do(api.HTTPRequest(method="GET", url=command["url"]))
        return {"headers": sorted(answer.headers)}
    if action == "http_stream":
        async with await host.http.do_stream(api.HTTPRequest(url=command["url"])) as body:
            return {"status": body.status_code, "first": text(await body.receive())}
    if action == "http_stream_sizes":
        async with await host.http.do_stream(api.HTTPRequest(url=command["url"])) as body:
            return {"sizes": [len(chunk) async for chunk in body]}
    if action == "auth_files":
        listed = await host.auth.list()
        got = [await host.auth.get(entry.auth_index) for entry in listed]
        return {"listed": [e.name for e in listed], "got": [[g.name, g.json] for g in got]}
    if action == "log":
        for level in command["levels"]:
            await host.log(level, f"at {level}", level_given=level)
        raise ValueError("logged")  # the host logs the failure, naming the request
    if action == "auth_save":
        outcomes = []
        for case in command["cases"]:
            try:
                saved = await host.auth.save(case["name"], case["json"])
                outcomes.append({"path": saved.path})
            except Exception as exc:
                outcomes.append({"error": str(exc)})
        listed = [entry.name for entry in await host.auth.list()]
        return {"outcomes": outcomes, "listed": listed}
    raise ValueError(f"unknown command {action!r}")


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    command = json.loads(request.payload.split(b"|")[0])
    return api.ExecutorResponse(payload=json.dumps(await perform(command)).encode())


if __name__ == "__main__":
    run(plugin)
