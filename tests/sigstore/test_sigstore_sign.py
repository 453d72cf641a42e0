"""`changegate sign` end to end against the local instance; every signature is then verified."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from sigstore_support import (
    GITHUB_IDENTITY,
    GITHUB_ISSUER,
    GITLAB_IDENTITY,
    Signing,
    cli,
    git_init,
)

from changegate.gates.sigstore.artifacts import Artifact
from changegate.gates.sigstore.signing import Job, SignRequest
from changegate.gates.sigstore.signing import run as run_sign
from changegate.gates.sigstore.tokens import Token, decode_claims
from changegate.gates.sigstore.trust import load_file


def test_sign_writes_a_v03_bundle_and_reports_identity_issuer_and_log_index(
        signing: Signing) -> None:
    artifact = signing.artifact()
    before = len(signing.instance.log.tree)
    result = signing.sign(artifact)
    assert result.rc == 0, result
    doc = result.doc
    assert doc["identity"] == GITHUB_IDENTITY
    assert doc["issuer"] == GITHUB_ISSUER
    assert doc["verify_with"] == {"cert_identity": GITHUB_IDENTITY,
                                  "cert_oidc_issuer": GITHUB_ISSUER}
    (record,) = doc["signed"]
    assert record["bundle"] == "app-1.0.whl.sigstore.json"
    assert record["log_index"] == before
    assert record["verified_after"] is True
    assert GITHUB_IDENTITY in doc["summary"] and str(before) in doc["summary"]
    bundle = signing.bundle_json(artifact.with_name("app-1.0.whl.sigstore.json"))
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    verified = signing.verify(artifact, "--cert-identity", doc["identity"],
                              "--cert-oidc-issuer", doc["issuer"])
    assert verified.rc == 0, verified
    assert verified.doc["verified"] is True


def test_github_ambient_credential_is_requested_with_audience_sigstore(
        signing: Signing) -> None:
    artifact = signing.artifact()
    env = signing.instance.github_actions_env(repository="acme/payments",
                                              workflow=".github/workflows/ship.yml",
                                              ref="refs/tags/v1.2.0", visibility="public")
    result = signing.sign(artifact, environ=env)
    assert result.rc == 0, result
    assert result.doc["token_source"] == "GitHub Actions OIDC"
    identity = "https://github.com/acme/payments/.github/workflows/ship.yml@refs/tags/v1.2.0"
    assert result.doc["identity"] == identity
    assert result.doc["certificate"]["source_repository_ref"] == "refs/tags/v1.2.0"
    verified = signing.verify_github(artifact, "--github-workflow", "ship.yml",
                                     "--github-ref", "refs/tags/v*")
    assert verified.rc == 0, verified


def test_gitlab_id_token_gives_the_pipeline_identity(signing: Signing) -> None:
    artifact = signing.artifact()
    result = signing.sign(artifact, environ=signing.instance.gitlab_ci_env())
    assert result.rc == 0, result
    assert result.doc["identity"] == GITLAB_IDENTITY
    assert result.doc["issuer"] == "https://gitlab.com"
    assert result.doc["token_source"].startswith("GitLab")
    verified = signing.verify(artifact, "--gitlab-project", "acme/payments",
                              "--gitlab-ref", "refs/heads/main")
    assert verified.rc == 0, verified


@pytest.mark.parametrize(("environ", "needle"), [
    ({"GITHUB_ACTIONS": "true"}, "id-token: write"),
    ({"GITLAB_CI": "true"}, "SIGSTORE_ID_TOKEN:\n      aud: sigstore"),
    ({}, "--identity-token"),
])
def test_missing_token_permission_shows_the_yaml_to_add(
        signing: Signing, environ: dict[str, str], needle: str) -> None:
    result = cli(["sign", signing.artifact(), "--trust-config", signing.trust],
                 cwd=signing.root, environ=environ)
    assert result.rc == 2, result
    assert result.rules == ["NO_IDENTITY_TOKEN"]
    assert needle in result.doc["findings"][0]["message"]


def test_a_token_for_another_audience_is_refused_before_fulcio(signing: Signing) -> None:
    result = signing.sign(signing.artifact(),
                          token=signing.instance.github_token(audience="other"))
    assert result.rc == 2 and result.rules == ["IDENTITY_TOKEN_INVALID"], result


def test_unexpected_identity_is_refused_before_anything_is_logged(signing: Signing) -> None:
    before = len(signing.instance.log.tree)
    result = signing.sign(signing.artifact(), "--expect-identity",
                          "https://github.com/acme/payments/.github/workflows/other.yml"
                          "@refs/heads/main")
    assert result.rc == 1 and result.rules == ["IDENTITY_MISMATCH"], result
    result = signing.sign(signing.artifact(), "--expect-issuer", "https://gitlab.com")
    assert result.rc == 1 and result.rules == ["ISSUER_MISMATCH"], result
    assert len(signing.instance.log.tree) == before


def test_private_repository_is_not_signed_on_the_public_log(signing: Signing) -> None:
    artifact = signing.artifact()
    token = signing.instance.github_token(visibility="private")
    # No --trust-config: the public-good instance; refused before any network access.
    result = cli(["sign", artifact], cwd=signing.root,
                 environ={"SIGSTORE_IDENTITY_TOKEN": token})
    assert result.rc == 1 and result.rules == ["PUBLIC_LOG_PRIVATE_REPO"], result
    assert not artifact.with_name(artifact.name + ".sigstore.json").exists()


def test_private_repository_on_a_private_instance_is_fine(signing: Signing) -> None:
    artifact = signing.artifact()
    result = signing.sign(artifact, token=signing.instance.github_token(visibility="private"))
    assert result.rc == 0, result
    assert result.doc["certificate"]["source_repository_visibility"] == "private"
    assert signing.verify_github(artifact).rc == 0


def test_dry_run_shows_identity_and_bundles_and_signs_nothing(signing: Signing) -> None:
    artifact = signing.artifact()
    before = len(signing.instance.log.tree)
    result = signing.sign(artifact, "--dry-run")
    assert result.rc == 0, result
    assert result.doc["dry_run"] is True
    assert result.doc["identity"] == GITHUB_IDENTITY
    assert result.doc["signed"][0]["bundle"] == "app-1.0.whl.sigstore.json"
    assert result.doc["signed"][0]["log_index"] is None
    assert len(signing.instance.log.tree) == before
    assert not artifact.with_name("app-1.0.whl.sigstore.json").exists()


def test_existing_bundles_are_kept_unless_overwrite(signing: Signing) -> None:
    artifact = signing.artifact()
    assert signing.sign(artifact).rc == 0
    again = signing.sign(artifact)
    assert again.rc == 2 and again.rules == ["BUNDLE_EXISTS"], again
    assert signing.sign(artifact, "--overwrite").rc == 0
    out = signing.sign(artifact, "--output-dir", "bundles")
    assert out.rc == 0, out
    assert (signing.root / "bundles" / "app-1.0.whl.sigstore.json").is_file()
    named = signing.sign(artifact, "--bundle", "custom.json")
    assert named.rc == 0 and (signing.root / "custom.json").is_file(), named
    assert signing.verify_github(artifact, "--bundle", "custom.json").rc == 0


def test_several_artifacts_share_one_certificate(signing: Signing) -> None:
    first, second = signing.artifact("a.tar.gz"), signing.artifact("b.tar.gz")
    before = len(signing.instance.certificates)
    result = signing.sign(first, second)
    assert result.rc == 0, result
    assert [r["artifact"] for r in result.doc["signed"]] == [str(first), str(second)]
    assert len(signing.instance.certificates) == before + 1
    verified = signing.verify_github(first, second)
    assert verified.rc == 0, verified
    assert [a["verified"] for a in verified.doc["artifacts"]] == [True, True]


def test_large_files_are_hashed_as_a_stream(signing: Signing) -> None:
    big = signing.root / "big.iso"
    with big.open("wb") as handle:
        handle.truncate(64 << 20)  # sparse: 64 MiB of zeros without writing them
    tracemalloc.start()
    try:
        result = signing.sign(big)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.rc == 0, result
    assert peak < 16 << 20, f"peak Python allocation {peak / 2**20:.1f} MiB"
    assert signing.verify_github(big).rc == 0


def test_sbom_attestation_is_a_statement_about_the_file(signing: Signing) -> None:
    artifact = signing.artifact()
    sbom = signing.write_json(signing.root / "bom.json", {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []})
    result = signing.sign(artifact, "--attest", "sbom", "--predicate", sbom)
    assert result.rc == 0, result
    (record,) = result.doc["signed"]
    assert record["kind"] == "attestation"
    assert record["predicate_type"] == "https://cyclonedx.org/bom"
    assert record["bundle"] == "app-1.0.whl.sbom.sigstore.json"
    verified = signing.verify_github(artifact, "--predicate-type", "sbom")
    assert verified.rc == 0, verified
    statement = verified.doc["statement"]
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0]["digest"]["sha256"] == result.doc["signed"][0]["sha256"]
    assert statement["predicate"]["bomFormat"] == "CycloneDX"


def test_audit_result_becomes_an_in_toto_vulns_predicate(signing: Signing) -> None:
    artifact = signing.artifact()
    audit = signing.write_json(signing.root / "audit.json", {
        "gate": "audit", "status": "fail",
        "database": {"sha256": "ab" * 32, "records": 10,
                     "newest_modified": "2026-01-02T03:04:05Z"},
        "vulnerabilities": [{"package": "jinja2", "version": "3.1.2", "id": "GHSA-h5c8-rqwp-cp95",
                             "aliases": ["CVE-2024-22195"], "severity": "medium", "score": 5.4,
                             "fixed_in": ["3.1.3"], "suppressed": False, "exception": None}]})
    result = signing.sign(artifact, "--attest", "audit", "--predicate", audit)
    assert result.rc == 0, result
    verified = signing.verify_github(artifact, "--predicate-type", "audit")
    assert verified.rc == 0, verified
    predicate = verified.doc["statement"]["predicate"]
    assert verified.doc["statement"]["predicateType"] == \
        "https://in-toto.io/attestation/vulns/v0.2"
    assert predicate["scanner"]["db"]["lastUpdate"] == "2026-01-02T03:04:05Z"
    assert predicate["scanner"]["result"][0]["id"] == "GHSA-h5c8-rqwp-cp95"
    assert {"method": "cvss_score", "score": "5.4"} in predicate["scanner"]["result"][0][
        "severity"]


def test_github_provenance_is_built_from_the_run(signing: Signing) -> None:
    artifact = signing.artifact()
    env = {**signing.instance.github_actions_env(visibility="public"),
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/payments",
           "GITHUB_WORKFLOW_REF": "acme/payments/.github/workflows/release.yml@refs/heads/main",
           "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "a" * 40,
           "GITHUB_EVENT_NAME": "push", "GITHUB_RUN_ID": "99", "GITHUB_RUN_ATTEMPT": "2",
           "GITHUB_REPOSITORY_ID": "1296269", "GITHUB_REPOSITORY_OWNER_ID": "9919",
           "RUNNER_ENVIRONMENT": "github-hosted"}
    result = signing.sign(artifact, "--attest", "provenance", environ=env)
    assert result.rc == 0, result
    verified = signing.verify_github(artifact, "--predicate-type", "provenance")
    assert verified.rc == 0, verified
    predicate = verified.doc["statement"]["predicate"]
    definition = predicate["buildDefinition"]
    assert definition["buildType"] == "https://actions.github.io/buildtypes/workflow/v1"
    assert definition["externalParameters"]["workflow"] == {
        "ref": "refs/heads/main", "repository": "https://github.com/acme/payments",
        "path": ".github/workflows/release.yml"}
    assert definition["resolvedDependencies"][0]["digest"] == {"gitCommit": "a" * 40}
    assert predicate["runDetails"]["metadata"]["invocationId"] == \
        "https://github.com/acme/payments/actions/runs/99/attempts/2"


def test_gitlab_provenance_is_built_from_the_job(signing: Signing) -> None:
    artifact = signing.artifact()
    env = {**signing.instance.gitlab_ci_env(), "CI_PROJECT_URL": "https://gitlab.com/acme/payments",
           "CI_COMMIT_SHA": "b" * 40, "CI_COMMIT_REF_NAME": "main", "CI_JOB_NAME": "release",
           "CI_JOB_URL": "https://gitlab.com/acme/payments/-/jobs/777", "CI_PIPELINE_ID": "1001",
           "CI_CONFIG_PATH": ".gitlab-ci.yml"}
    result = signing.sign(artifact, "--attest", "provenance", environ=env)
    assert result.rc == 0, result
    verified = signing.verify(artifact, "--gitlab-project", "acme/payments",
                              "--predicate-type", "https://slsa.dev/provenance/v1")
    assert verified.rc == 0, verified
    predicate = verified.doc["statement"]["predicate"]
    assert predicate["buildDefinition"]["externalParameters"]["pipeline"]["job"] == "release"
    assert predicate["runDetails"]["builder"]["id"] == \
        "https://gitlab.com/acme/payments//.gitlab-ci.yml@refs/heads/main"


def test_provenance_outside_ci_and_bad_predicates_are_inconclusive(signing: Signing) -> None:
    artifact = signing.artifact()
    assert signing.sign(artifact, "--attest", "provenance").rules == ["CI_CONTEXT_MISSING"]
    bad = signing.write_json(signing.root / "x.json", {"not": "cyclonedx"})
    result = signing.sign(artifact, "--attest", "sbom", "--predicate", bad)
    assert result.rc == 2 and result.rules == ["PREDICATE_INVALID"], result
    custom = signing.sign(artifact, "--attest", "https://example.com/review/v1",
                          "--predicate", bad)
    assert custom.rc == 0, custom
    assert custom.doc["signed"][0]["bundle"] == "app-1.0.whl.attestation.sigstore.json"
    verified = signing.verify_github(artifact, "--bundle", "app-1.0.whl.attestation.sigstore.json",
                                     "--predicate-type", "https://example.com/review/v1")
    assert verified.rc == 0, verified


def test_fulcio_refusal_is_reported_with_its_message(signing: Signing) -> None:
    token = signing.instance.email_token("alice@example.com", verified=False)
    result = signing.sign(signing.artifact(), token=token)
    assert result.rc == 2 and result.rules == ["SIGNING_FAILED"], result
    assert "email address is not verified" in result.doc["findings"][0]["message"]


def test_email_identity_signs_and_verifies(signing: Signing) -> None:
    artifact = signing.artifact()
    token = signing.instance.email_token("alice@example.com")
    result = signing.sign(artifact, token=token)
    assert result.rc == 0, result
    assert result.doc["identity"] == "alice@example.com"
    verified = signing.verify(artifact, "--cert-identity", "alice@example.com",
                              "--cert-oidc-issuer", result.doc["issuer"])
    assert verified.rc == 0, verified


def test_the_gate_api_signs_without_the_cli(signing: Signing) -> None:
    """The gate is usable as a library: request in, GateResult out."""
    path = signing.artifact()
    raw = signing.instance.github_token(visibility="public")
    artifact = Artifact(label=path.name, sha256=__import__("hashlib").sha256(
        path.read_bytes()).hexdigest(), path=path)
    request = SignRequest(
        jobs=[Job(artifact, path.with_name("lib.sigstore.json"), "lib.sigstore.json")],
        token=Token(raw, "test", decode_claims(raw, "test")), instance="custom",
        trust=load_file(signing.trust))
    result = run_sign(request)
    assert result.status.value == "pass", result
    assert json.loads(path.with_name("lib.sigstore.json").read_text())["mediaType"]
    assert signing.verify_github(path, "--bundle", "lib.sigstore.json").rc == 0


def test_policy_settings_drive_sign_and_verify(signing: Signing) -> None:
    """`changegate check` runs the gates with no arguments: everything from the policy."""
    (signing.root / "dist").mkdir()
    for name in ("a-1.0.whl", "a-1.0.tar.gz"):
        signing.artifact(f"dist/{name}")
    sbom = signing.write_json(signing.root / "bom.json", {"bomFormat": "CycloneDX",
                                                          "specVersion": "1.6", "version": 1})
    trust = signing.root / "trust.json"
    trust.write_bytes(signing.trust.read_bytes())
    (signing.root / ".changegate.yml").write_text(f"""\
version: 1
gates:
  sign:
    artifacts: ["dist/*"]
    identity: {GITHUB_IDENTITY}
    issuer: {GITHUB_ISSUER}
    trust_config: trust.json
    attest: [{{type: sbom, predicate: {sbom.name}}}]
  verify:
    artifacts: ["dist/*.whl"]
    github: {{repository: acme/payments, workflow: release.yml, ref: refs/heads/main}}
    trust_config: trust.json
""", encoding="utf-8")
    git_init(signing.root)
    token = {"SIGSTORE_IDENTITY_TOKEN": signing.instance.github_token()}
    signed = cli(["sign"], cwd=signing.root, environ=token)
    assert signed.rc == 0, signed
    assert sorted(Path(r["bundle"]).name for r in signed.doc["signed"]) == [
        "a-1.0.tar.gz.sbom.sigstore.json", "a-1.0.tar.gz.sigstore.json",
        "a-1.0.whl.sbom.sigstore.json", "a-1.0.whl.sigstore.json"]
    verified = cli(["verify"], cwd=signing.root)
    assert verified.rc == 0, verified
    assert [a["artifact"] for a in verified.doc["artifacts"]] == ["dist/a-1.0.whl"]
    attested = cli(["verify", "--predicate-type", "sbom"], cwd=signing.root)
    assert attested.rc == 0, attested
    assert attested.doc["artifacts"][0]["bundle"].endswith("a-1.0.whl.sbom.sigstore.json")


def test_check_runs_sign_then_verify_from_the_policy(signing: Signing) -> None:
    signing.artifact("dist/svc-2.0.whl")
    trust = signing.root / "trust.json"
    trust.write_bytes(signing.trust.read_bytes())
    (signing.root / ".changegate.yml").write_text("""\
version: 1
environments:
  production:
    match: {branches: [main]}
    gates: [sign, verify]
gates:
  sign: {artifacts: ["dist/*.whl"], trust_config: trust.json}
  verify:
    artifacts: ["dist/*.whl"]
    github: {repository: acme/payments, ref: refs/heads/main}
    trust_config: trust.json
""", encoding="utf-8")
    git_init(signing.root)
    result = cli(["check"], cwd=signing.root,
                 environ={"SIGSTORE_IDENTITY_TOKEN": signing.instance.github_token()})
    assert result.rc == 0, result
    assert [(g["gate"], g["status"]) for g in result.doc["gates"]] == [
        ("sign", "pass"), ("verify", "pass")]


def test_an_unreachable_instance_is_inconclusive(signing: Signing, tmp_path: Path) -> None:
    from changegate.testing.sigstore import LocalSigstore

    gone = LocalSigstore().start()
    trust = gone.write_trust_config(tmp_path / "gone.json")
    token = gone.github_token()
    gone.stop()
    result = cli(["sign", signing.artifact(), "--trust-config", trust], cwd=signing.root,
                 environ={"SIGSTORE_IDENTITY_TOKEN": token})
    assert result.rc == 2 and result.rules == ["SIGNING_FAILED"], result
