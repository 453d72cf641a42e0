"""`changegate verify`: identity policies, inputs, attestations, managed keys, exit codes."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from sigstore_support import GITHUB_IDENTITY, GITHUB_ISSUER, Signing, cli

from changegate.testing.sigstore.bundles import intoto_bundle, key_signed_bundle
from changegate.testing.sigstore.keys import KeyPair


@pytest.fixture
def signed(signing: Signing) -> Path:
    """An artifact signed by acme/payments' release workflow on main."""
    artifact = signing.artifact()
    assert signing.sign(artifact).rc == 0
    return artifact


@pytest.mark.parametrize(("args", "rc", "rule"), [
    (["--cert-identity", GITHUB_IDENTITY, "--cert-oidc-issuer", GITHUB_ISSUER], 0, None),
    (["--cert-identity", GITHUB_IDENTITY.replace("main", "dev"), "--cert-oidc-issuer",
      GITHUB_ISSUER], 1, "IDENTITY_MISMATCH"),
    (["--cert-identity", GITHUB_IDENTITY, "--cert-oidc-issuer", "https://gitlab.com"], 1,
     "ISSUER_MISMATCH"),
    (["--github-repository", "acme/payments"], 0, None),
    (["--github-repository", "ACME/Payments", "--github-workflow", "release.yml"], 0, None),
    (["--github-repository", "acme/payments", "--github-ref", "refs/heads/*"], 0, None),
    (["--github-repository", "acme/other"], 1, "IDENTITY_MISMATCH"),
    (["--github-repository", "acme/payments", "--github-workflow", "deploy.yml"], 1,
     "IDENTITY_MISMATCH"),
    (["--github-repository", "acme/payments", "--github-ref", "refs/tags/v*"], 1,
     "IDENTITY_MISMATCH"),
    (["--gitlab-project", "acme/payments"], 1, "ISSUER_MISMATCH"),
])
def test_identity_policies(signing: Signing, signed: Path, args: list[str], rc: int,
                           rule: str | None) -> None:
    result = signing.verify(signed, *args)
    assert result.rc == rc, result
    assert result.rules == ([rule] if rule else [])
    assert result.doc["verified"] is (rc == 0)
    if rule == "IDENTITY_MISMATCH":
        assert GITHUB_IDENTITY in result.doc["findings"][0]["message"]


def test_gitlab_helpers_match_project_config_and_ref(signing: Signing) -> None:
    artifact = signing.artifact()
    token = signing.instance.gitlab_token(project_path="acme/platform/payments",
                                          config_path="ci/release.yml", ref="v2.0",
                                          ref_type="tag")
    assert signing.sign(artifact, token=token).rc == 0
    good = signing.verify(artifact, "--gitlab-project", "acme/platform/payments",
                          "--gitlab-config-path", "ci/*.yml", "--gitlab-ref", "refs/tags/v*")
    assert good.rc == 0, good
    assert good.doc["identity"] == \
        "https://gitlab.com/acme/platform/payments//ci/release.yml@refs/tags/v2.0"
    bad = signing.verify(artifact, "--gitlab-project", "acme/platform/payments",
                         "--gitlab-ref", "refs/heads/main")
    assert bad.rc == 1 and bad.rules == ["IDENTITY_MISMATCH"], bad


@pytest.mark.parametrize("args", [
    [],  # no identity at all: a signature by anyone would pass
    ["--cert-identity", GITHUB_IDENTITY],  # no issuer
    ["--github-repository", "acme/payments", "--github-server", "https://ghe.example.com"],
    ["--cert-identity", "x", "--cert-oidc-issuer", "y", "--github-repository", "a/b"],
    ["--github-repository", "a/b", "--key", "key.pem"],
])
def test_an_incomplete_identity_policy_is_inconclusive(signing: Signing, signed: Path,
                                                       args: list[str]) -> None:
    result = signing.verify(signed, *args)
    assert result.rc == 2 and result.rules == ["NO_IDENTITY_POLICY"], result


def test_verify_by_digest_with_a_bundle(signing: Signing, signed: Path) -> None:
    digest = hashlib.sha256(signed.read_bytes()).hexdigest()
    bundle = f"{signed.name}.sigstore.json"
    assert signing.verify_github(f"sha256:{digest}", "--bundle", bundle).rc == 0
    wrong = signing.verify_github(f"sha256:{'0' * 64}", "--bundle", bundle)
    assert wrong.rc == 1 and wrong.rules == ["DIGEST_MISMATCH"], wrong
    missing = signing.verify_github(f"sha256:{digest}")
    assert missing.rc == 2 and missing.rules == ["BUNDLE_MISSING"], missing


def test_one_bad_artifact_fails_the_call_and_says_which(signing: Signing) -> None:
    good, bad = signing.artifact("good.bin"), signing.artifact("bad.bin")
    assert signing.sign(good, bad).rc == 0
    bad.write_bytes(b"changed after signing")
    result = signing.verify_github(good, bad)
    assert result.rc == 1, result
    verdicts = {Path(a["artifact"]).name: (a["verified"], a["rule"])
                for a in result.doc["artifacts"]}
    assert verdicts == {"good.bin": (True, None), "bad.bin": (False, "DIGEST_MISMATCH")}
    assert result.doc["findings"][0]["location"]["file"] == str(bad)


def test_unusable_input_is_exit_2_and_a_non_bundle_is_exit_1(signing: Signing,
                                                            signed: Path) -> None:
    missing = signing.verify_github(signing.root / "nope.whl")
    assert missing.rc == 2 and missing.rules == ["ARTIFACT_MISSING"], missing
    garbage = signing.root / "garbage.json"
    garbage.write_text("not json", encoding="utf-8")
    invalid = signing.verify_github(signed, "--bundle", garbage)
    assert invalid.rc == 1 and invalid.rules == ["BUNDLE_INVALID"], invalid
    other = signing.write_json(signing.root / "other.json", {"mediaType": "text/plain"})
    assert signing.verify_github(signed, "--bundle", other).rules == ["BUNDLE_INVALID"]
    root = signing.write_json(signing.root / "root.json", {"mediaType": "nonsense"})
    bad_root = cli(["verify", signed, "--github-repository", "a/b", "--trusted-root", root],
                   cwd=signing.root)
    assert bad_root.rc == 2 and bad_root.rules == ["TRUST_ROOT_INVALID"], bad_root
    both = signing.verify_github(signed, signing.artifact("other.whl"), "--bundle", garbage)
    assert both.rc == 2, both  # one --bundle for two artifacts


def test_a_bundle_from_another_sigstore_instance_is_untrusted(signing: Signing,
                                                             signed: Path) -> None:
    production = cli(["verify", signed, "--github-repository", "acme/payments"],
                     cwd=signing.root)
    assert production.rc == 1 and production.rules == ["UNTRUSTED_CA"], production
    assert production.doc["trust"]["source"] == "pinned production trusted root"


def test_attestation_checks(signing: Signing) -> None:
    artifact, other = signing.artifact("a.whl"), signing.artifact("b.whl")
    sbom = signing.write_json(signing.root / "bom.json", {"bomFormat": "CycloneDX",
                                                          "specVersion": "1.6", "version": 1})
    assert signing.sign(artifact, "--attest", "sbom", "--predicate", sbom).rc == 0
    bundle = "a.whl.sbom.sigstore.json"
    wrong_type = signing.verify_github(artifact, "--bundle", bundle, "--predicate-type",
                                       "provenance")
    assert wrong_type.rc == 1 and wrong_type.rules == ["PREDICATE_TYPE_MISMATCH"], wrong_type
    wrong_subject = signing.verify_github(other, "--bundle", bundle)
    assert wrong_subject.rc == 1 and wrong_subject.rules == ["DIGEST_MISMATCH"], wrong_subject
    assert signing.sign(artifact).rc == 0
    plain = signing.verify_github(artifact, "--bundle", "a.whl.sigstore.json",
                                  "--predicate-type", "sbom")
    assert plain.rc == 1 and plain.rules == ["PREDICATE_TYPE_MISMATCH"], plain
    ok = signing.verify_github(artifact, "--bundle", bundle)  # any predicate type
    assert ok.rc == 0 and ok.doc["statement"]["predicateType"] == "https://cyclonedx.org/bom"


def test_a_signed_payload_that_is_not_a_statement_is_rejected(signing: Signing) -> None:
    """DSSE with another payload type, or a payload that is no in-toto Statement."""
    artifact = signing.artifact()
    key = KeyPair.generate()
    pem = signing.root / "key.pem"
    pem.write_bytes(key.public_pem)
    statement = {"_type": "https://example.com/not-a-statement", "subject": []}
    bundle = key_signed_bundle(signing.instance, key, statement=statement, entry="dsse")
    path = signing.write_json(signing.root / "x.sigstore.json", bundle)
    result = signing.verify(artifact, "--bundle", path, "--key", pem)
    assert result.rc == 1 and result.rules == ["STATEMENT_INVALID"], result


@pytest.mark.parametrize("entry", ["hashedrekord", "dsse", "intoto"])
def test_managed_key_bundles(signing: Signing, entry: str) -> None:
    artifact = signing.artifact()
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    key, other = KeyPair.generate(), KeyPair.generate()
    pem, other_pem = signing.root / "key.pem", signing.root / "other.pem"
    pem.write_bytes(key.public_pem)
    other_pem.write_bytes(other.public_pem)
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": artifact.name, "digest": {"sha256": digest}}],
                 "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}
    bundle = key_signed_bundle(signing.instance, key, artifact=artifact.read_bytes(),
                               entry=entry) if entry == "hashedrekord" else \
        key_signed_bundle(signing.instance, key, statement=statement, entry=entry)
    path = signing.write_json(signing.root / "k.sigstore.json", bundle)
    good = signing.verify(artifact, "--bundle", path, "--key", pem)
    assert good.rc == 0, good
    assert good.doc["artifacts"][0]["log"]["kind"] == entry
    assert good.doc["artifacts"][0]["key"].startswith("SHA256:")
    assert good.doc["policy"]["key"].endswith("key.pem)")
    wrong = signing.verify(artifact, "--bundle", path, "--key", other_pem)
    assert wrong.rc == 1 and wrong.rules == ["SIGNATURE_INVALID"], wrong
    keyless = signing.verify_github(artifact, "--bundle", path)
    assert keyless.rc == 1 and keyless.rules == ["KEY_MISMATCH"], keyless


def test_key_flag_refuses_a_certificate_bundle(signing: Signing, signed: Path) -> None:
    pem = signing.root / "key.pem"
    pem.write_bytes(KeyPair.generate().public_pem)
    result = signing.verify(signed, "--key", pem)
    assert result.rc == 1 and result.rules == ["KEY_MISMATCH"], result
    garbage = signing.root / "garbage.pem"
    garbage.write_text("nope", encoding="utf-8")
    assert signing.verify(signed, "--key", garbage).rules == ["KEY_INVALID"]


def test_keyless_intoto_entries_verify_like_dsse(signing: Signing) -> None:
    artifact = signing.artifact()
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": artifact.name, "digest": {"sha256": digest}}],
                 "predicateType": "https://slsa.dev/provenance/v1", "predicate": {"x": 1}}
    bundle = intoto_bundle(signing.instance, signing.instance.github_token(), statement)
    path = signing.write_json(signing.root / "intoto.sigstore.json", bundle)
    good = signing.verify_github(artifact, "--bundle", path, "--predicate-type", "provenance")
    assert good.rc == 0, good
    assert good.doc["artifacts"][0]["log"]["kind"] == "intoto"
    assert good.doc["identity"] == GITHUB_IDENTITY
    assert good.doc["statement"]["predicate"] == {"x": 1}
    bad = signing.verify(artifact, "--bundle", path, "--github-repository", "acme/other")
    assert bad.rc == 1 and bad.rules == ["IDENTITY_MISMATCH"], bad
    envelope = bundle["dsseEnvelope"]
    envelope["signatures"][0]["sig"] = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01"
                                                        ).decode()
    forged = signing.write_json(signing.root / "forged.sigstore.json", bundle)
    result = signing.verify_github(artifact, "--bundle", forged)
    assert result.rc == 1 and result.rules == ["SIGNATURE_INVALID"], result


def test_json_document_shape(signing: Signing, signed: Path) -> None:
    result = signing.verify_github(signed)
    doc = result.doc
    assert {"gate", "status", "summary", "findings", "verified", "identity", "issuer",
            "statement", "artifacts", "policy", "trust"} <= set(doc)
    (artifact,) = doc["artifacts"]
    assert artifact["log"]["kind"] == "hashedrekord"
    assert artifact["log"]["proof"] == "inclusion-proof"
    assert artifact["certificate"]["source_repository_uri"] == "https://github.com/acme/payments"
    assert json.loads(json.dumps(doc)) == doc
