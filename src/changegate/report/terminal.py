"""Human-readable output for a terminal or a CI log.

Compact on purpose: one status line per gate, then per finding where it is, what is wrong and
how to fix it, which is all a developer needs to act. Untrusted text is stripped of escape
sequences even when colour is off, because a commit message with ANSI codes could otherwise
repaint the log (hide a FAIL, fake a PASS).

Example (no colour):

    FAIL verify-commits: 1 of 3 commits is not signed by a trusted key
      error UNSIGNED at commit 1a2b3c4d5e6f
        Commit 1a2b3c4 "Add feature" has no signature.
        fix: Sign it with `git commit --amend -S` and push again.
"""

from __future__ import annotations

from typing import TextIO

from changegate.report.escape import terminal_text
from changegate.result import Finding, GateResult, Severity, Status, combined_status

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_YELLOW = "\x1b[33m"
_MAGENTA = "\x1b[35m"
_CYAN = "\x1b[36m"

_STATUS_LABEL = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.ERROR: "ERROR"}
_STATUS_COLOR = {Status.PASS: _GREEN, Status.FAIL: _RED, Status.ERROR: _MAGENTA}
_SEVERITY_COLOR = {Severity.ERROR: _RED, Severity.WARNING: _YELLOW, Severity.NOTE: _CYAN}


class _Paint:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *codes: str) -> str:
        if not self.enabled or not codes:
            return text
        return "".join(codes) + text + _RESET


def _indented(text: str, prefix: str) -> list[str]:
    """Split untrusted, possibly multi-line text into sanitised lines under `prefix`."""
    lines = terminal_text(text).split("\n")
    return [prefix + line for line in lines]


def _finding_lines(finding: Finding, paint: _Paint) -> list[str]:
    head = "  " + paint(finding.severity.value, _SEVERITY_COLOR[finding.severity])
    head += " " + paint(terminal_text(finding.rule), _BOLD)
    where = finding.location.describe()
    if where:
        head += " at " + terminal_text(where)
    lines = [head]
    if finding.title:
        lines.extend(_indented(finding.title, "    "))
    lines.extend(_indented(finding.message, "    "))
    if finding.fix:
        fix_lines = _indented(finding.fix, "    ")
        fix_lines[0] = "    " + paint("fix:", _DIM) + " " + fix_lines[0][4:]
        lines.extend(fix_lines)
    if finding.help_uri:
        lines.append("    " + paint("see:", _DIM) + " " + terminal_text(finding.help_uri))
    return lines


def render_terminal(results: list[GateResult], stream: TextIO, *, color: bool = False) -> None:
    """Write `results` to `stream`; ANSI colour only when `color` is true (a TTY, no NO_COLOR)."""
    paint = _Paint(color)
    out: list[str] = []
    for result in results:
        label = paint(_STATUS_LABEL[result.status], _BOLD, _STATUS_COLOR[result.status])
        summary = terminal_text(result.summary).replace("\n", " ")
        out.append(f"{label} {paint(terminal_text(result.gate), _BOLD)}: {summary}")
        for finding in result.findings:
            out.extend(_finding_lines(finding, paint))
    if len(results) > 1:
        overall = combined_status([r.status for r in results])
        counts = {s: sum(1 for r in results if r.status is s) for s in Status}
        label = paint(_STATUS_LABEL[overall], _BOLD, _STATUS_COLOR[overall])
        out.append(
            f"{label} check: {counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, "
            f"{counts[Status.ERROR]} inconclusive"
        )
    if out:
        stream.write("\n".join(out) + "\n")
