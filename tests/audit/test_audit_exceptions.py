"""Policy exceptions: matching by any alias, narrowing, merged records, expiry, horizon, VEX."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from gate_support import DEMO_DB, cli, commit_all, project

from changegate.gates.audit.config import AuditConfig
from changegate.gates.audit.gate import AuditRequest, run
from changegate.result import GateResult

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
TODAY = NOW.date()


def exception(**fields: Any) -> dict[str, Any]:
    base = {"id": "PYSEC-2023-221", "reason": "multipart parsing is not reachable: no uploads",
            "approver": "sec-team@acme.example", "ticket": "SEC-101",
            "expires": "2027-01-15"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def audit(root: Path, exceptions: list[dict[str, Any]], db: Path = DEMO_DB,
          **settings: Any) -> GateResult:
    config = AuditConfig.from_settings({"exceptions": exceptions, **settings})
    return run(AuditRequest(workdir=root, environ={}, db=str(db)), config, now=NOW).result


@pytest.fixture
def werkzeug(tmp_path: Path) -> Path:
    return project(tmp_path, {"requirements.txt": "werkzeug==2.2.2\n"})


@pytest.mark.parametrize("vuln_id", ["PYSEC-2023-221", "CVE-2023-46136",
                                     "ghsa-hrfv-mqp8-q5rw"])
def test_an_exception_matches_by_id_or_any_alias_ignoring_case(werkzeug: Path,
                                                               vuln_id: str) -> None:
    result = audit(werkzeug, [exception(id=vuln_id)])
    assert result.status.value == "pass", result.findings
    assert result.findings == []
    (item,) = result.details["vulnerabilities"]
    assert item["suppressed"] is True
    assert item["exception"]["ticket"] == "SEC-101"
    assert item["exception"]["approver"] == "sec-team@acme.example"
    assert result.details["suppressed"] == [item]
    assert result.details["exceptions"][0]["status"] == "applied"
    assert "1 suppressed by exceptions" in result.summary


def test_package_and_versions_narrow_an_exception(werkzeug: Path) -> None:
    assert audit(werkzeug, [exception(package="Werkzeug", versions=["2.2.2"])]
                 ).status.value == "pass"
    assert audit(werkzeug, [exception(package="werkzeug", versions=["<2.3"])]
                 ).status.value == "pass"
    other = audit(werkzeug, [exception(package="werkzeug", versions=[">=2.3,<3"])])
    assert other.status.value == "fail"
    assert {f.rule for f in other.findings} == {"VULNERABLE_DEPENDENCY", "EXCEPTION_UNUSED"}
    wrong_package = audit(werkzeug, [exception(package="flask")])
    assert wrong_package.status.value == "fail"


def test_expired_exception_fails_and_suppresses_nothing(werkzeug: Path) -> None:
    result = audit(werkzeug, [exception(expires="2026-11-27")])
    assert result.status.value == "fail"
    rules = {f.rule: f for f in result.findings}
    assert set(rules) == {"VULNERABLE_DEPENDENCY", "EXCEPTION_EXPIRED"}
    assert "expired on 2026-11-27" in rules["EXCEPTION_EXPIRED"].message
    assert "PYSEC-2023-221 in werkzeug 2.2.2" in rules["EXCEPTION_EXPIRED"].message
    # good through its expiry day
    assert audit(werkzeug, [exception(expires=TODAY.isoformat())]).status.value == "pass"


def test_an_expired_exception_fails_even_when_unused(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "certifi==2024.2.2\n"})
    result = audit(root, [exception(expires="2020-01-01")])
    assert result.status.value == "fail"
    assert [f.rule for f in result.findings] == ["EXCEPTION_EXPIRED"]


def test_unused_exception_is_a_warning(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "certifi==2024.2.2\n"})
    result = audit(root, [exception()])
    assert result.status.value == "pass"
    (item,) = result.findings
    assert (item.rule, item.severity.value) == ("EXCEPTION_UNUSED", "warning")
    assert result.details["exceptions"][0]["status"] == "unused"


def test_exception_beyond_the_horizon_fails(werkzeug: Path) -> None:
    result = audit(werkzeug, [exception(expires="2027-12-31")], exception_max_days=90)
    assert result.status.value == "fail"
    assert {f.rule for f in result.findings} == {"VULNERABLE_DEPENDENCY", "EXCEPTION_TOO_LONG"}
    assert result.details["exceptions"][0]["status"] == "too_long"
    # the default horizon is a year
    assert audit(werkzeug, [exception(expires="2027-11-28")]).status.value == "pass"
    assert audit(werkzeug, [exception(expires="2027-11-29")]).status.value == "fail"


def _record(record_id: str, aliases: list[str]) -> dict[str, Any]:
    return {"id": record_id, "modified": "2024-05-01T00:00:00Z", "aliases": aliases,
            "summary": f"flaw {record_id}",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "demo-pkg"},
                          "ranges": [{"type": "ECOSYSTEM",
                                      "events": [{"introduced": "0"}, {"fixed": "1.1"}]}]}]}


@pytest.fixture
def chained(tmp_path: Path) -> tuple[Path, Path]:
    """Three records for one package linked only transitively: A~B via CVE-1, B~C via CVE-2."""
    db = tmp_path / "db"
    db.mkdir()
    for record in (_record("PYSEC-2024-1", ["CVE-2024-1"]),
                   _record("GHSA-aaaa-bbbb-cccc", ["CVE-2024-1", "CVE-2024-2"]),
                   _record("PYSEC-2024-2", ["CVE-2024-2"])):
        (db / f"{record['id']}.json").write_text(json.dumps(record))
    return db, project(tmp_path / "app", {"requirements.txt": "demo-pkg==1.0\n"})


def test_merged_records_need_every_record_named(chained: tuple[Path, Path]) -> None:
    db, root = chained
    baseline = audit(root, [], db=db)
    (item,) = baseline.details["vulnerabilities"]  # one vulnerability: the records merged
    assert item["records"] == ["GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1", "PYSEC-2024-2"]
    partial = audit(root, [exception(id="CVE-2024-1")], db=db)
    assert partial.status.value == "fail"
    rules = {f.rule: f for f in partial.findings}
    assert "EXCEPTION_PARTIAL" in rules and "UNRATED_VULNERABILITY" in rules
    assert "PYSEC-2024-2" in rules["EXCEPTION_PARTIAL"].message
    assert partial.details["exceptions"][0]["status"] == "partial"
    both = audit(root, [exception(id="CVE-2024-1"), exception(id="cve-2024-2")], db=db)
    assert both.status.value == "pass", both.findings
    assert both.details["vulnerabilities"][0]["exceptions"] == ["CVE-2024-1", "cve-2024-2"]
    # the GHSA's own id names only the GHSA record
    assert audit(root, [exception(id="GHSA-aaaa-bbbb-cccc")], db=db).status.value == "fail"
    # an expired exception does not count towards covering
    mixed = audit(root, [exception(id="CVE-2024-1"),
                         exception(id="CVE-2024-2", expires="2026-01-01")], db=db)
    assert {f.rule for f in mixed.findings} >= {"EXCEPTION_EXPIRED", "EXCEPTION_PARTIAL"}


def test_exceptions_become_vex_statements(tmp_path: Path) -> None:
    policy = f"""\
version: 1
gates:
  audit:
    database: {{path: {DEMO_DB}}}
    exceptions:
      - id: CVE-2023-46136
        package: werkzeug
        versions: ["<2.3.8"]
        reason: the multipart parser is not reachable (no file uploads)
        approver: jane.doe@acme.example
        ticket: SEC-4711
        expires: 2027-01-15
        justification: code_not_reachable
      - id: PYSEC-2023-74
        reason: proxies are not used; upgrade planned with the Q1 platform update
        approver: jane.doe@acme.example
        ticket: SEC-4712
        expires: 2027-02-01
        response: [update]
"""
    root = commit_all(project(tmp_path, {"requirements.txt":
                                         "werkzeug==2.2.2\nrequests==2.19.0\n"}, policy=policy))
    run_ = cli(["--json", "--vex", "out/audit.vex.json"], root)
    assert run_.code == 0, run_.out
    assert run_.json["vex"]["path"] == "out/audit.vex.json"
    vex = json.loads((root / "out" / "audit.vex.json").read_text())
    by_id = {v["id"]: v for v in vex["vulnerabilities"]}
    werkzeug = by_id["PYSEC-2023-221"]
    assert werkzeug["analysis"]["state"] == "not_affected"
    assert werkzeug["analysis"]["justification"] == "code_not_reachable"
    assert "SEC-4711" in werkzeug["analysis"]["detail"]
    assert "jane.doe@acme.example" in werkzeug["analysis"]["detail"]
    assert {"name": "changegate:exception:expires", "value": "2027-01-15"} in \
        werkzeug["properties"]
    assert werkzeug["affects"] == [{"ref": "pkg:pypi/werkzeug@2.2.2"}]
    requests = by_id["PYSEC-2023-74"]
    assert requests["analysis"]["state"] == "exploitable"
    assert requests["analysis"]["response"] == ["update"]
