"""Fixtures of the sign/verify tests: one local Sigstore instance per test session (worker).

Helpers live in sigstore_support.py. The instance listens on 127.0.0.1 on a port the OS picks
and is stopped when the session ends; no test touches the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sigstore_support import Signing

from changegate.testing.sigstore import LocalSigstore


@pytest.fixture(scope="session")
def local_sigstore() -> Iterator[LocalSigstore]:
    with LocalSigstore() as instance:
        yield instance


@pytest.fixture(scope="session")
def trust_config(local_sigstore: LocalSigstore, tmp_path_factory: pytest.TempPathFactory
                 ) -> Path:
    return local_sigstore.write_trust_config(tmp_path_factory.mktemp("trust") / "trust.json")


@pytest.fixture
def signing(local_sigstore: LocalSigstore, trust_config: Path, tmp_path: Path) -> Signing:
    """A workspace with an artifact, the local instance and CLI helpers."""
    return Signing(local_sigstore, trust_config, tmp_path)
