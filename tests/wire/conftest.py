"""The wire tests: a plugin written from PROTOCOL.md alone, driven through the real host."""

from __future__ import annotations

from pathlib import Path

import pytest
from wire_harness import Wire


@pytest.fixture
def wire(tmp_path: Path) -> Wire:
    return Wire(tmp_path)
