"""Severity: CVSS v2/v3/v4 base scores, database ratings, policy thresholds."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from changegate.gates.audit.osv import Affected, Record, SeverityEntry
from changegate.gates.audit.severity import (
    Outcome,
    RatedSeverity,
    SeverityLevel,
    UnknownSeverity,
    cvss_base_score,
    judge,
    severity_of,
    vector_problems,
)

V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V3_MEDIUM = "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"  # 5.5
V4_CRITICAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3
V4_LOW = "CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"
V2_HIGH = "AV:N/AC:L/Au:N/C:P/I:P/A:P"  # 7.5


def rec(*, severity: tuple[SeverityEntry, ...] = (), db: str | None = None,
        affected: tuple[Affected, ...] = ()) -> Record:
    return Record("X-1", datetime(2024, 1, 1, tzinfo=timezone.utc), "x.json",
                  severity=severity, database_severity=db, affected=affected)


def test_base_scores() -> None:
    assert cvss_base_score("CVSS_V3", V3_CRITICAL) == 9.8
    assert cvss_base_score("CVSS_V3", V3_MEDIUM) == 5.5
    assert cvss_base_score("CVSS_V4", V4_CRITICAL) == 9.3
    assert cvss_base_score("CVSS_V2", V2_HIGH) == 7.5


@pytest.mark.parametrize(("entry", "words"), [
    (SeverityEntry("CVSS_V3", "CVSS:3.1/AV:N"), "invalid CVSS_V3"),
    (SeverityEntry("CVSS_V3", V4_CRITICAL), "must start with"),
    (SeverityEntry("CVSS_V4", V3_CRITICAL), "must start with"),
    (SeverityEntry("CVSS_V2", V3_CRITICAL), "no CVSS: prefix"),
])
def test_vector_problems(entry: SeverityEntry, words: str) -> None:
    (problem,) = vector_problems(entry)
    assert words in problem


def test_non_cvss_types_are_not_problems() -> None:
    assert vector_problems(SeverityEntry("Ubuntu", "high")) == []


def test_v4_is_preferred_over_v3() -> None:
    rated = severity_of(rec(severity=(SeverityEntry("CVSS_V3", V3_CRITICAL),
                                      SeverityEntry("CVSS_V4", V4_LOW))))
    assert rated.source == "CVSS_V4"
    assert rated.level is not None
    assert rated.level <= SeverityLevel.MEDIUM


def test_highest_of_one_type_wins() -> None:
    rated = severity_of(rec(severity=(SeverityEntry("CVSS_V3", V3_MEDIUM),
                                      SeverityEntry("CVSS_V3", V3_CRITICAL))))
    assert rated == RatedSeverity(SeverityLevel.CRITICAL, 9.8, "CVSS_V3")


def test_v2_has_no_critical() -> None:
    assert severity_of(rec(severity=(SeverityEntry("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C"),))
                       ) == RatedSeverity(SeverityLevel.HIGH, 10.0, "CVSS_V2")


@pytest.mark.parametrize(("text", "level"), [
    ("LOW", SeverityLevel.LOW), ("MODERATE", SeverityLevel.MEDIUM),
    ("HIGH", SeverityLevel.HIGH), ("CRITICAL", SeverityLevel.CRITICAL),
])
def test_database_severity(text: str, level: SeverityLevel) -> None:
    assert severity_of(rec(db=text)) == RatedSeverity(level, None, "database_specific")


def test_cvss_beats_database_severity_and_unknown_is_none() -> None:
    assert severity_of(rec(severity=(SeverityEntry("CVSS_V3", V3_MEDIUM),), db="CRITICAL")
                       ).source == "CVSS_V3"
    assert severity_of(rec()).level is None
    assert severity_of(rec(db="whatever")).label == "unknown"
    # an invalid vector is ignored here (it is a located Problem for the audit to raise)
    assert severity_of(rec(severity=(SeverityEntry("CVSS_V3", "CVSS:3.1/AV:Q"),),
                           db="LOW")).source == "database_specific"


def test_package_level_severity() -> None:
    a = Affected("PyPI", "a", (), (), severity=(SeverityEntry("CVSS_V3", V3_CRITICAL),))
    b = Affected("PyPI", "b", (), (), database_severity="LOW")
    record = rec(affected=(a, b))
    assert severity_of(record, "a").level is SeverityLevel.CRITICAL
    assert severity_of(record, "b").level is SeverityLevel.LOW
    assert severity_of(record, "c").level is None


def test_levels_parse_and_order() -> None:
    assert SeverityLevel.parse("Moderate") is SeverityLevel.MEDIUM
    assert SeverityLevel.parse(" high ") is SeverityLevel.HIGH
    assert SeverityLevel.LOW < SeverityLevel.MEDIUM < SeverityLevel.HIGH < SeverityLevel.CRITICAL
    with pytest.raises(ValueError, match="unknown severity"):
        SeverityLevel.parse("severe")


def test_judge() -> None:
    high = RatedSeverity(SeverityLevel.HIGH, 7.5, "CVSS_V3")
    low = RatedSeverity(SeverityLevel.LOW, 2.0, "CVSS_V3")
    unknown = RatedSeverity(None, None, None)
    assert judge(high, SeverityLevel.HIGH) is Outcome.FAIL
    assert judge(low, SeverityLevel.HIGH) is Outcome.BELOW
    assert judge(unknown, SeverityLevel.HIGH) is Outcome.FAIL  # fail closed by default
    assert judge(unknown, SeverityLevel.HIGH, UnknownSeverity.WARN) is Outcome.WARN
