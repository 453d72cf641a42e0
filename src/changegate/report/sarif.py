"""SARIF 2.1.0 output, for GitHub code scanning and any other SARIF consumer.

Rule ids are `<gate>/<RULE>` (SARIF's hierarchical form), so two gates may reuse a rule name
without colliding. Each result carries a `partialFingerprints["changegate/v1"]` equal to the
GitLab Code Quality fingerprint, so alerts keep their identity across runs.

Findings about a commit rather than a file: GitHub code scanning displays only results that have
a physical location, so such a finding is placed on the policy file (`default_path`), line 1,
and the commit is kept in the message, in `properties.commit`, and as a logical location of kind
`commit` (which SARIF allows: logical location kinds are open-ended). Without the fingerprint,
all those results on one line of one file would collapse into a single alert; with it they stay
distinct.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from changegate.report.common import DEFAULT_POLICY_PATH, fingerprint, short_commit
from changegate.result import Finding, GateResult, Severity, Status

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://changegate.dev/"
FINGERPRINT_KEY = "changegate/v1"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _rule_id(gate: str, finding: Finding) -> str:
    return f"{gate}/{finding.rule}"


def _artifact_uri(path: str) -> str:
    """A relative URI reference for a repository path (spaces and `#` must be encoded)."""
    return quote(path.replace("\\", "/"), safe="/")


def _rule(gate: str, finding: Finding, help_base: str) -> dict[str, Any]:
    help_uri = finding.help_uri or f"{help_base}{quote(gate)}#{quote(finding.rule.lower())}"
    return {
        "id": _rule_id(gate, finding),
        "name": finding.rule,
        "shortDescription": {"text": finding.title or f"{gate}: {finding.rule}"},
        "helpUri": help_uri,
        "defaultConfiguration": {"level": _LEVEL[finding.severity]},
        "properties": {"tags": ["changegate", gate]},
    }


def _result(
    gate: str, finding: Finding, rule_index: int, default_path: str
) -> dict[str, Any]:
    loc = finding.location
    text = finding.message
    if loc.commit:
        text = f"commit {short_commit(loc.commit)}: {text}"
    if finding.fix:
        text += f"\nFix: {finding.fix}"

    region: dict[str, int] = {"startLine": loc.line if loc.file and loc.line else 1}
    if loc.file and loc.line and loc.column:
        region["startColumn"] = loc.column
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": _artifact_uri(loc.file or default_path)},
            "region": region,
        }
    }
    properties: dict[str, Any] = {"gate": gate}
    if loc.commit:
        location["logicalLocations"] = [
            {"name": short_commit(loc.commit), "fullyQualifiedName": loc.commit, "kind": "commit"}
        ]
        properties["commit"] = loc.commit
    if finding.fix:
        properties["fix"] = finding.fix

    return {
        "ruleId": _rule_id(gate, finding),
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(gate, finding)},
        "properties": properties,
    }


def to_sarif(
    results: list[GateResult],
    *,
    tool_version: str,
    rules_help_base: str = "https://changegate.dev/rules/",
    default_path: str = DEFAULT_POLICY_PATH,
) -> dict[str, Any]:
    """Build a SARIF 2.1.0 log with one run whose driver is changegate.

    Rules are those that produced findings (SARIF does not require listing every rule the tool
    knows). `invocations[0].executionSuccessful` is false when a gate was inconclusive: the tool
    could not check everything it was asked to.
    """
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    sarif_results: list[dict[str, Any]] = []
    for result in results:
        for finding in result.findings:
            rid = _rule_id(result.gate, finding)
            if rid not in index:
                index[rid] = len(rules)
                rules.append(_rule(result.gate, finding, rules_help_base))
            sarif_results.append(_result(result.gate, finding, index[rid], default_path))

    inconclusive = any(r.status is Status.ERROR for r in results)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "changegate",
                        "version": tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not inconclusive,
                        "properties": {
                            "gates": [{"gate": r.gate, "status": r.status.value} for r in results]
                        },
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": sarif_results,
            }
        ],
    }


def write_sarif(results: list[GateResult], path: Path, **kw: Any) -> None:
    """Write `to_sarif(results, **kw)` to `path` as UTF-8 JSON."""
    doc = to_sarif(results, **kw)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
