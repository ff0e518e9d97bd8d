"""Fixtures of the engine's suite: ``wire`` runs each test over both transports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rpc_harness import Local, Wire, connect, memory_wire, process_wire

from pluginrt.rpc import Connection


@pytest.fixture(params=["memory", "process"])
async def wire(request: pytest.FixtureRequest) -> AsyncIterator[Wire]:
    factory = memory_wire if request.param == "memory" else process_wire
    async with factory() as wire:
        yield wire


@pytest.fixture
def local() -> Local:
    return Local()


@pytest.fixture
async def connection(wire: Wire, local: Local) -> AsyncIterator[Connection]:
    async with connect(wire, local) as connection:
        yield connection
