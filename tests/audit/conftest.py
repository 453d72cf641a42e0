"""Fixtures for the audit engine: the real PyPA advisory snapshot, as a directory and as a zip."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_support import SNAPSHOT, build_json_zip

from changegate.gates.audit.database import Database, load_database


@pytest.fixture(scope="session")
def json_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_json_zip(tmp_path_factory.mktemp("osv") / "all.zip")


@pytest.fixture(scope="session")
def dir_db() -> Database:
    return load_database(SNAPSHOT)


@pytest.fixture(scope="session")
def zip_db(json_zip: Path) -> Database:
    return load_database(json_zip)


@pytest.fixture(scope="session", params=["directory", "all.zip"])
def db(request: pytest.FixtureRequest) -> Database:
    """The same snapshot in both container formats: every engine test runs against both."""
    name = "dir_db" if request.param == "directory" else "zip_db"
    database: Database = request.getfixturevalue(name)
    return database
