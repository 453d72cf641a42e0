"""A Fulcio-like certificate authority: short-lived code-signing certificates for OIDC identities.

The certificates follow Fulcio's profile closely enough that sigstore-python's verifier runs
every check on them unchanged: an empty subject with a critical SAN, digitalSignature key usage,
the codeSigning EKU, the OIDC extensions, and an embedded SCT from the instance's own CT log.
The chain is root -> intermediate -> leaf, with P-384 CA keys as the public instance uses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from changegate.testing.sigstore.ct import CTLog, sct_list_extension_value
from changegate.testing.sigstore.identities import CertificateIdentity
from changegate.testing.sigstore.keys import KeyPair

_SCT_LIST_OID = ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class CertificateAuthority:
    """A root and an intermediate CA; the intermediate issues the leaf certificates."""

    def __init__(self, organization: str, *, now: datetime) -> None:
        self.organization = organization
        start = now - timedelta(days=1)
        end = now + timedelta(days=3650)
        self.root_key = KeyPair.generate(ec.SECP384R1())
        self.intermediate_key = KeyPair.generate(ec.SECP384R1())
        root_name = _name(f"{organization} root", organization)
        self.root = (
            x509.CertificateBuilder()
            .subject_name(root_name).issuer_name(root_name)
            .public_key(self.root_key.public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.root_key.public),
                           critical=False)
            .sign(self.root_key.private, hashes.SHA384())
        )
        self.intermediate = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{organization} intermediate", organization))
            .issuer_name(root_name)
            .public_key(self.intermediate_key.public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                self.intermediate_key.public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.root_key.public), critical=False)
            .sign(self.root_key.private, hashes.SHA384())
        )

    @property
    def chain(self) -> list[x509.Certificate]:
        """The CA certificates from the issuing intermediate up to the root."""
        return [self.intermediate, self.root]

    def issue(self, public_key: ec.EllipticCurvePublicKey, identity: CertificateIdentity,
              ct_log: CTLog, *, now: datetime, lifetime: timedelta) -> x509.Certificate:
        """A leaf certificate with an embedded SCT over its precertificate (RFC 6962 3.1).

        The SCT signs the TBSCertificate *without* the SCT list. We build the certificate once
        with a placeholder list to obtain exactly those bytes (cryptography strips the list in
        `tbs_precertificate_bytes`), have the CT log sign them, then build it again with the
        real SCT: the extension goes last, so every other byte is identical.
        """
        not_before = now.replace(microsecond=0)
        serial = x509.random_serial_number()

        def build(sct_value: bytes) -> x509.Certificate:
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(self.intermediate.subject)
                .public_key(public_key)
                .serial_number(serial)
                .not_valid_before(not_before).not_valid_after(not_before + lifetime)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.intermediate_key.public), critical=False)
                .add_extension(x509.SubjectAlternativeName([identity.san]), critical=True)
            )
            for extension in identity.extensions():
                builder = builder.add_extension(extension, critical=False)
            builder = builder.add_extension(
                x509.UnrecognizedExtension(_SCT_LIST_OID, sct_value), critical=False)
            return builder.sign(self.intermediate_key.private, hashes.SHA384())

        placeholder = ct_log.sct(b"", b"\x00" * 32, now)
        draft = build(sct_list_extension_value([placeholder]))
        sct = ct_log.sct(draft.tbs_precertificate_bytes, self.intermediate_key.key_id, now)
        return build(sct_list_extension_value([sct]))

