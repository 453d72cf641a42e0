"""Verification sigstore-python does not do offline, built from its own checks.

Three kinds of real bundles are refused by sigstore-python 4.x although the bundle spec and
other clients accept them:
- bundles signed with a managed key (`verificationMaterial.publicKey`, `--key`): cosign
  `--key`, npm's registry publish attestations;
- `intoto` v0.0.2 log entries (cosign `attest`, npm provenance before 2024);
- v0.1 bundles whose log entry has an inclusion promise but no checkpointed proof (the
  bundle spec makes the promise sufficient for v0.1; python.org's release bundles are such).

The steps are sigstore-python's (compat.py) in the spec's order; each raises `Rejected` with
the rule of the step that failed. The log evidence comes first: a time or body taken from an
entry whose proof or promise does not verify is worthless.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from changegate.gates.sigstore import compat
from changegate.gates.sigstore.artifacts import Artifact
from changegate.gates.sigstore.identity import IdentityPolicy, read_certificate
from changegate.gates.sigstore.outcome import Outcome, Rejected
from changegate.gates.sigstore.statement import check_statement, subject_algorithms

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.models import TransparencyLogEntry, TrustedRoot
    from sigstore.verify import Verifier

MEDIA_TYPES = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "0.3",
}
# Stands in for an absent proof so sigstore's entry model parses; never checked (has_proof).
_PLACEHOLDER_PROOF = {"logIndex": "0", "rootHash": "", "treeSize": "1", "hashes": []}


@dataclass
class Context:
    """What every verification shares: the trusted root, the verifier, and the policy."""

    root: TrustedRoot
    verifier: Verifier | None  # None with --key: a key-only trusted root may list no CA
    policy: IdentityPolicy | None
    key: Any | None = None  # a cryptography public key for --key
    predicate_type: str | None = None


@dataclass
class _Parsed:
    version: str
    cert: Certificate | None
    entry_json: dict[str, Any]
    entry: TransparencyLogEntry
    has_proof: bool
    signature: bytes
    message: dict[str, Any] | None
    envelope: dict[str, Any] | None
    timestamps: list[bytes] = field(default_factory=list)


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as exc:
        raise Rejected("BUNDLE_INVALID", f"{what} is not base64") from exc


def parse(data: dict[str, Any]) -> _Parsed:
    """Read the parts of a bundle the spec requires, refusing anything malformed."""
    from cryptography import x509
    from sigstore_models.rekor.v1 import TransparencyLogEntry as EntryModel

    version = MEDIA_TYPES.get(str(data.get("mediaType")))
    if version is None:
        raise Rejected("BUNDLE_INVALID", f"unknown bundle media type {data.get('mediaType')!r}")
    material = data.get("verificationMaterial") or {}
    cert = None
    raw_cert = (material.get("certificate") or {}).get("rawBytes")
    chain = (material.get("x509CertificateChain") or {}).get("certificates") or []
    if raw_cert is None and chain:
        raw_cert = chain[0].get("rawBytes")
    if raw_cert is not None:
        try:
            cert = x509.load_der_x509_certificate(_b64(raw_cert, "the certificate"))
        except ValueError as exc:
            raise Rejected("BUNDLE_INVALID", f"the certificate does not parse: {exc}") from exc
    entries = material.get("tlogEntries") or []
    if len(entries) != 1:
        raise Rejected("BUNDLE_INVALID", f"expected exactly one transparency log entry, found "
                                         f"{len(entries)}: a signature that was never logged "
                                         "cannot be audited")
    entry_json = dict(entries[0])
    has_proof = bool(entry_json.get("inclusionProof"))
    if not has_proof:
        entry_json["inclusionProof"] = _PLACEHOLDER_PROOF
    try:
        entry_model = EntryModel.from_json(json.dumps(entry_json))
    except ValueError as exc:
        raise Rejected("BUNDLE_INVALID", f"the log entry does not parse: {exc}") from exc
    message = data.get("messageSignature")
    envelope = data.get("dsseEnvelope")
    if (message is None) == (envelope is None):
        raise Rejected("BUNDLE_INVALID", "a bundle holds exactly one of messageSignature and "
                                         "dsseEnvelope")
    if envelope is not None:
        signatures = envelope.get("signatures") or []
        if len(signatures) != 1:
            raise Rejected("BUNDLE_INVALID", "the DSSE envelope must carry exactly one "
                                             "signature")
        signature = _b64(signatures[0].get("sig"), "the DSSE signature")
    else:
        signature = _b64((message or {}).get("signature"), "the signature")
    stamps = ((material.get("timestampVerificationData") or {}).get("rfc3161Timestamps")) or []
    return _Parsed(version, cert, entries[0], compat.log_entry(entry_model.model_copy()),
                   has_proof, signature, message, envelope,
                   [_b64(s.get("signedTimestamp"), "a timestamp") for s in stamps])


def verify(data: dict[str, Any], artifact: Artifact, ctx: Context, outcome: Outcome) -> None:
    """Verify `data` (a bundle's JSON) for `artifact`; fills `outcome` or raises Rejected."""
    bundle = parse(data)
    outcome.media_type = str(data.get("mediaType"))
    kind = bundle.entry._inner.kind_version
    outcome.log = {"index": int(bundle.entry._inner.log_index), "kind": kind.kind,
                   "version": kind.version,
                   "proof": "inclusion-proof" if bundle.has_proof else "inclusion-promise"}
    if ctx.key is not None and bundle.cert is not None:
        raise Rejected("KEY_MISMATCH", "the bundle carries a certificate (keyless signing); "
                                       "verify it with an identity policy, not --key")
    if ctx.key is None and bundle.cert is None:
        raise Rejected("KEY_MISMATCH", "the bundle was signed with a managed key, not a "
                                       "certificate: verify it with --key PEM")
    times = _log_evidence(bundle, ctx)
    if bundle.cert is not None and ctx.verifier is not None:
        times += compat.verify_timestamps(ctx.verifier, list(bundle.timestamps),
                                          bundle.signature)
        _certificate(bundle.cert, ctx.verifier, times, ctx, outcome)
        public_key: Any = bundle.cert.public_key()
    else:
        public_key = ctx.key
    if times:
        outcome.log["integrated_time"] = min(times).isoformat()
    _signature_and_body(bundle, public_key, artifact, ctx, outcome)


def _log_evidence(bundle: _Parsed, ctx: Context) -> list[datetime]:
    """Proof and promise of the log entry; the verified time (from the SET) if any."""
    from sigstore.errors import VerificationError

    entry = bundle.entry
    checkpointed = bundle.has_proof and entry._inner.inclusion_proof.checkpoint is not None
    if checkpointed:
        try:
            compat.verify_inclusion_proof(entry)
        except VerificationError as exc:
            raise Rejected("BAD_INCLUSION_PROOF", str(exc)) from exc
        try:
            compat.verify_checkpoint(ctx.root, entry)
        except VerificationError as exc:
            raise Rejected("BAD_CHECKPOINT", str(exc)) from exc
    times: list[datetime] = []
    when = compat.integrated_time(entry)
    if entry._inner.inclusion_promise is not None and when is not None:
        try:
            compat.verify_set(ctx.root, entry)
        except VerificationError as exc:
            raise Rejected("BAD_SET", str(exc)) from exc
        times.append(when)
    elif not checkpointed:
        raise Rejected("BUNDLE_INVALID", "the log entry has neither a checkpointed inclusion "
                                         "proof nor an inclusion promise")
    if not checkpointed and bundle.version != "0.1":
        raise Rejected("BUNDLE_INVALID", f"a v{bundle.version} bundle needs an inclusion proof "
                                         "with a checkpoint (only v0.1 may rely on the promise)")
    return times


def _certificate(cert: Certificate, verifier: Verifier, times: list[datetime], ctx: Context,
                 outcome: Outcome) -> None:
    """Chain at the verified time(s), SCT, code-signing profile, then the identity policy."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from sigstore.errors import VerificationError

    facts = read_certificate(cert)
    outcome.identity, outcome.issuer = facts.identity, facts.issuer
    outcome.certificate = facts.to_json()
    if not times:
        raise Rejected("NO_VERIFIED_TIME", "no inclusion promise or trusted RFC 3161 timestamp "
                                           "establishes when the signature was made")
    chain: list[x509.Certificate] = []
    for when in times:
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise Rejected("TIME_OUTSIDE_CERT",
                           f"signed at {when.isoformat()}, but the certificate is valid from "
                           f"{cert.not_valid_before_utc.isoformat()} to "
                           f"{cert.not_valid_after_utc.isoformat()}")
        try:
            chain = compat.verify_chain_at(verifier, cert, when)
        except VerificationError as exc:
            raise Rejected("UNTRUSTED_CA", str(exc)) from exc
    try:
        compat.verify_sct(ctx.root, cert, chain)
    except VerificationError as exc:
        raise Rejected("BAD_SCT", str(exc)) from exc
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise Rejected("UNTRUSTED_CA", "not a code-signing certificate") from exc
    if not usage.digital_signature or ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise Rejected("UNTRUSTED_CA", "not a code-signing certificate")
    if ctx.policy is not None:
        problem = ctx.policy.check(facts)
        if problem is not None:
            raise Rejected(*problem)


def _signature_and_body(bundle: _Parsed, key: Any, artifact: Artifact, ctx: Context,
                        outcome: Outcome) -> None:
    if bundle.envelope is not None:
        payload_type = str(bundle.envelope.get("payloadType"))
        payload = _b64(bundle.envelope.get("payload"), "the DSSE payload")
        signed = pae(payload_type, payload)
        if not verify_signature(key, bundle.signature, signed, prehashed=None):
            raise Rejected("SIGNATURE_INVALID", "the DSSE signature does not verify")
        _check_body(bundle, key, digest=hashlib.sha256(signed).digest(), payload=payload)
        need_512 = "sha512" in subject_algorithms(payload)
        statement = check_statement(payload_type, payload,
                                    artifact.digests(sha512=need_512), ctx.predicate_type)
        outcome.statement = statement
        outcome.predicate_type = str(statement.get("predicateType"))
        return
    if ctx.predicate_type is not None:
        raise Rejected("PREDICATE_TYPE_MISMATCH", "the bundle is a plain signature, not an "
                                                  f"attestation of {ctx.predicate_type}")
    digest = bytes.fromhex(artifact.sha256)
    stated = ((bundle.message or {}).get("messageDigest") or {})
    if stated and _b64(stated.get("digest"), "the message digest") != digest:
        raise Rejected("DIGEST_MISMATCH", "the bundle signs another digest than the "
                                          f"artifact's (sha256:{artifact.sha256})")
    if not verify_signature(key, bundle.signature, digest, prehashed="sha256"):
        raise Rejected("SIGNATURE_INVALID", "the signature does not verify over the artifact's "
                                            "digest")
    _check_body(bundle, key, digest=digest, payload=None)


def pae(payload_type: str, payload: bytes) -> bytes:
    return (f"DSSEv1 {len(payload_type.encode())} {payload_type} {len(payload)} ".encode()
            + payload)


def verify_signature(key: Any, signature: bytes, data: bytes, *, prehashed: str | None) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            algorithm: Any = (Prehashed(hashes.SHA256()) if prehashed
                              else hashes.SHA384() if key.curve.key_size == 384
                              else hashes.SHA256())
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            algorithm = Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey) and not prehashed:
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _same_key(encoded_pem: Any, key: Any) -> bool:
    """Whether base64(PEM) in a log entry names `key` (a certificate's or a bare key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        pem = base64.b64decode(str(encoded_pem))
        logged = (x509.load_pem_x509_certificate(pem).public_key()
                  if b"CERTIFICATE" in pem else serialization.load_pem_public_key(pem))
    except ValueError:
        return False
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(logged.public_bytes(der, spki) == key.public_bytes(der, spki))


def _check_body(bundle: _Parsed, key: Any, *, digest: bytes, payload: bytes | None) -> None:
    """The log entry must record this signature, by this key, over this content."""
    try:
        body = json.loads(bundle.entry._inner.canonicalized_body)
        spec = body["spec"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Rejected("ENTRY_MISMATCH", f"the log entry body does not parse: {exc}") from exc
    kind = f"{body.get('kind')}/{body.get('apiVersion')}"
    try:
        if kind == "hashedrekord/0.0.1":
            ok = (spec["data"]["hash"]["algorithm"] == "sha256"
                  and spec["data"]["hash"]["value"] == digest.hex()
                  and base64.b64decode(spec["signature"]["content"]) == bundle.signature
                  and _same_key(spec["signature"]["publicKey"]["content"], key))
        elif kind == "hashedrekord/0.0.2":
            inner = spec["hashedRekordV002"]
            verifier = inner["signature"]["verifier"]
            raw = (verifier.get("publicKey") or verifier.get("x509Certificate") or {})
            ok = (base64.b64decode(inner["data"]["digest"]) == digest
                  and base64.b64decode(inner["signature"]["content"]) == bundle.signature
                  and _same_der(raw.get("rawBytes"), key))
        elif kind == "dsse/0.0.1" and payload is not None:
            ok = (spec["payloadHash"]["value"] == hashlib.sha256(payload).hexdigest()
                  and [(base64.b64decode(s["signature"]), _same_key(s["verifier"], key))
                       for s in spec["signatures"]] == [(bundle.signature, True)])
        elif kind == "intoto/0.0.2" and payload is not None:
            content = spec["content"]
            signatures = content["envelope"]["signatures"]
            ok = (content["payloadHash"]["value"] == hashlib.sha256(payload).hexdigest()
                  and content["envelope"]["payloadType"] == (bundle.envelope or {}).get(
                      "payloadType")
                  and [(base64.b64decode(base64.b64decode(s["sig"])),
                        _same_key(s["publicKey"], key)) for s in signatures]
                  == [(bundle.signature, True)])
        else:
            raise Rejected("BUNDLE_UNSUPPORTED", f"log entries of kind {kind} are not supported "
                                                 "for this bundle", inconclusive=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise Rejected("ENTRY_MISMATCH", f"the {kind} log entry lacks {exc}") from exc
    if not ok:
        raise Rejected("ENTRY_MISMATCH", f"the {kind} log entry records another signature, key "
                                         "or content than this bundle")


def _same_der(raw: Any, key: Any) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        der = base64.b64decode(str(raw))
        logged = (serialization.load_der_public_key(der) if der[:1] == b"\x30"
                  and not _is_certificate(der) else x509.load_der_x509_certificate(der)
                  .public_key())
    except ValueError:
        return False
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(logged.public_bytes(enc, spki) == key.public_bytes(enc, spki))


def _is_certificate(der: bytes) -> bool:
    from cryptography import x509

    try:
        x509.load_der_x509_certificate(der)
    except ValueError:
        return False
    return True
