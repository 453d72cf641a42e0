"""GitHub check runs: every finding an annotation, batched by 50, with the gate's real verdict.

Published through the real PyGithub requester to the local GitHub server, which enforces the
Checks API's documented limits (50 annotations per request, required fields, summary size), so a
batching mistake is a 422 here as it would be on GitHub.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from changegate.change import Change
from changegate.cli import add_common_arguments
from changegate.commands import RunContext
from changegate.forges.base import ForgeSettings
from changegate.output import publish, render_all
from changegate.report.checks import (
    ANNOTATIONS_PER_REQUEST,
    GitHubApi,
    PublishError,
    annotation,
    conclusion,
    is_repository_path,
    plan_check_runs,
    publish_check_runs,
)
from changegate.result import Finding, GateResult, Location, Severity, Status
from changegate.testing.forges import GitHubServer, Scenario, standard_scenario

HEAD = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
TOKEN = "ghs_test_token"
ANCHOR = Location(file=".changegate.yml", line=7)


def audit_result(count: int) -> GateResult:
    findings = [Finding(rule="VULNERABLE_DEPENDENCY", severity=Severity.ERROR,
                        message=f"pkg{i} 1.0 has GHSA-{i:04d}",
                        location=Location(file="requirements.txt", line=i + 1),
                        fix="upgrade", help_uri="https://changegate.dev/docs/audit#x")
                for i in range(count)]
    return GateResult("audit", Status.FAIL, f"{count} vulnerable packages", findings)


def commit_result(count: int) -> GateResult:
    findings = [Finding(rule="UNSIGNED", severity=Severity.ERROR,
                        message=f"commit {i} is not signed",
                        location=Location(commit=f"{i:040x}")) for i in range(count)]
    commits = [{"sha": f"{i:040x}", "status": "unsigned"} for i in range(count)]
    return GateResult("verify-commits", Status.FAIL, f"{count} of {count} commits unsigned",
                      findings, {"commits": commits})


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    scenario: Scenario = standard_scenario()
    with GitHubServer(scenario) as server:
        server.checks_access = "write"
        yield server


def api_for(server: GitHubServer) -> GitHubApi:
    return GitHubApi(ForgeSettings(api_url=server.url, token=TOKEN, timeout=5,
                                   max_rate_wait=1))


# --- planning -------------------------------------------------------------------------------


def test_conclusions_follow_the_status_and_never_pass_a_failure() -> None:
    assert conclusion(Status.PASS) == "success"
    assert conclusion(Status.FAIL) == "failure"
    assert conclusion(Status.ERROR) == "failure"
    assert conclusion(Status.ERROR, allow_inconclusive=True) == "neutral"
    assert conclusion(Status.FAIL, allow_inconclusive=True) == "failure"


def test_annotation_places_findings_where_the_fix_is() -> None:
    on_lock = annotation("audit", Finding("VULNERABLE_DEPENDENCY", Severity.ERROR, "jinja2 2.0",
                                          Location(file="uv.lock", line=42, column=3),
                                          fix="upgrade jinja2", title="known vulnerability"),
                         ANCHOR)
    assert (on_lock["path"], on_lock["start_line"], on_lock["end_line"]) == ("uv.lock", 42, 42)
    assert on_lock["start_column"] == on_lock["end_column"] == 3
    assert on_lock["annotation_level"] == "failure"
    assert on_lock["message"] == "jinja2 2.0\nFix: upgrade jinja2"
    assert on_lock["title"] == "audit VULNERABLE_DEPENDENCY: known vulnerability"

    # A commit has no file: anchored at the gate's policy section, the commit in the message.
    on_commit = annotation("verify-commits", Finding("UNSIGNED", Severity.WARNING, "no signature",
                                                     Location(commit=HEAD)), ANCHOR)
    assert (on_commit["path"], on_commit["start_line"]) == (".changegate.yml", 7)
    assert on_commit["message"].startswith(f"commit {HEAD[:12]}: no signature")
    assert on_commit["annotation_level"] == "warning"
    assert "start_column" not in on_commit

    # A place outside the repository (an API endpoint) is named, not used as a path.
    remote = annotation("audit", Finding("PACKAGE_NOT_FOUND", Severity.NOTE, "unknown",
                                         Location(file="https://api.osv.dev/v1/query")), ANCHOR)
    assert remote["path"] == ".changegate.yml"
    assert remote["message"].startswith("https://api.osv.dev/v1/query: unknown")
    assert remote["annotation_level"] == "notice"


@pytest.mark.parametrize(("path", "ok"), [
    ("requirements.txt", True), ("src/app/uv.lock", True), ("/etc/passwd", False),
    ("../outside.txt", False), ("a/../../b", False), ("https://x.example/y", False),
    ("C:/x", False), (None, False), ("", False)])
def test_repository_paths(path: str | None, ok: bool) -> None:
    assert is_repository_path(path) is ok


def test_hostile_text_is_plain_and_capped() -> None:
    huge = "::set-output name=x::y\n\x1b[31m@org/team <b>x</b> " + "A" * 70_000
    ann = annotation("verify-commits", Finding("UNSIGNED", Severity.ERROR, huge,
                                               Location(commit=HEAD)), ANCHOR)
    assert len(ann["message"].encode()) <= 64 * 1024
    assert "\x1b" not in ann["message"]
    assert ann["message"].endswith("\u2026")


def test_plans_carry_title_summary_and_every_annotation() -> None:
    plans = plan_check_runs([commit_result(3), audit_result(2)], anchor_for=lambda g: ANCHOR)
    vc, audit = plans
    assert vc.name == "changegate / verify-commits"
    assert vc.title == "Failed: 3 commits unsigned"
    assert vc.conclusion == "failure"
    assert len(vc.annotations) == 3
    assert "| verify-commits | Failed |" in vc.summary
    assert audit.title.startswith("Failed:")


# --- publishing -----------------------------------------------------------------------------


def test_120_annotations_go_out_in_batches_of_50(github: GitHubServer) -> None:
    plans = plan_check_runs([audit_result(120)], anchor_for=lambda g: ANCHOR)
    published = publish_check_runs(api_for(github), "acme/payments", HEAD, plans,
                                   details_url="https://github.com/acme/payments/actions/runs/7")
    assert len(published) == 1
    run = published[0]
    assert run.annotations == 120 and run.requests == 3
    assert github.count("/check-runs$", "POST") == 1
    assert github.count(r"/check-runs/\d+$", "PATCH") == 2
    stored = github.check_runs[run.id]
    assert stored["conclusion"] == "failure" and stored["status"] == "completed"
    assert [a["start_line"] for a in stored["annotations"]] == list(range(1, 121))
    assert len({a["message"] for a in stored["annotations"]}) == 120
    batches = [len(r.body["output"]["annotations"]) for r in github.requests
               if "/check-runs" in r.path]
    assert batches == [50, 50, 20]
    assert max(batches) <= ANNOTATIONS_PER_REQUEST
    assert run.html_url == f"https://github.com/acme/payments/runs/{run.id}"


def test_one_check_run_per_gate_even_without_findings(github: GitHubServer) -> None:
    results = [GateResult("sbom", Status.PASS, "ok"), commit_result(2),
               GateResult.inconclusive("approvals", "FORGE_API_ERROR", "GitHub answered 502")]
    plans = plan_check_runs(results, anchor_for=lambda g: ANCHOR, allow_inconclusive=True)
    published = publish_check_runs(api_for(github), "acme/payments", HEAD, plans)
    stored = {github.check_runs[p.id]["name"]: github.check_runs[p.id] for p in published}
    assert stored["changegate / sbom"]["conclusion"] == "success"
    assert stored["changegate / sbom"]["annotations"] == []
    assert stored["changegate / verify-commits"]["conclusion"] == "failure"
    assert stored["changegate / approvals"]["conclusion"] == "neutral"
    assert github.count("/check-runs") == 3


def test_without_checks_write_the_refusal_is_denied(github: GitHubServer) -> None:
    github.checks_access = "none"
    plans = plan_check_runs([commit_result(1)], anchor_for=lambda g: ANCHOR)
    with pytest.raises(PublishError) as info:
        publish_check_runs(api_for(github), "acme/payments", HEAD, plans)
    assert info.value.denied and info.value.status == 403
    assert info.value.published == []
    assert github.count("/check-runs") == 1  # no retry of a refusal


def test_a_failed_batch_keeps_the_verdict_and_reports_what_was_published(
        github: GitHubServer) -> None:
    github.fault(r"/check-runs/\d+$", method="PATCH", status=422,
                 body={"message": "Validation Failed"})
    plans = plan_check_runs([audit_result(60)], anchor_for=lambda g: ANCHOR)
    with pytest.raises(PublishError) as info:
        publish_check_runs(api_for(github), "acme/payments", HEAD, plans)
    assert not info.value.denied
    [partial] = info.value.published
    # The run exists with its real conclusion, only short of annotations.
    assert github.check_runs[partial.id]["conclusion"] == "failure"
    assert partial.annotations == 50


def test_bad_repository_or_sha_is_refused_before_any_request(github: GitHubServer) -> None:
    plans = plan_check_runs([commit_result(1)], anchor_for=lambda g: ANCHOR)
    with pytest.raises(PublishError):
        publish_check_runs(api_for(github), "acme/payments/../x", HEAD, plans)
    with pytest.raises(PublishError):
        publish_check_runs(api_for(github), "acme/payments", "HEAD", plans)
    assert github.count() == 0


# --- through the output layer: fallback, exit codes, notes -------------------------------------


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    args = parser.parse_args(list(extra))
    args.command = "verify-commits"
    return args


def _run(tmp_path: Path, environ: dict[str, str]) -> RunContext:
    change = Change(platform="github", workdir=tmp_path, head=HEAD, base="0" * 40,
                    event="pull_request", repository="acme/payments", number=42,
                    server_url="https://github.com",
                    run_url="https://github.com/acme/payments/actions/runs/7")

    def no_policy() -> Any:
        return None

    return RunContext(workdir=tmp_path, environ=environ, change_factory=lambda: change,
                      policy_factory=no_policy, trusted_factory=no_policy)


def _github_env(server: GitHubServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": server.url, "GITHUB_TOKEN": TOKEN,
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"), **extra}


def _render(results: list[GateResult], args: argparse.Namespace, run: RunContext,
            monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    render_all(results, args, run)
    return out.getvalue(), err.getvalue()


def test_with_permission_every_finding_is_on_the_check_run_and_not_repeated(
        github: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path, _github_env(github, tmp_path, CHANGEGATE_CHECK_RUNS="auto"))
    out, _ = _render([commit_result(30)], _args(), run, monkeypatch)
    [stored] = github.check_runs.values()
    assert len(stored["annotations"]) == 30
    assert stored["output"]["title"] == "Failed: 30 commits unsigned"
    assert stored["details_url"] == "https://github.com/acme/payments/actions/runs/7"
    assert "::error" not in out  # workflow commands would only repeat the first ten
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.count("| verify-commits | error | UNSIGNED |") == 30


def test_without_permission_it_falls_back_and_says_once_how_to_enable(
        github: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    github.checks_access = "none"
    run = _run(tmp_path, _github_env(github, tmp_path, CHANGEGATE_CHECK_RUNS="auto"))
    out, _ = _render([commit_result(30), audit_result(30)], _args(), run, monkeypatch)
    assert github.count("/check-runs") == 1  # one refusal, not one per gate
    notices = [line for line in out.splitlines() if line.startswith("::notice")]
    assert len(notices) == 1 and "checks: write" in notices[0], notices
    errors = [line for line in out.splitlines() if line.startswith("::error")]
    assert len(errors) == 10  # GitHub's per-step cap; the rest are in the job summary
    assert "50 more errors in the job summary" in errors[-1]
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "Findings (60)" in summary


def test_off_and_the_bare_cli_publish_nothing(
        github: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for environ in (_github_env(github, tmp_path),
                    _github_env(github, tmp_path, CHANGEGATE_CHECK_RUNS="off")):
        out, _ = _render([commit_result(2)], _args(), _run(tmp_path, environ), monkeypatch)
        assert out.count("::error") == 2
    _render([commit_result(2)], _args("--check-runs", "off"),
            _run(tmp_path, _github_env(github, tmp_path, CHANGEGATE_CHECK_RUNS="on")),
            monkeypatch)
    assert github.count() == 0


def test_publishing_problems_never_change_the_verdict(
        github: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    github.fault("/check-runs", status=502, times=None)
    environ = _github_env(github, tmp_path)
    publication = publish([commit_result(3)], _args("--check-runs", "on"),
                          _run(tmp_path, environ), on_github=True)
    assert not publication.checks_complete
    [(level, text)] = publication.notes
    assert level == "warning" and "502" in text
    out, _ = _render([commit_result(3)], _args("--check-runs", "on"), _run(tmp_path, environ),
                     monkeypatch)
    assert out.count("::error") == 3  # the fallback shows the findings
    assert any(line.startswith("::warning") and "incomplete" in line
               for line in out.splitlines())
    output = (tmp_path / "output.txt").read_text(encoding="utf-8")
    assert "status<<" in output and "\nfail\n" in output


def test_no_token_is_a_hint_in_auto_and_a_warning_when_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"GITHUB_ACTIONS": "true"}
    auto = publish([commit_result(1)], _args("--check-runs", "auto"), _run(tmp_path, environ),
                   on_github=True)
    assert [level for level, _ in auto.notes] == ["notice"]
    on = publish([commit_result(1)], _args("--check-runs", "on"), _run(tmp_path, environ),
                 on_github=True)
    assert [level for level, _ in on.notes] == ["warning"]
    bad = publish([commit_result(1)], _args(), _run(tmp_path, {
        "CHANGEGATE_CHECK_RUNS": "sometimes", "CHANGEGATE_COMMENT": "perhaps"}), on_github=False)
    assert len(bad.notes) == 2 and all(level == "warning" for level, _ in bad.notes)


def test_rendering_without_publishing_imports_no_forge_client() -> None:
    """PyGithub, python-gitlab and requests load only when something is published."""
    import subprocess
    import sys

    code = (
        "import argparse, sys, types\n"
        "from changegate.output import publish\n"
        "import changegate.report.checks, changegate.report.comment\n"
        "from changegate.cli import add_common_arguments\n"
        "p = argparse.ArgumentParser(); add_common_arguments(p)\n"
        "run = types.SimpleNamespace(environ={'GITHUB_ACTIONS': 'true'})\n"
        "print(publish([], p.parse_args([]), run, on_github=True).notes)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('github', 'gitlab', 'requests', 'urllib3')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.splitlines() == ["[]", "[]"], proc.stdout + proc.stderr


def test_fail_on_error_false_makes_inconclusive_neutral_not_success(
        github: GitHubServer, tmp_path: Path) -> None:
    inconclusive = GateResult.inconclusive("audit", "DB_STALE", "the database is 9 days old")
    environ = _github_env(github, tmp_path, CHANGEGATE_CHECK_RUNS="auto",
                          CHANGEGATE_FAIL_ON_ERROR="false")
    publication = publish([inconclusive, commit_result(1)], _args(), _run(tmp_path, environ),
                          on_github=True)
    assert publication.checks_complete
    conclusions = {run["name"]: run["conclusion"] for run in github.check_runs.values()}
    assert conclusions == {"changegate / audit": "neutral",
                           "changegate / verify-commits": "failure"}
