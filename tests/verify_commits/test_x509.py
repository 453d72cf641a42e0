"""X.509 signatures are recognised and refused with a useful message; formats are detected.

The gpgsm signatures come from the real gpgsm and git; the gitsign-shaped one is a detached CMS
built with `cryptography` around a certificate carrying Fulcio's OIDC-issuer extension, armored
as gitsign armors it.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from gpg_fixtures import GnuPG, GpgSm, Repo, split_commit, stop_agents

from changegate.gates.verify_commits.formats import detect_format
from changegate.gates.verify_commits.verdict import (
    CommitStatus,
    Reason,
    SignatureFormat,
    SignatureVerifier,
)
from changegate.gates.verify_commits.x509 import X509Recognizer, X509Verifier, read_claims

NOW = datetime.now(timezone.utc)
needs_gpgsm = pytest.mark.skipif(shutil.which("gpgsm") is None, reason="gpgsm not installed")


@pytest.fixture(autouse=True, scope="module")
def _stop_gpg_agents() -> Iterator[None]:
    yield
    stop_agents()


def _armor(der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return b"-----BEGIN SIGNED MESSAGE-----\n" + lines + b"\n-----END SIGNED MESSAGE-----\n"


def _gitsign_like(payload: bytes) -> bytes:
    """A detached CMS signature over `payload` by a Fulcio-style short-lived certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "sigstore-intermediate")])
    oidc = "https://github.com/login/oauth"
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(minutes=1))
            .not_valid_after(NOW + timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("Dev@Example.com")]),
                           critical=True)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), oidc.encode()), critical=False)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"),
                b"\x0c" + bytes([len(oidc)]) + oidc.encode()), critical=False)
            .sign(key, hashes.SHA256()))
    der = (pkcs7.PKCS7SignatureBuilder().set_data(payload)
           .add_signer(cert, key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))
    return _armor(der)


@pytest.fixture(scope="module")
def gpgsm_commit(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, datetime]:
    """A commit signed by the real git through the real gpgsm (gpg.format=x509)."""
    root = tmp_path_factory.mktemp("gpgsm")
    gpg = GnuPG(root / "home")
    cert = GpgSm(gpg).make_cert("CN=Alice Example,O=Example Bank", "alice@example.com")
    repo = Repo(root / "repo", gpg)
    repo.git("-c", "gpg.format=x509", "-c", "gpg.x509.program=gpgsm", "-c",
             f"user.signingkey={cert}", "-c", "user.name=Alice", "-c",
             "user.email=alice@example.com", "commit", "-q", "--allow-empty", "-S", "-m", "x509")
    payload, signature, committed = split_commit(repo.raw_commit("HEAD"))
    assert signature is not None
    return payload, signature, committed


@needs_gpgsm
def test_gpgsm_commit_fails_closed_with_the_claims(
        gpgsm_commit: tuple[bytes, bytes, datetime]) -> None:
    payload, signature, committed = gpgsm_commit
    assert detect_format(signature) is SignatureFormat.X509
    verifier: SignatureVerifier = X509Recognizer()
    assert X509Verifier is X509Recognizer
    verdict = verifier.verify(payload, signature, committed)
    assert (verdict.status, verdict.reason, verdict.format) == (
        CommitStatus.UNTRUSTED, Reason.UNSUPPORTED_FORMAT, SignatureFormat.X509)
    assert verdict.signer == "alice@example.com"
    assert "recognised but not verified" in verdict.detail
    assert "fails closed" in verdict.detail
    assert "CN=Alice Example" in verdict.detail
    assert "SSH or OpenPGP" in verdict.detail and "policy exception" in verdict.detail
    assert verdict.fingerprint is None and verdict.identities == ()


@needs_gpgsm
def test_gpgsm_default_embeds_no_certificate(tmp_path: Path) -> None:
    gpg = GnuPG(tmp_path / "home")
    sm = GpgSm(gpg, include_certs=-2)  # gpgsm's default: the self-signed root is left out
    fpr = sm.make_cert("CN=Bob,O=Example Bank", "bob@example.com")
    signature = sm.run("--armor", "--detach-sign", "-u", fpr, stdin=b"payload").stdout
    assert read_claims(signature) is None
    verdict = X509Verifier().verify(b"payload", signature, NOW)
    assert verdict.reason is Reason.UNSUPPORTED_FORMAT
    assert "embeds no certificate" in verdict.detail and verdict.signer is None


def test_gitsign_signature_is_described() -> None:
    signature = _gitsign_like(b"tree x\n\ncommit\n")
    claims = read_claims(signature)
    assert claims is not None and claims.looks_like_gitsign
    assert claims.emails == ("dev@example.com",)
    assert claims.oidc_issuer == "https://github.com/login/oauth"
    verdict = X509Verifier().verify(b"tree x\n\ncommit\n", signature, NOW)
    assert (verdict.status, verdict.reason) == (CommitStatus.UNTRUSTED,
                                                Reason.UNSUPPORTED_FORMAT)
    assert verdict.signer == "dev@example.com"
    assert "gitsign" in verdict.detail and "https://github.com/login/oauth" in verdict.detail


@pytest.mark.parametrize("signature", [
    b"-----BEGIN SIGNED MESSAGE-----\n!!!not base64!!!\n-----END SIGNED MESSAGE-----\n",
    _armor(b"\x30\x03\x02\x01\x01"),
    b"-----BEGIN SIGNED MESSAGE-----\nMIAG\n",  # no end line
])
def test_unreadable_x509_is_malformed(signature: bytes) -> None:
    verdict = X509Verifier().verify(b"payload", signature, NOW)
    assert (verdict.status, verdict.reason, verdict.format) == (
        CommitStatus.INVALID, Reason.MALFORMED, SignatureFormat.X509)


@pytest.mark.parametrize(("signature", "expected"), [
    (b"-----BEGIN PGP SIGNATURE-----\n\nabc\n", SignatureFormat.OPENPGP),
    (b"-----BEGIN PGP MESSAGE-----\n\nabc\n", SignatureFormat.OPENPGP),
    (b"-----BEGIN SSH SIGNATURE-----\nabc\n", SignatureFormat.SSH),
    (b"-----BEGIN SIGNED MESSAGE-----\nabc\n", SignatureFormat.X509),
    (b"\n  -----BEGIN SSH SIGNATURE-----\nabc\n", SignatureFormat.SSH),
    (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n", None),
    (b"-----BEGIN CERTIFICATE-----\n", None),
    (b"", None),
    (b"garbage", None),
])
def test_detect_format(signature: bytes, expected: SignatureFormat | None) -> None:
    assert detect_format(signature) is expected
