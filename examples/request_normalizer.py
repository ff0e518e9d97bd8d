"""A request normalizer: tidies every request before it is translated.

Normalizers chain: each may rewrite the body, and an empty answer keeps it.
This one fills in a default ``max_tokens`` from its config section
(``default_max_tokens``, else 256) and drops ``null`` top-level fields that some
clients send and some upstreams refuse.
"""

import json

from plugin_sdk import Plugin, run
from pluginrt.api import PayloadResponse, RequestTransformRequest

plugin = Plugin(
    "request-tidy",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)


@plugin.on("request.normalize")
async def normalize(request: RequestTransformRequest) -> PayloadResponse:
    try:
        body = json.loads(request.body)
    except ValueError:
        return PayloadResponse()  # not JSON: leave it alone
    if not isinstance(body, dict):
        return PayloadResponse()
    tidy = {key: value for key, value in body.items() if value is not None}
    tidy.setdefault("max_tokens", plugin.config.get("default_max_tokens", 256))
    return PayloadResponse(body=json.dumps(tidy).encode())


if __name__ == "__main__":
    run(plugin)
