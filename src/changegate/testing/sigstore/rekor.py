"""A Rekor v1-like transparency log: hashedrekord, dsse and intoto entries, proofs, promises.

Entries are checked as Rekor checks them (the signature must verify with the submitted key or
certificate), stored in Rekor's canonical form (for dsse: envelope hash, payload hash and
signatures, never the payload), appended to an RFC 6962 Merkle tree, and answered with what
sigstore clients put in a bundle: the inclusion proof, a signed checkpoint (a signed note) and
the signed entry timestamp (SET). Faults make the log misbehave in one precise way each.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from changegate.testing.sigstore.faults import Faults
from changegate.testing.sigstore.keys import KeyPair
from changegate.testing.sigstore.merkle import MerkleTree, leaf_hash


class EntryRefused(Exception):
    """Rekor answers 400 with this message."""


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: Rekor's canonical body and the SET payload are this."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding (the bytes a DSSE signature covers)."""
    return (f"DSSEv1 {len(payload_type.encode())} {payload_type} {len(payload)} ".encode()
            + payload)


def _public_key(pem_b64: str) -> Any:
    """The key in base64(PEM): a certificate's key, or a bare public key (managed keys)."""
    try:
        pem = base64.b64decode(pem_b64, validate=True)
    except ValueError as exc:
        raise EntryRefused("the verifier is not base64") from exc
    if b"BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_key()
    return serialization.load_pem_public_key(pem)


def _verify(key: Any, signature: bytes, data: bytes, *, prehashed: bool) -> None:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            algorithm = Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            algorithm = Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey) and not prehashed:
            key.verify(signature, data)
        else:
            raise EntryRefused(f"unsupported key type {type(key).__name__}")
    except InvalidSignature as exc:
        raise EntryRefused("the signature does not verify with the submitted key") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class TransparencyLog:
    """The log: canonical bodies in a Merkle tree, signed by the log key."""

    def __init__(self, name: str, faults: Faults, *, now: datetime) -> None:
        self.name = name
        self.key = KeyPair.generate()
        self.rogue_key = KeyPair.generate()
        self.tree_id = secrets.randbelow(2**62)
        self.created = now
        self.tree = MerkleTree()
        self.bodies: list[bytes] = []
        self.integrated: list[int] = []
        self.responses: list[dict[str, Any]] = []
        self._uuids: dict[str, int] = {}
        self.faults = faults
        self._lock = threading.Lock()

    @property
    def log_id_hex(self) -> str:
        return self.key.key_id.hex()

    # --- entry kinds ------------------------------------------------------------------------

    def canonical_body(self, proposed: dict[str, Any]) -> dict[str, Any]:
        """Check a proposed entry as Rekor does and return the body the log records."""
        kind, version = proposed.get("kind"), proposed.get("apiVersion")
        spec = proposed.get("spec")
        if not isinstance(spec, dict):
            raise EntryRefused("the entry has no spec")
        if kind == "hashedrekord" and version == "0.0.1":
            return self._hashedrekord(spec)
        if kind == "dsse" and version == "0.0.1":
            return self._dsse(spec)
        if kind == "intoto" and version == "0.0.2":
            return self._intoto(spec)
        raise EntryRefused(f"unsupported entry kind {kind}/{version}")

    def _hashedrekord(self, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            signature = spec["signature"]["content"]
            key_b64 = spec["signature"]["publicKey"]["content"]
            digest_hex = spec["data"]["hash"]["value"]
            algorithm = spec["data"]["hash"]["algorithm"]
        except (KeyError, TypeError) as exc:
            raise EntryRefused(f"malformed hashedrekord entry: missing {exc}") from exc
        if algorithm != "sha256":
            raise EntryRefused(f"unsupported hash algorithm {algorithm}")
        _verify(_public_key(key_b64), base64.b64decode(signature), bytes.fromhex(digest_hex),
                prehashed=True)
        return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest_hex}},
            "signature": {"content": signature, "publicKey": {"content": key_b64}}}}

    def _dsse(self, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            content = spec["proposedContent"]
            envelope_text: str = content["envelope"]
            verifiers: list[str] = content["verifiers"]
            envelope = json.loads(envelope_text)
            payload = base64.b64decode(envelope["payload"])
            payload_type = envelope["payloadType"]
            signatures = envelope["signatures"]
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryRefused(f"malformed dsse entry: {exc}") from exc
        stored = []
        for entry in signatures:
            sig = base64.b64decode(entry["sig"])
            for verifier in verifiers:
                try:
                    _verify(_public_key(verifier), sig, pae(payload_type, payload),
                            prehashed=False)
                except EntryRefused:
                    continue
                stored.append({"signature": _b64(sig), "verifier": verifier})
                break
            else:
                raise EntryRefused("a DSSE signature does not verify with any verifier")
        return {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256",
                             "value": hashlib.sha256(envelope_text.encode()).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": stored}}

    def _intoto(self, spec: dict[str, Any]) -> dict[str, Any]:
        """intoto v0.0.2, with Rekor's double base64 of the payload and of each signature."""
        try:
            envelope = spec["content"]["envelope"]
            payload_b64 = base64.b64decode(envelope["payload"]).decode()
            payload = base64.b64decode(payload_b64)
            payload_type = envelope["payloadType"]
            signatures = envelope["signatures"]
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryRefused(f"malformed intoto entry: {exc}") from exc
        stored = []
        for entry in signatures:
            sig = base64.b64decode(base64.b64decode(entry["sig"]))
            _verify(_public_key(entry["publicKey"]), sig, pae(payload_type, payload),
                    prehashed=False)
            stored.append({"publicKey": entry["publicKey"], "sig": entry["sig"]})
        single = {"payload": payload_b64, "payloadType": payload_type,
                  "signatures": [{"sig": base64.b64decode(s["sig"]).decode()} for s in stored]}
        return {"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
            "envelope": {"payloadType": payload_type, "signatures": stored},
            "hash": {"algorithm": "sha256",
                     "value": hashlib.sha256(canonical_json(single)).hexdigest()},
            "payloadHash": {"algorithm": "sha256",
                            "value": hashlib.sha256(payload).hexdigest()}}}}

    # --- the log ----------------------------------------------------------------------------

    def append(self, proposed: dict[str, Any], *, now: datetime) -> dict[str, Any]:
        """Integrate an entry and answer as Rekor's `POST /api/v1/log/entries` does (201)."""
        body = self.canonical_body(proposed)
        faults = self.faults
        if faults.substitute_body:
            body = _substitute(body)
        raw = canonical_json(body)
        integrated = int((now + faults.clock_skew).timestamp())
        with self._lock:
            index = self.tree.append(raw)
            self.bodies.append(raw)
            self.integrated.append(integrated)
            size = len(self.tree)
            root = self.tree.root(size)
            proof = self.tree.inclusion_proof(index, size)
        if faults.wrong_root_hash:
            root = hashlib.sha256(root).digest()
        body_b64 = _b64(raw)
        set_payload = canonical_json({"body": body_b64, "integratedTime": integrated,
                                      "logID": self.log_id_hex, "logIndex": index})
        set_key = self.rogue_key if faults.rogue_set_key else self.key
        checkpoint_key = self.rogue_key if faults.rogue_checkpoint_key else self.key
        uuid = f"{self.tree_id:016x}{leaf_hash(raw).hex()}"
        response = {uuid: {
            "body": body_b64, "integratedTime": integrated, "logID": self.log_id_hex,
            "logIndex": index,
            "verification": {
                "signedEntryTimestamp": _b64(set_key.sign(set_payload)),
                "inclusionProof": {
                    "logIndex": index, "treeSize": size, "rootHash": root.hex(),
                    "hashes": [h.hex() for h in proof],
                    "checkpoint": self.checkpoint(size, root, checkpoint_key),
                },
            },
        }}
        with self._lock:
            self.responses.append(response)
            self._uuids[uuid] = index
        return response

    def entry(self, index: int) -> dict[str, Any]:
        """The answer given when entry `index` was integrated (GET by log index)."""
        if not 0 <= index < len(self.responses):
            raise EntryRefused(f"no entry {index}")
        return self.responses[index]

    def entry_by_uuid(self, uuid: str) -> dict[str, Any]:
        if uuid not in self._uuids:
            raise EntryRefused(f"no entry {uuid}")
        return self.responses[self._uuids[uuid]]

    def checkpoint(self, size: int, root: bytes, key: KeyPair | None = None) -> str:
        """A signed note (transparency-dev format) over origin, tree size and root hash.

        The signature line carries the 4-byte key hint (the first bytes of the log id) before
        the signature, as Rekor writes it.
        """
        note = f"{self.name} - {self.tree_id}\n{size}\n{_b64(root)}\n"
        signature = (key or self.key).sign(note.encode())
        return f"{note}\n\u2014 {self.name} {_b64(self.key.key_id[:4] + signature)}\n"

    def info(self) -> dict[str, Any]:
        size = len(self.tree)
        root = self.tree.root(size)
        return {"rootHash": root.hex(), "treeSize": size, "treeID": str(self.tree_id),
                "signedTreeHead": self.checkpoint(size, root)}


def _substitute(body: dict[str, Any]) -> dict[str, Any]:
    """The same entry about other content: what a log that records the wrong thing returns."""
    other = hashlib.sha256(canonical_json(body)).hexdigest()
    out: dict[str, Any] = json.loads(json.dumps(body))
    spec = out["spec"]
    if out["kind"] == "hashedrekord":
        spec["data"]["hash"]["value"] = other
    elif out["kind"] == "dsse":
        spec["payloadHash"]["value"] = other
    else:
        spec["content"]["payloadHash"]["value"] = other
    return out
