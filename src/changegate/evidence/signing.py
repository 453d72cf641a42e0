"""Signing records, and verifying their signatures: two small interfaces and their Sigstore forms.

The evidence layer never obtains identities or talks to Fulcio/Rekor itself: the sign gate owns
that machinery and hands the recorder a `Signer`. When there is none (a fork's pull request, a
laptop), records are still written, hash-chained and checkpointed, and each ledger entry says
`unsigned` with the reason, so an auditor sees exactly which records carry a signature.

A signature is a Sigstore bundle (v0.3) around a DSSE envelope whose payload is the record's
exact canonical bytes: the record digest in the ledger is the digest of the DSSE payload, so the
same record verifies with `changegate evidence verify`, `sigstore verify` or `cosign`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sigstore.sign import Signer as SigstoreApiSigner
    from sigstore.verify import Verifier as SigstoreApiVerifier
    from sigstore.verify.policy import VerificationPolicy

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class SignatureError(Exception):
    """A bundle that does not verify, or does not wrap the record it is filed with."""


@runtime_checkable
class Signer(Protocol):
    """Signs one in-toto statement (canonical JSON bytes) as DSSE; returns bundle JSON."""

    @property
    def identity(self) -> str:
        """Who signs (the certificate identity), shown in reports and ledger entries."""
        ...

    @property
    def issuer(self) -> str:
        """The OIDC issuer of that identity: with it, the report prints the verify command."""
        ...

    def sign_dsse(self, statement: bytes) -> str: ...


class BundleVerifier(Protocol):
    """Checks a bundle's signature, identity and log inclusion for exactly `payload`."""

    def verify_dsse(self, bundle: str, payload: bytes) -> str:
        """The verified signer identity; raises `SignatureError` when anything is wrong."""
        ...


@dataclass(frozen=True)
class Signature:
    """What the recorder got for one record: a bundle, or the reason it has none."""

    bundle: str | None
    identity: str | None = None
    issuer: str | None = None
    unsigned_reason: str | None = None

    @property
    def signed(self) -> bool:
        return self.bundle is not None


def sign_record(statement: bytes, signer: Signer | None, *, reason: str) -> Signature:
    """Sign when a signer exists; otherwise (or when signing fails) mark the record unsigned.

    A failure to sign must not lose the evidence: the record is kept, unsigned, with the error
    as the reason, and `require_signature` in the policy decides whether that fails the run.
    """
    if signer is None:
        return Signature(bundle=None, unsigned_reason=reason)
    try:
        bundle = signer.sign_dsse(statement)
        check_bundle_payload(bundle, statement)
    except Exception as exc:  # a signing backend may raise anything; the record must survive
        return Signature(bundle=None,
                         unsigned_reason=f"signing failed: {type(exc).__name__}: {exc}")
    return Signature(bundle=bundle, identity=signer.identity, issuer=signer.issuer)


def bundle_payload(bundle: str | bytes) -> tuple[str, bytes]:
    """The DSSE payload type and bytes inside a Sigstore bundle, without verifying anything.

    Used offline to prove a bundle belongs to its record even when no trust root is at hand;
    the cryptographic check is `BundleVerifier`'s job.
    """
    try:
        data = json.loads(bundle)
        envelope = data["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        payload_type = envelope["payloadType"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"not a Sigstore bundle with a DSSE envelope: {exc}") from exc
    if not isinstance(payload_type, str):
        raise SignatureError("the DSSE envelope has no payload type")
    return payload_type, payload


def check_bundle_payload(bundle: str | bytes, statement: bytes) -> None:
    payload_type, payload = bundle_payload(bundle)
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise SignatureError(f"the bundle's payload type is {payload_type!r}, "
                             f"not {IN_TOTO_PAYLOAD_TYPE}")
    if payload != statement:
        raise SignatureError("the bundle signs different bytes than the record it is filed with")


class SigstoreSigner:
    """`Signer` over sigstore-python's `Signer` (from `SigningContext.signer(token)`).

    The identity and issuer are read from the Fulcio certificate of the first signature unless
    given: that is exactly what a verifier will match, whatever the token's claims were.
    """

    def __init__(self, signer: SigstoreApiSigner, identity: str | None = None,
                 issuer: str | None = None) -> None:
        self._signer = signer
        self._identity = identity
        self._issuer = issuer

    @property
    def identity(self) -> str:
        return self._identity or ""

    @property
    def issuer(self) -> str:
        return self._issuer or ""

    def sign_dsse(self, statement: bytes) -> str:
        from sigstore.dsse import Statement

        bundle = self._signer.sign_dsse(Statement(statement))
        if self._identity is None or self._issuer is None:
            from changegate.gates.sigstore.identity import read_certificate

            facts = read_certificate(bundle.signing_certificate)
            self._identity = self._identity or facts.identity
            self._issuer = self._issuer or facts.issuer
        return bundle.to_json()


class SigstoreBundleVerifier:
    """`BundleVerifier` over sigstore-python: certificate chain, Rekor entry, identity policy."""

    def __init__(self, verifier: SigstoreApiVerifier, policy: VerificationPolicy,
                 identity: str) -> None:
        self._verifier = verifier
        self._policy = policy
        self._identity = identity

    @classmethod
    def from_options(cls, *, identity: str, issuer: str, trusted_root: str | None = None,
                     staging: bool = False) -> SigstoreBundleVerifier:
        """Offline: the trusted root is a file, or the one shipped inside sigstore-python."""
        from sigstore.models import TrustedRoot
        from sigstore.verify import Verifier
        from sigstore.verify.policy import Identity

        if trusted_root is not None:
            verifier = Verifier(trusted_root=TrustedRoot.from_file(trusted_root))
        elif staging:
            verifier = Verifier.staging(offline=True)
        else:
            verifier = Verifier.production(offline=True)
        return cls(verifier, Identity(identity=identity, issuer=issuer), identity)

    def verify_dsse(self, bundle: str, payload: bytes) -> str:
        from sigstore.errors import Error as SigstoreErrorBase
        from sigstore.models import Bundle

        try:
            parsed = Bundle.from_json(bundle)
            payload_type, signed = self._verifier.verify_dsse(parsed, self._policy)
        except (SigstoreErrorBase, ValueError) as exc:
            raise SignatureError(str(exc)) from exc
        if payload_type != IN_TOTO_PAYLOAD_TYPE or signed != payload:
            raise SignatureError("the verified bundle signs different bytes than the record")
        return self._identity
