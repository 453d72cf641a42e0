"""Shared vocabulary of the verify-commits gate: statuses, reason codes, one signature's verdict.

Each signature format (SSH, OpenPGP, X.509) has its own verifier module that returns a
`SignatureVerdict`; the gate core adds what no verifier can know on its own (identity binding to
the committer, the GitHub web-flow rule, policy exceptions) without knowing any format.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class CommitStatus(str, enum.Enum):
    """The per-commit status in `--json` (`commits[].status`); a stable contract."""

    VERIFIED = "verified"
    UNSIGNED = "unsigned"
    INVALID = "invalid"  # the signature is broken or unreadable
    UNTRUSTED = "untrusted"  # cryptographically fine, but the key/signer is not acceptable


class Reason(str, enum.Enum):
    """Why a commit is not verified, or how it was accepted (docs/verify-commits.md)."""

    OK = "OK"
    UNSIGNED = "UNSIGNED"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    KEY_EXPIRED = "KEY_EXPIRED"
    KEY_REVOKED = "KEY_REVOKED"
    OUTSIDE_VALIDITY = "OUTSIDE_VALIDITY"
    WRONG_NAMESPACE = "WRONG_NAMESPACE"
    SIGNER_MISMATCH = "SIGNER_MISMATCH"
    MULTIPLE_SIGNATURES = "MULTIPLE_SIGNATURES"
    MALFORMED = "MALFORMED"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"
    WEB_FLOW_NOT_ALLOWED = "WEB_FLOW_NOT_ALLOWED"
    EXCEPTION_EXPIRED = "EXCEPTION_EXPIRED"
    EXCEPTION = "EXCEPTION"  # accepted by a policy exception (reported, not silent)


class SignatureFormat(str, enum.Enum):
    SSH = "ssh"
    OPENPGP = "openpgp"
    X509 = "x509"


@dataclass(frozen=True)
class SignatureVerdict:
    """What one verifier concluded about one signature over one payload.

    `identities` are every identity the trusted key is bound to (SSH principals, OpenPGP UID
    email addresses) so the gate can bind the signer to the committer; `signer` is the one to
    show. `status` is VERIFIED only when the signature is valid under a trusted, currently valid
    key; binding is checked afterwards by the gate.
    """

    status: CommitStatus
    reason: Reason
    format: SignatureFormat | None
    detail: str
    fingerprint: str | None = None
    signer: str | None = None
    identities: tuple[str, ...] = field(default_factory=tuple)


class SignatureVerifier(Protocol):
    """One signature format's verifier: pure, in-process, no subprocess per commit."""

    def verify(self, payload: bytes, signature: bytes, signed_at: datetime) -> SignatureVerdict:
        """Verify `signature` (as stored in the commit header) over `payload`.

        `signed_at` is the committer timestamp; git uses it for SSH `valid-after`/`valid-before`
        and we use it for OpenPGP key validity too, so a verdict does not change with the day the
        gate happens to run.
        """
        ...
