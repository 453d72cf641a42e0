"""`changegate approvals` end to end: a real repository with the policy on main, the CI variables
GitHub Actions / GitLab CI set, the real clients against the local servers, the CLI's outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from changegate.cli import main
from changegate.testing.forges import (
    FakeChange,
    FakeCommit,
    FakeReview,
    GitHubServer,
    GitLabServer,
    standard_scenario,
)

POLICY = """\
version: 1
environments:
  production: {match: {branches: [main]}, gates: [approvals]}
gates:
  approvals:
    rules:
      - {name: peer review, count: 1}
      - name: compliance sign-off
        count: 1
        teams: [acme/compliance]
        if: {environments: [production], paths: ["src/payments/**"]}
"""


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "Alice Developer", "GIT_AUTHOR_EMAIL": "alice@acme.example",
           "GIT_COMMITTER_NAME": "Alice Developer",
           "GIT_COMMITTER_EMAIL": "alice@acme.example"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "payments"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    (path / ".changegate.yml").write_text(POLICY, encoding="utf-8")
    _git(path, "add", ".")
    _git(path, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "policy")
    base = _git(path, "rev-parse", "HEAD")
    _git(path, "checkout", "-q", "-b", "feature/fees")
    (path / "src" / "payments").mkdir(parents=True)
    (path / "src" / "payments" / "fees.py").write_text("RATE = 0.01\n", encoding="utf-8")
    _git(path, "add", ".")
    _git(path, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "fees")
    head = _git(path, "rev-parse", "HEAD")
    scenario = standard_scenario()
    change = scenario.add(FakeChange(number=42, author="alice", base_sha=base,
                                     commits=[FakeCommit(head, "alice", minute=1)],
                                     files=["src/payments/fees.py"]))
    change.reviews = [FakeReview("bob", "APPROVED", head, 5)]
    return {"path": path, "base": base, "head": head, "scenario": scenario, "change": change}


def _github_env(repo: dict[str, Any], server: GitHubServer, tmp_path: Path) -> dict[str, str]:
    event = {"action": "submitted", "number": 42,
             "pull_request": {"number": 42, "labels": [],
                              "head": {"sha": repo["head"], "ref": "feature/fees"},
                              "base": {"sha": repo["base"], "ref": "main"}},
             "repository": {"full_name": "acme/payments", "default_branch": "main"},
             "sender": {"login": "bob"}}
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request_review", "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": "acme/payments", "GITHUB_API_URL": server.url,
            "GITHUB_GRAPHQL_URL": server.url + "/graphql", "GITHUB_TOKEN": "ghs_test_token",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull}


def _gitlab_env(repo: dict[str, Any], server: GitLabServer, tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GITLAB_CI": "true",
            "CI_COMMIT_SHA": repo["head"], "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_IID": "42", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/fees",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": repo["base"], "CI_PROJECT_PATH": "acme/payments",
            "CI_SERVER_URL": server.url, "CI_API_V4_URL": server.url + "/api/v4",
            "CHANGEGATE_GITLAB_TOKEN": "glpat-test-token", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull}


def _run(argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]
         ) -> tuple[int, dict[str, Any]]:
    code = main(argv, env)
    out = capsys.readouterr().out
    start = out.index("{\n")
    return code, json.loads(out[start:])


def test_github_pull_request_fails_then_passes_after_compliance_approval(
        repo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with GitHubServer(repo["scenario"]) as server:
        env = _github_env(repo, server, tmp_path)
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
        assert code == 1, doc
        assert doc["gate"] == "approvals" and doc["status"] == "fail"
        rules = {r["name"]: r for r in doc["rules"]}
        assert rules["compliance sign-off"]["needs"] == "1 more approval from acme/compliance"
        assert rules["peer review"]["counted"] == ["bob"]
        assert doc["change_request"]["environment"] == "production"
        assert doc["facts"]["teams"]["acme/compliance"]["members"] == ["carol", "erin"]
        summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
        assert "APPROVALS" in summary and "1 more approval from acme/compliance" in summary
        assert server.count() <= 5

        repo["change"].reviews.append(FakeReview("carol", "APPROVED", repo["head"], 9))
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
        assert code == 0, doc
        saved = tmp_path / "result.json"
        saved.write_text(json.dumps(doc), encoding="utf-8")

    # Offline replay of the recorded facts: same decision, no server.
    code, replayed = _run(["approvals", "--json", "-C", str(repo["path"]),
                           "--replay", str(saved)], env, capsys)
    assert code == 0
    assert replayed["rules"] == doc["rules"]


def test_github_head_moved_is_inconclusive(repo: dict[str, Any], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    repo["change"].commits.append(FakeCommit("f" * 40, "alice", minute=2))
    with GitHubServer(repo["scenario"]) as server:
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])],
                         _github_env(repo, server, tmp_path), capsys)
    assert code == 2
    assert doc["findings"][0]["rule"] == "HEAD_MOVED"


def test_github_without_token_is_inconclusive(repo: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with GitHubServer(repo["scenario"]) as server:
        env = _github_env(repo, server, tmp_path)
        del env["GITHUB_TOKEN"]
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
    assert code == 2 and doc["findings"][0]["rule"] == "TOKEN_MISSING"


def test_gitlab_merge_request_and_job_token(repo: dict[str, Any], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    repo["change"].reviews.append(FakeReview("carol", "APPROVED", repo["head"], 9))
    with GitLabServer(repo["scenario"], job_token="job-token") as server:
        env = _gitlab_env(repo, server, tmp_path)
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
        assert code == 0, doc
        assert {r["name"]: r["satisfied"] for r in doc["rules"]} == {
            "peer review": True, "compliance sign-off": True}
        assert (repo["path"] / "gl-code-quality-report.json").exists()
        # CI_JOB_TOKEN alone cannot read approvals: inconclusive, with the fix.
        del env["CHANGEGATE_GITLAB_TOKEN"]
        env["CI_JOB_TOKEN"] = "job-token"
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
    assert code == 2
    assert doc["findings"][0]["rule"] in ("FORGE_AUTH", "TEAM_PERMISSION_MISSING")
    assert "CHANGEGATE_GITLAB_TOKEN" in doc["findings"][0]["fix"]


def test_bad_policy_key_is_located(repo: dict[str, Any], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    policy = repo["path"] / "bad.yml"
    policy.write_text("version: 1\ngates:\n  approvals:\n    rules:\n"
                      "      - {name: x, count: 1, team: [acme/compliance]}\n", encoding="utf-8")
    with GitHubServer(repo["scenario"]) as server:
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"]), "--trust-worktree",
                          "--policy", "bad.yml"], _github_env(repo, server, tmp_path), capsys)
        assert server.count() == 0
    assert code == 2
    finding = doc["findings"][0]
    assert finding["rule"] == "POLICY_INVALID" and "team" in finding["message"]
    assert finding["location"]["file"].endswith("bad.yml") and finding["location"]["line"] == 5


# -- push pipelines: the merged pull/merge request that brought the pushed commit -------------


def _merge(repo: dict[str, Any], *, merged: bool = True) -> str:
    """Merge feature/fees into main (as the forge's merge button does); the merge commit's SHA."""
    path = repo["path"]
    _git(path, "checkout", "-q", "main")
    _git(path, "-c", "commit.gpgsign=false", "merge", "-q", "--no-ff", "-m",
         "Merge feature/fees", "feature/fees")
    merge = _git(path, "rev-parse", "HEAD")
    if merged:
        change = repo["change"]
        change.state, change.merged_minute, change.merge_commit_sha = "merged", 20, merge
    return merge


def _direct_push(repo: dict[str, Any]) -> str:
    path = repo["path"]
    _git(path, "checkout", "-q", "main")
    (path / "hotfix.txt").write_text("no review\n", encoding="utf-8")
    _git(path, "add", ".")
    _git(path, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "hotfix")
    return _git(path, "rev-parse", "HEAD")


def _github_push_env(repo: dict[str, Any], server: GitHubServer, tmp_path: Path,
                     after: str) -> dict[str, str]:
    env = _github_env(repo, server, tmp_path)
    event = {"ref": "refs/heads/main", "before": repo["base"], "after": after,
             "repository": {"full_name": "acme/payments", "default_branch": "main"},
             "sender": {"login": "alice"}}
    Path(env["GITHUB_EVENT_PATH"]).write_text(json.dumps(event), encoding="utf-8")
    return {**env, "GITHUB_EVENT_NAME": "push", "GITHUB_SHA": after,
            "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
            "GITHUB_REF_TYPE": "branch"}


def _gitlab_push_env(repo: dict[str, Any], server: GitLabServer, tmp_path: Path,
                     after: str) -> dict[str, str]:
    env = {k: v for k, v in _gitlab_env(repo, server, tmp_path).items()
           if not k.startswith("CI_MERGE_REQUEST_")}
    return {**env, "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_SHA": after,
            "CI_COMMIT_BEFORE_SHA": repo["base"], "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main", "CI_DEFAULT_BRANCH": "main"}


def _push_env(repo: dict[str, Any], server: GitHubServer | GitLabServer, tmp_path: Path,
              after: str) -> dict[str, str]:
    if isinstance(server, GitHubServer):
        return _github_push_env(repo, server, tmp_path, after)
    return _gitlab_push_env(repo, server, tmp_path, after)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_push_of_a_merge_commit_evaluates_the_merged_change_request(
        kind: str, repo: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    merge = _merge(repo)
    server_type = GitHubServer if kind == "github" else GitLabServer
    with server_type(repo["scenario"]) as server:
        env = _push_env(repo, server, tmp_path, merge)
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
        # Merged with bob's approval only: the compliance sign-off is missing.
        assert code == 1, doc
        change = doc["change_request"]
        assert change["found_by"] == "merged-commit" and change["pushed_sha"] == merge
        assert change["number"] == 42 and change["head"] == repo["head"]
        assert change["environment"] == "production" and change["state"] == "merged"
        rules = {r["name"]: r for r in doc["rules"]}
        assert rules["peer review"]["counted"] == ["bob"]
        assert rules["compliance sign-off"]["needs"] == "1 more approval from acme/compliance"

        repo["change"].reviews.append(FakeReview("carol", "APPROVED", repo["head"], 9))
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
        assert code == 0, doc
        assert doc["change_request"]["found_by"] == "merged-commit"
        assert doc["facts"]["found_by"] == "merged-commit"
        assert doc["facts"]["pushed_sha"] == merge


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_push_approvals_are_judged_on_the_merged_head(
        kind: str, repo: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # carol approved an earlier head; alice pushed again before the merge: not counted.
    repo["change"].reviews.append(FakeReview("carol", "APPROVED", repo["head"], 6))
    path = repo["path"]
    (path / "src" / "payments" / "fees.py").write_text("RATE = 0.02\n", encoding="utf-8")
    _git(path, "-c", "commit.gpgsign=false", "commit", "-q", "-am", "fees again")
    final = _git(path, "rev-parse", "HEAD")
    repo["change"].commits.append(FakeCommit(final, "alice", minute=7))
    merge = _merge(repo)
    server_type = GitHubServer if kind == "github" else GitLabServer
    with server_type(repo["scenario"]) as server:
        env = _push_env(repo, server, tmp_path, merge)
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
    assert code == 1, doc
    assert doc["change_request"]["head"] == final and doc["change_request"]["pushed_sha"] == merge
    compliance = {r["name"]: r for r in doc["rules"]}["compliance sign-off"]
    assert compliance["satisfied"] is False
    assert {e["reason"] for e in compliance["excluded"] if e["user"] == "carol"} == {"stale"}


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_direct_push_without_change_request_fails_closed(
        kind: str, repo: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    pushed = _direct_push(repo)
    server_type = GitHubServer if kind == "github" else GitLabServer
    with server_type(repo["scenario"]) as server:
        env = _push_env(repo, server, tmp_path, pushed)
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])], env, capsys)
        assert server.count() == 1
    assert code == 2, doc
    finding = doc["findings"][0]
    assert finding["rule"] == "NO_CHANGE_REQUEST"
    assert "came from no merged" in finding["message"] and pushed[:12] in finding["message"]
    assert "fails closed" in finding["message"] and "protect main" in finding["fix"]


def test_push_of_an_unmerged_pull_requests_commit_is_a_direct_push(
        repo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The feature branch's commit pushed straight to main while its PR is still open.
    merge = _merge(repo, merged=False)
    with GitHubServer(repo["scenario"]) as server:
        code, doc = _run(["approvals", "--json", "-C", str(repo["path"])],
                         _github_push_env(repo, server, tmp_path, merge), capsys)
    assert code == 2 and doc["findings"][0]["rule"] == "NO_CHANGE_REQUEST"


def test_check_on_a_push_to_main_runs_approvals_on_the_merged_pull_request(
        repo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo["change"].reviews.append(FakeReview("carol", "APPROVED", repo["head"], 9))
    merge = _merge(repo)
    with GitHubServer(repo["scenario"]) as server:
        code = main(["check", "--json", "--no-evidence", "-C", str(repo["path"])],
                    _push_env(repo, server, tmp_path, merge))
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"found_by": "merged-commit"' in out and merge in out
