"""Management routes collected from plugins with SEMANTICS.md's conflict rules."""

from __future__ import annotations

import pytest
from pipeline_harness import Lab


async def test_routes_resolve_under_the_management_base_and_the_hosts_own_paths_stay_its_own(
    lab: Lab,
) -> None:
    routes = [
        ["get", "mock/stats"],
        ["POST", "/v0/management/mock/reset"],
        ["", "mock/default"],
        ["POST", "plugins/other/restart"],
        ["GET", "plugins"],
        ["POST", "auth/x/login"],
        ["POST", "api-call"],
        ["GET", "bad path"],
        ["GET", "a:b"],
        ["GET", "star/*"],
        ["GET", "trail/"],
        ["GET", "./dot"],
        ["GET", "a//b"],
        ["GET", "mock/pct%41"],
    ]
    early = lab.plugin("early", "routes", priority=10, routes=[["GET", "mock/stats"]])
    late = lab.plugin("late", "routes", routes=routes)
    async with lab.host(early, late) as host:
        bound = [(b.plugin_id, b.method, b.path) for b in host.routes()]
    assert bound == [
        ("early", "GET", "/v0/management/mock/stats"),
        ("late", "POST", "/v0/management/mock/reset"),
        ("late", "GET", "/v0/management/mock/default"),
        ("late", "GET", "/v0/management/mock/pctA"),  # as the request's (decoded) path reads
    ]


async def test_the_host_takes_only_the_methods_and_paths_it_serves(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    free = [
        ["GET", "reload"],
        ["POST", "plugins/x/y/z"],
        ["PUT", "auth-files"],
        ["GET", "auth/foo/login"],
        ["POST", "usage"],
        ["GET", "api-call"],
        ["DELETE", "plugins/x/config"],
    ]
    taken = [["POST", "reload"], ["POST", "plugins/x/restart"], ["GET", "auth/foo/login/s1"]]
    late = lab.plugin("late", "routes", routes=[*free, *taken])
    async with lab.host(late) as host:
        bound = [[b.method, b.path.removeprefix("/v0/management/")] for b in host.routes()]
    assert bound == free
    logged = [r.getMessage() for r in caplog.records if "of plugin late" in r.getMessage()]
    assert logged == [
        f"route {method} /v0/management/{path} of plugin late skipped: already taken by the host"
        for method, path in taken
    ]


async def test_a_route_problem_is_logged_once_not_on_every_listing(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    early = lab.plugin("early", "routes", priority=10, routes=[["GET", "mock/stats"]])
    late = lab.plugin("late", "routes", routes=[["GET", "mock/stats"], ["GET", "bad path"]])
    async with lab.host(early, late) as host:
        # Logged as the host starts, before any management request lists the routes.
        at_start = [r.getMessage() for r in caplog.records if "of plugin late" in r.getMessage()]
        for _ in range(3):  # the gateway lists them on every management request
            assert [b.plugin_id for b in host.routes()] == ["early"]
    logged = [r.getMessage() for r in caplog.records if "of plugin late" in r.getMessage()]
    assert logged == at_start
    assert logged == [
        "route GET /v0/management/mock/stats of plugin late skipped: already taken by plugin early",
        "route 'bad path' of plugin late refused: bad path (whitespace, ':' or '*', or an "
        "empty, '.' or '..' segment)",
    ]


async def test_a_get_route_with_a_menu_is_also_a_resource_of_its_plugin(lab: Lab) -> None:
    routes = [["GET", "mock/dash", "Dashboard"], ["POST", "mock/act", "Act"], ["GET", "mock/raw"]]
    resources = ["page.html", "/v0/resource/plugins/other/x.html"]  # not its own: refused
    menus = lab.plugin("menus", "routes", routes=routes, resources=resources)
    async with lab.host(menus) as host:
        resources = [(b.plugin_id, b.method, b.path, b.menu) for b in host.resources()]
        routes_bound = [b.path for b in host.routes()]
    base = "/v0/resource/plugins/menus"
    assert resources == [
        ("menus", "GET", f"{base}/page.html", ""),
        ("menus", "GET", f"{base}/mock/dash", "Dashboard"),
    ]
    assert routes_bound == [f"/v0/management/mock/{p}" for p in ("dash", "act", "raw")]
