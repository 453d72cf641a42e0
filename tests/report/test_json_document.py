"""The `--json` document: one gate, several gates (`check`), serialisation."""

from __future__ import annotations

import datetime as dt
import enum
import json
from pathlib import PurePosixPath

import pytest

from changegate.report.jsonout import document, dumps
from changegate.result import Finding, GateResult, Location, Severity, Status

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"


def verify_commits() -> GateResult:
    return GateResult(
        "verify-commits", Status.FAIL, "1 of 2 commits unsigned",
        [Finding("UNSIGNED", Severity.ERROR, "Commit has no signature.", Location(commit=SHA),
                 fix="Sign it.")],
        details={"commits": [{"sha": SHA, "status": "unsigned"}]},
    )


def audit() -> GateResult:
    return GateResult("audit", Status.PASS, "no vulnerable packages",
                      [Finding("OLD_DB", Severity.WARNING, "Database is 6 days old.",
                               Location(file="db.json", line=1))],
                      details={"database": {"records": 10}})


def test_single_gate_is_its_own_to_json() -> None:
    result = verify_commits()
    assert document([result]) == result.to_json()
    doc = document([result], extra={"evidence": {"path": "e.json"}})
    assert doc["evidence"] == {"path": "e.json"}
    assert list(doc)[:4] == ["gate", "status", "summary", "findings"]
    assert doc["commits"][0]["status"] == "unsigned"


def test_check_document() -> None:
    doc = document([verify_commits(), audit()], extra={"evidence": {"record_sha256": "ab"}})
    assert list(doc) == ["gate", "status", "summary", "findings", "gates", "results", "evidence"]
    assert doc["gate"] == "check"
    assert [r["gate"] for r in doc["results"]] == ["verify-commits", "audit"]
    assert doc["status"] == "fail"
    assert doc["summary"] == "2 gates: 1 passed, 1 failed, 0 inconclusive"
    assert doc["gates"] == [
        {"gate": "verify-commits", "status": "fail", "summary": "1 of 2 commits unsigned"},
        {"gate": "audit", "status": "pass", "summary": "no vulnerable packages"},
    ]
    assert [f["gate"] for f in doc["findings"]] == ["verify-commits", "audit"]
    first = doc["findings"][0]
    assert next(iter(first)) == "gate"
    assert first["rule"] == "UNSIGNED"
    assert first["location"] == {"commit": SHA}
    assert first["fix"] == "Sign it."


def test_check_shape_for_a_single_gate_when_aggregated() -> None:
    doc = document([audit()], aggregate=True)
    assert doc["gate"] == "check"
    assert doc["results"][0]["gate"] == "audit"
    assert document([audit()])["gate"] == "audit"


def test_check_status_is_the_worst() -> None:
    broken = GateResult.inconclusive("approvals", "API_ERROR", "GitHub API returned 502")
    assert document([audit(), broken, verify_commits()])["status"] == "error"


@pytest.mark.parametrize("key", ["gate", "status", "summary", "findings"])
def test_extra_cannot_override_core_keys(key: str) -> None:
    with pytest.raises(ValueError, match="core keys"):
        document([audit()], extra={key: "x"})
    with pytest.raises(ValueError, match="core keys"):
        document([audit(), verify_commits()], extra={key: "x"})


def test_dumps_keeps_order_and_unicode() -> None:
    result = GateResult("g", Status.PASS, "Prüfung bestanden \u2713")
    text = dumps(document([result]))
    assert text.startswith('{\n  "gate": "g",\n  "status": "pass",')
    assert "Prüfung bestanden \u2713" in text
    assert not text.endswith("\n")
    assert json.loads(text)["summary"] == "Prüfung bestanden \u2713"


def test_dumps_serialises_common_detail_types() -> None:
    class Color(enum.Enum):
        RED = "red"

    doc = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "day": dt.date(2026, 1, 2),
        "path": PurePosixPath("a/b.json"),
        "color": Color.RED,
        "status": Status.FAIL,
        "ids": {"b", "a"},
    }
    assert json.loads(dumps(doc)) == {
        "when": "2026-01-02T03:04:05+00:00", "day": "2026-01-02", "path": "a/b.json",
        "color": "red", "status": "fail", "ids": ["a", "b"],
    }


def test_dumps_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        dumps({"x": object()})
