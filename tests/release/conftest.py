"""Fixtures for the release tests (tests/release): a committed copy of this tree, an env."""

from __future__ import annotations

from pathlib import Path

import pytest
from releasehelpers import CACHE, base_env, commit_tree


@pytest.fixture(scope="session")
def release_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Isolated git config and the shared package caches (the index is the only network)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    env = base_env(tmp_path_factory.mktemp("release-home"))
    env["CHANGEGATE_RELEASE_CACHE"] = str(CACHE / "release")
    return env


@pytest.fixture(scope="session")
def release_repo(tmp_path_factory: pytest.TempPathFactory,
                 release_env: dict[str, str]) -> tuple[Path, str]:
    """This working tree as one commit of a fresh repository: what a release is cut from."""
    path = tmp_path_factory.mktemp("release-repo") / "changegate"
    return path, commit_tree(path, release_env)
