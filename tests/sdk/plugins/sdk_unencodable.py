"""An SDK plugin for the process tests whose handler returns what msgspec cannot encode.

``executor.execute`` of ``bad`` answers with a set of plain objects in its
metadata; anything else is echoed back.
"""

from __future__ import annotations

from plugin_sdk import Plugin, run
from pluginrt.api import ExecutorRequest, ExecutorResponse

plugin = Plugin("sdk-unencodable", version="1.0.0")
plugin.executor("unencodable", input_formats=["openai"], output_formats=["openai"])


class Opaque:
    """Nothing msgspec knows how to encode."""


@plugin.on("executor.execute")
async def execute(request: ExecutorRequest) -> ExecutorResponse:
    if request.payload == b"bad":
        return ExecutorResponse(metadata={"objects": {Opaque()}})
    return ExecutorResponse(payload=request.payload)


if __name__ == "__main__":
    run(plugin)
