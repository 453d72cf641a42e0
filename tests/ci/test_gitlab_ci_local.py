"""The GitLab templates, run for real by `gitlab-ci-local --force-shell-executor`.

A sample project includes the templates with `include: local` + `inputs:` the way a user's
`.gitlab-ci.yml` includes them from the security team's project, with `source-url` pointing at a
git repository made from this source tree and `source-ref` at its commit: the job fetches that
exact commit, installs it with the hash-locked installer and runs the gate. `--shell-isolation`
runs each job in its own copy of the project and exports its artifacts, as a runner would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cihelpers import (
    GITLAB_CI_LOCAL,
    ROOT,
    SampleRepo,
    SigningKey,
    job_exit,
    job_verdict,
    make_sample_repo,
    require_tool,
    run,
)

pytestmark = pytest.mark.slow

PIPELINE = """\
stages: [build, compliance]

include:
  - local: gitlab-templates/verify-commits.yml
    inputs:
      stage: compliance
      source-url: {source_url}
      source-ref: {source_ref}
  - local: gitlab-templates/changegate.yml
    inputs:
      stage: compliance
      source-url: {source_url}
      source-ref: {source_ref}
  - local: gitlab-templates/verify-commits.yml
    inputs:
      stage: compliance
      job-prefix: lenient-
      allowed-signers: no/such/allowed_signers
      fail-on-error: false
      source-url: {source_url}
      source-ref: {source_ref}
"""


def ci_files(source: tuple[Path, str]) -> dict[str, str]:
    """The pipeline and a copy of the templates, committed on main before the change."""
    files = {f"gitlab-templates/{p.name}": p.read_text(encoding="utf-8")
             for p in sorted((ROOT / "gitlab-templates").glob("*.yml"))}
    files[".gitlab-ci.yml"] = PIPELINE.format(source_url=source[0], source_ref=source[1])
    return files


def make_project(tmp_path: Path, env: dict[str, str], key: SigningKey,
                 source: tuple[Path, str], *, unsigned_commit: bool) -> SampleRepo:
    return make_sample_repo(tmp_path, env, key, unsigned_commit=unsigned_commit,
                            base_files=ci_files(source))


def run_pipeline(repo: SampleRepo, env: dict[str, str],
                 variables: dict[str, str]) -> tuple[int, str]:
    gcl = require_tool(GITLAB_CI_LOCAL, "npm gitlab-ci-local@4.70.0: scripts/setup-tools.sh")
    require_tool("rsync", "Debian package rsync: scripts/setup-tools.sh")
    args: list[str | Path] = [gcl, "--force-shell-executor", "--shell-isolation", "--no-color",
                              "--concurrency", "2"]
    # gitlab-ci-local sets GITLAB_CI=false (it is not GitLab); a runner sets true, which is
    # what makes changegate write the GitLab reports.
    variables = {**variables, "GITLAB_CI": "true", "UV_CACHE_DIR": env["UV_CACHE_DIR"],
                 "PIP_CACHE_DIR": env["PIP_CACHE_DIR"]}
    for name, value in variables.items():
        args += ["--variable", f"{name}={value}"]
    args += ["--ignore-predefined-vars", ",".join(n for n in variables if n.startswith(
        ("CI_", "GITLAB_")))]
    proc = run(args, cwd=repo.path, env=env, check=False, timeout=240)
    log = proc.stdout + proc.stderr
    (repo.path.parent / "gitlab-ci-local.log").write_text(log, encoding="utf-8")
    return proc.returncode, log


def artifacts(repo: SampleRepo, job: str) -> Path:
    return repo.path / ".gitlab-ci-local" / "artifacts" / job


def test_merge_request_with_an_unsigned_commit_fails_and_reports_code_quality(
        tmp_path: Path, ci_env: dict[str, str], alice: SigningKey,
        source_repo: tuple[Path, str]) -> None:
    repo = make_project(tmp_path, ci_env, alice, source_repo, unsigned_commit=True)
    unsigned = repo.commits["fees-fix"]
    rc, log = run_pipeline(repo, ci_env, {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/fees",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": unsigned,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": repo.commits["policy"],
    })
    # (gitlab-ci-local 4.70 exits 0 here although jobs failed: any `allow_failure: exit_codes`
    # in the pipeline makes it do so. The jobs' own verdicts are what GitLab would act on.)
    del rc
    assert job_exit(log, "changegate-verify-commits") == 1, log[-6000:]
    assert job_verdict(log, "changegate-verify-commits") == "FAIL"
    assert job_exit(log, "changegate-check") == 1, log[-6000:]
    assert job_verdict(log, "changegate-check") == "FAIL"
    # Inconclusive with fail-on-error false: exit 3, an allowed failure (a warning).
    assert job_exit(log, "lenient-verify-commits") == 3, log[-6000:]
    assert job_verdict(log, "lenient-verify-commits") == "WARN"

    job = artifacts(repo, "changegate-verify-commits")
    report = json.loads((job / "gl-code-quality-report.json").read_text(encoding="utf-8"))
    assert isinstance(report, list) and report, report
    assert any(unsigned[:12] in json.dumps(issue) for issue in report), report
    assert all({"description", "check_name", "fingerprint", "severity", "location"} <= set(i)
               for i in report), report
    result = json.loads((job / "changegate-verify-commits.json").read_text(encoding="utf-8"))
    assert result["status"] == "fail"
    assert {c["sha"]: c["status"] for c in result["commits"]}[unsigned] == "unsigned"
    assert (job / "changegate-junit.xml").read_text(encoding="utf-8").lstrip().startswith("<")
    dotenv = (job / ".gitlab-ci-reports" / "dotenv" / "changegate.env").read_text(
        encoding="utf-8")
    assert "CHANGEGATE_STATUS=fail" in dotenv.splitlines(), dotenv
    assert "CHANGEGATE_EXIT_CODE=1" in dotenv.splitlines(), dotenv

    check = artifacts(repo, "changegate-check")
    assert json.loads((check / "changegate-check.json").read_text(encoding="utf-8"))[
        "status"] == "fail"
    assert (check / "gl-code-quality-report.json").exists()


def test_push_to_main_with_every_commit_signed_passes(
        tmp_path: Path, ci_env: dict[str, str], alice: SigningKey,
        source_repo: tuple[Path, str]) -> None:
    repo = make_project(tmp_path, ci_env, alice, source_repo, unsigned_commit=False)
    rc, log = run_pipeline(repo, ci_env, {
        "CI_PIPELINE_SOURCE": "push",
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_REF_NAME": "main",
        "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_BEFORE_SHA": repo.commits["policy"],
    })
    assert job_exit(log, "changegate-verify-commits") == 0, log[-6000:]
    assert job_verdict(log, "changegate-verify-commits") == "PASS"
    assert job_exit(log, "changegate-check") == 0, log[-6000:]
    assert job_verdict(log, "changegate-check") == "PASS"
    # The lenient job's trust file does not exist: inconclusive, tolerated.
    assert job_exit(log, "lenient-verify-commits") == 3, log[-6000:]
    assert job_verdict(log, "lenient-verify-commits") == "WARN"
    assert rc == 0, log[-6000:]

    job = artifacts(repo, "changegate-verify-commits")
    result = json.loads((job / "changegate-verify-commits.json").read_text(encoding="utf-8"))
    assert result["status"] == "pass"
    assert [c["status"] for c in result["commits"]] == ["verified", "verified"]
    assert json.loads((job / "gl-code-quality-report.json").read_text(encoding="utf-8")) == []
    check = json.loads((artifacts(repo, "changegate-check") / "changegate-check.json")
                       .read_text(encoding="utf-8"))
    assert check["status"] == "pass"
