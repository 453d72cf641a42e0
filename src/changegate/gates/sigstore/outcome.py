"""What verifying one artifact against one bundle concluded, and the exception that says why not.

`Rejected` carries a rule id from rules.py at the point a check fails, so the reason reported
is the check that failed, never a guess from an error string after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Rejected(Exception):
    """A bundle did not verify (exit 1), or could not be checked when `inconclusive` (exit 2)."""

    def __init__(self, rule: str, message: str, *, inconclusive: bool = False) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.inconclusive = inconclusive


@dataclass
class Outcome:
    """One artifact's verification: the stable JSON users script against (`to_json`)."""

    artifact: str
    sha256: str
    bundle: str | None
    verified: bool = False
    rule: str | None = None
    reason: str | None = None
    inconclusive: bool = False
    identity: str | None = None
    issuer: str | None = None
    key: str | None = None
    media_type: str | None = None
    log: dict[str, Any] = field(default_factory=dict)
    certificate: dict[str, Any] = field(default_factory=dict)
    statement: dict[str, Any] | None = None
    predicate_type: str | None = None

    def reject(self, exc: Rejected) -> Outcome:
        self.verified = False
        self.rule = exc.rule
        self.reason = exc.message
        self.inconclusive = exc.inconclusive
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact, "sha256": self.sha256, "bundle": self.bundle,
            "verified": self.verified, "rule": self.rule, "reason": self.reason,
            "identity": self.identity, "issuer": self.issuer, "key": self.key,
            "media_type": self.media_type, "log": self.log, "certificate": self.certificate,
            "predicate_type": self.predicate_type, "statement": self.statement,
        }
