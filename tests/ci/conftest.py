"""Fixtures for the CI integration tests (tests/ci): keys, sample repositories, source copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cihelpers import CACHE, SigningKey, base_env, copy_source_tree, run


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


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory, source_tree: Path,
                ci_env: dict[str, str]) -> tuple[Path, str]:
    """The changegate project as a git repository, and the commit the templates pin."""
    path = tmp_path_factory.mktemp("changegate-git") / "changegate"
    shutil.copytree(source_tree, path)
    run(["git", "init", "-q", "-b", "main"], cwd=path, env=ci_env)
    run(["git", "add", "-A"], cwd=path, env=ci_env)
    run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "changegate"], cwd=path,
        env=ci_env)
    return path, run(["git", "rev-parse", "HEAD"], cwd=path, env=ci_env).stdout.strip()
