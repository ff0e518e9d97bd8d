"""A usage plugin: logs every UsageRecord as one JSON line on stderr, and keeps counts.

``usage.handle`` is a notification: the host never waits for it, so a slow
usage plugin cannot delay a client. stderr goes to the host's log, tagged with
the plugin's id. The running totals are logged with each line too.
"""

import json
import sys
from collections import Counter

from plugin_sdk import Plugin, run
from pluginrt.api import UsageRecord

plugin = Plugin(
    "usage-logger",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
totals: Counter[str] = Counter()


@plugin.on("usage.handle")
def handle(record: UsageRecord) -> None:  # a plain def runs in a worker thread
    totals["requests"] += 1
    totals["failed"] += record.failed
    totals["input_tokens"] += record.detail.input_tokens
    totals["output_tokens"] += record.detail.output_tokens
    line = {"usage": {"provider": record.provider, "model": record.model,
                      "auth_id": record.auth_id, "failed": record.failed,
                      "latency_ms": record.latency // 1_000_000,
                      "input_tokens": record.detail.input_tokens,
                      "output_tokens": record.detail.output_tokens},
            "totals": dict(totals)}  # fmt: skip
    sys.stderr.write(json.dumps(line) + "\n")  # one write: lines never interleave
    sys.stderr.flush()


if __name__ == "__main__":
    run(plugin)
