"""Is version V of a package affected by an OSV `affected[]` entry? Exactly the spec's algorithm.

The OSV schema's `IsVulnerable` pseudocode, with PEP 440 (`packaging`) as the PyPI ordering:
- V is affected if it equals an entry of the `versions` list OR lies in any evaluable range;
- a range's events are sorted in PEP 440 order first (records do list them out of order, e.g.
  PYSEC-2024-36), then walked: `introduced` (V >= it) opens, `fixed` (V >= it) closes,
  `last_affected` (V > it) closes; `introduced: "0"` sorts before every version;
- a range is only considered when V is below one of its `limit` events (`"*"` is infinity; no
  limit means an implicit `"*"`);
- `GIT` ranges are skipped (commit hashes need the repository), their entry's `versions` list
  still counts.

Choices where the spec is silent, made to fail closed:
- events at the same version are ordered closing events first, then `introduced`, so
  `introduced: X` after `fixed: X` re-opens the range at X instead of silently closing it;
- the `versions` list uses PEP 440 `==` semantics: `1.0` equals `1.0.0`, and a listed public
  version also matches a locally built variant of it (`1.0+ubuntu1`), as the `==1.0` specifier
  would. Entries that are not PEP 440 versions cannot equal any installable version and are
  ignored (the snapshot has legacy versions such as `0.7.1.fix1`);
- a range whose versions do not parse, or whose type is not ECOSYSTEM/SEMVER/GIT, cannot be
  evaluated: the entry is `UNDETERMINED` unless its `versions` list already says affected.
  SEMVER ranges are compared with PEP 440 too: on PyPI every installable version is PEP 440.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from functools import cache, lru_cache

from packaging.version import InvalidVersion, Version

from changegate.gates.audit.osv import Affected, Event, Range

EVALUATED_RANGE_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})
SKIPPED_RANGE_TYPES = frozenset({"GIT"})

# Sort keys: (rank, version, tie-break). Rank 0 is `introduced: "0"`, 2 is a `"*"` limit.
_CLOSING_FIRST = {"fixed": 0, "last_affected": 0, "limit": 0, "introduced": 1}
_ZERO = Version("0")


class Verdict(enum.Enum):
    AFFECTED = "affected"
    UNAFFECTED = "unaffected"
    UNDETERMINED = "undetermined"  # a range could not be evaluated and nothing else said affected


@cache
def parse_version(text: str) -> Version | None:
    """PEP 440 parse, memoised: records repeat the same few thousand version strings."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _is_zero(event: Event) -> bool:
    return event.kind == "introduced" and event.version == "0"


def _is_infinite(event: Event) -> bool:
    return event.kind == "limit" and "*" in event.version


@lru_cache(maxsize=4096)
def range_problems(rng: Range) -> tuple[tuple[tuple[str | int, ...], str], ...]:
    """Why `rng` cannot be evaluated for PyPI: (key path inside the range, message) pairs."""
    if rng.type in SKIPPED_RANGE_TYPES:
        return ()
    if rng.type not in EVALUATED_RANGE_TYPES:
        return ((("type",), f"range type {rng.type!r} cannot be evaluated for PyPI"),)
    found: list[tuple[tuple[str | int, ...], str]] = []
    for i, event in enumerate(rng.events):
        if _is_zero(event) or _is_infinite(event):
            continue
        if parse_version(event.version) is None:
            found.append((("events", i, event.kind),
                          f"{event.kind} {event.version!r} is not a PEP 440 version"))
    if not any(e.kind == "introduced" for e in rng.events):
        found.append((("events",), "range has no 'introduced' event"))
    return tuple(found)


@lru_cache(maxsize=4096)
def _sorted_events(rng: Range) -> tuple[tuple[str, Version | None], ...]:
    """The range's events in PEP 440 order (assumes `range_problems(rng)` is empty)."""
    keyed = []
    for position, event in enumerate(rng.events):
        if _is_zero(event):
            key: tuple[int, Version, int, int] = (0, _ZERO, 0, position)
            version = None
        elif _is_infinite(event):
            key, version = (2, _ZERO, 0, position), None
        else:
            version = parse_version(event.version)
            assert version is not None  # noqa: S101 - guaranteed by range_problems()
            key = (1, version, _CLOSING_FIRST[event.kind], position)
        keyed.append((key, event.kind, version))
    keyed.sort(key=lambda item: item[0])
    return tuple((kind, version) for _, kind, version in keyed)


def _before_limits(events: tuple[tuple[str, Version | None], ...], version: Version) -> bool:
    limits = [v for kind, v in events if kind == "limit"]
    if not limits:
        return True  # the implicit `"*"` limit
    return any(limit is None or version < limit for limit in limits)


def in_range(rng: Range, version: Version) -> bool:
    """The spec's `IncludedInRanges` for one range. Call only when `range_problems` is empty."""
    events = _sorted_events(rng)
    if not _before_limits(events, version):
        return False
    vulnerable = False
    for kind, bound in events:
        if kind == "introduced":
            if bound is None or version >= bound:
                vulnerable = True
        elif kind == "fixed":
            if bound is not None and version >= bound:
                vulnerable = False
        elif kind == "last_affected" and bound is not None and version > bound:
            vulnerable = False
    return vulnerable


@lru_cache(maxsize=4096)
def _version_set(versions: tuple[str, ...]) -> frozenset[Version]:
    return frozenset(v for v in map(parse_version, versions) if v is not None)


def in_versions(affected: Affected, version: Version) -> bool:
    """The spec's `IncludedInVersions` with PEP 440 equality (see the module docstring)."""
    listed = _version_set(affected.versions)
    if version in listed:
        return True
    return version.local is not None and Version(version.public) in listed


def check(affected: Affected, version: Version) -> Verdict:
    """Whether `version` is affected by this entry (its package name is the caller's concern)."""
    if in_versions(affected, version):
        return Verdict.AFFECTED
    undetermined = False
    for rng in affected.ranges:
        if rng.type in SKIPPED_RANGE_TYPES:
            continue
        if range_problems(rng):
            undetermined = True
            continue
        if in_range(rng, version):
            return Verdict.AFFECTED
    return Verdict.UNDETERMINED if undetermined else Verdict.UNAFFECTED


def fixed_versions(entries: Iterable[Affected], version: Version) -> list[Version]:
    """The `fixed` versions above `version` in the entries' evaluable ranges: what to upgrade to."""
    found: set[Version] = set()
    for affected in entries:
        for rng in affected.ranges:
            if rng.type in SKIPPED_RANGE_TYPES or range_problems(rng):
                continue
            for event in rng.events:
                if event.kind == "fixed":
                    fixed = parse_version(event.version)
                    if fixed is not None and fixed > version:
                        found.add(fixed)
    return sorted(found)
