"""SARIF 2.1.0 output, validated against the official OASIS schema (vendored in data/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from changegate.report.sarif import FINGERPRINT_KEY, to_sarif, write_sarif
from changegate.result import Finding, GateResult, Location, Severity, Status

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def sample() -> list[GateResult]:
    return [
        GateResult("verify-commits", Status.FAIL, "2 unsigned", [
            Finding("UNSIGNED", Severity.ERROR, "Commit has no signature.",
                    Location(commit=SHA), fix="Sign it.", title="Unsigned commit"),
            Finding("UNSIGNED", Severity.ERROR, "Commit has no signature.",
                    Location(commit="0" * 40)),
        ]),
        GateResult("audit", Status.PASS, "ok", [
            Finding("OLD_DB", Severity.WARNING, "Database is 6 days old.",
                    Location(file="audit dir/db #1.json", line=3, column=7),
                    help_uri="https://example.com/docs/old-db"),
            Finding("UNSIGNED", Severity.NOTE, "Same rule name, other gate.",
                    Location(file="requirements.txt")),
        ]),
        GateResult("approvals", Status.ERROR, "API down", [
            Finding("API_ERROR", Severity.ERROR, "<script>@org/team\n::set-output::x",
                    Location()),
        ]),
    ]


def run_of(doc: dict[str, Any]) -> dict[str, Any]:
    (run,) = doc["runs"]
    return run  # type: ignore[no-any-return]


def test_valid_against_the_official_schema(validator: jsonschema.Draft7Validator) -> None:
    doc = to_sarif(sample(), tool_version="0.1.0")
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_empty_results_are_valid(validator: jsonschema.Draft7Validator) -> None:
    doc = to_sarif([], tool_version="0.1.0")
    validator.validate(doc)
    assert run_of(doc)["results"] == []
    assert run_of(doc)["invocations"][0]["executionSuccessful"] is True


def test_the_schema_catches_a_broken_log(validator: jsonschema.Draft7Validator) -> None:
    doc = to_sarif(sample(), tool_version="0.1.0")
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_driver_and_rules() -> None:
    run = run_of(to_sarif(sample(), tool_version="1.2.3", rules_help_base="https://x.test/r/"))
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("changegate", "1.2.3")
    assert driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    assert ids == ["verify-commits/UNSIGNED", "audit/OLD_DB", "audit/UNSIGNED",
                   "approvals/API_ERROR"]
    rules = {r["id"]: r for r in driver["rules"]}
    assert rules["verify-commits/UNSIGNED"]["name"] == "UNSIGNED"
    assert rules["verify-commits/UNSIGNED"]["shortDescription"] == {"text": "Unsigned commit"}
    assert rules["verify-commits/UNSIGNED"]["helpUri"] == "https://x.test/r/verify-commits#unsigned"
    assert rules["audit/OLD_DB"]["helpUri"] == "https://example.com/docs/old-db"
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_results_levels_and_locations() -> None:
    run = run_of(to_sarif(sample(), tool_version="0.1.0"))
    unsigned, unsigned2, old_db, note, api = run["results"]
    assert [r["level"] for r in run["results"]] == ["error", "error", "warning", "note", "error"]

    phys = unsigned["locations"][0]["physicalLocation"]
    assert phys == {"artifactLocation": {"uri": ".changegate.yml"}, "region": {"startLine": 1}}
    assert unsigned["properties"]["commit"] == SHA
    assert unsigned["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == SHA
    assert unsigned["message"]["text"] == (
        f"commit {SHA[:12]}: Commit has no signature.\nFix: Sign it."
    )

    phys = old_db["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "audit%20dir/db%20%231.json"
    assert phys["region"] == {"startLine": 3, "startColumn": 7}
    assert note["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert "commit" not in api["properties"]
    assert api["message"]["text"] == "<script>@org/team\n::set-output::x"  # JSON, not rendered

    # Two commit findings on the same fallback line stay distinct alerts.
    assert unsigned["partialFingerprints"][FINGERPRINT_KEY] != (
        unsigned2["partialFingerprints"][FINGERPRINT_KEY]
    )


def test_execution_unsuccessful_when_a_gate_was_inconclusive() -> None:
    run = run_of(to_sarif(sample(), tool_version="0.1.0"))
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["properties"]["gates"][2] == {"gate": "approvals", "status": "error"}


def test_default_path_for_commit_findings() -> None:
    run = run_of(to_sarif(sample(), tool_version="0.1.0", default_path="ci/policy.yml"))
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "ci/policy.yml"


def test_write_sarif(tmp_path: Path, validator: jsonschema.Draft7Validator) -> None:
    path = tmp_path / "changegate.sarif"
    write_sarif(sample(), path, tool_version="0.1.0")
    doc = json.loads(path.read_text(encoding="utf-8"))
    validator.validate(doc)
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-schema-2.1.0.json")
