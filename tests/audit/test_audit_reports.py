"""The audit's outputs: SARIF, GitHub annotations and summary, GitLab reports, CycloneDX VEX."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from gate_support import DEMO_DB, DEMO_SHA256, LINES, cli, project

from changegate.gates.audit import gitlab_report
from changegate.gates.audit.summary import vulnerability_table

REPO = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = REPO / "tests" / "report" / "data" / "sarif-schema-2.1.0.json"
GITLAB_SCHEMA_SHA256 = "ab5d3a49b98561c7124497526dc4ef87db092feadc2956c42eb8cac3b3f6d2ce"


def gitlab_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(gitlab_report.SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_vendored_gitlab_schema_is_the_pinned_one() -> None:
    data = gitlab_report.SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == GITLAB_SCHEMA_SHA256
    schema = json.loads(data)
    assert schema["self"]["version"] == gitlab_report.SCHEMA_VERSION == "15.2.1"
    assert gitlab_report.SCHEMA_URL.endswith(
        "/v15.2.1/dist/dependency-scanning-report-format.json")


def test_sarif_results_are_at_the_dependency_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    # (--sarif, like --json-file, is relative to the current directory, not to -C)
    run_ = cli(["--db", str(DEMO_DB), "--sarif", str(root / "audit.sarif"), "--quiet"], root)
    assert run_.code == 1
    sarif = json.loads((root / "audit.sarif").read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == 6
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        package = result["message"]["text"].split()[0]
        assert location["artifactLocation"]["uri"] == "requirements.txt"
        assert location["region"]["startLine"] == LINES[package]
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules == {"audit/VULNERABLE_DEPENDENCY", "audit/UNRATED_VULNERABILITY"}


def test_github_annotations_and_summary(tmp_path: Path) -> None:
    root = project(tmp_path)
    summary = tmp_path / "summary.md"
    run_ = cli(["--db", str(DEMO_DB)], root, GITHUB_ACTIONS="true",
               GITHUB_STEP_SUMMARY=str(summary))
    assert run_.code == 1
    errors = [line for line in run_.out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 6
    assert any(line.startswith(f"::error file=requirements.txt,line={LINES['werkzeug']},"
                               "title=audit VULNERABLE_DEPENDENCY%3A PYSEC-2023-221 in werkzeug")
               for line in errors), errors
    text = summary.read_text()
    assert "PYSEC-2023-221" in text and DEMO_SHA256 in text


def test_vulnerability_table_for_the_job_summary(tmp_path: Path) -> None:
    run_ = cli(["--db", str(DEMO_DB), "--json"], project(tmp_path))
    table = vulnerability_table(run_.json)
    lines = table.splitlines()
    assert lines[0] == "### Vulnerabilities"
    assert DEMO_SHA256 in lines[2]
    header = lines.index("| Package | Installed | Advisory | Severity | Fixed in | Status |")
    rows = lines[header + 2:]
    assert rows[0].startswith("| urllib3 | 1.24.1 | PYSEC-2023-192 (CVE-2023-43804, ")
    assert "| high (8.1) | 1.26.17, 2.0.6 | fails the gate |" in rows[0]
    assert any(r.startswith("| requests | 2.19.0 | PYSEC-2023-74") and "| unknown |" in r
               for r in rows)
    assert len(rows) == 6
    hostile = {"vulnerabilities": [{"package": "evil|pkg", "version": "1", "id": "<b>x</b>",
                                    "severity": "high", "outcome": "fail"}], "database": {}}
    rendered = vulnerability_table(hostile)
    assert "<b>" not in rendered and "evil\\|pkg" in rendered
    assert "No known vulnerabilities" in vulnerability_table({"vulnerabilities": []})


def test_gitlab_ci_writes_dependency_scanning_and_code_quality(tmp_path: Path) -> None:
    root = project(tmp_path)
    run_ = cli(["--db", str(DEMO_DB), "--quiet"], root, GITLAB_CI="true")
    assert run_.code == 1
    report = json.loads((root / "gl-dependency-scanning-report.json").read_text())
    gitlab_validator().validate(report)
    assert report["version"] == "15.2.1"
    assert report["scan"]["type"] == "dependency_scanning"
    assert report["scan"]["status"] == "success"
    by_id = {v["identifiers"][0]["value"]: v for v in report["vulnerabilities"]}
    assert len(by_id) == 6
    werkzeug = by_id["PYSEC-2023-221"]
    assert werkzeug["severity"] == "High"
    assert werkzeug["location"] == {"file": "requirements.txt",
                                    "dependency": {"package": {"name": "werkzeug"},
                                                   "version": "2.2.2"}}
    assert [i["type"] for i in werkzeug["identifiers"]] == ["pysec", "cve", "ghsa"]
    assert werkzeug["solution"] == "Upgrade werkzeug to 2.3.8 or later."
    assert by_id["PYSEC-2023-74"]["severity"] == "Unknown"
    again = cli(["--db", str(DEMO_DB), "--quiet"], root, GITLAB_CI="true")
    assert again.code == 1
    second = json.loads((root / "gl-dependency-scanning-report.json").read_text())
    assert [v["id"] for v in second["vulnerabilities"]] == \
        [v["id"] for v in report["vulnerabilities"]]  # stable identities across runs
    quality = json.loads((root / "gl-code-quality-report.json").read_text())
    lines = {(i["location"]["path"], i["location"]["lines"]["begin"]) for i in quality}
    assert lines == {("requirements.txt", LINES[p]) for p in
                     ("urllib3", "werkzeug", "requests", "jinja2")}


def test_suppressed_vulnerabilities_leave_the_gitlab_report(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "werkzeug==2.2.2\nurllib3==1.24.1\n"})
    from changegate.gates.audit.config import AuditConfig
    from changegate.gates.audit.gate import AuditRequest, run, write_gitlab_report

    config = AuditConfig.from_settings({"exceptions": [{
        "id": "PYSEC-2023-221", "reason": "r", "approver": "a", "ticket": "T-1",
        "expires": "2099-01-01"}], "exception_max_days": 36500})
    audit = run(AuditRequest(workdir=root, environ={}, db=str(DEMO_DB)), config)
    write_gitlab_report(audit, root / "gl.json")
    report = json.loads((root / "gl.json").read_text())
    gitlab_validator().validate(report)
    assert {v["location"]["dependency"]["package"]["name"]
            for v in report["vulnerabilities"]} == {"urllib3"}
    assert any("1 vulnerability is suppressed" in m["value"]
               for m in report["scan"]["messages"])


def test_an_inconclusive_audit_still_writes_a_failed_gitlab_scan(tmp_path: Path) -> None:
    root = project(tmp_path)
    run_ = cli(["--db", str(tmp_path / "missing"), "--quiet"], root, GITLAB_CI="true")
    assert run_.code == 2
    report = json.loads((root / "gl-dependency-scanning-report.json").read_text())
    gitlab_validator().validate(report)
    assert report["scan"]["status"] == "failure"
    assert report["vulnerabilities"] == []
    assert report["scan"]["messages"][0]["level"] == "fatal"
    assert "not found" in report["scan"]["messages"][0]["value"]


def _vex(root: Path) -> dict[str, Any]:
    run_ = cli(["--db", str(DEMO_DB), "--vex", "audit.vex.json", "--quiet"], root)
    assert run_.code == 1
    data: dict[str, Any] = json.loads((root / "audit.vex.json").read_text())
    return data


def test_vex_is_valid_cyclonedx_16_and_reproducible(tmp_path: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    root = project(tmp_path)
    vex = _vex(root)
    text = (root / "audit.vex.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assert vex["specVersion"] == "1.6" and vex["bomFormat"] == "CycloneDX"
    assert vex["serialNumber"].startswith("urn:uuid:")
    assert len(vex["vulnerabilities"]) == 6
    assert all(v["analysis"]["state"] == "in_triage" for v in vex["vulnerabilities"])
    refs = {c["bom-ref"] for c in vex["components"]}
    assert all(a["ref"] in refs for v in vex["vulnerabilities"] for a in v["affects"])
    urllib3 = next(v for v in vex["vulnerabilities"] if v["id"] == "PYSEC-2023-192")
    assert urllib3["ratings"] == [{"severity": "high", "score": 8.1, "method": "CVSSv3"}]
    assert urllib3["source"]["name"] == "PyPA Advisory Database"
    assert [r["id"] for r in urllib3["references"]] == ["CVE-2023-43804",
                                                        "GHSA-v845-jxx5-vc9f"]


@pytest.mark.parametrize("broken", ["vex", "gitlab"])
def test_invalid_reports_are_never_written(tmp_path: Path, broken: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from changegate.gates.audit import vex

    if broken == "vex":
        original = vex.build_vex
        monkeypatch.setattr(vex, "build_vex", lambda *a, **k: original(*a, **k).replace(
            '"bomFormat": "CycloneDX"', '"bomFormat": "SPDX"'))
        args = ["--vex", "out.json"]
        rule = "VEX_INVALID"
    else:
        original_build = gitlab_report.build_report

        def bad(*args: Any, **kwargs: Any) -> dict[str, Any]:
            report = original_build(*args, **kwargs)
            report["scan"]["type"] = "sast"
            return report

        monkeypatch.setattr(gitlab_report, "build_report", bad)
        args = ["--gitlab-report", "out.json"]
        rule = "GITLAB_REPORT_INVALID"
    run_ = cli(["--db", str(DEMO_DB), "--json", *args], project(tmp_path))
    assert run_.code == 2
    assert run_.json["findings"][0]["rule"] == rule
    assert not (tmp_path / "out.json").exists()
