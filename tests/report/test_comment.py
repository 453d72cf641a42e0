"""The PR/MR summary comment: rendering, escaping, size limits, and update in place.

Rendering is checked as a reader would see it: the Markdown goes through a CommonMark renderer
with raw HTML allowed (as GitHub and GitLab allow some), so an injection shows up as real HTML.
Publishing runs the real PyGithub / python-gitlab HTTP layers against the local servers.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from changegate.change import Change
from changegate.cli import add_common_arguments
from changegate.commands import RunContext
from changegate.output import publish, render_all
from changegate.report.comment import (
    GITHUB_BODY_LIMIT,
    MARKER,
    CommentContext,
    GateLine,
    gate_lines,
    merge_lines,
    read_state,
    render_comment,
    state_comment,
)
from changegate.report.escape import ZERO_WIDTH_JOINER
from changegate.report.markdown import what_is_missing
from changegate.result import Finding, GateResult, Location, Severity, Status
from changegate.testing.forges import FakeChange, GitHubServer, GitLabServer, commits
from changegate.testing.forges import standard_scenario as make_scenario

HEAD = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
NEXT = "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"
RUN = "https://github.com/acme/payments/actions/runs/7"
HOSTILE = (
    "Fix fees\n::set-output name=status::pass\n::add-mask::x\n"
    "/approve\n/merge\n@acme/compliance @alice please look #1 !2 ~label $snippet "
    "<script>alert(1)</script><img src=x onerror=alert(1)> "
    "[click](javascript:alert(1)) ![i](https://evil.example/p.png) <!-- changegate:summary -->"
    "| broken | table |\n# heading\n- item\n```\ncode\n```"
)
MD = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def hostile_results(extra: str = "") -> list[GateResult]:
    vc = GateResult("verify-commits", Status.FAIL, "1 of 2 commits unsigned", [
        Finding("UNSIGNED", Severity.ERROR, f"commit message: {HOSTILE}{extra}",
                Location(commit=HEAD), fix="sign it with `git commit -S`")],
        {"commits": [{"sha": HEAD, "status": "unsigned"}, {"sha": NEXT, "status": "verified"}]})
    approvals = GateResult("approvals", Status.FAIL, "#42: 1 of 2 rules satisfied", [
        Finding("APPROVALS_MISSING", Severity.ERROR, "rule 'compliance sign-off': 0 of 1",
                Location(file=".changegate.yml", line=12))],
        {"rules": [{"name": "peer review", "applies": True, "satisfied": True, "needs": ""},
                   {"name": "compliance sign-off", "applies": True, "satisfied": False,
                    "needs": "1 more approval from acme/compliance"}]})
    sbom = GateResult("sbom", Status.PASS, "SBOM with 12 components")
    return [vc, approvals, sbom]


def ctx(**kwargs: Any) -> CommentContext:
    return CommentContext(**{"head": HEAD, "run_url": RUN, **kwargs})


def render(results: list[GateResult], **kwargs: Any) -> str:
    return render_comment(gate_lines(results, head=HEAD), results, ctx(**kwargs))


# --- what is missing --------------------------------------------------------------------------


def test_what_is_missing_speaks_the_reviewers_language() -> None:
    vc, approvals, sbom = hostile_results()
    assert what_is_missing(vc) == ["1 commit unsigned"]
    assert what_is_missing(approvals) == ["1 more approval from acme/compliance"]
    assert what_is_missing(sbom) == []
    many = GateResult("verify-commits", Status.FAIL, "x", [], {"commits": [
        *({"status": "unsigned"} for _ in range(3)), {"status": "invalid"},
        {"status": "untrusted"}, {"status": "untrusted"}, {"status": "verified"}]})
    assert what_is_missing(many) == ["3 commits unsigned", "1 commit with an invalid signature",
                                     "2 commits signed by keys that are not trusted"]
    lock = "requirements.txt"
    audit = GateResult("audit", Status.FAIL, "x", [
        Finding("VULNERABLE_DEPENDENCY", Severity.ERROR, "urllib3: A", Location(lock, 3)),
        Finding("VULNERABLE_DEPENDENCY", Severity.ERROR, "urllib3: B", Location(lock, 3)),
        Finding("UNRATED_VULNERABILITY", Severity.ERROR, "jinja2: C", Location(lock, 9)),
        Finding("EXCEPTION_EXPIRED", Severity.ERROR, "e", title="a policy exception has expired"),
        Finding("EXCEPTION_UNUSED", Severity.WARNING, "c")])
    assert what_is_missing(audit) == ["3 known vulnerabilities in 2 packages to upgrade",
                                      "a policy exception has expired"]
    sbom = GateResult("sbom", Status.FAIL, "x", [
        Finding("LICENSE_DENIED", Severity.ERROR, "a", title="AGPL-3.0-only in x"),
        Finding("LICENSE_DENIED", Severity.ERROR, "b", title="AGPL-3.0-only in y")])
    assert what_is_missing(sbom) == ["2 \u00d7 LICENSE_DENIED"]
    error = GateResult.inconclusive("approvals", "FORGE_API_ERROR", "GitHub answered 502")
    assert what_is_missing(error) == ["could not check: GitHub answered 502"]


# --- rendering and escaping -------------------------------------------------------------------


def test_layout_statuses_missing_and_links() -> None:
    body = render(hostile_results(), evidence={
        "record_sha256": "ab" * 32, "record_path": ".changegate/evidence/records/ab.json",
        "signed": True, "verify_command": "changegate evidence verify --dir .changegate/evidence"},
        evidence_url="https://gitlab.example/acme/payments/-/jobs/9/artifacts/file/x.json")
    assert body.startswith(MARKER + "\n### \u274c changegate: Failed\n")
    assert f"Commit `{HEAD[:12]}` \u00b7 [run]({RUN})" in body
    assert "| verify-commits | \u274c Failed | 1 commit unsigned |" in body
    assert "| approvals | \u274c Failed | 1 more approval from acme/compliance |" in body
    assert "| sbom | \u2705 Passed | - |" in body
    assert "**Evidence:** [change record `sha256:abababababababab\u2026`]" \
           "(https://gitlab.example/acme/payments/-/jobs/9/artifacts/file/x.json)" in body
    assert "(signed)" in body
    assert "<summary>Findings of this run (2)</summary>" in body


def test_hostile_commit_message_cannot_inject_anything() -> None:
    body = render(hostile_results())
    html = MD.render(body)
    # No HTML, scripts, images or links from the message; only our own links remain.
    assert "<script" not in html and "<img" not in html
    assert html.count("<!--") == 2  # our marker and our state, no comment from the message
    assert set(re.findall(r'href="([^"]*)"', html)) == {RUN}
    # Mentions are broken with a zero-width joiner: nobody is pinged by a commit message.
    assert "@acme/compliance" not in body.replace(f"@{ZERO_WIDTH_JOINER}", "@\u2060")
    assert f"@{ZERO_WIDTH_JOINER}acme/compliance" in body
    assert f"@{ZERO_WIDTH_JOINER}alice" in body
    # Nothing a workflow or GitLab would act on starts a line.
    for line in body.splitlines():
        assert not line.startswith(("/", "::", "@", "#1", "!2")), line
    # The copied marker in the message does not appear as a second marker.
    assert body.count(MARKER) == 1
    # The table survives: every finding row has exactly its 6 cells.
    rows = [line for line in body.splitlines() if line.startswith("| verify-commits | error")]
    assert len(rows) == 1
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 7 for row in rows), rows


def test_70_kb_of_text_is_cut_to_githubs_limit_with_a_link() -> None:
    results = hostile_results()
    many = [Finding("UNSIGNED", Severity.ERROR, f"commit {i}: " + "x" * 900,
                    Location(commit=f"{i:040x}")) for i in range(80)]
    results[0].findings.extend(many)  # ~72 KB of findings
    body = render(results)
    assert len(body) <= GITHUB_BODY_LIMIT
    assert "more findings are not shown here: GitHub limits a comment to 65,536 characters" \
        in body
    assert f"Every finding is listed in [the workflow run]({RUN})" in body
    assert "</details>" in body
    assert read_state(body)  # the state survives the cut
    gitlab = render(results, forge="GitLab", limit=1_000_000)
    assert "not shown" not in gitlab


def test_one_huge_message_is_capped_per_cell() -> None:
    body = render(hostile_results("A" * 70_000))
    assert len(body) < 20_000
    assert "\u2026" in body


def test_state_round_trips_and_rejects_forgeries() -> None:
    lines = gate_lines(hostile_results(), head=HEAD,
                       check_urls={"sbom": "https://github.com/acme/payments/runs/5"})
    body = render_comment(lines, [], ctx())
    assert read_state(body) == lines
    assert read_state("no state") == []
    assert read_state("<!-- changegate:state !!!notbase64 -->") == []

    def forged(gates: list[Any]) -> str:
        data = json.dumps({"v": 1, "gates": gates}).encode()
        return f"<!-- changegate:state {base64.b64encode(data).decode()} -->"

    bad = forged([{"gate": "audit", "status": "great", "summary": "x"},
                  {"gate": "audit", "status": "pass", "summary": 1},
                  {"gate": "audit", "status": "pass", "summary": "x", "head": "<script>"},
                  {"gate": "sbom", "status": "pass", "summary": "x",
                   "check_url": "javascript:alert(1)", "head": HEAD}])
    [only] = read_state(bad)
    assert only.gate == "sbom" and only.check_url is None


def test_merge_keeps_other_gates_of_the_same_head_only() -> None:
    earlier = [GateLine("verify-commits", Status.PASS, "ok", head=HEAD),
               GateLine("approvals", Status.PASS, "ok", head=NEXT),
               GateLine("sbom", Status.FAIL, "bad", head=HEAD)]
    now = [GateLine("sbom", Status.PASS, "fixed", head=HEAD),
           GateLine("audit", Status.FAIL, "vulnerable", head=HEAD)]
    merged = merge_lines(earlier, now, HEAD)
    assert [(line.gate, line.status) for line in merged] == [
        ("verify-commits", Status.PASS), ("sbom", Status.PASS), ("audit", Status.FAIL)]
    # A pass decided for an older head is never carried to the new one.
    assert [line.gate for line in merge_lines(earlier, now, NEXT)] == ["approvals", "sbom",
                                                                       "audit"]
    assert state_comment([]).startswith("<!-- changegate:state ")


def test_inconclusive_allowed_is_labelled_not_passed() -> None:
    results = [GateResult.inconclusive("audit", "DB_STALE", "the database is 9 days old")]
    body = render(results, allow_inconclusive=True)
    assert "\u26a0\ufe0f Inconclusive (allowed)" in body
    assert "Passed" not in body


# --- publishing: GitHub -----------------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    scenario = make_scenario()
    scenario.add(FakeChange(number=42, author="alice", commits=commits(2, "alice")))
    with GitHubServer(scenario) as server:
        server.comments_access = "write"
        yield server


@pytest.fixture
def gitlab() -> Iterator[GitLabServer]:
    scenario = make_scenario()
    scenario.add(FakeChange(number=42, author="alice", commits=commits(2, "alice")))
    with GitLabServer(scenario) as server:
        yield server


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    args = parser.parse_args(list(extra))
    args.command = "check"
    return args


def _run(tmp_path: Path, environ: dict[str, str], *, platform: str = "github",
         head: str = HEAD, number: int | None = 42) -> RunContext:
    server = environ.get("CI_SERVER_URL", "https://github.com")
    change = Change(platform=platform, workdir=tmp_path, head=head, base="0" * 40,  # type: ignore[arg-type]
                    event="pull_request", repository="acme/payments", number=number,
                    server_url=server, run_url=RUN if platform == "github" else
                    f"{server}/acme/payments/-/pipelines/5")

    def no_policy() -> Any:
        return None

    return RunContext(workdir=tmp_path, environ=environ, change_factory=lambda: change,
                      policy_factory=no_policy, trusted_factory=no_policy)


def _gh_env(server: GitHubServer) -> dict[str, str]:
    return {"GITHUB_API_URL": server.url, "GITHUB_TOKEN": "ghs_test_token",
            "CHANGEGATE_COMMENT": "true"}


def _comments(server: GitHubServer) -> list[dict[str, Any]]:
    return server.comments.get(42, [])


def test_github_comment_is_updated_in_place_across_runs(github: GitHubServer,
                                                        tmp_path: Path) -> None:
    env = _gh_env(github)
    github.add_comment(42, "bob", "Looks good to me")
    # Someone pastes our marker and a forged "all passed" state into a comment of their own.
    forged = GateLine("approvals", Status.PASS, "all good", head=HEAD)
    github.add_comment(42, "carol", f"{MARKER}\nall passed\n{state_comment([forged])}")
    carols = dict(_comments(github)[-1])

    first = publish(hostile_results()[:1], _args(), _run(tmp_path, env), on_github=True)
    assert first.comment is not None and first.comment.action == "created", first.notes
    ours = [c for c in _comments(github) if c["user"] == "github-actions[bot]"]
    assert len(ours) == 1
    assert "approvals" not in ours[0]["body"]  # the forged state was not adopted
    assert "carol" not in ours[0]["body"]

    # Another gate in another step, same head: the same comment now shows both.
    second = publish(hostile_results()[1:2], _args(), _run(tmp_path, env), on_github=True)
    assert second.comment is not None and second.comment.action == "updated"
    assert second.comment.id == first.comment.id
    body = ours[0]["body"]
    assert "1 commit unsigned" in body and "1 more approval from acme/compliance" in body

    # The same run again changes nothing, so nothing is written.
    again = publish(hostile_results()[1:2], _args(), _run(tmp_path, env), on_github=True)
    assert again.comment is not None and again.comment.action == "unchanged"

    # A new push: the old head's lines go, the comment stays the same one.
    pushed = publish([GateResult("verify-commits", Status.PASS, "2 of 2 signed")], _args(),
                     _run(tmp_path, env, head=NEXT), on_github=True)
    assert pushed.comment is not None and pushed.comment.id == first.comment.id
    body = ours[0]["body"]
    assert "approvals" not in body and "\u2705 changegate: Passed" in body
    assert len(_comments(github)) == 3  # bob's, carol's, ours: never a new one per push
    assert github.count("/issues/42/comments", "POST") == 1
    assert next(c for c in _comments(github) if c["user"] == "carol") == carols


def test_github_comment_without_permission_is_a_warning(github: GitHubServer,
                                                        tmp_path: Path) -> None:
    github.comments_access = "read"
    publication = publish(hostile_results(), _args(), _run(tmp_path, _gh_env(github)),
                          on_github=True)
    [(level, text)] = publication.notes
    assert level == "warning" and "403" in text and "pull-requests: write" in text
    assert publication.comment is None


def test_github_comment_with_a_user_token_finds_its_own_login(github: GitHubServer,
                                                              tmp_path: Path) -> None:
    github.token_is_app, github.token_login = False, "changegate-bot"
    github.add_comment(42, "dependabot[bot]", f"{MARKER}\nnot ours")
    publication = publish(hostile_results(), _args(), _run(tmp_path, _gh_env(github)),
                          on_github=True)
    assert publication.comment is not None and publication.comment.action == "created"
    assert [c["user"] for c in _comments(github)] == ["dependabot[bot]", "changegate-bot"]


def test_no_pull_request_means_no_comment(github: GitHubServer, tmp_path: Path) -> None:
    publication = publish(hostile_results(), _args(),
                          _run(tmp_path, _gh_env(github), number=None), on_github=True)
    assert publication.comment is None
    assert [level for level, _ in publication.notes] == ["info"]
    assert github.count() == 0


def test_comment_off_by_default(github: GitHubServer, tmp_path: Path) -> None:
    env = _gh_env(github)
    del env["CHANGEGATE_COMMENT"]
    assert publish(hostile_results(), _args(), _run(tmp_path, env), on_github=True).notes == []
    publish(hostile_results(), _args("--no-comment"),
            _run(tmp_path, {**env, "CHANGEGATE_COMMENT": "true"}), on_github=True)
    assert github.count() == 0


def test_comment_links_the_check_runs(github: GitHubServer, tmp_path: Path) -> None:
    github.checks_access = "write"
    env = {**_gh_env(github), "CHANGEGATE_CHECK_RUNS": "auto"}
    publication = publish(hostile_results(), _args(), _run(tmp_path, env), on_github=True)
    assert publication.checks_complete and publication.comment is not None
    body = _comments(github)[0]["body"]
    for run in publication.check_runs:
        assert f"]({run.html_url})" in body


# --- publishing: GitLab -----------------------------------------------------------------------


def _gl_env(server: GitLabServer, **extra: str) -> dict[str, str]:
    return {"GITLAB_CI": "true", "CI_API_V4_URL": server.url + "/api/v4",
            "CI_SERVER_URL": "https://gitlab.example", "CI_PROJECT_ID": "4242",
            "CHANGEGATE_GITLAB_TOKEN": "glpat-test-token", "CHANGEGATE_COMMENT": "true",
            "CI_JOB_URL": "https://gitlab.example/acme/payments/-/jobs/9",
            "CI_PIPELINE_URL": "https://gitlab.example/acme/payments/-/pipelines/5", **extra}


def test_gitlab_note_is_updated_in_place_and_only_ours(gitlab: GitLabServer,
                                                       tmp_path: Path) -> None:
    env = _gl_env(gitlab)
    human = gitlab.user("carol")
    gitlab.add_note(42, human, f"{MARKER}\nI copied the marker")
    gitlab.add_note(42, human, "added 1 commit", system=True)
    first = publish(hostile_results(), _args(), _run(tmp_path, env, platform="gitlab"),
                    on_github=False)
    assert first.comment is not None and first.comment.action == "created", first.notes
    assert first.comment.url == ("https://gitlab.example/acme/payments/-/merge_requests/42"
                                 f"#note_{first.comment.id}")
    second = publish(hostile_results()[:1], _args(),
                     _run(tmp_path, env, platform="gitlab", head=NEXT), on_github=False)
    assert second.comment is not None and second.comment.action == "updated"
    assert second.comment.id == first.comment.id
    notes = gitlab.notes[42]
    assert len(notes) == 3
    assert notes[0]["body"].endswith("I copied the marker")
    body = notes[2]["body"]
    assert "approvals" not in body and "1 commit unsigned" in body
    for line in body.splitlines():
        assert not line.startswith("/")  # no quick action from a commit message
    assert gitlab.count("/notes$", "POST") == 1 and gitlab.count(r"/notes/\d+$", "PUT") == 1


def test_gitlab_job_token_or_read_only_token_is_a_warning(gitlab: GitLabServer,
                                                          tmp_path: Path) -> None:
    env = _gl_env(gitlab, CI_JOB_TOKEN="job")
    del env["CHANGEGATE_GITLAB_TOKEN"]
    publication = publish(hostile_results(), _args(), _run(tmp_path, env, platform="gitlab"),
                          on_github=False)
    [(level, text)] = publication.notes
    assert level == "warning" and "CHANGEGATE_GITLAB_TOKEN" in text and "api" in text
    assert gitlab.count() == 0
    gitlab.notes_access = "read"
    publication = publish(hostile_results(), _args(),
                          _run(tmp_path, _gl_env(gitlab), platform="gitlab"), on_github=False)
    [(level, text)] = publication.notes
    assert level == "warning" and "403" in text


def test_gitlab_annotations_report_links_gates_and_evidence(
        gitlab: GitLabServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = _run(tmp_path, _gl_env(gitlab), platform="gitlab")
    run.evidence = {"record_sha256": "cd" * 32, "signed": False,
                    "record_path": ".changegate/evidence/records/cd.json",
                    "record_uri": "file:///builds/acme/payments/.changegate/evidence"}
    render_all(hostile_results(), _args("--json-file", "changegate-check.json", "--quiet"), run)
    report = json.loads((tmp_path / "gl-annotations.json").read_text(encoding="utf-8"))
    links = [entry["external_link"] for entry in report["changegate"]]
    labels = {link["label"]: link["url"] for link in links}
    tests = "https://gitlab.example/acme/payments/-/pipelines/5/test_report"
    assert labels["verify-commits: Failed - 1 commit unsigned"] == tests
    assert labels["approvals: Failed - 1 more approval from acme/compliance"] == tests
    assert labels["sbom: Passed"] == tests
    job = "https://gitlab.example/acme/payments/-/jobs/9"
    assert labels[f"Evidence: change record sha256:{'cd' * 8}\u2026"] == \
        f"{job}/artifacts/file/.changegate/evidence/records/cd.json"
    assert labels["JSON result (every finding and detail)"] == \
        f"{job}/artifacts/file/changegate-check.json"
    assert labels["Summary note on the merge request"].startswith(
        "https://gitlab.example/acme/payments/-/merge_requests/42#note_")
    assert labels["Job log"] == job
    # The MR widgets' reports are written beside it, and the note links the evidence too.
    assert (tmp_path / "gl-code-quality-report.json").exists()
    note = gitlab.notes[42][0]["body"]
    assert f"{job}/artifacts/file/.changegate/evidence/records/cd.json" in note
