"""Fixtures for the CI integration tests (tests/ci): keys, sample repositories, source copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from cihelpers import CACHE, SigningKey, base_env, copy_source_tree


@pytest.fixture(scope="session")
def ci_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for runners and git: isolated git config, package caches shared by tests."""
    CACHE.mkdir(parents=True, exist_ok=True)
    return base_env(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def alice(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.create(tmp_path_factory.mktemp("keys"), "alice@example.com")


@pytest.fixture(scope="session")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the action/template source per session: what a pinned `uses:` checks out."""
    return copy_source_tree(tmp_path_factory.mktemp("changegate-src") / "changegate")
