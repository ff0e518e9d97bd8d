"""Every host callback, from inside one ``executor.execute`` call.

``plugin_sdk.host`` reaches the host on behalf of the request being served (the
SDK passes ``host_callback_id`` along by itself): ``host.log``, outbound HTTP
whole (``http.do``) and streamed (``http.do_stream``), a nested model call
through the host's pipeline (``model.execute``), and the auth store
(``auth.save``, ``auth.list``). The answer is a JSON summary of what came back.
"""

import json

from plugin_sdk import Plugin, host, run
from pluginrt import api

plugin = Plugin(
    "host-callbacks",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
plugin.executor("callbacks", input_formats=["openai"], output_formats=["openai"], scope="static")


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    await host.log("info", "exercising every host callback", model=request.model)
    url = plugin.config.get("url", "http://127.0.0.1:9/echo")
    whole = await host.http.do(api.HTTPRequest(method="POST", url=url, body=b"ping"))
    async with await host.http.do_stream(api.HTTPRequest(method="GET", url=url)) as body:
        streamed = [chunk.decode() async for chunk in body]
    nested = await host.model.execute(api.HostModelExecutionRequest(
        entry_protocol="openai", exit_protocol="openai",
        model=plugin.config.get("model", "mock-small"),
        body=json.dumps({"messages": [{"role": "user", "content": "nested"}]}).encode(),
    ))  # fmt: skip
    saved = await host.auth.save("callbacks-demo.json", {"type": "mock", "token": "demo"})
    listed = await host.auth.list()
    summary = {
        "http": {"status": whole.status_code, "body": whole.body.decode()},
        "http_stream": streamed,
        "model": {"status": nested.status_code, "body": nested.body.decode()},
        "auth_saved": saved.path,
        "auth_files": [entry.name for entry in listed],
    }
    return api.ExecutorResponse(payload=json.dumps(summary).encode())


if __name__ == "__main__":
    run(plugin)
