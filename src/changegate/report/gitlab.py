"""GitLab report artifacts: Code Quality (MR widget), JUnit (test tab) and dotenv (variables).

Each file follows GitLab's documented format and limits, because GitLab rejects or silently
ignores a report that does not:

- Code Quality: a JSON array of CodeClimate-style issues. GitLab needs a `location.path` for
  every issue, so a finding about a commit (no file) is placed on the policy file, line 1, with
  the commit in the description. The fingerprint is stable across runs (it hashes gate, rule,
  location and message, not severity or fix), so GitLab can tell new findings from old ones.
- JUnit: one test suite `changegate`, one test case per gate; a failed gate has a `<failure>`,
  an inconclusive one an `<error>`, each listing the findings. Untrusted text is XML-escaped by
  ElementTree after characters XML cannot carry at all are removed.
- dotenv: `KEY=value` lines that later jobs receive as variables. GitLab's parser has no
  quoting and no multi-line values, accepts keys of ASCII letters, digits and `_` only, and
  rejects a file over 5 KiB, so values are flattened to one line and capped.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from changegate.report.common import DEFAULT_POLICY_PATH, fingerprint, short_commit
from changegate.report.escape import single_line, truncate, truncate_utf8, utf8_len, xml_text
from changegate.result import Finding, GateResult, Severity, Status, combined_status

_CODEQUALITY_SEVERITY = {
    # An error finding fails the gate and so blocks the merge: the top of GitLab's usual range.
    Severity.ERROR: "critical",
    Severity.WARNING: "minor",
    Severity.NOTE: "info",
}

# GitLab rejects a dotenv artifact over 5 KiB (`dotenv_size` plan limit 5120 bytes).
DOTENV_MAX_BYTES = 5120
DOTENV_VALUE_MAX_BYTES = 1024
_DOTENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _description(finding: Finding) -> str:
    text = finding.message
    if finding.location.commit:
        text = f"commit {short_commit(finding.location.commit)}: {text}"
    if finding.fix:
        text += f" Fix: {finding.fix}"
    return single_line(text)


def codequality(
    results: list[GateResult], *, default_path: str = DEFAULT_POLICY_PATH
) -> list[dict[str, object]]:
    """The Code Quality issues for `results` (see `write_codequality`)."""
    issues: list[dict[str, object]] = []
    for result in results:
        for finding in result.findings:
            loc = finding.location
            issues.append(
                {
                    "description": _description(finding),
                    "check_name": f"{result.gate}/{finding.rule}",
                    "fingerprint": fingerprint(result.gate, finding),
                    "severity": _CODEQUALITY_SEVERITY[finding.severity],
                    "location": {
                        "path": loc.file or default_path,
                        "lines": {"begin": (loc.line or 1) if loc.file else 1},
                    },
                }
            )
    return issues


def write_codequality(
    results: list[GateResult], path: Path, *, default_path: str = DEFAULT_POLICY_PATH
) -> None:
    """Write a GitLab Code Quality report (`artifacts:reports:codequality`) to `path`."""
    text = json.dumps(codequality(results, default_path=default_path), indent=2,
                      ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


# --- JUnit ----------------------------------------------------------------------------------


def _finding_text(finding: Finding) -> str:
    lines = [f"[{finding.severity.value}] {finding.rule}"]
    where = finding.location.describe()
    if where:
        lines[0] += f" at {where}"
    lines.append(f"  {finding.message}")
    if finding.fix:
        lines.append(f"  fix: {finding.fix}")
    if finding.help_uri:
        lines.append(f"  see: {finding.help_uri}")
    return "\n".join(lines)


def junit_tree(results: list[GateResult]) -> ET.ElementTree:
    """The JUnit document for `results` (see `write_junit`)."""
    failures = sum(1 for r in results if r.status is Status.FAIL)
    errors = sum(1 for r in results if r.status is Status.ERROR)
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": str(errors),
              "skipped": "0"}
    root = ET.Element("testsuites", {"name": "changegate", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "changegate", **counts})
    for result in results:
        gate = xml_text(result.gate)
        case = ET.SubElement(suite, "testcase", {"classname": f"changegate.{gate}", "name": gate})
        body = "\n\n".join(_finding_text(f) for f in result.findings)
        summary = xml_text(single_line(truncate(result.summary, 1000)))
        if result.status is Status.FAIL:
            el = ET.SubElement(case, "failure", {"type": "fail", "message": summary})
            el.text = xml_text(body or result.summary)
        elif result.status is Status.ERROR:
            el = ET.SubElement(case, "error", {"type": "inconclusive", "message": summary})
            el.text = xml_text(body or result.summary)
        elif body:
            # A passing gate can still carry warnings and notes; keep them visible.
            ET.SubElement(case, "system-out").text = xml_text(body)
    return ET.ElementTree(root)


def write_junit(results: list[GateResult], path: Path) -> None:
    """Write a JUnit XML report (`artifacts:reports:junit`) to `path`, one test case per gate."""
    tree = junit_tree(results)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


# --- dotenv -----------------------------------------------------------------------------------


def dotenv_key(gate: str) -> str:
    """`verify-commits` -> `CHANGEGATE_VERIFY_COMMITS_STATUS`: upper case, `_` for the rest."""
    return "CHANGEGATE_" + re.sub(r"[^A-Z0-9_]", "_", gate.upper()) + "_STATUS"


def dotenv_value(value: str) -> str:
    """A value GitLab's dotenv parser keeps intact: one line, no control characters, capped."""
    return truncate_utf8(single_line(value), DOTENV_VALUE_MAX_BYTES)


def dotenv_lines(
    results: list[GateResult], extra: dict[str, str] | None = None
) -> list[str]:
    """The `KEY=value` lines for `results` plus `extra` (see `write_dotenv`)."""
    overall = combined_status([r.status for r in results])
    values: dict[str, str] = {
        "CHANGEGATE_STATUS": overall.value,
        "CHANGEGATE_EXIT_CODE": str(int(overall.exit_code)),
        "CHANGEGATE_FINDINGS": str(sum(len(r.findings) for r in results)),
    }
    for r in results:
        values[dotenv_key(r.gate)] = r.status.value
    for key, value in (extra or {}).items():
        if not _DOTENV_KEY.match(key):
            raise ValueError(f"invalid dotenv key {key!r}: GitLab accepts [A-Za-z0-9_] only")
        if key in values:
            raise ValueError(f"extra may not override computed variable {key}")
        values[key] = value
    return [f"{key}={dotenv_value(value)}" for key, value in values.items()]


def write_dotenv(
    results: list[GateResult], path: Path, extra: dict[str, str] | None = None
) -> None:
    """Write a dotenv report (`artifacts:reports:dotenv`) to `path`.

    Raises ValueError rather than writing a file GitLab would reject (over 5 KiB), which would
    fail the artifact upload with a less helpful message.
    """
    text = "".join(line + "\n" for line in dotenv_lines(results, extra))
    if utf8_len(text) > DOTENV_MAX_BYTES:
        raise ValueError(
            f"dotenv report would be {utf8_len(text)} bytes; GitLab accepts at most "
            f"{DOTENV_MAX_BYTES}. Pass fewer or shorter extra variables."
        )
    path.write_text(text, encoding="utf-8", newline="\n")
