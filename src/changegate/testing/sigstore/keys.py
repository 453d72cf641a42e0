"""Signing keys of the local instance, made fresh for each instance and never written to disk.

Each service of a Sigstore instance has its own key (CA, CT log, transparency log, OIDC
issuer), and a verifier trusts each one separately: the tampering tests swap exactly one of
them for a `rogue` key to show that every check is really made.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True)
class KeyPair:
    """An ECDSA key with the identifiers Sigstore derives from it."""

    private: ec.EllipticCurvePrivateKey = field(repr=False)

    @classmethod
    def generate(cls, curve: ec.EllipticCurve | None = None) -> KeyPair:
        return cls(ec.generate_private_key(curve or ec.SECP256R1()))

    @property
    def public(self) -> ec.EllipticCurvePublicKey:
        return self.private.public_key()

    @property
    def spki_der(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def public_pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def private_pem(self) -> bytes:
        return self.private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    @property
    def key_id(self) -> bytes:
        """RFC 6962 key id (SHA-256 of the DER SubjectPublicKeyInfo): CT log and Rekor log ids."""
        return hashlib.sha256(self.spki_der).digest()

    @property
    def key_id_b64(self) -> str:
        return base64.b64encode(self.key_id).decode()

    def sign(self, data: bytes) -> bytes:
        """ECDSA over SHA-256 (P-256) or SHA-384 (P-384), DER-encoded, as the services sign."""
        digest: hashes.HashAlgorithm = (hashes.SHA384() if self.private.curve.key_size == 384
                                        else hashes.SHA256())
        return self.private.sign(data, ec.ECDSA(digest))
