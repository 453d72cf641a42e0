"""Verify artifacts against bundles: one sigstore-python Verifier for many bundles.

Bundles sigstore-python supports go through its public `Verifier` (the reference
implementation decides); the ones it refuses offline go through extended.py. When sigstore
rejects a bundle, `_diagnose` re-runs the individual checks (compat.py) to name the one that
failed: "invalid log entry" is three different attacks, and the fix differs for each.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate.gates.sigstore import compat, extended
from changegate.gates.sigstore.artifacts import Artifact
from changegate.gates.sigstore.identity import IdentityPolicy, read_certificate
from changegate.gates.sigstore.outcome import Outcome, Rejected
from changegate.gates.sigstore.statement import check_statement, subject_algorithms
from changegate.gates.sigstore.trust import TrustSource, trusted_root

if TYPE_CHECKING:
    from sigstore.models import Bundle
    from sigstore.verify import Verifier


def key_fingerprint(key: Any) -> str:
    """`SHA256:<base64>` of the key's DER SubjectPublicKeyInfo (the keyid npm and cosign use)."""
    from cryptography.hazmat.primitives import serialization

    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def load_public_key(pem: bytes, label: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    from changegate.errors import InputError

    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise InputError(f"{label} is not a PEM public key: {exc}", file=label,
                         rule="KEY_INVALID") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                      | rsa.RSAPublicKey):
        raise InputError(f"{label}: unsupported key type {type(key).__name__}", file=label,
                         rule="KEY_INVALID")
    return key


class BundleVerifier:
    """Holds the trusted root and one sigstore Verifier; verifies any number of bundles."""

    def __init__(self, trust: TrustSource, policy: IdentityPolicy | None, *,
                 key: Any | None = None, predicate_type: str | None = None) -> None:
        from sigstore.errors import Error
        from sigstore.verify import Verifier

        from changegate.errors import InputError

        self.trust = trust
        self.root = trusted_root(trust)
        self.verifier: Verifier | None = None
        if key is None:
            try:
                self.verifier = Verifier(trusted_root=self.root)
            except Error as exc:
                raise InputError(f"{trust.name}: cannot verify certificates with it: {exc}",
                                 file=trust.path, rule="TRUST_ROOT_INVALID") from exc
        self.policy = policy
        self.key = key
        self.predicate_type = predicate_type
        self.context = extended.Context(self.root, self.verifier, policy, key, predicate_type)
        self._adapter = _policy_adapter(policy) if policy is not None else None

    def verify(self, artifact: Artifact, bundle_path: Path, bundle_label: str) -> Outcome:
        outcome = Outcome(artifact=artifact.label, sha256=artifact.sha256, bundle=bundle_label)
        if self.key is not None:
            outcome.key = key_fingerprint(self.key)
        try:
            self._verify(artifact, bundle_path, bundle_label, outcome)
        except Rejected as exc:
            return outcome.reject(exc)
        outcome.verified = True
        return outcome

    def _verify(self, artifact: Artifact, path: Path, label: str, outcome: Outcome) -> None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise Rejected("BUNDLE_MISSING", f"cannot read bundle {label}: "
                                             f"{exc.strerror or exc}", inconclusive=True) from exc
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise Rejected("BUNDLE_INVALID", f"{label} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise Rejected("BUNDLE_INVALID", f"{label} is not a Sigstore bundle")
        if self.key is not None or _needs_extended(data):
            extended.verify(data, artifact, self.context, outcome)
            return
        self._standard(raw, artifact, outcome)

    def _standard(self, raw: bytes, artifact: Artifact, outcome: Outcome) -> None:
        from sigstore.errors import Error, VerificationError
        from sigstore.hashes import Hashed
        from sigstore.models import Bundle
        from sigstore_models.common.v1 import HashAlgorithm

        try:
            bundle = Bundle.from_json(raw)
        except (Error, ValueError) as exc:
            raise Rejected("BUNDLE_INVALID", str(exc)) from exc
        _describe(bundle, outcome)
        if self._adapter is None or self.verifier is None:
            raise Rejected("NO_IDENTITY_POLICY", "no identity policy", inconclusive=True)
        try:
            envelope = bundle._dsse_envelope
            if envelope is not None:
                payload_type, payload = self.verifier.verify_dsse(bundle, self._adapter)
            else:
                if self.predicate_type is not None:
                    raise Rejected("PREDICATE_TYPE_MISMATCH",
                                   "the bundle is a plain signature, not an attestation of "
                                   f"{self.predicate_type}")
                _check_message_digest(bundle, artifact)
                hashed = Hashed(algorithm=HashAlgorithm.SHA2_256,
                                digest=bytes.fromhex(artifact.sha256))
                self.verifier.verify_artifact(hashed, bundle, self._adapter)
        except VerificationError as exc:
            raise Rejected(*self._diagnose(bundle, exc)) from exc
        if envelope is not None:
            need_512 = "sha512" in subject_algorithms(payload)
            statement = check_statement(payload_type, payload,
                                        artifact.digests(sha512=need_512), self.predicate_type)
            outcome.statement = statement
            outcome.predicate_type = str(statement.get("predicateType"))

    def _diagnose(self, bundle: Bundle, exc: Exception) -> tuple[str, str]:
        """(rule, reason) for a rejection by sigstore-python, from the check that fails."""
        from sigstore.errors import VerificationError

        rule = getattr(exc, "rule", None)
        if isinstance(rule, str):
            return rule, str(exc)
        text = str(exc) or type(exc).__name__
        entry = bundle.log_entry
        if text.startswith("invalid log entry"):
            for check, name in ((compat.verify_inclusion_proof, "BAD_INCLUSION_PROOF"),
                                (lambda e: compat.verify_checkpoint(self.root, e),
                                 "BAD_CHECKPOINT"),
                                (lambda e: compat.verify_set(self.root, e), "BAD_SET")):
                try:
                    check(entry)
                except VerificationError as inner:
                    return name, str(inner)
            return "VERIFICATION_FAILED", text
        if "certificate chain" in text or "expired at time of signing" in text:
            # sigstore's verdict is "untrusted CA" unless the signing time is outside the
            # certificate; that time counts only if the log's promise over it verifies.
            cert = bundle.signing_certificate
            times = [t for t in [compat.integrated_time(entry)] if t is not None]
            stamps = bundle.verification_material.timestamp_verification_data
            if stamps is not None and self.verifier is not None:
                times += compat.verify_timestamps(
                    self.verifier, [t.as_bytes() for t in stamps.rfc3161_timestamps],
                    bundle.signature)
            for when in times:
                if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
                    if entry._inner.inclusion_promise is not None:
                        try:
                            compat.verify_set(self.root, entry)
                        except VerificationError as inner:
                            return "BAD_SET", str(inner)
                    return ("TIME_OUTSIDE_CERT",
                            f"signed at {when.isoformat()}, but the certificate is valid from "
                            f"{cert.not_valid_before_utc.isoformat()} to "
                            f"{cert.not_valid_after_utc.isoformat()}")
            return "UNTRUSTED_CA", text
        for needle, name in _MESSAGES:
            if needle in text:
                return name, text
        return "VERIFICATION_FAILED", text


# sigstore-python's messages for the checks that need no re-run to be told apart.
_MESSAGES = (
    ("SCT", "BAD_SCT"),
    ("not enough sources of verified time", "NO_VERIFIED_TIME"),
    ("imestamp", "BAD_TIMESTAMP"),
    ("inconsistent with other materials", "ENTRY_MISMATCH"),
    ("log entry payload hash", "ENTRY_MISMATCH"),
    ("log entry signatures", "ENTRY_MISMATCH"),
    ("Unsupported DSSE log entry", "ENTRY_MISMATCH"),
    ("Expected entry type", "ENTRY_MISMATCH"),
    ("digest mismatch", "DIGEST_MISMATCH"),
    ("Signature is invalid", "SIGNATURE_INVALID"),
    ("invalid signature", "SIGNATURE_INVALID"),
    ("Key usage", "UNTRUSTED_CA"),
    ("Extended usage", "UNTRUSTED_CA"),
)


def _needs_extended(data: dict[str, Any]) -> bool:
    """Bundles sigstore-python refuses offline but the bundle spec accepts (extended.py)."""
    material = data.get("verificationMaterial")
    if not isinstance(material, dict):
        return False
    if material.get("publicKey") is not None and not (material.get("certificate")
                                                       or material.get("x509CertificateChain")):
        return True
    entries = material.get("tlogEntries")
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        return False
    entry = entries[0]
    if (entry.get("kindVersion") or {}).get("kind") == "intoto":
        return True
    proof = entry.get("inclusionProof")
    return (data.get("mediaType") == "application/vnd.dev.sigstore.bundle+json;version=0.1"
            and not (isinstance(proof, dict) and proof.get("checkpoint")))


def _check_message_digest(bundle: Bundle, artifact: Artifact) -> None:
    signature = bundle._inner.message_signature
    if signature is not None and signature.message_digest is not None and \
            signature.message_digest.digest != bytes.fromhex(artifact.sha256):
        raise Rejected("DIGEST_MISMATCH",
                       f"the bundle signs sha256:{signature.message_digest.digest.hex()}, the "
                       f"artifact is sha256:{artifact.sha256}")


def _describe(bundle: Bundle, outcome: Outcome) -> None:
    facts = read_certificate(bundle.signing_certificate)
    outcome.identity, outcome.issuer = facts.identity, facts.issuer
    outcome.certificate = facts.to_json()
    outcome.media_type = bundle._inner.media_type
    entry = bundle.log_entry._inner
    when = compat.integrated_time(bundle.log_entry)
    outcome.log = {"index": int(entry.log_index), "kind": entry.kind_version.kind,
                   "version": entry.kind_version.version, "log_id": entry.log_id.key_id.hex(),
                   "integrated_time": when.isoformat() if when else None,
                   "proof": "inclusion-proof"}


def _policy_adapter(policy: IdentityPolicy) -> Any:
    """The identity policy as sigstore-python's VerificationPolicy, raising with our rule."""
    from cryptography.x509 import Certificate
    from sigstore.errors import VerificationError

    class PolicyRejected(VerificationError):
        def __init__(self, rule: str, message: str) -> None:
            super().__init__(message)
            self.rule = rule

    class Adapter:
        def verify(self, cert: Certificate) -> None:
            problem = policy.check(read_certificate(cert))
            if problem is not None:
                raise PolicyRejected(*problem)

    return Adapter()
