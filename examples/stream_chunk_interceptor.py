"""A stream chunk interceptor: shapes the stream's headers and filters its chunks.

The header-init call (``ChunkIndex == -1``, no body) adds ``X-Stream-Filtered``
to the headers the client receives. Each later chunk is passed as is, unless
it contains the text configured as ``drop`` (default ``"secret"``): that chunk
is dropped and never reaches the client or the history of later chunks.
"""

from plugin_sdk import Plugin, run
from pluginrt.api import (
    STREAM_CHUNK_HEADER_INIT_INDEX,
    StreamChunkInterceptRequest,
    StreamChunkInterceptResponse,
)

plugin = Plugin(
    "chunk-filter",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


@plugin.on("response.intercept_stream_chunk")
async def intercept(request: StreamChunkInterceptRequest) -> StreamChunkInterceptResponse:
    if request.chunk_index == STREAM_CHUNK_HEADER_INIT_INDEX:
        return StreamChunkInterceptResponse(headers={"X-Stream-Filtered": ["true"]})
    needle = str(plugin.config.get("drop", "secret")).encode()
    if needle and needle in request.body:
        return StreamChunkInterceptResponse(drop_chunk=True)
    return StreamChunkInterceptResponse()  # unchanged


if __name__ == "__main__":
    run(plugin)
