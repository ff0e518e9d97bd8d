"""A management plugin whose routes come from its config: {"routes": [[method, path], ...]}."""

from __future__ import annotations

from plugin_sdk import Plugin, run
from pluginrt.api import (
    ManagementRegistrationRequest,
    ManagementRegistrationResponse,
    ManagementRequest,
    ManagementResponse,
    ManagementRoute,
)

plugin = Plugin("routes", version="1.0.0", author="tests")


@plugin.on("management.register")
async def register(request: ManagementRegistrationRequest) -> ManagementRegistrationResponse:
    routes = [ManagementRoute(method=m, path=p) for m, p in plugin.config.get("routes", [])]
    return ManagementRegistrationResponse(routes=routes)


@plugin.on("management.handle")
async def handle(request: ManagementRequest) -> ManagementResponse:
    return ManagementResponse(body=request.path.encode())


if __name__ == "__main__":
    run(plugin)
