"""An OSV database on disk: a directory of JSON/YAML records or an OSV `all.zip` export.

The manifest
------------
`Manifest.sha256` identifies the database *content*, whatever its container:

    sha256 over the lines  "<sha256 of the file's bytes>  <relative path>\\n"
    for every record file, sorted by the UTF-8 bytes of the relative path.

A record file is a `.json`, `.yaml` or `.yml` file (any case) whose path has no component
starting with "." (so `.git/` and `.id-allocator` are not part of the database). Paths are
relative to the directory, or the member names in the zip, with "/" separators. The lines are
exactly what `sha256sum` prints, so an auditor can recompute the digest of a directory with
coreutils alone:

    cd DB && find . -path '*/.*' -prune -o -type f \\( -iname '*.json' -o -iname '*.yaml' \\
        -o -iname '*.yml' \\) -print | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum

A zip holding the same files under the same paths has the same digest as the directory (the
container, compression and timestamps do not count). A zip of *converted* records (YAML to JSON,
as OSV's own exports are) holds different bytes, so it has a different digest: it is a
different artefact. `records` is the number of record files; `newest_modified` is the newest
`modified` among the records that could be read (None when none could).

The index cache is described in `index.py`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from changegate.errors import ChangegateError, InputError
from changegate.gates.audit.documents import RECORD_SUFFIXES
from changegate.gates.audit.index import (
    PYPI,
    build_index,
    default_cache_dir,
    gc_paused,
    index_key,
    read_cache,
    write_cache,
)
from changegate.gates.audit.osv import (
    Record,
    RecordError,
    format_timestamp,
    parse_timestamp,
)
from changegate.result import Location

__all__ = [
    "Database", "DatabasePinMismatch", "DatabaseStale", "Freshness", "Manifest",
    "SkippedRecord", "check_freshness", "check_pin", "content_digest", "default_cache_dir",
    "load_database", "normalize_sha256",
]


# -- manifest, pin, freshness --------------------------------------------------------------
@dataclass(frozen=True)
class Manifest:
    """What the audit ran against; stored with the result so the decision can be replayed."""

    sha256: str
    records: int
    newest_modified: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "records": self.records,
            "newest_modified": _rfc3339(self.newest_modified),
        }


def _rfc3339(value: datetime | None) -> str | None:
    """Full precision, as in the record, without a `.000000` tail for whole seconds."""
    if value is None:
        return None
    text = format_timestamp(value)
    return text.replace(".000000Z", "Z")


class DatabasePinMismatch(ChangegateError):
    """The database on disk is not the one the policy or `--db-sha256` pinned: exit 2."""

    def __init__(self, expected: str, actual: str, path: str) -> None:
        super().__init__(
            "DB_SHA256_MISMATCH",
            f"vulnerability database content sha256 is {actual}, but {expected} is pinned",
            Location(file=path),
            fix="use the pinned database, or update the pin after reviewing the new database",
        )
        self.expected = expected
        self.actual = actual


class DatabaseStale(ChangegateError):
    """The newest advisory is older than the policy's `max_age_days`: the result is inconclusive."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__("DB_STALE", message, Location(file=path),
                         fix="refresh the vulnerability database, or raise max_age_days")


def normalize_sha256(text: str) -> str:
    """Accept `HEX` or `sha256:HEX` in any case; raise InputError for anything else."""
    value = text.strip().lower()
    value = value.removeprefix("sha256:")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(f"not a sha256 digest: {text!r}", rule="DB_SHA256_INVALID",
                         fix="give 64 hexadecimal digits, optionally prefixed by 'sha256:'")
    return value


def check_pin(manifest: Manifest, expected_sha256: str, path: str = "") -> None:
    """Raise `DatabasePinMismatch` unless the content digest is the pinned one."""
    expected = normalize_sha256(expected_sha256)
    if manifest.sha256 != expected:
        raise DatabasePinMismatch(expected, manifest.sha256, path)


@dataclass(frozen=True)
class Freshness:
    """How old the database is; `stale` results are only returned when the policy allows them."""

    age: timedelta | None
    max_age_days: float
    stale: bool

    def to_json(self) -> dict[str, Any]:
        return {"age_days": round(self.age.total_seconds() / 86400, 2) if self.age else None,
                "max_age_days": self.max_age_days, "stale": self.stale}


def check_freshness(manifest: Manifest, max_age_days: float, *, now: datetime | None = None,
                    allow_stale: bool = False, path: str | None = None) -> Freshness:
    """Compare the newest `modified` with `now`; raise `DatabaseStale` unless `allow_stale`.

    The newest `modified` is the only age a database carries in its content: a database in
    which nothing changed for longer than `max_age_days` is taken to be an old copy. A database
    whose age cannot be told is stale.
    """
    now = now or datetime.now(timezone.utc)
    age = now - manifest.newest_modified if manifest.newest_modified else None
    stale = age is None or age > timedelta(days=max_age_days)
    if stale and not allow_stale:
        told = (f"its newest advisory was modified {age.days} days ago"
                if age is not None else "its age cannot be told (no readable `modified`)")
        raise DatabaseStale(f"vulnerability database is stale: {told}; the policy allows "
                            f"{max_age_days:g} days", path)
    return Freshness(age, max_age_days, stale)


# -- skipped records -----------------------------------------------------------------------
@dataclass(frozen=True)
class SkippedRecord:
    """A record (or a part of one) the policy let the audit skip; always reported."""

    file: str
    line: int | None
    record_id: str | None
    reason: str
    packages: tuple[str, ...] = ()  # PEP 503 names concerned, when the record says

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "id": self.record_id,
                "reason": self.reason, "packages": list(self.packages)}


# -- reading the container -----------------------------------------------------------------
def _is_record_path(relative: str) -> bool:
    parts = relative.split("/")
    return (relative.lower().endswith(RECORD_SUFFIXES)
            and not any(p.startswith(".") or p == "" for p in parts))


def _check_name(relative: str, where: str) -> None:
    if "\n" in relative or "\r" in relative:
        raise InputError(f"record path with a line break in {where}: {relative!r}",
                         file=where, rule="DB_CORRUPT")
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"record path is not UTF-8 in {where}: {relative!r}",
                         file=where, rule="DB_CORRUPT") from None


def _directory_files(root: Path) -> Iterator[tuple[str, bytes]]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        found.extend(prefix + name for name in filenames if _is_record_path(prefix + name))
    for relative in sorted(found, key=lambda r: r.encode("utf-8", "surrogateescape")):
        _check_name(relative, str(root))
        full = root / relative
        try:
            yield relative, full.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read record file: {exc.strerror}", file=str(full),
                             rule="DB_UNREADABLE") from exc


def _zip_files(archive: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and _is_record_path(i.filename)]
            infos.sort(key=lambda i: i.filename.encode("utf-8"))
            for info in infos:
                _check_name(info.filename, str(archive))
                try:
                    yield info.filename, zf.read(info)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                    raise InputError(f"corrupt zip member: {exc}",
                                     file=f"{archive}!/{info.filename}",
                                     rule="DB_CORRUPT") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError(f"not a readable zip archive: {exc}", file=str(archive),
                         rule="DB_CORRUPT",
                         fix="download the OSV export again (e.g. PyPI/all.zip)") from exc
    except OSError as exc:
        raise InputError(f"cannot read the database: {exc.strerror}", file=str(archive),
                         rule="DB_UNREADABLE") from exc


def _read_all(path: Path) -> tuple[list[tuple[str, bytes]], bool]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"vulnerability database not found: {exc.strerror}", file=str(path),
                         rule="DB_MISSING",
                         fix="point --db (or policy audit.database.path) at an OSV directory "
                             "or all.zip") from exc
    if stat.S_ISDIR(mode):
        return list(_directory_files(path)), False
    return list(_zip_files(path)), True


def content_digest(files: list[tuple[str, bytes]]) -> str:
    """The manifest sha256 (see the module docstring); `files` sorted by path bytes."""
    outer = hashlib.sha256()
    for relative, data in files:
        outer.update(f"{hashlib.sha256(data).hexdigest()}  {relative}\n".encode())
    return outer.hexdigest()


# -- the database --------------------------------------------------------------------------
@dataclass
class Database:
    """A loaded OSV database: its manifest, what was skipped, and records by package name.

    Records are materialised lazily from the index: an audit touches a few hundred of them.
    """

    path: Path
    manifest: Manifest
    is_zip: bool
    skip_bad_records: bool
    skipped: tuple[SkippedRecord, ...]
    _records: list[dict[str, Any]] = field(repr=False)
    _by_name: dict[str, list[int]] = field(repr=False)
    _cache: dict[int, Record] = field(default_factory=dict, repr=False)
    from_cache: bool = False

    def display_path(self, relative: str) -> str:
        """Where a record is, for messages: `db/vulns/x/PYSEC-1.yaml` or `all.zip!/PYSEC-1.json`."""
        return f"{self.path}!/{relative}" if self.is_zip else str(self.path / relative)

    def records_for(self, normalized_name: str) -> list[Record]:
        """Every record with a PyPI `affected` entry for this PEP 503 name (withdrawn included)."""
        out = []
        for position in self._by_name.get(normalized_name, ()):
            record = self._cache.get(position)
            if record is None:
                try:
                    record = Record.from_json(self._records[position])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ChangegateError(
                        "DB_CACHE_CORRUPT", f"the database index cache is unreadable: {exc!r}",
                        fix="delete the changegate OSV cache directory and run again",
                    ) from exc
                self._cache[position] = record
            out.append(record)
        return out

    def package_names(self) -> list[str]:
        """The PEP 503 names the database has PyPI records for."""
        return sorted(self._by_name)

    def __len__(self) -> int:
        return len(self._records)


def load_database(path: str | os.PathLike[str], *, skip_bad_records: bool = False,
                  cache_dir: Path | None = None, expected_sha256: str | None = None) -> Database:
    """Load a directory of OSV records or an OSV zip export.

    Raises InputError (exit 2) for a missing, unreadable, corrupt or empty database and for a
    malformed record (located: file and line), unless `skip_bad_records`, in which case the bad
    records are listed in `Database.skipped` (together with records whose ranges or CVSS vectors
    cannot be evaluated). Raises DatabasePinMismatch when `expected_sha256` does not match, before
    anything is parsed or read from the cache.
    """
    root = Path(path)
    files, is_zip = _read_all(root)
    if not files:
        raise InputError("the vulnerability database holds no OSV records (.json/.yaml)",
                         file=str(root), rule="DB_EMPTY",
                         fix="point the audit at an OSV directory (e.g. a clone of "
                             "pypa/advisory-database) or an OSV all.zip")
    digest = content_digest(files)
    if expected_sha256 is not None:
        expected = normalize_sha256(expected_sha256)
        if expected != digest:
            raise DatabasePinMismatch(expected, digest, str(root))

    key = index_key(digest)
    cache_file = cache_dir / f"osv-index-{key}.json" if cache_dir is not None else None
    with gc_paused():  # json.load of the cached index is bulk, acyclic allocation too
        index = read_cache(cache_file, key, digest, len(files)) if cache_file else None
    from_cache = index is not None
    parsed: list[Record] = []
    if index is None:
        index, parsed = build_index(files, digest)
        if cache_dir is not None and cache_file is not None:
            write_cache(cache_dir, cache_file, index)
    del files
    db = _database_from_index(root, is_zip, index, skip_bad_records, from_cache)
    db._cache.update(enumerate(parsed))
    return db


def _database_from_index(root: Path, is_zip: bool, index: dict[str, Any],
                         skip_bad_records: bool, from_cache: bool) -> Database:
    manifest_data = index["manifest"]
    newest = manifest_data["newest_modified"]
    manifest = Manifest(manifest_data["sha256"], manifest_data["records"],
                        parse_timestamp(newest) if newest else None)

    def where(relative: str) -> str:
        return f"{root}!/{relative}" if is_zip else str(root / relative)

    bad = index["bad"]
    if bad and not skip_bad_records:
        first = bad[0]
        more = f" (and {len(bad) - 1} more bad records)" if len(bad) > 1 else ""
        raise RecordError(first["reason"] + more, where(first["file"]), first["line"],
                          first["id"])
    skipped = [SkippedRecord(where(b["file"]), b["line"], b["id"], b["reason"]) for b in bad]
    if skip_bad_records:
        skipped.extend(_value_problems(index["records"], where))
    return Database(root, manifest, is_zip, skip_bad_records, tuple(skipped),
                    index["records"], index["by_name"], from_cache=from_cache)


def _value_problems(records: list[dict[str, Any]],
                    where: Callable[[str], str]) -> Iterator[SkippedRecord]:
    for raw in records:
        if not raw["problems"] and not any(a["problems"] for a in raw["affected"]):
            continue
        record = Record.from_json(raw)
        names = tuple(sorted({a.normalized_name for a in record.affected
                              if a.ecosystem == PYPI}))
        for p in record.problems:
            yield SkippedRecord(where(record.file), p.line, record.id,
                                p.message + " (vector ignored)", names)
        for a in record.affected:
            for p in a.problems:
                what = ("vector ignored" if ".severity[" in p.where else
                        "range not evaluated; the versions list still is")
                yield SkippedRecord(where(record.file), p.line, record.id,
                                    f"{p.message} ({what})", (a.normalized_name,))
