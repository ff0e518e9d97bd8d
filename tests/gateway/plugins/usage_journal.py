"""A usage plugin for the gateway tests: appends ``usage <status> <failure body>`` to its
``journal`` (status 0: the request succeeded) for each record; ``sleep`` seconds each."""

import time
from pathlib import Path

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin("usage-journal", version="0.1.0", author="tests")


@plugin.on("usage.handle")
def handle(record: api.UsageRecord) -> None:  # a plain def runs in a worker thread
    time.sleep(float(plugin.config.get("sleep", 0)))
    with Path(plugin.config["journal"]).open("a") as file:
        file.write(f"usage {record.failure.status_code} {record.failure.body}\n")


if __name__ == "__main__":
    run(plugin)
