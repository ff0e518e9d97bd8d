"""The ``lab`` fixture: a tmp folder for the journal and the auth files of one test."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_harness import Lab


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)
