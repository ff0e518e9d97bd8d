"""A stream chunk interceptor driven by its config.

Config: ``init_headers`` (set on the header-init call), ``init_sleep`` (seconds
that call takes), ``drop`` (chunk
indexes to drop), ``append`` (text appended to each delivered chunk),
``chunk_headers`` (headers set on a payload chunk, by its index as a string).
Every call is journaled with its index, body, history and request bodies.
"""

import trio
from _probe import note, text

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-chunks", version="1", author="tests", github_repository="-")


@plugin.on("response.intercept_stream_chunk")
async def intercept(request: api.StreamChunkInterceptRequest) -> api.StreamChunkInterceptResponse:
    config = plugin.config
    history = request.history_chunks
    note(plugin, "chunk", index=request.chunk_index, body=text(request.body[:64]),
         size=len(request.body), original=text(request.original_request),
         translated=text(request.request_body), response_headers=request.response_headers,
         history_len=len(history), history_bytes=sum(map(len, history)),
         history_first=text(history[0][:64]) if history else "",
         history_last=text(history[-1][:64]) if history else "")  # fmt: skip
    if request.chunk_index == api.STREAM_CHUNK_HEADER_INIT_INDEX:
        await trio.sleep(config.get("init_sleep", 0))
        return api.StreamChunkInterceptResponse(headers=config.get("init_headers", {}))
    headers = config.get("chunk_headers", {}).get(str(request.chunk_index), {})
    if request.chunk_index in config.get("drop", []):
        return api.StreamChunkInterceptResponse(headers=headers, drop_chunk=True)
    if config.get("append"):
        body = request.body + config["append"].encode()
        return api.StreamChunkInterceptResponse(headers=headers, body=body)
    return api.StreamChunkInterceptResponse(headers=headers)


if __name__ == "__main__":
    run(plugin)
