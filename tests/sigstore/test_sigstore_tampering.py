"""Tampering: every defect a verifier must catch, made by a misbehaving instance or by editing
a bundle, must fail real verification with the rule that names it."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sigstore_support import Signing

from changegate.testing.sigstore.bundles import key_signed_bundle
from changegate.testing.sigstore.keys import KeyPair


def _bad_bundle(signing: Signing, **faults: Any) -> Path:
    """Sign under `faults` without the check right after signing; the bundle it wrote."""
    artifact = signing.artifact()
    with signing.instance.faults(**faults):
        result = signing.sign(artifact, "--no-verify-after")
    assert result.rc == 0, result
    return artifact


@pytest.mark.parametrize(("faults", "rule"), [
    ({"rogue_ca": True}, "UNTRUSTED_CA"),
    ({"rogue_checkpoint_key": True}, "BAD_CHECKPOINT"),
    ({"wrong_root_hash": True}, "BAD_INCLUSION_PROOF"),
    ({"rogue_set_key": True}, "BAD_SET"),
    ({"substitute_body": True}, "ENTRY_MISMATCH"),
    ({"clock_skew": timedelta(hours=1)}, "TIME_OUTSIDE_CERT"),
    ({"clock_skew": -timedelta(minutes=5)}, "TIME_OUTSIDE_CERT"),
])
def test_a_misbehaving_instance_is_caught(signing: Signing, faults: dict[str, Any],
                                          rule: str) -> None:
    artifact = _bad_bundle(signing, **faults)
    result = signing.verify_github(artifact)
    assert result.rc == 1, result
    assert result.rules == [rule], result
    assert result.doc["artifacts"][0]["reason"]


@pytest.mark.parametrize(("faults", "rule"), [
    ({"rogue_checkpoint_key": True}, "BAD_CHECKPOINT"),
    ({"rogue_ca": True}, "UNTRUSTED_CA"),
    ({"clock_skew": timedelta(hours=1)}, "TIME_OUTSIDE_CERT"),
])
def test_sign_verifies_right_after_and_writes_no_bad_bundle(signing: Signing,
                                                            faults: dict[str, Any],
                                                            rule: str) -> None:
    artifact = signing.artifact()
    with signing.instance.faults(**faults):
        result = signing.sign(artifact)
    assert result.rc == 1 and result.rules == [rule], result
    assert result.doc["signed"][0]["verified_after"] is False
    assert result.doc["signed"][0]["written"] is False
    assert not artifact.with_name(artifact.name + ".sigstore.json").exists()


def test_an_sct_from_an_unknown_ct_log_is_refused_when_signing(signing: Signing) -> None:
    with signing.instance.faults(rogue_ct_log=True):
        result = signing.sign(signing.artifact())
    assert result.rc == 1 and result.rules == ["BAD_SCT"], result


def test_an_sct_the_verifier_cannot_check_is_refused(signing: Signing) -> None:
    artifact = signing.artifact()
    assert signing.sign(artifact).rc == 0
    root = signing.instance.write_trusted_root(signing.root / "other-ct.json",
                                               ct_log=signing.instance.rogue_ct_log)
    result = signing.verify_github(artifact, trust=root)
    assert result.rc == 1 and result.rules == ["BAD_SCT"], result


def test_a_ca_the_verifier_does_not_trust_is_refused(signing: Signing) -> None:
    artifact = signing.artifact()
    assert signing.sign(artifact).rc == 0
    root = signing.instance.write_trusted_root(signing.root / "other-ca.json",
                                               ca=signing.instance.rogue_ca)
    result = signing.verify_github(artifact, trust=root)
    assert result.rc == 1 and result.rules == ["UNTRUSTED_CA"], result


def test_a_log_the_verifier_does_not_trust_is_refused(signing: Signing) -> None:
    artifact = signing.artifact()
    assert signing.sign(artifact).rc == 0
    root = signing.instance.write_trusted_root(signing.root / "other-log.json",
                                               log_key=signing.instance.log.rogue_key)
    result = signing.verify_github(artifact, trust=root)
    assert result.rc == 1 and result.rules == ["BAD_CHECKPOINT"], result


def _edit(signing: Signing, artifact: Path, change: Any) -> None:
    path = artifact.with_name(artifact.name + ".sigstore.json")
    bundle = signing.bundle_json(path)
    change(bundle)
    signing.write_json(path, bundle)


def _entry(bundle: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = bundle["verificationMaterial"]["tlogEntries"][0]
    return entry


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _checkpoint_root(bundle: dict[str, Any]) -> None:
    checkpoint = _entry(bundle)["inclusionProof"]["checkpoint"]
    lines = checkpoint["envelope"].split("\n")
    lines[2] = base64.b64encode(hashlib.sha256(lines[2].encode()).digest()).decode()
    checkpoint["envelope"] = "\n".join(lines)


def _proof_hash(bundle: dict[str, Any]) -> None:
    proof = _entry(bundle)["inclusionProof"]
    if proof["hashes"]:
        proof["hashes"][0] = _flip(proof["hashes"][0])
    else:
        proof["rootHash"] = _flip(proof["rootHash"])


@pytest.mark.parametrize(("change", "rule"), [
    (lambda b: _entry(b)["inclusionPromise"].update(
        signedEntryTimestamp=_flip(_entry(b)["inclusionPromise"]["signedEntryTimestamp"])),
     "BAD_SET"),
    (lambda b: _entry(b).update(integratedTime=str(int(_entry(b)["integratedTime"]) + 60)),
     "BAD_SET"),
    (_checkpoint_root, "BAD_CHECKPOINT"),
    (_proof_hash, "BAD_INCLUSION_PROOF"),
    (lambda b: b["messageSignature"].update(signature=_flip(b["messageSignature"]["signature"])),
     "SIGNATURE_INVALID"),
    (lambda b: b["messageSignature"]["messageDigest"].update(
        digest=base64.b64encode(b"\x00" * 32).decode()), "DIGEST_MISMATCH"),
])
def test_an_edited_bundle_is_caught(signing: Signing, change: Any, rule: str) -> None:
    artifact = signing.artifact()
    # Sign two artifacts first so the proof has hashes to edit.
    assert signing.sign(signing.artifact("filler.bin")).rc == 0
    assert signing.sign(artifact).rc == 0
    assert signing.verify_github(artifact).rc == 0
    _edit(signing, artifact, change)
    result = signing.verify_github(artifact)
    assert result.rc == 1 and result.rules == [rule], result


def test_a_log_entry_swapped_from_another_signature_is_caught(signing: Signing) -> None:
    """CVE-2022-36056: a valid entry of the same certificate, but for other content."""
    first, second = signing.artifact("one.bin"), signing.artifact("two.bin")
    assert signing.sign(first, second).rc == 0  # one certificate for both
    other = signing.bundle_json(second.with_name("two.bin.sigstore.json"))
    _edit(signing, first, lambda b: b["verificationMaterial"].update(
        tlogEntries=copy.deepcopy(other["verificationMaterial"]["tlogEntries"])))
    result = signing.verify_github(first)
    assert result.rc == 1 and result.rules == ["ENTRY_MISMATCH"], result


@pytest.mark.parametrize(("change", "rule"), [
    (lambda b: _entry(b)["inclusionPromise"].update(
        signedEntryTimestamp=_flip(_entry(b)["inclusionPromise"]["signedEntryTimestamp"])),
     "BAD_SET"),
    (_checkpoint_root, "BAD_CHECKPOINT"),
    (lambda b: _entry(b).update(canonicalizedBody=base64.b64encode(
        base64.b64decode(_entry(b)["canonicalizedBody"]).replace(b"sha256", b"sha256 ")
    ).decode()), "BAD_INCLUSION_PROOF"),
])
def test_managed_key_bundles_are_checked_as_strictly(signing: Signing, change: Any,
                                                     rule: str) -> None:
    artifact = signing.artifact()
    key = KeyPair.generate()
    pem = signing.root / "key.pem"
    pem.write_bytes(key.public_pem)
    key_signed_bundle(signing.instance, key, artifact=b"filler")
    bundle = key_signed_bundle(signing.instance, key, artifact=artifact.read_bytes())
    path = signing.root / "k.sigstore.json"
    signing.write_json(path, bundle)
    assert signing.verify(artifact, "--bundle", path, "--key", pem).rc == 0
    change(bundle)
    signing.write_json(path, bundle)
    result = signing.verify(artifact, "--bundle", path, "--key", pem)
    assert result.rc == 1 and result.rules == [rule], result


def test_managed_key_entry_for_other_content_is_caught(signing: Signing) -> None:
    artifact = signing.artifact()
    key = KeyPair.generate()
    pem = signing.root / "key.pem"
    pem.write_bytes(key.public_pem)
    with signing.instance.faults(substitute_body=True):
        bundle = key_signed_bundle(signing.instance, key, artifact=artifact.read_bytes())
    path = signing.write_json(signing.root / "k.sigstore.json", bundle)
    result = signing.verify(artifact, "--bundle", path, "--key", pem)
    assert result.rc == 1 and result.rules == ["ENTRY_MISMATCH"], result
