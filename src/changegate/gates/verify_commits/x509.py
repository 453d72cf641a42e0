"""X.509 commit signatures (gpgsm, gitsign): recognised, described, and refused.

git stores an X.509 signature as a detached CMS SignedData armored as `SIGNED MESSAGE`. This
version does not verify them: a correct check needs a trust policy for certificate chains
(bank PKI roots, revocation) or, for gitsign, Sigstore's transparency log, and an unverified
"looks fine" would be worse than a clear refusal. So such a commit fails closed with
UNTRUSTED/UNSUPPORTED_FORMAT, and the detail says what the signature claims (read from its
embedded certificate, unverified) and what to do instead.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from changegate.gates.verify_commits.verdict import (
    CommitStatus,
    Reason,
    SignatureFormat,
    SignatureVerdict,
)

_ARMOR = re.compile(rb"-----BEGIN SIGNED MESSAGE-----\r?\n(.*?)-----END SIGNED MESSAGE-----",
                    re.DOTALL)
# Sigstore Fulcio's OIDC-issuer extensions: the deprecated raw form and the DER UTF8String one.
_FULCIO_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_FULCIO_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_NO_CERTIFICATES = "no certificate"

WHAT_TO_DO = ("To pass, sign commits with an SSH or OpenPGP key listed in the policy "
              "(allowed_signers / openpgp_keys), or record a policy exception for this commit.")


class MalformedX509Signature(ValueError):
    """The armor or the CMS structure inside it cannot be read."""


@dataclass(frozen=True)
class X509Claims:
    """What the signer's certificate says about them: unverified, for the message only."""

    subject: str
    issuer: str
    emails: tuple[str, ...]
    uris: tuple[str, ...]
    oidc_issuer: str | None
    not_after: datetime
    sha256: str

    @property
    def identity(self) -> str:
        return (self.emails or self.uris or (self.subject,))[0]

    @property
    def looks_like_gitsign(self) -> bool:
        return self.oidc_issuer is not None

    def describe(self) -> str:
        parts = [f"subject {self.subject or '(empty)'}", f"issuer {self.issuer}"]
        if self.emails or self.uris:
            parts.append("SAN " + ", ".join(self.emails + self.uris))
        if self.oidc_issuer:
            parts.append(f"OIDC issuer {self.oidc_issuer} (a Sigstore/gitsign certificate)")
        parts.append(f"certificate SHA-256 {self.sha256}")
        return "; ".join(parts)


def read_claims(signature: bytes) -> X509Claims | None:
    """The signer certificate's claims, None if the CMS embeds no certificate.

    Raises MalformedX509Signature when the armor or the CMS cannot be parsed.
    """
    match = _ARMOR.search(signature)
    if match is None:
        raise MalformedX509Signature("no SIGNED MESSAGE armor")
    try:
        der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedX509Signature(f"the armor is not base64 ({exc})") from exc
    try:
        with warnings.catch_warnings():
            # gpgsm writes BER (indefinite lengths); cryptography parses it with a warning
            warnings.simplefilter("ignore", UserWarning)
            certs = pkcs7.load_der_pkcs7_certificates(der)
    except ValueError as exc:
        if _NO_CERTIFICATES in str(exc):
            return None  # gpgsm's default leaves out a self-signed (root) signer certificate
        raise MalformedX509Signature(f"not a CMS SignedData structure ({exc})") from exc
    return _claims(_leaf(certs)) if certs else None


def _leaf(certs: list[x509.Certificate]) -> x509.Certificate:
    """The certificate that issued no other one in the bundle: the signer's, not a CA's."""
    issuers = {c.issuer for c in certs}
    leaves = [c for c in certs if c.subject not in issuers or c.subject == c.issuer]
    return (leaves or certs)[0]


def _claims(cert: x509.Certificate) -> X509Claims:
    emails: list[str] = [str(a.value) for a in
                         cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    uris: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        emails = san.get_values_for_type(x509.RFC822Name) + emails
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        pass
    return X509Claims(
        subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
        emails=tuple(dict.fromkeys(e.lower() for e in emails)), uris=tuple(uris),
        oidc_issuer=_oidc_issuer(cert), not_after=cert.not_valid_after_utc,
        sha256=cert.fingerprint(hashes.SHA256()).hex().upper())


def _oidc_issuer(cert: x509.Certificate) -> str | None:
    for oid in (_FULCIO_ISSUER_V2, _FULCIO_ISSUER_V1):
        try:
            raw = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        value = raw.value if isinstance(raw, x509.UnrecognizedExtension) else b""
        if oid == _FULCIO_ISSUER_V2 and value[:1] == b"\x0c" and len(value) > 2:
            value = value[2:]  # DER UTF8String, short form length (URLs are short)
        return value.decode("utf-8", "replace")
    return None


class X509Recognizer:
    """The SignatureVerifier for X.509 signatures: it always fails closed, and says why."""

    def verify(self, payload: bytes, signature: bytes, signed_at: datetime) -> SignatureVerdict:
        try:
            claims = read_claims(signature)
        except MalformedX509Signature as exc:
            return SignatureVerdict(
                status=CommitStatus.INVALID, reason=Reason.MALFORMED,
                format=SignatureFormat.X509,
                detail=f"unreadable X.509 (CMS) commit signature: {exc}")
        seen = (f"The signature claims (unverified): {claims.describe()}. " if claims else
                "The signature embeds no certificate. ")
        return SignatureVerdict(
            status=CommitStatus.UNTRUSTED, reason=Reason.UNSUPPORTED_FORMAT,
            format=SignatureFormat.X509,
            detail=("X.509 commit signatures (gpgsm, gitsign) are recognised but not verified "
                    "by this version of changegate, so this commit fails closed. "
                    f"{seen}{WHAT_TO_DO}"),
            signer=claims.identity if claims else None)


#: The same class under the name the other format modules use.
X509Verifier = X509Recognizer
