"""Bundles sigstore-python's Signer does not make, made against the local instance.

- signed with a managed key (`verificationMaterial.publicKey`), as cosign `--key` and npm's
  registry do, as hashedrekord, dsse or intoto log entries;
- keyless attestations logged as `intoto` v0.0.2 entries, as cosign `attest` did.
Everything goes through the instance's real CA and log, so the results verify (or fail to)
for the same reasons as any other bundle.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from changegate.testing.sigstore.instance import LocalSigstore
from changegate.testing.sigstore.keys import KeyPair
from changegate.testing.sigstore.rekor import pae

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bundle_entry(response: dict[str, Any]) -> dict[str, Any]:
    """A Rekor v1 `POST /api/v1/log/entries` answer as a bundle's `tlogEntries[0]`."""
    (value,) = response.values()
    body = json.loads(base64.b64decode(value["body"]))
    proof = value["verification"]["inclusionProof"]
    return {
        "logIndex": str(value["logIndex"]),
        "logId": {"keyId": _b64(bytes.fromhex(value["logID"]))},
        "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
        "integratedTime": str(value["integratedTime"]),
        "inclusionPromise": {"signedEntryTimestamp": value["verification"]
                             ["signedEntryTimestamp"]},
        "inclusionProof": {"logIndex": str(proof["logIndex"]),
                           "rootHash": _b64(bytes.fromhex(proof["rootHash"])),
                           "treeSize": str(proof["treeSize"]),
                           "hashes": [_b64(bytes.fromhex(h)) for h in proof["hashes"]],
                           "checkpoint": {"envelope": proof["checkpoint"]}},
        "canonicalizedBody": value["body"],
    }


def _intoto_entry(payload: bytes, signature: bytes, verifier_pem: bytes) -> dict[str, Any]:
    envelope = {"payloadType": IN_TOTO,
                "payload": _b64(_b64(payload).encode()),
                "signatures": [{"sig": _b64(_b64(signature).encode()),
                                "publicKey": _b64(verifier_pem)}]}
    return {"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
        "envelope": envelope,
        "hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}}}}


def _dsse_entry(payload: bytes, signature: bytes, verifier_pem: bytes) -> dict[str, Any]:
    envelope = {"payload": _b64(payload), "payloadType": IN_TOTO,
                "signatures": [{"sig": _b64(signature)}]}
    return {"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": json.dumps(envelope), "verifiers": [_b64(verifier_pem)]}}}


def key_signed_bundle(instance: LocalSigstore, key: KeyPair, *, artifact: bytes | None = None,
                      statement: dict[str, Any] | None = None, entry: str = "hashedrekord"
                      ) -> dict[str, Any]:
    """A managed-key bundle: a signature over `artifact`, or a DSSE over `statement`.

    `entry` is the log entry kind: hashedrekord (signatures), dsse or intoto (attestations).
    """
    now = datetime.now(timezone.utc)
    pem = key.public_pem
    material: dict[str, Any] = {"publicKey": {"hint": _b64(key.key_id)}}
    if statement is None:
        if artifact is None:
            raise ValueError("give an artifact or a statement")
        digest = hashlib.sha256(artifact).digest()
        signature = key.private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        proposed = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": _b64(signature), "publicKey": {"content": _b64(pem)}}}}
        content: dict[str, Any] = {"messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
            "signature": _b64(signature)}}
    else:
        payload = json.dumps(statement).encode()
        signature = key.private.sign(pae(IN_TOTO, payload), ec.ECDSA(hashes.SHA256()))
        proposed = (_intoto_entry if entry == "intoto" else _dsse_entry)(payload, signature, pem)
        content = {"dsseEnvelope": {"payload": _b64(payload), "payloadType": IN_TOTO,
                                    "signatures": [{"sig": _b64(signature), "keyid": ""}]}}
    material["tlogEntries"] = [bundle_entry(instance.log.append(proposed, now=now))]
    return {"mediaType": BUNDLE_V03, "verificationMaterial": material, **content}


def intoto_bundle(instance: LocalSigstore, token: str, statement: dict[str, Any]
                  ) -> dict[str, Any]:
    """A keyless attestation logged as an `intoto` v0.0.2 entry (what cosign attest made)."""
    now = datetime.now(timezone.utc)
    key = KeyPair.generate()
    leaf, *_chain = instance.issue_certificate(token, key.public)
    payload = json.dumps(statement).encode()
    signature = key.private.sign(pae(IN_TOTO, payload), ec.ECDSA(hashes.SHA256()))
    pem = leaf.public_bytes(serialization.Encoding.PEM)
    proposed = _intoto_entry(payload, signature, pem)
    return {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": _b64(leaf.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [bundle_entry(instance.log.append(proposed, now=now))]},
        "dsseEnvelope": {"payload": _b64(payload), "payloadType": IN_TOTO,
                         "signatures": [{"sig": _b64(signature), "keyid": ""}]},
    }
