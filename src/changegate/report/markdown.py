"""The Markdown summary shared by the GitHub job summary and (later) the PR/MR comment.

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

from changegate.report.escape import markdown_text, truncate, utf8_len
from changegate.result import Finding, GateResult, Status, combined_status

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


def _rule_cell(finding: Finding) -> str:
    rule = _cell(finding.rule, _SHORT_CHARS)
    uri = finding.help_uri
    if uri and _SAFE_URL.match(uri) and "(" not in uri and ")" not in uri:
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


def summary_markdown(
    results: list[GateResult],
    *,
    title: str = "changegate",
    max_bytes: int = SUMMARY_LIMIT_BYTES,
) -> str:
    """Render `results` as a Markdown summary of at most `max_bytes` UTF-8 bytes.

    Layout: a heading with the overall outcome, a per-gate table, then one table row per finding
    (gate, severity, rule, where, message, fix). Rows are dropped from the end, with a note, only
    when the whole would exceed `max_bytes`.
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

    table_head = (
        f"\n### Findings ({total})\n\n"
        "| Gate | Severity | Rule | Where | Message | Fix |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
    )
    rows = [_finding_row(r.gate, f) for r in results for f in r.findings]

    used = utf8_len(text) + utf8_len(table_head)
    # Room for the note in the worst case, so adding it never overflows.
    reserve = utf8_len(_truncation_note(total))
    kept: list[str] = []
    for i, row in enumerate(rows):
        size = utf8_len(row)
        is_last = i == len(rows) - 1
        budget = max_bytes - used - (0 if is_last else reserve)
        if size > budget:
            break
        kept.append(row)
        used += size
    out = text + table_head + "".join(kept)
    if len(kept) < len(rows):
        out += _truncation_note(len(rows) - len(kept))
    return truncate_to(out, max_bytes)


def truncate_to(text: str, max_bytes: int) -> str:
    """Last-resort cut for a summary whose fixed part alone exceeds `max_bytes`."""
    if utf8_len(text) <= max_bytes:
        return text
    cut = text.encode("utf-8")[: max(0, max_bytes)].decode("utf-8", errors="ignore")
    # Cut at a line boundary so no half-escaped cell (e.g. `&am`) is left behind.
    return cut[: cut.rfind("\n") + 1] if "\n" in cut else ""
