"""GitLab report artifacts: Code Quality JSON, JUnit XML, dotenv."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from changegate.report.common import fingerprint
from changegate.report.gitlab import (
    DOTENV_MAX_BYTES,
    codequality,
    dotenv_key,
    write_codequality,
    write_dotenv,
    write_junit,
)
from changegate.result import Finding, GateResult, Location, Severity, Status

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
HOSTILE = "Fix\x00 <script>alert('x')</script> & \x1b[31mred\x1b[0m\nsecond line ]]> \ufffe"


def sample() -> list[GateResult]:
    return [
        GateResult("verify-commits", Status.FAIL, "1 of 2 commits unsigned", [
            Finding("UNSIGNED", Severity.ERROR, "Commit has no signature.",
                    Location(commit=SHA), fix="Sign it."),
            Finding("WEB_FLOW", Severity.NOTE, "Signed by GitHub web flow.",
                    Location(commit="f" * 40)),
        ]),
        GateResult("audit", Status.PASS, "no vulnerable packages", [
            Finding("OLD_DB", Severity.WARNING, "Database is 6 days old.",
                    Location(file="audit/db.json", line=3, column=7)),
        ]),
        GateResult("approvals", Status.ERROR, "could not read reviews", [
            Finding("API_ERROR", Severity.ERROR, HOSTILE, Location()),
        ]),
    ]


# --- Code Quality -----------------------------------------------------------------------------


def test_codequality_shape(tmp_path: Path) -> None:
    path = tmp_path / "gl-code-quality-report.json"
    write_codequality(sample(), path)
    issues = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(issues, list) and len(issues) == 4
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert isinstance(issue["location"]["path"], str) and issue["location"]["path"]
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
        assert len(issue["fingerprint"]) == 64
        assert "\n" not in issue["description"]

    unsigned, web_flow, old_db, api = issues
    assert unsigned["check_name"] == "verify-commits/UNSIGNED"
    assert unsigned["severity"] == "critical"
    assert unsigned["location"] == {"path": ".changegate.yml", "lines": {"begin": 1}}
    assert unsigned["description"] == f"commit {SHA[:12]}: Commit has no signature. Fix: Sign it."
    assert web_flow["severity"] == "info"
    assert old_db["severity"] == "minor"
    assert old_db["location"] == {"path": "audit/db.json", "lines": {"begin": 3}}
    assert "\x00" not in api["description"] and "\x1b" not in api["description"]


def test_codequality_default_path_is_configurable() -> None:
    issues = codequality(sample(), default_path="policy/changegate.yml")
    assert issues[0]["location"] == {"path": "policy/changegate.yml", "lines": {"begin": 1}}


def test_fingerprints_are_stable_and_distinct() -> None:
    first = [i["fingerprint"] for i in codequality(sample())]
    second = [i["fingerprint"] for i in codequality(sample())]
    assert first == second
    assert len(set(first)) == len(first)


def test_fingerprint_ignores_severity_and_fix_but_not_place() -> None:
    base = Finding("R", Severity.ERROR, "m", Location(commit=SHA), fix="a")
    regraded = Finding("R", Severity.WARNING, "m", Location(commit=SHA), fix="b")
    elsewhere = Finding("R", Severity.ERROR, "m", Location(commit="0" * 40), fix="a")
    assert fingerprint("g", base) == fingerprint("g", regraded)
    assert fingerprint("g", base) != fingerprint("g", elsewhere)
    assert fingerprint("g", base) != fingerprint("other-gate", base)
    # A known value guards against an accidental change of the scheme (it would reset history).
    assert fingerprint("g", base) == (
        "a70847ef17f6c50fe37c3bc6e308fc6a96678ef07ba3a324f31780b1b9f4f37a"
    )


# --- JUnit ------------------------------------------------------------------------------------


def test_junit_parses_and_has_one_testcase_per_gate(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(sample(), path)
    raw = path.read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(raw)  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "changegate"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("changegate.verify-commits", "verify-commits"),
        ("changegate.audit", "audit"),
        ("changegate.approvals", "approvals"),
    ]
    failed, passed, inconclusive = cases

    failure = failed.find("failure")
    assert failure is not None and failure.get("message") == "1 of 2 commits unsigned"
    assert failure.text is not None
    assert "UNSIGNED" in failure.text and "WEB_FLOW" in failure.text
    assert f"commit {SHA[:12]}" in failure.text and "fix: Sign it." in failure.text

    assert passed.find("failure") is None and passed.find("error") is None
    out = passed.find("system-out")
    assert out is not None and out.text is not None and "OLD_DB" in out.text

    error = inconclusive.find("error")
    assert error is not None and error.text is not None
    assert "<script>alert('x')</script> & red" in error.text
    assert "second line ]]>" in error.text
    assert not any(ch in error.text for ch in "\x00\x1b\ufffe")


def test_junit_with_no_results(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit([], path)
    root = ET.fromstring(path.read_bytes())  # noqa: S314 - our own output
    assert root.find("testsuite") is not None


# --- dotenv -----------------------------------------------------------------------------------


def read_dotenv(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    pairs = [line.split("=", 1) for line in text.splitlines()]
    assert all(len(p) == 2 for p in pairs)
    return {k: v for k, v in pairs}


def test_dotenv_values(tmp_path: Path) -> None:
    path = tmp_path / "changegate.env"
    write_dotenv(sample(), path, extra={"CHANGEGATE_NOTE": "multi\nline\r\nvalue\x1b[31m"})
    env = read_dotenv(path)
    assert env == {
        "CHANGEGATE_STATUS": "error",
        "CHANGEGATE_EXIT_CODE": "2",
        "CHANGEGATE_FINDINGS": "4",
        "CHANGEGATE_VERIFY_COMMITS_STATUS": "fail",
        "CHANGEGATE_AUDIT_STATUS": "pass",
        "CHANGEGATE_APPROVALS_STATUS": "error",
        "CHANGEGATE_NOTE": "multi line value",
    }
    for key in env:
        assert key.replace("_", "").isalnum() and key.isascii()


def test_dotenv_key() -> None:
    assert dotenv_key("verify-commits") == "CHANGEGATE_VERIFY_COMMITS_STATUS"
    assert dotenv_key("sbom.v2") == "CHANGEGATE_SBOM_V2_STATUS"


@pytest.mark.parametrize("key", ["bad-key", "with space", "ÄNDERUNG", "1ABC", ""])
def test_dotenv_rejects_invalid_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid dotenv key"):
        write_dotenv([], tmp_path / "x.env", extra={key: "v"})


def test_dotenv_rejects_overriding_computed_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="override"):
        write_dotenv([], tmp_path / "x.env", extra={"CHANGEGATE_STATUS": "pass"})


def test_dotenv_caps_values_and_file_size(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    write_dotenv([], path, extra={"BIG": "x" * 10_000})
    assert len(read_dotenv(path)["BIG"].encode("utf-8")) <= 1024
    with pytest.raises(ValueError, match="at most"):
        write_dotenv([], path, extra={f"V{i}": "y" * 1000 for i in range(6)})
    assert path.stat().st_size <= DOTENV_MAX_BYTES
