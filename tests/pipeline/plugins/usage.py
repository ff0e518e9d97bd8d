"""A usage plugin: journals each record; config ``sleep`` makes it slow (seconds per record)."""

import trio
from _probe import note

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("test-usage", version="1", author="tests", github_repository="-")


@plugin.on("usage.handle")
async def handle(record: api.UsageRecord) -> None:
    await trio.sleep(plugin.config.get("sleep", 0))
    note(plugin, "usage", model=record.model, failed=record.failed,
         status=record.failure.status_code)  # fmt: skip


if __name__ == "__main__":
    run(plugin)
