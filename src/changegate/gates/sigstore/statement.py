"""in-toto Statements: the checks a DSSE attestation must pass, and building the ones we sign.

Verifying a DSSE signature only proves someone signed *some* payload. It is about *this*
artifact only if the payload is an in-toto Statement one of whose subjects carries the
artifact's digest, and it says what the policy wants only if its predicate type is the one
required. Those checks are here, each with its own rule.
"""

from __future__ import annotations

import json
from typing import Any

from changegate.gates.sigstore.outcome import Rejected

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = (STATEMENT_V1, "https://in-toto.io/Statement/v0.1")

# Short names accepted wherever a predicate type is (CLI, policy); the bundle file suffix too.
PREDICATE_TYPES = {
    "sbom": "https://cyclonedx.org/bom",
    "audit": "https://in-toto.io/attestation/vulns/v0.2",
    "provenance": "https://slsa.dev/provenance/v1",
}


def predicate_uri(name: str) -> str:
    """A short name's predicate type URI, or the argument itself (already a URI)."""
    return PREDICATE_TYPES.get(name, name)


def predicate_matches(required: str, stated: str) -> bool:
    """Whether `stated` satisfies `required` (a URI or short name).

    CycloneDX predicates may carry the spec version (`https://cyclonedx.org/bom/v1.6`), so
    `sbom` accepts the versioned forms too; everything else compares exactly.
    """
    uri = predicate_uri(required)
    if stated == uri:
        return True
    return uri == PREDICATE_TYPES["sbom"] and stated.startswith(uri + "/v")


def short_name(uri: str) -> str | None:
    for name, value in PREDICATE_TYPES.items():
        if value == uri:
            return name
    return None


def check_statement(payload_type: str, payload: bytes, digests: dict[str, str],
                    predicate_type: str | None) -> dict[str, Any]:
    """The verified Statement, if it is about the artifact and of the required type.

    `digests` maps algorithm (`sha256`, and `sha512` when computed) to the artifact's hex
    digest; a subject matches when any algorithm both sides have agrees.
    """
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise Rejected("PAYLOAD_TYPE_MISMATCH",
                       f"the DSSE payload type is {payload_type!r}, not {IN_TOTO_PAYLOAD_TYPE}")
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise Rejected("STATEMENT_INVALID", f"the payload is not JSON: {exc}") from exc
    if not isinstance(statement, dict) or statement.get("_type") not in STATEMENT_TYPES:
        kind = statement.get("_type") if isinstance(statement, dict) else None
        raise Rejected("STATEMENT_INVALID", f"the payload's _type is {kind!r}, not an in-toto "
                                            "Statement (v1 or v0.1)")
    subjects = statement.get("subject")
    stated = statement.get("predicateType")
    if not isinstance(subjects, list) or not subjects or not isinstance(stated, str):
        raise Rejected("STATEMENT_INVALID", "the statement lacks subjects or a predicateType")
    if not any(_matches(subject, digests) for subject in subjects):
        listed = ", ".join(_describe(s) for s in subjects[:5])
        raise Rejected("DIGEST_MISMATCH",
                       f"no subject of the statement has the artifact's digest "
                       f"(sha256:{digests['sha256']}); subjects: {listed}")
    if predicate_type is not None and not predicate_matches(predicate_type, stated):
        raise Rejected("PREDICATE_TYPE_MISMATCH",
                       f"the predicate type is {stated!r}, the policy requires {predicate_type!r}")
    return statement


def _matches(subject: Any, digests: dict[str, str]) -> bool:
    if not isinstance(subject, dict) or not isinstance(subject.get("digest"), dict):
        return False
    stated = subject["digest"]
    return any(str(stated.get(algorithm, "")).lower() == value
               for algorithm, value in digests.items())


def _describe(subject: Any) -> str:
    if not isinstance(subject, dict):
        return "?"
    raw = subject.get("digest")
    digest: dict[str, Any] = raw if isinstance(raw, dict) else {}
    shown = ", ".join(f"{k}:{str(v)[:16]}..." for k, v in list(digest.items())[:2])
    return f"{subject.get('name', '?')} ({shown})"


def subject_algorithms(payload: bytes) -> set[str]:
    """Digest algorithms the statement's subjects use (to know whether sha512 is needed)."""
    try:
        statement = json.loads(payload)
        return {str(k) for s in statement.get("subject", []) for k in s.get("digest", {})}
    except (ValueError, AttributeError, TypeError):
        return set()


def build_statement(name: str, sha256: str, predicate_type: str,
                    predicate: dict[str, Any]) -> dict[str, Any]:
    """An in-toto Statement v1 about one artifact (the subject is its sha256)."""
    return {"_type": STATEMENT_V1, "subject": [{"name": name, "digest": {"sha256": sha256}}],
            "predicateType": predicate_type, "predicate": predicate}
