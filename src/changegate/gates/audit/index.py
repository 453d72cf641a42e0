"""The parsed index of an OSV database and its on-disk cache.

Parsing every record is the slow part of a load (about 0.5 s for the 2,661 YAML files of the
PyPA snapshot on the development machine, libyaml included); reading and hashing every file is
cheap (about 0.05-0.1 s for its 5 MB). So every load reads and hashes every file, and the
parsed index is cached as JSON in `cache_dir`, named by the content digest together with the
index format, the source of the modules that build and read it, and the versions of
`packaging` and `cvss`. A cache hit is therefore only ever used for exactly the bytes that
were just hashed; `--db-sha256` is compared with the digest of what is on disk, never with
anything cached.

Trade-off considered: keying the lookup on (path, size, mtime_ns) stat tuples would save the
hashing, but a file rewritten with the same size and timestamp (restored from an archive,
`touch -r`, a coarse-mtime filesystem) would then be served stale results. Hashing fits the
one-second budget, so it is not worth that risk.

What the cache cannot defend against is someone who can write to the cache directory: treat
it like the database itself, or pass `cache_dir=None` for a fully re-derived run. It is JSON,
not pickle, so a tampered cache can at worst lie, never execute code; an unreadable one is
rebuilt, and an entry that does not fit the model makes the audit inconclusive.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from changegate.gates.audit import evaluate, severity
from changegate.gates.audit.osv import (
    KeyPath,
    Record,
    RecordError,
    format_timestamp,
    read_record,
    with_problems,
)

INDEX_FORMAT = 1
PYPI = "PyPI"


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building acyclic data in bulk.

    Parsing thousands of records (and materialising hundreds for an audit) allocates hundreds
    of thousands of containers, none in a reference cycle; the collector's repeated full scans
    over them cost 10-25% of a cold load for nothing. Reference counting still frees
    everything; the previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _problems_of(record: Record) -> list[tuple[int | None, KeyPath, str]]:
    found: list[tuple[int | None, KeyPath, str]] = []
    for s_index, entry in enumerate(record.severity):
        found.extend((None, ("severity", s_index, "score"), m)
                     for m in severity.vector_problems(entry))
    for affected in record.affected:
        base: KeyPath = ("affected", affected.index)
        if affected.ecosystem != PYPI:
            continue  # not evaluated by this audit, so not a problem for it
        for s_index, entry in enumerate(affected.severity):
            found.extend((affected.index, (*base, "severity", s_index, "score"), m)
                         for m in severity.vector_problems(entry))
        for r_index, rng in enumerate(affected.ranges):
            found.extend((affected.index, (*base, "ranges", r_index, *sub), m)
                         for sub, m in evaluate.range_problems(rng))
    return found


@functools.cache
def _code_digest() -> str:
    """The source of the modules that build and read the index: a code change invalidates the
    cache even when nobody remembers to bump INDEX_FORMAT (a version string would not change
    between two development builds)."""
    digest = hashlib.sha256()
    for name in ("documents", "osv", "evaluate", "severity", "index", "database"):
        module = importlib.import_module(f"changegate.gates.audit.{name}")
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def index_key(digest: str) -> str:
    import cvss  # type: ignore[import-untyped]
    import packaging

    shape = (f"{digest}|{INDEX_FORMAT}|{_code_digest()}|{packaging.__version__}|"
             f"{cvss.__version__}")
    return hashlib.sha256(shape.encode()).hexdigest()


def build_index(files: list[tuple[str, bytes]],
                digest: str) -> tuple[dict[str, Any], list[Record]]:
    """Parse every record once: the JSON-able index the cache stores, and the records it holds
    (so a cold run need not read its own index back)."""
    parsed: list[Record] = []
    records: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    newest: datetime | None = None
    with gc_paused():
        for relative, data in files:
            try:
                record = read_record(data, relative)
            except RecordError as exc:
                bad.append({"file": relative, "line": exc.location.line, "id": exc.record_id,
                            "reason": exc.message, "packages": []})
                continue
            newest = record.modified if newest is None else max(newest, record.modified)
            if record.id in seen:
                bad.append({"file": relative, "line": 1, "id": record.id, "packages": [],
                            "reason": f"{record.id}: duplicate id, also in {seen[record.id]}"})
                continue
            seen[record.id] = relative
            record = with_problems(record, data, _problems_of(record))
            parsed.append(record)
            records.append(record.to_json())
    by_name: dict[str, list[int]] = {}
    for position, raw in enumerate(records):
        names = {canonicalize_name(a["name"]) for a in raw["affected"]
                 if a["ecosystem"] == PYPI and a["name"]}
        for name in sorted(names):
            by_name.setdefault(name, []).append(position)
    return {
        "format": INDEX_FORMAT, "key": index_key(digest),
        "manifest": {"sha256": digest, "records": len(files),
                     "newest_modified": format_timestamp(newest) if newest else None},
        "records": records, "bad": bad, "by_name": by_name,
    }, parsed


def read_cache(cache_file: Path, key: str, digest: str, files: int) -> dict[str, Any] | None:
    """The cached index for `key`, or None when absent or not plausibly ours (then rebuilt)."""
    try:
        with cache_file.open("rb") as fh:
            index = json.load(fh)
    except (OSError, ValueError):
        return None
    try:
        manifest = index["manifest"]
        plausible = (index["key"] == key and manifest["sha256"] == digest
                     and manifest["records"] == files
                     and isinstance(index["records"], list) and isinstance(index["bad"], list)
                     and isinstance(index["by_name"], dict))
    except (KeyError, TypeError):
        return None
    return index if plausible else None


def write_cache(cache_dir: Path, cache_file: Path, index: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written only costs time, never the result."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".osv-index-", dir=cache_dir)
        try:
            with os.fdopen(fd, "wb") as fh:  # dumps: the one-shot C encoder, dump is Python
                fh.write(json.dumps(index, separators=(",", ":")).encode())
            os.replace(tmp, cache_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/changegate/osv` (or `~/.cache/...`): for the CLI to pass, if it wants."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "changegate" / "osv"
