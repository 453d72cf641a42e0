"""How bad is a vulnerability: CVSS base scores first, the database's own rating second.

Order of sources, for the package being audited (an `affected[].severity` list applies to that
package only and, per the OSV spec, excludes a top-level one):
1. a CVSS v4 vector, 2. a CVSS v3.x vector, 3. a CVSS v2 vector — base scores computed by the
   maintained `cvss` library (Red Hat), never trusted from a score field, because OSV carries
   only the vector; when one type appears more than once the highest score wins (fail closed);
2. `database_specific.severity` (GitHub style LOW / MODERATE / HIGH / CRITICAL) of the
   package's entry, then of the record;
3. otherwise unknown (`level is None`): the policy decides whether that fails (`unknown: fail`)
   or warns, so an unrated advisory can never pass silently.

Qualitative ratings follow the CVSS specifications: v3/v4 None 0.0, Low 0.1-3.9, Medium 4.0-6.9,
High 7.0-8.9, Critical 9.0-10.0; v2 (NVD) Low 0-3.9, Medium 4.0-6.9, High 7.0-10.0.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from changegate.gates.audit.osv import Record, SeverityEntry

CVSS_TYPES = ("CVSS_V4", "CVSS_V3", "CVSS_V2")  # in order of preference
DATABASE_SOURCE = "database_specific"


class SeverityLevel(enum.IntEnum):
    """Qualitative severity, ordered so `level >= threshold` reads naturally."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> SeverityLevel:
        """A policy or database rating: none/low/medium (or GitHub's moderate)/high/critical."""
        key = text.strip().upper()
        if key == "MODERATE":
            key = "MEDIUM"
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}: expected one of "
                             "none, low, medium (moderate), high, critical") from None


class RatedSeverity(NamedTuple):
    """`level` None means unknown; `source` is a CVSS type, `database_specific` or None."""

    level: SeverityLevel | None
    score: float | None
    source: str | None

    @property
    def label(self) -> str:
        return self.level.label if self.level is not None else "unknown"


UNKNOWN = RatedSeverity(None, None, None)


class UnknownSeverity(str, enum.Enum):
    """Policy `unknown_severity`: what an advisory without a usable rating does."""

    FAIL = "fail"
    WARN = "warn"


class Outcome(str, enum.Enum):
    """What one (not suppressed) vulnerability does to the gate."""

    FAIL = "fail"  # at or above `fail_on`, or unknown under `unknown_severity: fail`
    WARN = "warn"  # unknown under `unknown_severity: warn`
    BELOW = "below"  # rated below `fail_on`: reported, does not fail


def judge(rated: RatedSeverity, fail_on: SeverityLevel,
          unknown: UnknownSeverity = UnknownSeverity.FAIL) -> Outcome:
    if rated.level is None:
        return Outcome.FAIL if unknown is UnknownSeverity.FAIL else Outcome.WARN
    return Outcome.FAIL if rated.level >= fail_on else Outcome.BELOW


def level_for_score(score: float, cvss_type: str) -> SeverityLevel:
    if score <= 0:
        return SeverityLevel.NONE if cvss_type != "CVSS_V2" else SeverityLevel.LOW
    if score < 4.0:
        return SeverityLevel.LOW
    if score < 7.0:
        return SeverityLevel.MEDIUM
    if cvss_type == "CVSS_V2" or score < 9.0:
        return SeverityLevel.HIGH
    return SeverityLevel.CRITICAL


_PREFIXES = {"CVSS_V4": ("CVSS:4.0/",), "CVSS_V3": ("CVSS:3.0/", "CVSS:3.1/"), "CVSS_V2": ("",)}


@lru_cache(maxsize=1024)
def cvss_base_score(cvss_type: str, vector: str) -> float:
    """The base score of a CVSS vector of the given OSV type. Raises ValueError if invalid."""
    import cvss  # type: ignore[import-untyped]

    if cvss_type not in _PREFIXES:
        raise ValueError(f"not a CVSS type: {cvss_type}")
    if cvss_type != "CVSS_V2" and not vector.startswith(_PREFIXES[cvss_type]):
        raise ValueError(f"a {cvss_type} vector must start with "
                         f"{' or '.join(_PREFIXES[cvss_type])}")
    if cvss_type == "CVSS_V2" and vector.startswith("CVSS:"):
        raise ValueError("a CVSS_V2 vector has no CVSS: prefix")
    calculator: Any = {"CVSS_V4": cvss.CVSS4, "CVSS_V3": cvss.CVSS3, "CVSS_V2": cvss.CVSS2}
    try:
        base: Decimal = calculator[cvss_type](vector).base_score
    except cvss.CVSSError as exc:
        raise ValueError(f"invalid {cvss_type} vector {vector!r}: {exc}") from exc
    return float(base)


def vector_problems(entry: SeverityEntry) -> list[str]:
    """Why a CVSS entry cannot be scored (empty for valid vectors and non-CVSS types)."""
    if entry.type not in CVSS_TYPES:
        return []
    try:
        cvss_base_score(entry.type, entry.score)
    except ValueError as exc:
        return [str(exc)]
    return []


def _best_cvss(entries: list[SeverityEntry]) -> RatedSeverity | None:
    for cvss_type in CVSS_TYPES:
        scores = []
        for entry in entries:
            if entry.type == cvss_type:
                try:
                    scores.append(cvss_base_score(cvss_type, entry.score))
                except ValueError:
                    continue  # already a located Problem on the record; the audit decides
        if scores:
            score = max(scores)
            return RatedSeverity(level_for_score(score, cvss_type), score, cvss_type)
    return None


def severity_of(record: Record, package: str | None = None) -> RatedSeverity:
    """The record's severity for `package` (a PEP 503 normalised name), or for the record."""
    entries = [a for a in record.affected if package is not None and a.normalized_name == package]
    package_vectors = [s for a in entries for s in a.severity]
    rated = _best_cvss(package_vectors or list(record.severity))
    if rated is not None:
        return rated
    for text in [*(a.database_severity for a in entries), record.database_severity]:
        if text:
            try:
                return RatedSeverity(SeverityLevel.parse(text), None, DATABASE_SOURCE)
            except ValueError:
                continue
    return UNKNOWN
