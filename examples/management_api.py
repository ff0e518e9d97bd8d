"""A management API plugin: a JSON route for operators and an HTML resource for browsers.

``management.register`` gets the base paths; ``/v0/management/mock/stats``
(behind the management key) answers JSON statistics, and the resource
``index.html`` (under ``/v0/resource/plugins/<id>/``, no key) is a small page.
Both are served by ``management.handle``.
"""

import json
from collections import Counter

from plugin_sdk import Plugin, run
from pluginrt import api

plugin = Plugin(
    "mock-console",
    version="1.0.0",
    author="pluginrt",
    github_repository="https://github.com/pluginrt/pluginrt",
)
hits: Counter[str] = Counter()
PAGE = b"<!doctype html><title>mock</title><h1>mock console</h1><p>see <code>mock/stats</code>"


@plugin.on("management.register")
async def register(
    request: api.ManagementRegistrationRequest,
) -> api.ManagementRegistrationResponse:
    stats = api.ManagementRoute(method="GET", path="mock/stats", description="request counts")
    page = api.ResourceRoute(path="index.html", menu="Mock", description="the mock console")
    return api.ManagementRegistrationResponse(routes=[stats], resources=[page])


@plugin.on("management.handle")
async def handle(request: api.ManagementRequest) -> api.ManagementResponse:
    hits[request.path] += 1
    if request.path.endswith("/mock/stats"):
        body = json.dumps({"hits": dict(hits), "plugin": plugin.plugin_id}).encode()
        return api.ManagementResponse(headers={"Content-Type": ["application/json"]}, body=body)
    if request.path.endswith("/index.html"):
        html = {"Content-Type": ["text/html; charset=utf-8"]}
        return api.ManagementResponse(headers=html, body=PAGE)
    return api.ManagementResponse(status_code=404, body=b'{"error": "not found"}')


if __name__ == "__main__":
    run(plugin)
