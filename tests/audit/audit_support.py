"""Shared helpers for the audit tests: the real PyPA advisory snapshot and how to query it.

Expected results in these tests were worked out by reading the records of the snapshot at
pypa/advisory-database commit 3ccb612573e2511ab5cad7dafecd838605c80cda (see SOURCE.md beside
it); `SNAPSHOT_SHA256` pins that content so a different snapshot fails loudly instead of
silently changing what the tests mean.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from changegate.gates.audit.database import Database
from changegate.gates.audit.engine import Match, audit_packages

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO.parent / "shared" / "data" / "pypa-advisory-database"
SNAPSHOT_SHA256 = "8d51909c0a9932a6f8be56ca51aabeefc5440bcd5e322e80faaf438cb889887f"
SNAPSHOT_RECORDS = 2661

needs_snapshot = pytest.mark.skipif(not SNAPSHOT.is_dir(),
                                    reason=f"advisory snapshot not found at {SNAPSHOT}")


def snapshot_files() -> list[Path]:
    return sorted(SNAPSHOT.glob("vulns/**/*.yaml"))


def build_json_zip(target: Path) -> Path:
    """An OSV-style `all.zip`: one `<id>.json` per record, converted from the YAML files."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in snapshot_files():
            data = yaml.load(path.read_bytes(), Loader=yaml.CBaseLoader)  # noqa: S506
            zf.writestr(f"{data['id']}.json", json.dumps(data, indent=2))
    return target


def build_same_bytes_zip(target: Path, root: Path = SNAPSHOT) -> Path:
    """The directory's record files, unchanged, at the same relative paths."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root).as_posix())
    return target


def audit(db: Database, name: str, version: str) -> list[Match]:
    return audit_packages(db, [(name, version)])


def ids(matches: Iterable[Match]) -> set[str]:
    """Every id named by the matches: primary ids, aliases and merged records."""
    out: set[str] = set()
    for m in matches:
        out |= {m.id, *m.aliases, *m.records}
    return out


def primary_ids(matches: Iterable[Match]) -> set[str]:
    return {m.id for m in matches}
