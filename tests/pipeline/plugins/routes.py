"""A management plugin whose routes come from its config: {"routes": [[method, path], ...]}.

A route may carry a third element, its ``Menu``; ``resources`` lists resource paths.
"""

from __future__ import annotations

from plugin_sdk import Plugin, run
from pluginrt.api import (
    ManagementRegistrationRequest,
    ManagementRegistrationResponse,
    ManagementRequest,
    ManagementResponse,
    ManagementRoute,
    ResourceRoute,
)

plugin = Plugin("routes", version="1.0.0", author="tests")


@plugin.on("management.register")
async def register(request: ManagementRegistrationRequest) -> ManagementRegistrationResponse:
    routes = [
        ManagementRoute(method=route[0], path=route[1], menu=(route[2:] or [""])[0])
        for route in plugin.config.get("routes", [])
    ]
    resources = [ResourceRoute(path=path) for path in plugin.config.get("resources", [])]
    return ManagementRegistrationResponse(routes=routes, resources=resources)


@plugin.on("management.handle")
async def handle(request: ManagementRequest) -> ManagementResponse:
    return ManagementResponse(body=request.path.encode())


if __name__ == "__main__":
    run(plugin)
