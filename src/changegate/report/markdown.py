"""The Markdown summary shared by the GitHub job summary, check runs and the PR/MR comment.

One renderer for both, so a reviewer sees the same table in the job summary and on the pull
request. Every string that comes from a result goes through `markdown_text`: a finding's message
often quotes a commit message or a package name, which whoever opened the change controls.

Everything a gate found is listed: annotations are capped by GitHub (10 per type per step), so
this table is where the rest are read. The one limit that applies here is GitHub's own 1 MiB per
step summary; when the findings do not fit, the table ends with a note saying how many were left
out and where to read them, rather than GitHub rejecting the whole summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from changegate.report.escape import markdown_text, single_line, truncate, utf8_len
from changegate.result import Finding, GateResult, Severity, Status, combined_status

# GitHub refuses a step summary larger than 1 MiB (and then shows none of it).
SUMMARY_LIMIT_BYTES = 1024 * 1024

# Per-cell caps keep one pathological finding (a 5 MB commit message) from pushing every other
# finding out of the summary. The JSON and SARIF reports keep the full text.
_MESSAGE_CHARS = 1000
_FIX_CHARS = 500
_WHERE_CHARS = 200
_SHORT_CHARS = 200

# Only plain https links become Markdown links; anything else is shown as text.
_SAFE_URL = re.compile(r"^https://[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]+$")

STATUS_WORDS: dict[Status, str] = {
    Status.PASS: "Passed",
    Status.FAIL: "Failed",
    Status.ERROR: "Inconclusive",
}


def status_word(status: Status) -> str:
    """The word a reader sees for a status; `error` reads as "Inconclusive" (could not check)."""
    return STATUS_WORDS[status]


def _cell(text: str, limit: int) -> str:
    return markdown_text(truncate(text, limit))


def is_safe_link(uri: str | None) -> bool:
    """Whether `uri` may become a Markdown link target as it is.

    Only plain https URLs: no `javascript:`, no spaces, no parentheses (a `)` would end the
    link early and let the rest of the URL become Markdown of its own).
    """
    if not uri:
        return False
    return _SAFE_URL.match(uri) is not None and "(" not in uri and ")" not in uri


def _rule_cell(finding: Finding) -> str:
    rule = _cell(finding.rule, _SHORT_CHARS)
    uri = finding.help_uri
    if uri and is_safe_link(uri):
        return f"[{rule}]({uri})"
    return rule


def _finding_row(gate: str, finding: Finding) -> str:
    where = finding.location.describe()
    cells = [
        _cell(gate, _SHORT_CHARS),
        finding.severity.value,
        _rule_cell(finding),
        _cell(where, _WHERE_CHARS) if where else "-",
        _cell(finding.message, _MESSAGE_CHARS),
        _cell(finding.fix, _FIX_CHARS) if finding.fix else "-",
    ]
    return "| " + " | ".join(cells) + " |\n"


def _truncation_note(left_out: int) -> str:
    noun = "finding is" if left_out == 1 else "findings are"
    return (
        f"\n{left_out} more {noun} not shown: GitHub limits a job summary to 1 MiB. "
        "The JSON, SARIF and JUnit reports list every finding.\n"
    )


FINDINGS_TABLE_HEAD = (
    "| Gate | Severity | Rule | Where | Message | Fix |\n"
    "| --- | --- | --- | --- | --- | --- |\n"
)


def finding_rows(results: list[GateResult]) -> list[str]:
    """One escaped Markdown table row per finding, in result order (see `FINDINGS_TABLE_HEAD`).

    Shared by the job summary, the check run summary and the PR/MR comment, so a finding reads
    the same wherever a developer meets it.
    """
    return [_finding_row(r.gate, f) for r in results for f in r.findings]


def fit_rows(
    rows: list[str],
    *,
    budget: int,
    note: Callable[[int], str],
    measure: Callable[[str], int] = utf8_len,
) -> tuple[str, int]:
    """As many leading `rows` as fit in `budget`, plus `note(left_out)` when some do not.

    Returns the text and how many rows were left out. `measure` is the unit the limit counts
    in: UTF-8 bytes for the job summary, characters for a GitHub comment. Room for the note is
    kept in the worst case (every row left out), so adding it never overflows the budget.
    """
    reserve = measure(note(len(rows)))
    used = 0
    kept: list[str] = []
    for i, row in enumerate(rows):
        size = measure(row)
        is_last = i == len(rows) - 1
        if size > budget - used - (0 if is_last else reserve):
            break
        kept.append(row)
        used += size
    left_out = len(rows) - len(kept)
    return "".join(kept) + (note(left_out) if left_out else ""), left_out


def summary_markdown(
    results: list[GateResult],
    *,
    title: str = "changegate",
    max_bytes: int = SUMMARY_LIMIT_BYTES,
    truncation_note: Callable[[int], str] = _truncation_note,
) -> str:
    """Render `results` as a Markdown summary of at most `max_bytes` UTF-8 bytes.

    Layout: a heading with the overall outcome, a per-gate table, then one table row per finding
    (gate, severity, rule, where, message, fix). Rows are dropped from the end, with a note, only
    when the whole would exceed `max_bytes`; `truncation_note` says where the rest can be read
    (the job summary and a check run point to different places).
    """
    overall = combined_status([r.status for r in results])
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    total = sum(len(r.findings) for r in results)

    head = [f"## {markdown_text(truncate(title, _SHORT_CHARS))}: {status_word(overall)}\n\n"]
    gate_noun = "gate" if len(results) == 1 else "gates"
    head.append(
        f"{len(results)} {gate_noun} checked: {counts[Status.PASS]} passed, "
        f"{counts[Status.FAIL]} failed, {counts[Status.ERROR]} inconclusive. "
        f"{total} finding{'' if total == 1 else 's'}.\n\n"
    )
    if results:
        head.append("| Gate | Result | Summary |\n| --- | --- | --- |\n")
        for r in results:
            head.append(
                f"| {_cell(r.gate, _SHORT_CHARS)} | {status_word(r.status)} | "
                f"{_cell(r.summary, _MESSAGE_CHARS) or '-'} |\n"
            )
    text = "".join(head)

    if total == 0:
        return truncate_to(text, max_bytes)

    table_head = f"\n### Findings ({total})\n\n" + FINDINGS_TABLE_HEAD
    body, _ = fit_rows(finding_rows(results),
                       budget=max_bytes - utf8_len(text) - utf8_len(table_head),
                       note=truncation_note)
    return truncate_to(text + table_head + body, max_bytes)


def truncate_to(text: str, max_bytes: int) -> str:
    """Last-resort cut for a summary whose fixed part alone exceeds `max_bytes`."""
    if utf8_len(text) <= max_bytes:
        return text
    cut = text.encode("utf-8")[: max(0, max_bytes)].decode("utf-8", errors="ignore")
    # Cut at a line boundary so no half-escaped cell (e.g. `&am`) is left behind.
    return cut[: cut.rfind("\n") + 1] if "\n" in cut else ""


# --- What is missing ---------------------------------------------------------------------------

_COMMIT_PHRASES = {
    "unsigned": ("commit unsigned", "commits unsigned"),
    "invalid": ("commit with an invalid signature", "commits with an invalid signature"),
    "untrusted": ("commit signed by a key that is not trusted",
                  "commits signed by keys that are not trusted"),
}
_MISSING_ITEMS = 5
_MISSING_CHARS = 300


def _plural(count: int, forms: tuple[str, str]) -> str:
    return f"{count} {forms[0] if count == 1 else forms[1]}"


def _approvals_missing(details: dict[str, Any]) -> list[str]:
    items: list[str] = []
    for rule in details.get("rules") or []:
        if isinstance(rule, dict) and rule.get("applies") and not rule.get("satisfied") \
                and isinstance(rule.get("needs"), str):
            items.append(rule["needs"])
    for entry in details.get("changes_requested") or []:
        if isinstance(entry, dict) and isinstance(entry.get("user"), str):
            items.append(f"changes requested by {entry['user']} to be resolved")
    return items


def _commits_missing(details: dict[str, Any]) -> list[str]:
    counts: dict[str, int] = {}
    for commit in details.get("commits") or []:
        status = commit.get("status") if isinstance(commit, dict) else None
        if isinstance(status, str) and status in _COMMIT_PHRASES:
            counts[status] = counts.get(status, 0) + 1
    return [_plural(counts[s], _COMMIT_PHRASES[s]) for s in _COMMIT_PHRASES if s in counts]


def _vulnerabilities_missing(findings: list[Finding]) -> list[str]:
    """"3 known vulnerabilities in 2 packages": one lock-file line per package."""
    failing = [f for f in findings if f.severity is Severity.ERROR
               and f.rule in ("VULNERABLE_DEPENDENCY", "UNRATED_VULNERABILITY")]
    if not failing:
        return []
    places = {(f.location.file, f.location.line) if f.location.line else f.message
              for f in failing}
    vulns = _plural(len(failing), ("known vulnerability", "known vulnerabilities"))
    return [f"{vulns} in {_plural(len(places), ('package', 'packages'))} to upgrade"]


def _grouped_missing(findings: list[Finding], skip: tuple[str, ...] = ()) -> list[str]:
    """The failing findings by rule: the shared title, else the rule id, with a count."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.severity is Severity.ERROR and finding.rule not in skip:
            groups.setdefault(finding.rule, []).append(finding)
    items = []
    for rule, group in groups.items():
        titles = {f.title for f in group}
        label = titles.pop() if len(titles) == 1 and None not in titles else rule
        items.append(label if len(group) == 1 else f"{len(group)} \u00d7 {label}")
    return [item for item in items if item]


def what_is_missing(result: GateResult) -> list[str]:
    """Short plain-text phrases: what this gate still needs before it passes.

    "1 more approval from acme/compliance", "3 commits unsigned", "2 known vulnerabilities in
    1 package to upgrade": what a reviewer scanning the PR/MR comment or a check run's title
    needs, without reading every finding. The gates' stable `details` give the counts where
    they exist; otherwise the failing findings are grouped by rule. An inconclusive gate says
    what could not be checked. Callers escape the phrases (they may quote names from the
    change) before putting them in Markdown.
    """
    if result.status is Status.PASS:
        return []
    if result.gate == "approvals":
        items = _approvals_missing(result.details)
    elif result.gate == "verify-commits":
        items = _commits_missing(result.details)
    elif result.gate == "audit":
        items = _vulnerabilities_missing(result.findings)
        items += _grouped_missing(result.findings,
                                  skip=("VULNERABLE_DEPENDENCY", "UNRATED_VULNERABILITY"))
    else:
        items = []
    if result.status is Status.ERROR:
        # The summary of an inconclusive gate says what could not be checked; counting its
        # findings by rule would only repeat it.
        items.append(f"could not check: {result.summary}")
    elif not items:
        items = _grouped_missing(result.findings)
    if len(items) > _MISSING_ITEMS:
        rest = len(items) - (_MISSING_ITEMS - 1)
        items = [*items[: _MISSING_ITEMS - 1], f"and {rest} more"]
    return [truncate(single_line(item), _MISSING_CHARS) for item in items]
