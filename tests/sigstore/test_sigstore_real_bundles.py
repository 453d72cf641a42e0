"""Bundles that Sigstore's public instances really issued, verified offline with the pinned
trusted roots (data/SOURCE.md and the shared sigstore-python assets' SOURCE.md say where each
comes from), and tampered copies of them rejected."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sigstore_support import ASSETS, DATA, cli

pytestmark = pytest.mark.skipif(not ASSETS.is_dir(), reason=f"{ASSETS} is not available")

ROUTINE_WHL = ("https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml"
               "@refs/tags/v0.1.2")
GITHUB = "https://token.actions.githubusercontent.com"
BEACON = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
          ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
CONFORMANCE_A_TXT = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"
PYTHON_3_12_5 = "sha256:38dc4e2c261d49c661196066edbfb70fdb16be4a79cc8220c224dfeb5636d405"


def verify(tmp_path: Path, *args: str | Path) -> tuple[int, dict[str, object], list[str]]:
    result = cli(["verify", *args], cwd=tmp_path)
    return result.rc, result.doc, result.rules


@pytest.mark.parametrize(("artifact", "bundle", "args", "kind"), [
    # production, bundle v0.2, GitHub Actions identity, hashedrekord, Rekor v1
    ("bundle_v3_github.whl", "bundle_v3_github.whl.sigstore",
     ["--github-repository", "trailofbits/rfc8785.py", "--github-workflow", "release.yml",
      "--github-ref", "refs/tags/v0.1.2"], "hashedrekord"),
    ("bundle_v3_github.whl", "bundle_v3_github.whl.sigstore",
     ["--cert-identity", ROUTINE_WHL, "--cert-oidc-issuer", GITHUB], "hashedrekord"),
    # production, bundle v0.1 with an inclusion promise only (python.org release, by digest)
    (PYTHON_3_12_5, "integration/Python-3.12.5.tgz.sigstore",
     ["--cert-identity", "thomas@python.org", "--cert-oidc-issuer",
      "https://accounts.google.com"], "hashedrekord"),
    # staging, bundle v0.1 and v0.3 (both media type spellings), email identity
    ("bundle.txt", "bundle.txt.sigstore",
     ["--staging", "--cert-identity", "a@tny.town", "--cert-oidc-issuer",
      "https://github.com/login/oauth"], "hashedrekord"),
    ("bundle_v3.txt", "bundle_v3.txt.sigstore",
     ["--staging", "--cert-identity", "william@yossarian.net", "--cert-oidc-issuer",
      "https://github.com/login/oauth"], "hashedrekord"),
    ("bundle_v3_alt.txt", "bundle_v3_alt.txt.sigstore",
     ["--staging", "--cert-identity", "william@yossarian.net", "--cert-oidc-issuer",
      "https://github.com/login/oauth"], "hashedrekord"),
    # staging, Rekor v2 (hashedrekord 0.0.2) with an RFC 3161 timestamp
    ("staging-rekor-v2.txt", "staging-rekor-v2.txt.sigstore.json",
     ["--staging", "--cert-identity", "jku@goto.fi", "--cert-oidc-issuer",
      "https://github.com/login/oauth"], "hashedrekord"),
    # staging, Rekor v2 DSSE attestation with an RFC 3161 timestamp, by digest
    (CONFORMANCE_A_TXT, "a.dsse.staging-rekor-v2.txt.sigstore.json",
     ["--staging", "--cert-identity", BEACON, "--cert-oidc-issuer", GITHUB], "hashedrekord"),
])
def test_real_bundles_verify_offline(tmp_path: Path, artifact: str, bundle: str,
                                     args: list[str], kind: str) -> None:
    target = artifact if artifact.startswith("sha256:") else str(ASSETS / artifact)
    rc, doc, rules = verify(tmp_path, target, "--bundle", ASSETS / bundle, *args)
    assert rc == 0, json.dumps(doc, indent=1)[:3000]
    assert doc["verified"] is True and rules == []
    artifacts = doc["artifacts"]
    assert isinstance(artifacts, list) and artifacts[0]["log"]["kind"] == kind


def test_rekor_v2_dsse_statement_is_reported(tmp_path: Path) -> None:
    rc, doc, _ = verify(tmp_path, CONFORMANCE_A_TXT, "--bundle",
                        ASSETS / "a.dsse.staging-rekor-v2.txt.sigstore.json", "--staging",
                        "--github-repository", "sigstore-conformance/"
                        "extremely-dangerous-public-oidc-beacon")
    assert rc == 0, doc
    statement = doc["statement"]
    assert isinstance(statement, dict)
    assert statement["subject"][0]["digest"]["sha256"] == CONFORMANCE_A_TXT[7:]


def test_npm_publish_attestation_with_the_registry_key(tmp_path: Path) -> None:
    """Production, managed key, intoto 0.0.2, v0.1 with promise only, sha512 subject."""
    rc, doc, _ = verify(tmp_path, DATA / "npm" / "sigstore-1.3.0.tgz", "--bundle",
                        DATA / "npm" / "sigstore-1.3.0.publish.sigstore.json",
                        "--key", DATA / "npm" / "registry-key.pem", "--predicate-type",
                        "https://github.com/npm/attestation/tree/main/specs/publish/v0.1")
    assert rc == 0, doc
    (artifact,) = doc["artifacts"]  # type: ignore[misc]
    assert artifact["log"] == {"index": 18300940, "kind": "intoto", "version": "0.0.2",
                               "proof": "inclusion-promise",
                               "integrated_time": "2023-04-18T17:45:16+00:00"}
    assert doc["statement"]["predicate"] == {  # type: ignore[index]
        "name": "sigstore", "version": "1.3.0", "registry": "https://registry.npmjs.org"}


def test_conformance_intoto_canonical_entry(tmp_path: Path) -> None:
    base = DATA / "conformance" / "intoto-canonical-log-entry"
    rc, doc, _ = verify(tmp_path, CONFORMANCE_A_TXT, "--bundle", f"{base}.sigstore.json",
                        "--key", f"{base}.key.pub", "--trusted-root",
                        f"{base}.trusted_root.json")
    assert rc == 0, doc


@pytest.mark.parametrize(("artifact", "bundle", "rule"), [
    # CVE-2022-36056: the log entry is for another artifact
    ("bundle_cve_2022_36056.txt", "bundle_cve_2022_36056.txt.sigstore", "ENTRY_MISMATCH"),
    # a v0.3 bundle with neither an inclusion promise nor a timestamp
    ("bundle_v3_no_signed_time.txt", "bundle_v3_no_signed_time.txt.sigstore.json",
     "BUNDLE_INVALID"),
    # a bundle that was never logged
    ("bundle_no_log_entry.txt", "bundle_no_log_entry.txt.sigstore", "BUNDLE_INVALID"),
])
def test_real_bundles_that_must_fail(tmp_path: Path, artifact: str, bundle: str,
                                     rule: str) -> None:
    rc, doc, rules = verify(tmp_path, ASSETS / artifact, "--bundle", ASSETS / bundle,
                            "--staging", "--cert-identity", "william@yossarian.net",
                            "--cert-oidc-issuer", "https://github.com/login/oauth")
    assert rc == 1 and rules == [rule], doc


def test_production_bundle_against_staging_root_is_untrusted(tmp_path: Path) -> None:
    rc, _, rules = verify(tmp_path, ASSETS / "bundle_v3_github.whl", "--bundle",
                          ASSETS / "bundle_v3_github.whl.sigstore", "--staging",
                          "--github-repository", "trailofbits/rfc8785.py")
    assert rc == 1 and rules == ["UNTRUSTED_CA"]


def test_real_bundle_with_a_forged_identity_claim(tmp_path: Path) -> None:
    rc, doc, rules = verify(tmp_path, ASSETS / "bundle_v3_github.whl", "--bundle",
                            ASSETS / "bundle_v3_github.whl.sigstore",
                            "--github-repository", "trailofbits/rfc8785.py",
                            "--github-ref", "refs/heads/main")
    assert rc == 1 and rules == ["IDENTITY_MISMATCH"], doc


@pytest.mark.parametrize(("field", "rule"), [("signedEntryTimestamp", "BAD_SET"),
                                             ("checkpoint", "BAD_CHECKPOINT"),
                                             ("hash", "BAD_INCLUSION_PROOF")])
def test_tampered_real_bundles_fail(tmp_path: Path, field: str, rule: str) -> None:
    bundle = json.loads((ASSETS / "bundle_v3_github.whl.sigstore").read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    if field == "signedEntryTimestamp":
        sig = bytearray(base64.b64decode(entry["inclusionPromise"][field]))
        sig[10] ^= 1
        entry["inclusionPromise"][field] = base64.b64encode(bytes(sig)).decode()
    elif field == "checkpoint":
        envelope = entry["inclusionProof"]["checkpoint"]["envelope"]
        entry["inclusionProof"]["checkpoint"]["envelope"] = envelope.replace(
            "\n75441653\n", "\n75441654\n")
    else:
        entry["inclusionProof"]["hashes"][3] = entry["inclusionProof"]["hashes"][4]
    forged = tmp_path / "forged.sigstore.json"
    forged.write_text(json.dumps(bundle), encoding="utf-8")
    rc, doc, rules = verify(tmp_path, ASSETS / "bundle_v3_github.whl", "--bundle", forged,
                            "--github-repository", "trailofbits/rfc8785.py")
    assert rc == 1 and rules == [rule], doc
