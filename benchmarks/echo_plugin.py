"""The benchmark's plugin: an executor that echoes its payload, and streams on request.

``executor.execute`` answers with the request's payload (after
``sum(range(metadata["spin"]))``, CPU-bound work, if given (through the
pipeline: the payload's ``"spin"``), and after
``metadata["fetches"]`` ``host.http.do`` GETs of ``metadata["url"]``, the
callback-heavy call). ``executor.execute_stream``
sends ``metadata["chunks"]`` chunks of ``metadata["size"]`` bytes (or, through the
pipeline, the payload's ``{"chunks": n, "size": s}``).
"""

import json
from collections.abc import AsyncIterator

from plugin_sdk import Plugin, host, run
from pluginrt import api

plugin = Plugin("bench-echo", version="1.0.0", author="pluginrt")
plugin.executor("echo", input_formats=["openai"], output_formats=["openai"], scope="static")


def _json_object(payload: bytes) -> dict:
    """``payload`` as a JSON object, or {}: a random body may begin with ``{`` too."""
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@plugin.on("model.static")
async def models(request: api.StaticModelRequest) -> api.ModelResponse:
    return api.ModelResponse(provider="echo", models=[api.ModelInfo(id="echo", object="model")])


@plugin.on("executor.execute")
async def execute(request: api.ExecutorRequest) -> api.ExecutorResponse:
    spin = int(request.metadata.get("spin", 0))  # CPU-bound work, on the event loop
    if not spin and request.payload.startswith(b"{"):  # a client request through the pipeline
        spin = int(_json_object(request.payload).get("spin", 0))
    if spin:
        sum(range(spin))
    fetches = int(request.metadata.get("fetches", 0))  # callbacks to the host
    if fetches:
        fetch = api.HTTPRequest(method="GET", url=str(request.metadata["url"]))
        for _ in range(fetches):
            answer = await host.http.do(fetch)
            assert answer.status_code == 200, answer.status_code
    return api.ExecutorResponse(payload=request.payload)


@plugin.on("executor.execute_stream")
async def execute_stream(request: api.ExecutorStreamRequest) -> AsyncIterator[object]:
    asked = request.metadata
    if "chunks" not in asked and request.payload.startswith(b"{"):
        asked = _json_object(request.payload)  # a client request through the pipeline
    chunk = b"x" * int(asked.get("size", 100))
    for _ in range(int(asked.get("chunks", 1))):
        yield chunk


if __name__ == "__main__":
    run(plugin)
