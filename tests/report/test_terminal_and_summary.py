"""Terminal renderer and the shared Markdown summary."""

from __future__ import annotations

import io

from changegate.report.escape import ZERO_WIDTH_JOINER
from changegate.report.markdown import summary_markdown
from changegate.report.terminal import render_terminal
from changegate.result import Finding, GateResult, Location, Severity, Status

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"


def results() -> list[GateResult]:
    return [
        GateResult("verify-commits", Status.FAIL, "1 of 2 commits unsigned", [
            Finding("UNSIGNED", Severity.ERROR,
                    "Commit 1a2b3c4 has no signature.\nMessage: \x1b[32mPASS\x1b[0m\rwipe",
                    Location(commit=SHA), fix="Sign it with git commit -S.\nThen push."),
        ]),
        GateResult("audit", Status.PASS, "no vulnerable packages", [
            Finding("OLD_DB", Severity.WARNING, "Database is 6 days old.",
                    Location(file="audit/db.json", line=3, column=7),
                    help_uri="https://changegate.dev/rules/audit#old_db"),
        ]),
    ]


def render(res: list[GateResult], *, color: bool = False) -> str:
    buf = io.StringIO()
    render_terminal(res, buf, color=color)
    return buf.getvalue()


# --- terminal ---------------------------------------------------------------------------------


def test_terminal_layout_without_color() -> None:
    assert render(results()) == (
        "FAIL verify-commits: 1 of 2 commits unsigned\n"
        f"  error UNSIGNED at commit {SHA[:12]}\n"
        "    Commit 1a2b3c4 has no signature.\n"
        "    Message: PASS\n"
        "    wipe\n"
        "    fix: Sign it with git commit -S.\n"
        "    Then push.\n"
        "PASS audit: no vulnerable packages\n"
        "  warning OLD_DB at audit/db.json:3:7\n"
        "    Database is 6 days old.\n"
        "    see: https://changegate.dev/rules/audit#old_db\n"
        "FAIL check: 1 passed, 1 failed, 0 inconclusive\n"
    )


def test_terminal_without_color_has_no_escape_sequences() -> None:
    assert "\x1b" not in render(results())
    assert "\r" not in render(results())


def test_terminal_color_only_paints_our_own_labels() -> None:
    out = render(results(), color=True)
    assert "\x1b[1m\x1b[31mFAIL\x1b[0m" in out
    assert "\x1b[32mPASS\x1b[0m\r" not in out  # the message's own codes are gone


def test_terminal_single_gate_has_no_check_line() -> None:
    out = render([GateResult("audit", Status.PASS, "ok")])
    assert out == "PASS audit: ok\n"


def test_terminal_nothing_for_no_results() -> None:
    assert render([]) == ""


# --- Markdown summary -------------------------------------------------------------------------


def test_summary_layout() -> None:
    text = summary_markdown(results())
    assert text.startswith("## changegate: Failed\n\n2 gates checked: 1 passed, 1 failed, "
                           "0 inconclusive. 2 findings.\n")
    assert "| verify-commits | Failed | 1 of 2 commits unsigned |" in text
    assert "| audit | Passed | no vulnerable packages |" in text
    assert "### Findings (2)" in text
    assert "| Gate | Severity | Rule | Where | Message | Fix |" in text
    assert (
        f"| verify-commits | error | UNSIGNED | commit {SHA[:12]} | Commit 1a2b3c4 has no "
        "signature. Message: PASS wipe | Sign it with git commit -S. Then push. |"
    ) in text
    assert (
        "| audit | warning | [OLD\\_DB](https://changegate.dev/rules/audit#old_db) | "
        "audit/db.json:3:7 | Database is 6 days old. | - |"
    ) in text


def test_summary_inconclusive_and_no_findings() -> None:
    text = summary_markdown([GateResult("sbom", Status.ERROR, "pip not found")], title="SBOM")
    assert text.startswith("## SBOM: Inconclusive\n")
    assert "| sbom | Inconclusive | pip not found |" in text
    assert "Findings" not in text


def test_summary_refuses_unsafe_help_links() -> None:
    res = [GateResult("g", Status.FAIL, "s", [
        Finding("R", Severity.ERROR, "m", help_uri="javascript:alert(1)"),
        Finding("S", Severity.ERROR, "m", help_uri="https://ok.example/a)[x](https://evil"),
    ])]
    text = summary_markdown(res)
    assert "javascript:" not in text
    assert "](https://evil" not in text
    assert "| g | error | R | - | m | - |" in text


def test_summary_escapes_titles_and_gate_names() -> None:
    res = [GateResult("<b>gate</b>", Status.PASS, "@org/team ok")]
    text = summary_markdown(res, title="# <i>x</i>")
    assert "<b>" not in text and "<i>" not in text
    assert f"@{ZERO_WIDTH_JOINER}org/team" in text


def test_summary_respects_max_bytes() -> None:
    many = [GateResult("g", Status.FAIL, "s", [
        Finding("R", Severity.ERROR, f"finding {i} " + "\u00e9" * 400) for i in range(100)
    ])]
    text = summary_markdown(many, max_bytes=20_000)
    assert len(text.encode("utf-8")) <= 20_000
    shown = text.count("| g | error | R |")
    assert 0 < shown < 100
    assert f"{100 - shown} more findings are not shown" in text


def test_summary_caps_one_huge_message() -> None:
    res = [GateResult("g", Status.FAIL, "s", [Finding("R", Severity.ERROR, "x" * 50_000)])]
    text = summary_markdown(res)
    assert len(text) < 5_000
    assert "\u2026" in text
