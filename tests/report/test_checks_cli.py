"""End to end through `changegate verify-commits`: a pull request with 30 unsigned commits.

A real repository (policy on main, 30 unsigned commits on the branch), the variables GitHub
Actions sets, the local GitHub server: with `checks: write` every commit is an annotation on
the check run and the one comment says "30 commits unsigned"; without it the step falls back
to workflow commands. The exit code is the gate's either way.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from changegate.cli import main
from changegate.testing.forges import FakeChange, GitHubServer, commits, standard_scenario

POLICY = """\
version: 1
environments:
  production: {match: {branches: [main]}, gates: [verify-commits]}
gates:
  verify-commits:
    allowed_signers: .github/allowed_signers
"""
UNSIGNED = 30


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "Alice Developer", "GIT_AUTHOR_EMAIL": "alice@acme.example",
           "GIT_COMMITTER_NAME": "Alice Developer",
           "GIT_COMMITTER_EMAIL": "alice@acme.example"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("payments")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path / "key")],
                   check=True)
    public = (path / "key.pub").read_text(encoding="utf-8").split()
    (path / "key").unlink()
    (path / "key.pub").unlink()
    _git(path, "init", "-q", "-b", "main")
    (path / ".github").mkdir()
    (path / ".github" / "allowed_signers").write_text(
        f'alice@acme.example namespaces="git" {public[0]} {public[1]}\n', encoding="utf-8")
    (path / ".changegate.yml").write_text(POLICY, encoding="utf-8")
    _git(path, "add", ".")
    _git(path, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "policy")
    base = _git(path, "rev-parse", "HEAD")
    _git(path, "checkout", "-q", "-b", "feature/fees")
    for i in range(UNSIGNED):
        # Hostile subjects: what a developer sees must not be a workflow command or a ping.
        _git(path, "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m",
             f"change {i}\n\n::set-output name=status::pass\n@acme/compliance <b>hi</b>")
    head = _git(path, "rev-parse", "HEAD")
    return {"path": path, "base": base, "head": head}


def _env(repo: dict[str, Any], server: GitHubServer, tmp_path: Path) -> dict[str, str]:
    event = {"action": "synchronize", "number": 42,
             "pull_request": {"number": 42, "labels": [],
                              "head": {"sha": repo["head"], "ref": "feature/fees"},
                              "base": {"sha": repo["base"], "ref": "main"}},
             "repository": {"full_name": "acme/payments", "default_branch": "main"},
             "sender": {"login": "alice"}}
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": "acme/payments", "GITHUB_API_URL": server.url,
            "GITHUB_RUN_ID": "7", "GITHUB_SERVER_URL": "https://github.com",
            "CHANGEGATE_GITHUB_TOKEN": "ghs_test_token", "CHANGEGATE_CHECK_RUNS": "auto",
            "CHANGEGATE_COMMENT": "true",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull}


def _server(repo: dict[str, Any]) -> GitHubServer:
    scenario = standard_scenario()
    scenario.add(FakeChange(number=42, author="alice", commits=commits(1, "alice")))
    return GitHubServer(scenario)


def test_thirty_unsigned_commits_each_get_an_annotation_and_one_comment(
        repo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _server(repo) as server:
        server.checks_access, server.comments_access = "write", "write"
        env = _env(repo, server, tmp_path)
        code = main(["verify-commits", "-C", str(repo["path"])], env)
        out = capsys.readouterr().out
        assert code == 1
        [run] = server.check_runs.values()
        assert run["name"] == "changegate / verify-commits"
        assert run["head_sha"] == repo["head"] and run["conclusion"] == "failure"
        assert run["output"]["title"] == f"Failed: {UNSIGNED} commits unsigned"
        assert run["details_url"] == "https://github.com/acme/payments/actions/runs/7"
        annotations = run["annotations"]
        assert len(annotations) == UNSIGNED
        # Commits have no line: anchored at the policy's verify-commits section, commit named.
        assert {(a["path"], a["start_line"]) for a in annotations} == {(".changegate.yml", 5)}
        assert all(a["message"].startswith("commit ") for a in annotations)
        assert "::error" not in out
        [comment] = server.comments[42]
        assert f"{UNSIGNED} commits unsigned" in comment["body"]
        assert "@acme/compliance" not in comment["body"]
        assert f"](https://github.com/acme/payments/runs/{run['id']})" in comment["body"]

        # The next push: same comment, same place.
        code = main(["verify-commits", "-C", str(repo["path"])], env)
        capsys.readouterr()
        assert code == 1 and len(server.comments[42]) == 1


def test_without_permissions_the_step_falls_back_and_the_exit_code_stays(
        repo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _server(repo) as server:  # read-only token, GitHub's default
        code = main(["verify-commits", "-C", str(repo["path"])], _env(repo, server, tmp_path))
        captured = capsys.readouterr()
        assert code == 1
        lines = captured.out.splitlines()
        errors = [line for line in lines if line.startswith("::error")]
        assert len(errors) == 10 and "20 more errors in the job summary" in errors[-1]
        notices = [line for line in lines if line.startswith("::notice")]
        assert len(notices) == 1 and "checks: write" in notices[0]
        warnings = [line for line in lines if line.startswith("::warning")]
        assert len(warnings) == 1 and "pull-requests: write" in warnings[0]
        # The hostile commit messages stayed data: no output was set by them.
        assert not any(line.startswith("::set-output") for line in lines)
        output = (tmp_path / "output.txt").read_text(encoding="utf-8")
        assert "\nfail\n" in output and "pass" not in output.split("status<<")[1][:80]
        assert server.check_runs == {} and server.comments == {}
