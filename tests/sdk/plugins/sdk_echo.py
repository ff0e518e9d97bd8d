"""An SDK plugin for the process tests: misbehaves on stdout on purpose.

``executor.execute`` of ``slow`` takes half a second; ``executor.execute_stream``
of ``forever`` never ends, and of ``late`` waits a minute before its first chunk.
``usage.handle`` takes a fifth of a second, then logs the record's model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator

import trio

from plugin_sdk import Plugin, blocking, host, run
from pluginrt.api import ExecutorRequest, ExecutorResponse, HTTPRequest, UsageRecord

print("a print at import time, before run()")  # harmless when the host started us
plugin = Plugin("sdk-echo", version="1.0.0")
plugin.executor("echo", input_formats=["openai"], output_formats=["openai"])


@plugin.on("executor.execute")
async def execute(request: ExecutorRequest) -> ExecutorResponse:
    print("stray print from a handler")
    os.write(1, b"a C library banner on descriptor 1\n")
    sys.stdout.flush()
    if request.payload == b"slow":
        await trio.sleep(0.5)
    return ExecutorResponse(payload=request.payload)


@plugin.on("executor.count_tokens")
def count_tokens(request: ExecutorRequest) -> ExecutorResponse:
    response = blocking(host.http.do, HTTPRequest(method="GET", url="https://upstream/tokens"))
    return ExecutorResponse(payload=response.body)


@plugin.on("executor.execute_stream")
async def stream(request: ExecutorRequest) -> AsyncIterator[bytes]:
    if request.payload == b"late":
        await trio.sleep(60)
    while request.payload == b"forever":
        yield b"more"
    for part in request.payload.split():
        yield part


@plugin.on("usage.handle")
async def usage(record: UsageRecord) -> None:
    await trio.sleep(0.2)
    await host.log("info", f"usage of {record.model}")


if __name__ == "__main__":
    run(plugin)
