"""Every use of sigstore-python's private API, in one place.

sigstore-python's public API verifies whole bundles; to name *which* check failed, and to
verify what it does not support offline (managed-key bundles, `intoto` log entries, v0.1
bundles with only an inclusion promise), we call its building blocks directly: the Merkle,
checkpoint, SET and SCT checks and the verifier's chain and timestamp steps. The dependency is
hash-locked to one version and tests/sigstore exercise each function here, so an upgrade that
moves one fails loudly in CI rather than weakening a check.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.models import TransparencyLogEntry, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore_models.rekor.v1 import TransparencyLogEntry as EntryModel


def log_entry(inner: EntryModel) -> TransparencyLogEntry:
    """Wrap an entry without sigstore's "must have a checkpointed proof" rule (v0.1 bundles)."""
    from sigstore.models import TransparencyLogEntry

    entry = TransparencyLogEntry.__new__(TransparencyLogEntry)
    entry._inner = inner
    return entry


def verify_inclusion_proof(entry: TransparencyLogEntry) -> None:
    from sigstore._internal.merkle import verify_merkle_inclusion

    verify_merkle_inclusion(entry)


def verify_checkpoint(root: TrustedRoot, entry: TransparencyLogEntry) -> None:
    from sigstore._internal.rekor.checkpoint import verify_checkpoint as check
    from sigstore._internal.trust import KeyringPurpose

    check(root.rekor_keyring(KeyringPurpose.VERIFY), entry)


def verify_set(root: TrustedRoot, entry: TransparencyLogEntry) -> None:
    from sigstore._internal.trust import KeyringPurpose

    entry._verify_set(root.rekor_keyring(KeyringPurpose.VERIFY))


def verify_sct(root: TrustedRoot, cert: Certificate, chain: list[Certificate]) -> None:
    from sigstore._internal.sct import verify_sct as check
    from sigstore._internal.trust import KeyringPurpose

    check(cert, chain, root.ct_keyring(KeyringPurpose.VERIFY))


def verify_chain_at(verifier: Verifier, cert: Certificate, when: datetime) -> list[Certificate]:
    """The CA chain of `cert` valid at `when` (raises if it does not chain to the root)."""
    from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult

    result = TimestampVerificationResult(source=TimestampSource.TRANSPARENCY_SERVICE, time=when)
    return verifier._verify_chain_at_time(cert, result)


def verify_timestamps(verifier: Verifier, encoded: list[str | bytes],
                      signature: bytes) -> list[datetime]:
    """The times of the RFC 3161 timestamps that a trusted TSA signed over `signature`."""
    from rfc3161_client import decode_timestamp_response

    times = []
    for item in encoded:
        raw = base64.b64decode(item) if isinstance(item, str) else item
        try:
            response = decode_timestamp_response(raw)
        except ValueError:
            continue
        result = verifier._verify_signed_timestamp(response, signature)
        if result is not None:
            times.append(result.time)
    return times


def integrated_time(entry: TransparencyLogEntry) -> datetime | None:
    value = entry._inner.integrated_time
    if not value:
        return None
    return datetime.fromtimestamp(int(value), tz=timezone.utc)


def signing_certificate(signer: object) -> Certificate:
    """The certificate a (caching) Signer obtained at construction, before anything is signed.

    Reading it lets the sign gate refuse a wrong identity before any entry reaches the log.
    """
    method = getattr(signer, "_signing_cert")  # noqa: B009 - private, see the module docstring
    cert: Certificate = method()
    return cert


def fulcio_message(exc: BaseException) -> str:
    """Fulcio's own error message; sigstore-python drops it for 4xx answers."""
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    text = getattr(response, "text", "") or ""
    try:
        import json

        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or text or exc or type(exc).__name__)
