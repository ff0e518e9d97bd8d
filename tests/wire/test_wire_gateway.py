"""What a client of ``pluginrt run`` sees of the foreign plugin's stream."""

from __future__ import annotations

import json

import httpx
from wire_harness import Wire, gateway


async def test_a_client_gets_every_chunk_of_a_stream_longer_than_its_window_in_order(
    wire: Wire,
) -> None:
    events = [f"data: {json.dumps({'n': n})}\n\n" for n in range(300)]  # past the host's window
    body = {"model": "wire-1", "stream": True, "do": "stream", "chunks": events}
    async with (
        gateway(wire) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-wire"] == "stream"
        got = [line async for line in response.aiter_lines() if line.startswith("data:")]
    assert got == [event.strip() for event in events]
    [call] = wire.received("executor.execute_stream")
    granted = sum(m["params"]["chunks"] for m in wire.received("stream.credit"))
    assert call["params"]["window"] < len(events) <= call["params"]["window"] + granted
