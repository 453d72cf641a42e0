"""Fixtures for the evidence tests: a real git repository, recorded changes, a SeaweedFS server."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from evidence_support import SeaweedFS, Workspace, make_change

from changegate.testing.sample_repo import SampleRepo


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    repo = SampleRepo(tmp_path / "repo")
    repo.commit("payments: add fee", files={"app.py": "print('fee')\n"})
    head = repo.head()
    return Workspace(repo, repo.path, head, make_change(repo.path, head))


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One real SeaweedFS S3 server per test session (it takes a few seconds to start)."""
    server = SeaweedFS.start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


_buckets = itertools.count()


@pytest.fixture
def bucket(seaweed: SeaweedFS) -> Callable[..., str]:
    """Make a fresh bucket: locked with a compliance default of `years`/`days`, or plain."""

    def make(*, lock: bool = True, years: int | None = 7, days: int | None = None,
             mode: str = "COMPLIANCE") -> str:
        name = f"evidence-{next(_buckets)}"
        client = seaweed.client()
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
        if lock and (years or days):
            period = {"Years": years} if years else {"Days": days}
            client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": mode, **period}}})
        return name

    return make
