"""Fixtures of the sbom gate's tests (helpers live in sbom_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sbom_fixtures import FakeSite


@pytest.fixture
def site(tmp_path: Path) -> FakeSite:
    return FakeSite(tmp_path / "site-packages")
