"""The audit gate end to end on the shipped demo database: statuses, findings, details, policy."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate_support import (
    DEMO_DB,
    DEMO_NEWEST,
    DEMO_RECORDS,
    DEMO_SHA256,
    LINES,
    cli,
    commit_all,
    project,
)

from changegate.gates.audit.config import AuditConfig
from changegate.gates.audit.gate import AuditRequest, run
from changegate.result import GateResult

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def audit(root: Path, settings: dict[str, object] | None = None,
          **request: Any) -> GateResult:
    options: dict[str, Any] = {"db": str(DEMO_DB), **request}
    return run(AuditRequest(workdir=root, environ={"PATH": "/usr/bin:/bin"}, **options),
               AuditConfig.from_settings(settings or {}), now=NOW).result


def test_vulnerable_requirements_fail_with_each_finding_at_its_line(tmp_path: Path) -> None:
    result = audit(project(tmp_path))
    assert result.status.value == "fail"
    by_title = {f.title: f for f in result.findings}
    urllib3 = by_title["PYSEC-2023-192 in urllib3 1.24.1"]
    assert urllib3.rule == "VULNERABLE_DEPENDENCY"
    assert (urllib3.location.file, urllib3.location.line) == ("requirements.txt",
                                                              LINES["urllib3"])
    assert "high (CVSS v3 base score 8.1)" in urllib3.message
    assert "fixed in 1.26.17, 2.0.6" in urllib3.message
    assert urllib3.fix and "upgrade urllib3 to 1.26.17" in urllib3.fix
    unrated = by_title["PYSEC-2023-74 in requests 2.19.0"]
    assert unrated.rule == "UNRATED_VULNERABILITY" and unrated.severity.value == "error"
    assert unrated.location.line == LINES["requests"]
    # certifi has no advisory in the demo database: no finding
    assert not any("certifi" in f.message for f in result.findings)


def test_json_details_follow_the_contract(tmp_path: Path) -> None:
    result = audit(project(tmp_path))
    details = result.to_json()
    assert details["database"]["sha256"] == DEMO_SHA256
    assert details["database"]["records"] == DEMO_RECORDS
    assert details["database"]["newest_modified"] == DEMO_NEWEST
    assert DEMO_SHA256 in result.summary and f"{DEMO_RECORDS} records" in result.summary
    vulns = {(v["package"], v["id"]): v for v in details["vulnerabilities"]}
    assert set(vulns) == {("urllib3", "PYSEC-2023-192"), ("urllib3", "PYSEC-2023-207"),
                          ("urllib3", "PYSEC-2023-212"), ("werkzeug", "PYSEC-2023-221"),
                          ("requests", "PYSEC-2023-74"), ("jinja2", "PYSEC-2021-66")}
    item = vulns[("werkzeug", "PYSEC-2023-221")]
    for key in ("package", "version", "id", "aliases", "severity", "score", "fixed_in",
                "suppressed", "exception"):
        assert key in item, key
    assert item["version"] == "2.2.2"
    assert item["aliases"] == ["CVE-2023-46136", "GHSA-hrfv-mqp8-q5rw"]
    assert (item["severity"], item["score"]) == ("high", 7.5)
    assert item["fixed_in"] == ["2.3.8", "3.0.1"]
    assert item["suppressed"] is False and item["exception"] is None
    assert details["source"] == {"kind": "requirements", "path": "requirements.txt",
                                 "format": "requirements", "packages": 5, "audited": 5}
    assert len(details["settings"]["sha256"]) == 64
    json.dumps(details)  # serialisable as is


def test_fail_on_threshold_and_unknown_severity_warn(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "urllib3==1.24.1\nrequests==2.19.0\n"})
    result = audit(root, {"fail_on": "critical", "unknown_severity": "warn"})
    assert result.status.value == "pass"
    rules = sorted((f.rule, f.severity.value) for f in result.findings)
    assert rules == [("UNRATED_VULNERABILITY", "warning"),
                     *[("VULNERABILITY_BELOW_THRESHOLD", "note")] * 3]
    # the command line's --fail-on wins over the policy
    assert audit(root, {"fail_on": "critical", "unknown_severity": "warn"},
                 fail_on="high").status.value == "fail"
    high = audit(root, {"fail_on": "high", "unknown_severity": "warn"})
    failing = [f for f in high.findings if f.severity.value == "error"]
    assert [f.title for f in failing] == ["PYSEC-2023-192 in urllib3 1.24.1"]


def test_clean_project_passes_and_says_what_it_ran_against(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "urllib3==2.2.3\ncertifi==2024.2.2\n"})
    result = audit(root)
    assert result.status.value == "pass", result.findings
    assert result.findings == []
    assert "no known vulnerabilities" in result.summary
    assert result.details["vulnerabilities"] == []


def test_unpinned_and_bad_versions_are_inconclusive_but_the_rest_is_reported(
        tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt":
                              "urllib3==1.24.1\nflask>=2\nrequests===not-pep440\n"})
    result = audit(root)
    assert result.status.value == "error"
    rules = {f.rule: f for f in result.findings}
    assert rules["UNPINNED"].location.line == 2
    assert rules["BAD_VERSION"].location.line == 3
    assert "VULNERABLE_DEPENDENCY" in rules  # urllib3 was still audited
    assert "inconclusive" in result.summary


def test_local_packages_are_noted_not_audited(tmp_path: Path) -> None:
    lib = tmp_path / "libs" / "internal"
    lib.mkdir(parents=True)
    (lib / "pyproject.toml").write_text('[project]\nname = "internal"\nversion = "1.0"\n')
    root = project(tmp_path / "app", {"requirements.txt":
                                      f"-e {lib}\nurllib3==2.2.3\n"})
    result = audit(root)
    assert result.status.value == "pass"
    (note,) = result.findings
    assert note.rule == "NOT_AUDITED" and note.severity.value == "note"
    assert result.details["not_audited"][0]["package"] == "internal"


def test_lock_files_are_read_by_the_sbom_readers(tmp_path: Path) -> None:
    lock = """\
version = 1
requires-python = ">=3.10"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "urllib3" }]

[[package]]
name = "urllib3"
version = "1.24.1"
source = { registry = "https://pypi.org/simple" }
"""
    root = project(tmp_path, {"uv.lock": lock})
    (root / "requirements.txt").unlink()
    result = audit(root)  # found without an option: uv.lock first
    assert result.details["source"]["format"] == "uv.lock"
    lines = {f.location.line for f in result.findings if f.rule == "VULNERABLE_DEPENDENCY"}
    assert lines == {11}  # urllib3's `name =` line
    assert {f.location.file for f in result.findings} == {"uv.lock"}


def test_pin_mismatch_is_inconclusive_and_keeps_the_digest(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = audit(root, db_sha256="0" * 64)
    assert result.status.value == "error"
    assert result.findings[0].rule == "DB_SHA256_MISMATCH"
    assert result.details["database"]["sha256"] == DEMO_SHA256
    assert audit(root, db_sha256=f"sha256:{DEMO_SHA256.upper()}").status.value == "fail"
    # the policy's pin holds for a database named on the command line too
    pinned = {"database": {"sha256": "1" * 64}}
    assert audit(root, pinned).findings[0].rule == "DB_SHA256_MISMATCH"


def test_stale_database_is_inconclusive_unless_the_policy_allows_it(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "urllib3==2.2.3\n"})
    stale = audit(root, {"database": {"max_age_days": 30}})
    assert stale.status.value == "error"
    (item,) = stale.findings
    assert item.rule == "DB_STALE" and item.severity.value == "error"
    assert stale.details["freshness"]["stale"] is True
    allowed = audit(root, {"database": {"max_age_days": 30, "allow_stale": True}})
    assert allowed.status.value == "pass"
    assert [(f.rule, f.severity.value) for f in allowed.findings] == [("DB_STALE", "warning")]
    fresh = audit(root, {"database": {"max_age_days": 36500}})
    assert fresh.status.value == "pass" and fresh.findings == []


def test_malformed_record_is_located_exit_2_unless_skipping_is_allowed(tmp_path: Path) -> None:
    db = tmp_path / "db"
    shutil.copytree(DEMO_DB, db)
    (db / "vulns" / "urllib3" / "PYSEC-2099-1.yaml").write_text(
        "id: PYSEC-2099-1\nmodified: 2024-01-01T00:00:00Z\naffected:\n- package:\n"
        "    name: urllib3\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n"
        "    events: not-a-list\n")
    root = project(tmp_path / "app")
    run_ = cli(["--db", str(db), "--json"], root)
    assert run_.code == 2
    finding = run_.json["findings"][0]
    assert finding["rule"] == "OSV_RECORD_INVALID"
    assert finding["location"]["file"].endswith("PYSEC-2099-1.yaml")
    assert finding["location"]["line"] == 9
    skipped = audit(root, {"skip_bad_records": True}, db=str(db))
    assert skipped.status.value == "fail"
    reported = [f for f in skipped.findings if f.rule == "DB_RECORD_SKIPPED"]
    assert reported and reported[0].location.file.endswith("PYSEC-2099-1.yaml")
    assert skipped.details["skipped_records"][0]["id"] == "PYSEC-2099-1"


def test_unparseable_version_in_a_record_concerning_an_audited_package(tmp_path: Path) -> None:
    db = tmp_path / "db"
    shutil.copytree(DEMO_DB, db)
    record = db / "vulns" / "werkzeug" / "PYSEC-2023-221.yaml"
    record.write_text(record.read_text().replace("fixed: 2.3.8", "fixed: two.three"))
    # 2.3.9 is in no `versions` list, so only the (now unparseable) range could decide
    root = project(tmp_path / "app", {"requirements.txt": "werkzeug==2.3.9\n"})
    run_ = cli(["--db", str(db), "--json"], root)
    assert run_.code == 2
    assert run_.json["findings"][0]["rule"] == "OSV_RECORD_INVALID"
    assert "two.three" in run_.json["findings"][0]["message"]


def test_corrupt_zip_is_a_located_error(tmp_path: Path) -> None:
    bad = tmp_path / "all.zip"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    run_ = cli(["--db", str(bad), "--json"], project(tmp_path / "app"))
    assert run_.code == 2
    assert run_.json["findings"][0]["rule"] == "DB_CORRUPT"
    assert run_.json["findings"][0]["location"]["file"] == str(bad)


def test_zip_database_gives_the_same_vulnerabilities(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(DEMO_DB.rglob("*.yaml")):
            zf.write(path, path.relative_to(DEMO_DB).as_posix())
    root = project(tmp_path / "app")
    from_zip = audit(root, db=str(archive))
    from_dir = audit(root)
    assert from_zip.details["database"]["sha256"] == DEMO_SHA256  # same bytes, same digest
    assert from_zip.details["vulnerabilities"] == [
        {**v, "records": v["records"]} for v in from_dir.details["vulnerabilities"]]


def test_no_vulnerability_source_is_a_usage_error(tmp_path: Path) -> None:
    run_ = cli(["--json"], project(tmp_path))
    assert run_.code == 2
    assert run_.json["findings"][0]["rule"] == "AUDIT_NO_DATABASE"


def test_policy_supplies_database_source_and_threshold(tmp_path: Path) -> None:
    policy = f"""\
version: 1
gates:
  audit:
    source: requirements:deps/prod.txt
    database: {{path: {DEMO_DB}, sha256: "{DEMO_SHA256}"}}
    fail_on: critical
    unknown_severity: warn
"""
    root = commit_all(project(tmp_path, {"deps/prod.txt": "werkzeug==2.2.2\n"},
                              policy=policy))
    run_ = cli(["--json"], root)
    assert run_.code == 0, run_.out
    document = run_.json
    assert document["source"]["path"] == "deps/prod.txt"
    assert document["policy"]["sha256"]  # the policy digest, from the CLI's context
    assert document["settings"]["fail_on"] == "critical"
    assert document["findings"][0]["location"] == {"file": "deps/prod.txt", "line": 1}
    assert cli(["--json", "--fail-on", "high"], root).code == 1


def test_policy_errors_name_the_key_and_line(tmp_path: Path) -> None:
    policy = """\
version: 1
gates:
  audit:
    fail_on: severe
"""
    run_ = cli(["--json", "--db", str(DEMO_DB)], commit_all(project(tmp_path, policy=policy)))
    assert run_.code == 2
    finding = run_.json["findings"][0]
    assert finding["rule"] == "POLICY_INVALID"
    assert "gates.audit.fail_on" in finding["message"]
    assert finding["location"] == {"file": ".changegate.yml", "line": 4}


def test_check_runs_the_audit_gate_from_the_policy(tmp_path: Path) -> None:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from changegate.cli import main

    policy = f"""\
version: 1
environments:
  production: {{match: {{branches: [main]}}, gates: [audit]}}
gates:
  audit: {{database: {{path: {DEMO_DB}}}, fail_on: high, unknown_severity: warn}}
"""
    root = commit_all(project(tmp_path, policy=policy))
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = main(["check", "--json", "-C", str(root)],
                    {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    document = json.loads(out.getvalue())
    assert code == 1
    assert document["gates"] == [{"gate": "audit", "status": "fail",
                                  "summary": document["results"][0]["summary"]}]
    assert document["results"][0]["database"]["sha256"] == DEMO_SHA256


def test_offline_audit_does_not_import_pip_audit(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = project(tmp_path)
    code = ("import sys\nfrom changegate.cli import main\n"
            f"rc = main(['audit', '--db', {str(DEMO_DB)!r}, '--quiet', '-C', {str(root)!r}],"
            " {'PATH': '/usr/bin:/bin'})\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pip_audit', 'requests', 'jsonschema')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "1 []", proc.stdout + proc.stderr


def test_a_policy_outside_git_applies_its_gates_audit(tmp_path: Path) -> None:
    policy = f"version: 1\ngates:\n  audit: {{database: {{path: {DEMO_DB}}}, fail_on: critical,"\
             " unknown_severity: warn}\n"
    run_ = cli(["--json"], project(tmp_path, policy=policy))  # no git: no ref, no environment
    assert run_.code == 0, run_.out
    assert run_.json["settings"]["fail_on"] == "critical"
