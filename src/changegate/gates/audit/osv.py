"""The OSV record model and its parser, with errors that point at the file and line.

Only the fields the audit decides from are kept (ids, dates, affected packages, ranges, severity):
the model doubles as the on-disk index cache (`to_json`/`from_json`), so it must stay small.

Two kinds of bad input are told apart, because they fail differently:
- a *structural* error (not JSON/YAML, a missing `id`, `events` that is not a list, ...) makes the
  record unreadable, so nobody can say which package it concerns: `parse_record` raises
  `RecordError` and the database loader fails (or skips the record when the policy allows it);
- a *value* problem (an event version that is not PEP 440, an unknown range type, a CVSS vector
  that does not parse) is recorded as a `Problem` on the record; the audit raises it only when a
  package it audits is concerned, so one unusable advisory for a package you do not ship cannot
  block every pipeline (fail closed where it matters, and located either way).

Reading the files (JSON, YAML with every scalar a string, line numbers) is in `documents`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, cast

from packaging.utils import canonicalize_name

from changegate.gates.audit.documents import RecordError, load_document, locate

__all__ = [
    "EVENT_KINDS", "Affected", "Event", "EventKind", "KeyPath", "Problem", "Range", "Record",
    "RecordError", "SeverityEntry", "format_path", "format_timestamp", "parse_record",
    "parse_timestamp", "read_record", "with_problems",
]

EventKind = Literal["introduced", "fixed", "last_affected", "limit"]
EVENT_KINDS: tuple[EventKind, ...] = ("introduced", "fixed", "last_affected", "limit")

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?$"
)

KeyPath = tuple["str | int", ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """A value the audit cannot evaluate; raised only when an audited package is concerned."""

    where: str  # key path, e.g. `affected[0].ranges[1].events[1].fixed`
    message: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    type: str  # ECOSYSTEM, SEMVER or GIT (others are a Problem)
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class SeverityEntry:
    """One entry of an OSV `severity` list: a scoring system and its vector or rating."""

    type: str  # CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu, ...
    score: str


@dataclass(frozen=True, slots=True)
class Affected:
    """One `affected[]` entry.

    `versions` holds the record's `versions` list as written; `index` is the entry's position
    in the record's `affected` list, to name it in messages.
    """

    ecosystem: str
    name: str
    versions: tuple[str, ...]
    ranges: tuple[Range, ...]
    severity: tuple[SeverityEntry, ...] = ()
    database_severity: str | None = None
    problems: tuple[Problem, ...] = ()
    index: int = 0

    @property
    def normalized_name(self) -> str:
        """PEP 503 form: the OSV spec says PyPI names are normalised, but not every record is."""
        return canonicalize_name(self.name)


@dataclass(frozen=True, slots=True)
class Record:
    """One OSV advisory as the audit needs it. `file` is the path inside the database."""

    id: str
    modified: datetime
    file: str
    aliases: tuple[str, ...] = ()
    withdrawn: datetime | None = None
    summary: str | None = None
    affected: tuple[Affected, ...] = ()
    severity: tuple[SeverityEntry, ...] = ()
    database_severity: str | None = None
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ids(self) -> frozenset[str]:
        """Its own id and aliases: two records sharing one describe one vulnerability."""
        return frozenset((self.id, *self.aliases))

    def affected_for(self, normalized_name: str, ecosystem: str = "PyPI") -> list[Affected]:
        return [a for a in self.affected
                if a.ecosystem == ecosystem and a.normalized_name == normalized_name]

    # -- compact JSON form, used by the index cache ---------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "modified": format_timestamp(self.modified), "file": self.file,
            "aliases": list(self.aliases),
            "withdrawn": format_timestamp(self.withdrawn) if self.withdrawn else None,
            "summary": self.summary,
            "affected": [_affected_to_json(a) for a in self.affected],
            "severity": [[s.type, s.score] for s in self.severity],
            "database_severity": self.database_severity,
            "problems": [_problem_to_json(p) for p in self.problems],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        withdrawn = data["withdrawn"]
        return cls(
            id=data["id"], modified=parse_timestamp(data["modified"]), file=data["file"],
            aliases=tuple(data["aliases"]),
            withdrawn=parse_timestamp(withdrawn) if withdrawn else None,
            summary=data["summary"],
            affected=tuple(_affected_from_json(a) for a in data["affected"]),
            severity=tuple(SeverityEntry(t, s) for t, s in data["severity"]),
            database_severity=data["database_severity"],
            problems=tuple(Problem(**p) for p in data["problems"]),
        )


def _problem_to_json(p: Problem) -> dict[str, Any]:
    return {"where": p.where, "message": p.message, "line": p.line}


def _affected_to_json(a: Affected) -> dict[str, Any]:
    return {
        "ecosystem": a.ecosystem, "name": a.name, "versions": list(a.versions),
        "ranges": [[r.type, [[e.kind, e.version] for e in r.events]] for r in a.ranges],
        "severity": [[s.type, s.score] for s in a.severity],
        "database_severity": a.database_severity,
        "problems": [_problem_to_json(p) for p in a.problems], "index": a.index,
    }


def _affected_from_json(d: dict[str, Any]) -> Affected:
    return Affected(
        ecosystem=d["ecosystem"], name=d["name"], versions=tuple(d["versions"]),
        ranges=tuple(Range(t, tuple(Event(k, v) for k, v in evs)) for t, evs in d["ranges"]),
        severity=tuple(SeverityEntry(t, s) for t, s in d["severity"]),
        database_severity=d["database_severity"],
        problems=tuple(Problem(**p) for p in d["problems"]), index=d["index"],
    )


# -- timestamps ----------------------------------------------------------------------------
def parse_timestamp(text: str) -> datetime:
    """RFC 3339 as OSV uses it (`2023-11-07T20:24:23.946863Z`), without 3.11's fromisoformat.

    Fractions longer than microseconds are truncated; a missing offset means UTC (OSV says
    timestamps are UTC). Raises ValueError.
    """
    m = _RFC3339.match(text.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    offset = m.group(8)
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    second = min(second, 59)  # a leap second is a valid RFC 3339 value datetime cannot hold
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(
            timezone.utc)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValueError(f"timestamp out of range: {text!r}") from exc


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC; the year is zero-padded by hand (strftime gives `1` for year 0001,
    and the snapshot has `modified: 0001-01-01T00:00:00Z` in PYSEC-2024-55)."""
    v = value.astimezone(timezone.utc)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}.{v.microsecond:06d}Z")


def format_path(path: Sequence[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


# -- validation ----------------------------------------------------------------------------
class _Invalid(Exception):
    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _mapping(value: Any, path: KeyPath) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"{format_path(path) or 'the record'} must be a mapping")
    return cast(dict[str, Any], value)


def _string(obj: dict[str, Any], key: str, path: KeyPath, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _Invalid(path, f"missing required key {format_path((*path, key))!r}")
        return None
    if not isinstance(value, str):
        raise _Invalid((*path, key), f"{format_path((*path, key))} must be a string")
    return value


def _list(obj: dict[str, Any], key: str, path: KeyPath) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid((*path, key), f"{format_path((*path, key))} must be a list")
    return value


def _strings(obj: dict[str, Any], key: str, path: KeyPath) -> tuple[str, ...]:
    items = _list(obj, key, path)
    if all(type(item) is str for item in items):  # the fast path: versions lists are long
        return tuple(items)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _Invalid((*path, key, i), f"{format_path((*path, key, i))} must be a string")
    return tuple(items)


def _timestamp(obj: dict[str, Any], key: str, path: KeyPath, *, required: bool) -> datetime | None:
    text = _string(obj, key, path, required=required)
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise _Invalid((*path, key), f"{format_path((*path, key))}: {exc}") from exc


def _severity(obj: dict[str, Any], path: KeyPath) -> tuple[SeverityEntry, ...]:
    entries = []
    for i, item in enumerate(_list(obj, "severity", path)):
        here = (*path, "severity", i)
        entry = _mapping(item, here)
        entries.append(SeverityEntry(
            cast(str, _string(entry, "type", here, required=True)),
            cast(str, _string(entry, "score", here, required=True)),
        ))
    return tuple(entries)


def _database_severity(obj: dict[str, Any], path: KeyPath) -> str | None:
    specific = obj.get("database_specific")
    if not isinstance(specific, dict):
        return None  # free-form by the spec: anything but a mapping just carries no severity
    value = specific.get("severity")
    return value if isinstance(value, str) else None


def _events(rng: dict[str, Any], path: KeyPath) -> tuple[Event, ...]:
    events = []
    items = _list(rng, "events", path)
    if not items:
        raise _Invalid((*path, "events"), f"{format_path(path)} has no events")
    for i, item in enumerate(items):
        here = (*path, "events", i)
        event = _mapping(item, here)
        kinds = [k for k in EVENT_KINDS if k in event]
        if len(kinds) != 1:
            raise _Invalid(here, f"{format_path(here)} must have exactly one of "
                                 f"{', '.join(EVENT_KINDS)}")
        kind = kinds[0]
        version = _string(event, kind, here, required=True)
        events.append(Event(kind, cast(str, version)))
    return tuple(events)


def _affected(item: Any, index: int, path: KeyPath) -> Affected:
    entry = _mapping(item, path)
    package = entry.get("package")
    if package is None:  # allowed for GIT-only entries: such an entry concerns no package name
        ecosystem, name = "", ""
    else:
        pkg = _mapping(package, (*path, "package"))
        ecosystem = cast(str, _string(pkg, "ecosystem", (*path, "package"), required=True))
        name = cast(str, _string(pkg, "name", (*path, "package"), required=True))
    ranges = []
    for j, rng_item in enumerate(_list(entry, "ranges", path)):
        here = (*path, "ranges", j)
        rng = _mapping(rng_item, here)
        ranges.append(Range(cast(str, _string(rng, "type", here, required=True)),
                            _events(rng, here)))
    return Affected(
        ecosystem=ecosystem, name=name, versions=_strings(entry, "versions", path),
        ranges=tuple(ranges), severity=_severity(entry, path),
        database_severity=_database_severity(entry, path), index=index,
    )


def parse_record(data: Any, file: str, raw: bytes | None = None) -> Record:
    """Validate one decoded document's structure as an OSV record.

    `raw` (the file's bytes) is only used to find the line when something is wrong. Raises
    `RecordError`; value problems are found later (`with_problems`).
    """
    record_id: str | None = None
    try:
        doc = _mapping(data, ())
        raw_id = doc.get("id")
        record_id = raw_id if isinstance(raw_id, str) and raw_id else None
        if record_id is None:
            raise _Invalid(("id",), "missing or empty required key 'id'")
        affected = tuple(_affected(item, i, ("affected", i))
                         for i, item in enumerate(_list(doc, "affected", ())))
        record = Record(
            id=record_id,
            modified=cast(datetime, _timestamp(doc, "modified", (), required=True)),
            file=file,
            aliases=_strings(doc, "aliases", ()),
            withdrawn=_timestamp(doc, "withdrawn", (), required=False),
            summary=_string(doc, "summary", ()),
            affected=affected,
            severity=_severity(doc, ()),
            database_severity=_database_severity(doc, ()),
        )
    except _Invalid as exc:
        line = locate(raw, exc.path) if raw is not None else None
        prefix = f"{record_id}: " if record_id else ""
        raise RecordError(prefix + exc.message, file, line, record_id,
                          format_path(exc.path)) from None
    return record


def read_record(raw: bytes, file: str) -> Record:
    """Decode and validate one record file's bytes (structure only; see `with_problems`)."""
    return parse_record(load_document(raw, file), file, raw)


def with_problems(record: Record, raw: bytes | None,
                  found: Sequence[tuple[int | None, KeyPath, str]]) -> Record:
    """Attach value problems, located in `raw`: (affected index or None for the record, path,
    message) each. Kept here so the model owns its shape; deciding what is a problem belongs to
    the evaluator and the severity module."""
    if not found:
        return record

    def problem(path: KeyPath, message: str) -> Problem:
        line = locate(raw, path) if raw is not None else None
        return Problem(format_path(path), f"{record.id}: {format_path(path)}: {message}", line)

    top = tuple(problem(p, m) for i, p, m in found if i is None)
    affected = tuple(
        replace(a, problems=tuple(problem(p, m) for i, p, m in found if i == a.index))
        for a in record.affected
    )
    return replace(record, affected=affected, problems=top)
