"""The audit core: (name, version) pairs in, one `Match` per vulnerability and package out.

It knows no dependency source, no output format and no policy beyond "may bad records be
skipped" (decided when the database was loaded): readers feed it pairs, the gate applies
`fail_on`, exceptions and freshness, renderers present the matches.

One vulnerability, one match: records about the same package whose ids overlap (`id` or any
alias, transitively — the OSV meaning of `aliases`) are merged. The match is named after one of
its records, preferring the ecosystem's own database (PYSEC, as pip-audit does), then GHSA, then
the smallest id; every other id is listed in `aliases` and every merged record in `records`, so
an exception written against any of them can be matched, and checked to cover all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from packaging.utils import canonicalize_name
from packaging.version import Version

from changegate.errors import InputError
from changegate.gates.audit import evaluate
from changegate.gates.audit.database import Database
from changegate.gates.audit.index import gc_paused
from changegate.gates.audit.osv import Affected, Problem, Record, RecordError
from changegate.gates.audit.severity import UNKNOWN, RatedSeverity, severity_of

_ID_PREFERENCE = ("PYSEC-", "GHSA-")


class InvalidPackageVersion(InputError):
    """An audited version is not PEP 440: the dependency reader should relocate it to its line."""

    def __init__(self, package: str, version: str) -> None:
        super().__init__(f"{package} {version!r} is not a PEP 440 version, so it cannot be "
                         "compared with advisories", rule="BAD_VERSION",
                         fix="pin an installable (PEP 440) version")
        self.package = package
        self.version = version


@dataclass(frozen=True)
class Match:
    """One vulnerability affecting one package version (aliases unified)."""

    package: str  # as the caller named it
    version: str
    id: str
    aliases: tuple[str, ...]  # every other id of the merged records, sorted
    records: tuple[str, ...]  # ids of the database records merged here, sorted
    severity: RatedSeverity
    fixed_in: tuple[str, ...]  # fixed versions above `version`, PEP 440 order
    summary: str | None
    files: tuple[str, ...]  # where the merged records are, for evidence and messages

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package, "version": self.version, "id": self.id,
            "aliases": list(self.aliases), "records": list(self.records),
            "severity": self.severity.label, "score": self.severity.score,
            "severity_source": self.severity.source, "fixed_in": list(self.fixed_in),
            "summary": self.summary, "files": list(self.files),
        }


def _primary(ids: Iterable[str]) -> str:
    def rank(record_id: str) -> tuple[int, str]:
        for position, prefix in enumerate(_ID_PREFERENCE):
            if record_id.startswith(prefix):
                return position, record_id
        return len(_ID_PREFERENCE), record_id
    return min(ids, key=rank)


def _groups(records: list[Record]) -> list[list[Record]]:
    """Connected components of records linked by a shared id or alias (union-find)."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, record in enumerate(records):
        for vuln_id in record.ids:
            if vuln_id in owner:
                parent[find(i)] = find(owner[vuln_id])
            else:
                owner[vuln_id] = i
    groups: dict[int, list[Record]] = {}
    for i, record in enumerate(records):
        groups.setdefault(find(i), []).append(record)
    return list(groups.values())


@dataclass(frozen=True)
class _Query:
    raw_name: str
    raw_version: str
    name: str  # PEP 503
    version: Version


def _raise_problem(db: Database, record: Record, problem: Problem, query: _Query) -> NoReturn:
    raise RecordError(f"{problem.message}; cannot decide whether {query.raw_name} "
                      f"{query.raw_version} is affected",
                      db.display_path(record.file), problem.line, record.id, problem.where)


def _affecting(db: Database, record: Record, query: _Query) -> list[Affected]:
    """The record's entries for the package that affect its version; raises if undecidable."""
    hits, undecided = [], []
    for affected in record.affected_for(query.name):
        verdict = evaluate.check(affected, query.version)
        if verdict is evaluate.Verdict.AFFECTED:
            hits.append(affected)
        elif verdict is evaluate.Verdict.UNDETERMINED:
            undecided.append(affected)
    if not hits and undecided and not db.skip_bad_records:
        affected = undecided[0]
        problem = next((p for p in affected.problems if ".ranges[" in p.where),
                       Problem(f"affected[{affected.index}]",
                               f"{record.id}: a range cannot be evaluated"))
        _raise_problem(db, record, problem, query)
    if hits and not db.skip_bad_records:
        vector_problems = [*record.problems, *(p for a in hits for p in a.problems
                                               if ".severity[" in p.where)]
        if vector_problems:
            _raise_problem(db, record, vector_problems[0], query)
    return hits


def _merge(db: Database, group: list[tuple[Record, list[Affected]]], query: _Query) -> Match:
    records = [record for record, _ in group]
    primary = _primary(r.id for r in records)
    ids = set().union(*(r.ids for r in records))
    rated = [severity_of(r, query.name) for r in records]
    known = [s for s in rated if s.level is not None]
    best = max(known, key=lambda s: (s.level, s.score or 0.0)) if known else UNKNOWN
    fixed = evaluate.fixed_versions((a for _, hits in group for a in hits), query.version)
    head = next(r for r in records if r.id == primary)
    return Match(
        package=query.raw_name, version=query.raw_version, id=primary,
        aliases=tuple(sorted(ids - {primary})), records=tuple(sorted(r.id for r in records)),
        severity=best, fixed_in=tuple(str(v) for v in fixed), summary=head.summary,
        files=tuple(db.display_path(r.file) for r in sorted(records, key=lambda r: r.id)),
    )


def audit_packages(db: Database, packages: Iterable[tuple[str, str]]) -> list[Match]:
    """Every vulnerability affecting each (name, version), sorted by name, version and id.

    Names are compared PEP 503-normalised; versions with PEP 440 semantics (see `evaluate`).
    Withdrawn records are ignored. Raises `InvalidPackageVersion` for a version that is not
    PEP 440, and `RecordError` (located) when a record concerning an audited package cannot be
    evaluated and the database was not loaded with `skip_bad_records`.
    """
    with gc_paused():
        matches = _audit(db, packages)
    matches.sort(key=lambda item: (item[0], item[1], item[2].id))
    return [match for _, _, match in matches]


def _audit(db: Database, packages: Iterable[tuple[str, str]]) -> list[tuple[str, Version, Match]]:
    seen: set[tuple[str, Version]] = set()
    matches: list[tuple[str, Version, Match]] = []
    for raw_name, raw_version in packages:
        name = canonicalize_name(raw_name)
        version = evaluate.parse_version(raw_version.strip())
        if version is None:
            raise InvalidPackageVersion(raw_name, raw_version)
        if (name, version) in seen:
            continue
        seen.add((name, version))
        query = _Query(raw_name, raw_version, name, version)
        hits: list[tuple[Record, list[Affected]]] = []
        for record in db.records_for(name):
            if record.withdrawn is not None:
                continue
            affecting = _affecting(db, record, query)
            if affecting:
                hits.append((record, affecting))
        by_record = {id(record): (record, affected) for record, affected in hits}
        for group in _groups([record for record, _ in hits]):
            match = _merge(db, [by_record[id(r)] for r in group], query)
            matches.append((name, version, match))
    return matches
