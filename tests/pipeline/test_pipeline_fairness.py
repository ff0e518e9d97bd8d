"""A refused request still yields to the scheduler."""

from __future__ import annotations

import trio
from pipeline_harness import Lab

from pluginrt.pipeline import ClientRequest, Endpoint


async def test_a_client_retrying_refused_requests_in_a_loop_does_not_starve_other_tasks(
    lab: Lab,
) -> None:
    async with lab.host(**{"api-keys": ["sk-right"]}) as host:
        other_ran = trio.Event()

        async def other() -> None:
            other_ran.set()

        refused = ClientRequest("openai", Endpoint.GENERATE, model="m", body=b"{}")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other)
            for _ in range(100):  # the loop never yields itself: only handle() can
                answer = await host.handle(refused)
                assert answer.status == 401
                if other_ran.is_set():
                    break
            assert other_ran.is_set(), "100 refusals in a row never let another task run"
