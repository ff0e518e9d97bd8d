"""Management routes collected from plugins with SEMANTICS.md's conflict rules."""

from __future__ import annotations

from pipeline_harness import Lab


async def test_routes_resolve_under_the_management_base_and_the_hosts_own_paths_stay_its_own(
    lab: Lab,
) -> None:
    routes = [
        ["get", "mock/stats"],
        ["POST", "/v0/management/mock/reset"],
        ["POST", "plugins/other/restart"],
        ["GET", "plugins"],
        ["POST", "auth/x/login"],
        ["GET", "bad path"],
        ["GET", "a:b"],
        ["GET", "star/*"],
    ]
    early = lab.plugin("early", "routes", priority=10, routes=[["GET", "mock/stats"]])
    late = lab.plugin("late", "routes", routes=routes)
    async with lab.host(early, late) as host:
        bound = [(b.plugin_id, b.method, b.path) for b in host.routes()]
    assert bound == [
        ("early", "GET", "/v0/management/mock/stats"),
        ("late", "POST", "/v0/management/mock/reset"),
    ]
