"""Vulnerability sources behind one interface: an OSV database on disk, or an online service.

The gate hands a service (name, version) pairs and gets back `Advisory` objects (one per
vulnerability and package, aliases unified) plus the facts the decision rests on: the
database's manifest (content sha256, record count, newest `modified`), so the result can be
replayed later against exactly the same data. The gate knows no service; a service knows no
policy beyond what it was built with (pin, freshness, skipping bad records).

- `OfflineDatabase`: the engine (`database`, `engine`) on a directory or an OSV `all.zip`.
- `online.PipAuditService`: pip-audit's PyPI and OSV services, through pip-audit's library.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from changegate.gates.audit.engine import Match
from changegate.result import Finding


@dataclass(frozen=True)
class Advisory:
    """One vulnerability affecting one audited package version.

    `records` maps each advisory record merged into the match to every id it carries (its own
    and its aliases): an exception must name each record (see `exceptions`), so records linked
    only through a third one are never suppressed by an exception naming just one of them.
    """

    match: Match
    records: tuple[tuple[str, frozenset[str]], ...]
    source: str  # the database or service the records come from, e.g. "PyPA advisory database"

    @property
    def id(self) -> str:
        return self.match.id

    @property
    def ids(self) -> frozenset[str]:
        return self.match.ids


@dataclass
class ServiceReport:
    """What a service found and what it ran against.

    `database` is the manifest (`sha256`, `records`, `newest_modified`) plus where it came
    from; `not_found` are (name, version, reason) the service could not audit; `findings` are
    service-level warnings (skipped records, an allowed stale database); `details` are
    recorded with the result (freshness, skipped records, the service's URL).
    """

    advisories: list[Advisory]
    database: dict[str, Any]
    not_found: list[tuple[str, str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class VulnerabilityService(Protocol):
    """Anything that can say which known vulnerabilities affect (name, version) pairs."""

    name: str

    def audit(self, packages: Sequence[tuple[str, str]]) -> ServiceReport: ...


def source_name(path: Path) -> str:
    """How a database is named in reports: the PyPA database by its directory layout."""
    return "PyPA Advisory Database" if (path / "vulns").is_dir() else "OSV"


@dataclass
class OfflineDatabase:
    """An OSV database on disk: pinned by content digest, checked for age, audited offline.

    `max_age_days` (policy `database.max_age_days`) makes a stale database inconclusive (an
    error DB_STALE finding: exit 2) unless `allow_stale`, when it is a DB_STALE warning.
    """

    path: Path
    label: str
    expected_sha256: str | None = None
    max_age_days: float | None = None
    allow_stale: bool = False
    skip_bad_records: bool = False
    cache_dir: Path | None = None
    now: datetime | None = None
    name: str = "osv-database"

    def audit(self, packages: Sequence[tuple[str, str]]) -> ServiceReport:
        from changegate.gates.audit.database import check_freshness, load_database
        from changegate.gates.audit.engine import audit_packages
        from changegate.gates.audit.rules import finding
        from changegate.result import Location, Severity

        db = load_database(self.path, skip_bad_records=self.skip_bad_records,
                           cache_dir=self.cache_dir, expected_sha256=self.expected_sha256)
        database: dict[str, Any] = {**db.manifest.to_json(), "path": self.label,
                                    "format": "zip" if db.is_zip else "directory",
                                    "pinned": self.expected_sha256 is not None}
        findings: list[Finding] = []
        details: dict[str, Any] = {}
        if self.max_age_days is not None:
            # Judged here rather than raised, so a stale result still carries the manifest.
            freshness = check_freshness(db.manifest, self.max_age_days, now=self.now,
                                        allow_stale=True, path=self.label)
            details["freshness"] = {**freshness.to_json(), "allowed": self.allow_stale}
            if freshness.stale:
                told = (f"its newest advisory was modified {freshness.age.days} days ago"
                        if freshness.age is not None else "its age cannot be told")
                if self.allow_stale:
                    findings.append(finding(
                        "DB_STALE", Severity.WARNING,
                        f"the vulnerability database {self.label} is stale: {told} "
                        f"(max_age_days {self.max_age_days:g}); the policy allows a stale "
                        "database (allow_stale), so recent advisories may be missing",
                        Location(file=self.label)))
                else:
                    findings.append(finding(
                        "DB_STALE", Severity.ERROR,
                        f"the vulnerability database {self.label} is stale: {told}, and the "
                        f"policy allows {self.max_age_days:g} days; the result is "
                        "inconclusive", Location(file=self.label),
                        fix="refresh the vulnerability database, or raise max_age_days"))
        if db.skipped:
            details["skipped_records"] = [s.to_json() for s in db.skipped]
            audited = {_key(name) for name, _ in packages}
            for skipped in db.skipped:
                concerned = [p for p in skipped.packages if p in audited]
                if skipped.packages and not concerned:
                    continue  # about packages this project does not ship
                where = f" (concerns {', '.join(concerned)})" if concerned else ""
                findings.append(finding(
                    "DB_RECORD_SKIPPED", Severity.WARNING,
                    f"skipped advisory record {skipped.record_id or '(no id)'}{where}: "
                    f"{skipped.reason}", Location(file=skipped.file, line=skipped.line)))
        matches = audit_packages(db, packages)
        source = source_name(self.path) if not db.is_zip else "OSV"
        advisories = [Advisory(match, _record_ids(db, match), source) for match in matches]
        return ServiceReport(advisories=advisories, database=database, findings=findings,
                             details=details)


def _key(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def _record_ids(db: Any, match: Match) -> tuple[tuple[str, frozenset[str]], ...]:
    wanted = set(match.records)
    found = {record.id: record.ids for record in db.records_for(_key(match.package))
             if record.id in wanted}
    return tuple(sorted((rid, found.get(rid, frozenset({rid}))) for rid in wanted))


def group_by_alias(items: Iterable[tuple[str, frozenset[str]]]) -> list[list[int]]:
    """Indices of `(id, ids)` items grouped by shared ids, transitively (union-find): the OSV
    meaning of `aliases`, as the engine merges records."""
    listed = list(items)
    parent = list(range(len(listed)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, (_, ids) in enumerate(listed):
        for vuln_id in ids:
            if vuln_id in owner:
                parent[find(index)] = find(owner[vuln_id])
            else:
                owner[vuln_id] = index
    groups: dict[int, list[int]] = {}
    for index in range(len(listed)):
        groups.setdefault(find(index), []).append(index)
    return list(groups.values())
