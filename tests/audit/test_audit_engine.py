"""The engine on small synthetic records: the corners of the OSV algorithm the snapshot lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from audit_support import audit, primary_ids

from changegate.gates.audit.database import Database, load_database
from changegate.gates.audit.engine import InvalidPackageVersion, audit_packages
from changegate.gates.audit.evaluate import Verdict, check, in_range
from changegate.gates.audit.osv import Affected, Event, Range, RecordError
from changegate.gates.audit.severity import SeverityLevel


def record(record_id: str, *affected: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "modified": "2024-05-01T00:00:00Z", "affected": list(affected),
            **extra}


def pkg(name: str = "demo", *, ranges: list[dict[str, Any]] | None = None,
        versions: list[str] | None = None, ecosystem: str = "PyPI",
        **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}, **extra}
    if ranges is not None:
        entry["ranges"] = ranges
    if versions is not None:
        entry["versions"] = versions
    return entry


def eco(*events: tuple[str, str], kind: str = "ECOSYSTEM") -> dict[str, Any]:
    return {"type": kind, "events": [{k: v} for k, v in events]}


def make_db(tmp_path: Path, *records: dict[str, Any], skip: bool = False) -> Database:
    for rec in records:
        (tmp_path / f"{rec['id']}.json").write_text(json.dumps(rec, indent=1))
    return load_database(tmp_path, skip_bad_records=skip)


def rng(*events: tuple[str, str]) -> Range:
    return Range("ECOSYSTEM", tuple(Event(k, v) for k, v in events))  # type: ignore[arg-type]


def test_limit_events() -> None:
    from packaging.version import Version

    limited = rng(("introduced", "1.0"), ("limit", "2.0"))
    assert in_range(limited, Version("1.5"))
    assert not in_range(limited, Version("2.0"))
    assert not in_range(limited, Version("0.9"))
    # several limits: below any of them counts; "*" is infinity
    two = rng(("introduced", "1.0"), ("limit", "2.0"), ("limit", "3.0"))
    assert in_range(two, Version("2.5"))
    star = rng(("introduced", "1.0"), ("limit", "*"))
    assert in_range(star, Version("99"))


def test_introduced_zero_sorts_before_pre_releases() -> None:
    from packaging.version import Version

    assert in_range(rng(("introduced", "0"), ("fixed", "1.0")), Version("0.0.dev0"))
    assert in_range(rng(("introduced", "0"), ("fixed", "1.0")), Version("0a1"))


def test_events_at_the_same_version_fail_closed() -> None:
    from packaging.version import Version

    # fixed 2.0 then introduced 2.0, in either listed order: 2.0 is (re)affected.
    forward = rng(("introduced", "1.0"), ("fixed", "2.0"), ("introduced", "2.0"),
                  ("fixed", "3.0"))
    backward = rng(("introduced", "2.0"), ("fixed", "3.0"), ("introduced", "1.0"),
                   ("fixed", "2.0"))
    for r in (forward, backward):
        assert in_range(r, Version("2.0"))
        assert in_range(r, Version("1.5"))
        assert not in_range(r, Version("3.0"))


def test_local_versions_match_their_public_version_in_the_list() -> None:
    from packaging.version import Version

    entry = Affected("PyPI", "demo", ("1.0",), ())
    assert check(entry, Version("1.0+ubuntu1")) is Verdict.AFFECTED
    assert check(entry, Version("1.0.0")) is Verdict.AFFECTED
    assert check(entry, Version("1.0.post1")) is Verdict.UNAFFECTED


def test_git_only_entry_counts_its_versions_list(tmp_path: Path) -> None:
    db = make_db(tmp_path, record("GIT-1", pkg(
        ranges=[{"type": "GIT", "repo": "https://example.invalid/r",
                 "events": [{"introduced": "0"}, {"fixed": "a" * 40}]}],
        versions=["1.2.0"])))
    assert primary_ids(audit(db, "demo", "1.2")) == {"GIT-1"}
    assert audit(db, "demo", "1.1") == []


def test_other_ecosystems_are_ignored(tmp_path: Path) -> None:
    db = make_db(tmp_path, record("NPM-1", pkg(ecosystem="npm", ranges=[eco(
        ("introduced", "0"))])))
    assert audit(db, "demo", "1.0") == []


def test_unknown_range_type_and_missing_introduced_are_undecidable(tmp_path: Path) -> None:
    db = make_db(tmp_path,
                 record("ODD-1", pkg(ranges=[eco(("introduced", "0"), kind="CALVER")])),
                 record("ODD-2", pkg("other", ranges=[eco(("fixed", "2.0"))],
                                     versions=["1.0"])))
    with pytest.raises(RecordError) as caught:
        audit(db, "demo", "1.0")
    assert "CALVER" in caught.value.message
    assert caught.value.location.line is not None
    # the versions list still decides when it says "affected"
    assert primary_ids(audit(db, "other", "1.0")) == {"ODD-2"}
    with pytest.raises(RecordError, match="no 'introduced'"):
        audit(db, "other", "1.5")
    lenient = load_database(tmp_path, skip_bad_records=True)
    assert {s.record_id for s in lenient.skipped} == {"ODD-1", "ODD-2"}
    assert audit(lenient, "demo", "1.0") == []
    assert primary_ids(audit(lenient, "other", "1.0")) == {"ODD-2"}


def test_invalid_package_version(tmp_path: Path) -> None:
    db = make_db(tmp_path, record("A-1", pkg(ranges=[eco(("introduced", "0"))])))
    with pytest.raises(InvalidPackageVersion) as caught:
        audit(db, "demo", "not-a-version")
    assert caught.value.rule == "BAD_VERSION"
    assert caught.value.package == "demo"


def test_results_are_deduplicated_and_sorted(tmp_path: Path) -> None:
    db = make_db(tmp_path,
                 record("B-2", pkg(ranges=[eco(("introduced", "0"))])),
                 record("B-1", pkg(ranges=[eco(("introduced", "0"))])),
                 record("C-1", pkg("zeta", ranges=[eco(("introduced", "0"))])))
    matches = audit_packages(db, [("zeta", "1"), ("demo", "2.0"), ("Demo", "2"),
                                  ("demo", "1.0")])
    assert [(m.package, m.version, m.id) for m in matches] == [
        ("demo", "1.0", "B-1"), ("demo", "1.0", "B-2"),
        ("demo", "2.0", "B-1"), ("demo", "2.0", "B-2"), ("zeta", "1", "C-1")]


def test_alias_groups_prefer_pysec_then_ghsa(tmp_path: Path) -> None:
    db = make_db(tmp_path,
                 record("GHSA-aaaa-bbbb-cccc", pkg(ranges=[eco(("introduced", "0"))]),
                        aliases=["CVE-2024-1"]),
                 record("PYSEC-2024-9", pkg(ranges=[eco(("introduced", "0"))]),
                        aliases=["CVE-2024-1"]),
                 record("OSV-2024-1", pkg(ranges=[eco(("introduced", "0"))]),
                        aliases=["GHSA-aaaa-bbbb-cccc"]),
                 record("GHSA-zzzz-zzzz-zzzz", pkg(ranges=[eco(("introduced", "0"))])))
    matches = audit(db, "demo", "1.0")
    assert [m.id for m in matches] == ["GHSA-zzzz-zzzz-zzzz", "PYSEC-2024-9"]
    merged = matches[1]
    assert merged.records == ("GHSA-aaaa-bbbb-cccc", "OSV-2024-1", "PYSEC-2024-9")
    assert merged.aliases == ("CVE-2024-1", "GHSA-aaaa-bbbb-cccc", "OSV-2024-1")


def test_aliases_are_only_merged_for_the_same_package(tmp_path: Path) -> None:
    db = make_db(tmp_path,
                 record("PYSEC-1", pkg("a", ranges=[eco(("introduced", "0"))]),
                        aliases=["CVE-1"]),
                 record("PYSEC-2", pkg("b", ranges=[eco(("introduced", "0"))]),
                        aliases=["CVE-1"]))
    matches = audit_packages(db, [("a", "1"), ("b", "1")])
    assert [(m.package, m.id, m.aliases) for m in matches] == [
        ("a", "PYSEC-1", ("CVE-1",)), ("b", "PYSEC-2", ("CVE-1",))]


def test_merged_severity_is_the_highest_known(tmp_path: Path) -> None:
    high = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
    db = make_db(tmp_path,
                 record("PYSEC-1", pkg(ranges=[eco(("introduced", "0"))]), aliases=["CVE-1"]),
                 record("GHSA-1", pkg(ranges=[eco(("introduced", "0"))]), aliases=["CVE-1"],
                        severity=[{"type": "CVSS_V3", "score": high}]),
                 record("GHSA-2", pkg(ranges=[eco(("introduced", "0"))]), aliases=["CVE-1"],
                        database_specific={"severity": "MODERATE"}))
    (match,) = audit(db, "demo", "1")
    assert match.severity.level is SeverityLevel.HIGH
    assert match.severity.score == 7.5
    data = match.to_json()
    assert data["severity"] == "high"
    assert data["score"] == 7.5
    assert data["severity_source"] == "CVSS_V3"
    assert data["id"] == "PYSEC-1"
    assert set(data) >= {"package", "version", "id", "aliases", "severity", "score",
                         "fixed_in"}


def test_invalid_cvss_vector_is_located_and_strict(tmp_path: Path) -> None:
    db = make_db(tmp_path, record("V-1", pkg(ranges=[eco(("introduced", "0"))]),
                                  severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}],
                                  database_specific={"severity": "LOW"}))
    with pytest.raises(RecordError) as caught:
        audit(db, "demo", "1")
    assert caught.value.location.line is not None
    assert "CVSS_V3" in caught.value.message
    lenient = load_database(tmp_path, skip_bad_records=True)
    assert "vector ignored" in lenient.skipped[0].reason
    (match,) = audit(lenient, "demo", "1")  # still reported: only the vector is ignored
    assert match.severity.source == "database_specific"
    assert match.severity.level is SeverityLevel.LOW
    assert audit(db, "demo-unrelated", "1") == []


def test_a_decided_entry_is_enough(tmp_path: Path) -> None:
    db = make_db(tmp_path, record("TWO-1",
                                  pkg(ranges=[eco(("introduced", "0"), ("fixed", "junk!"))]),
                                  pkg(ranges=[eco(("introduced", "1.0"), ("fixed", "2.0"))])))
    assert primary_ids(audit(db, "demo", "1.5")) == {"TWO-1"}  # the second entry decides
    with pytest.raises(RecordError, match="junk!"):
        audit(db, "demo", "2.5")  # only the unreadable entry could say
