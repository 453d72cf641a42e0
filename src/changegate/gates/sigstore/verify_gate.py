"""The verify gate: every artifact must verify against its bundle under the identity policy.

One Verifier serves all artifacts (building it parses the trusted root; verifying a bundle is
then a few milliseconds). Each artifact gets its own outcome: one forged bundle fails the gate
without hiding which others verified, and the JSON lists every artifact's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from changegate.gates.sigstore.artifacts import Artifact
from changegate.gates.sigstore.identity import IdentityPolicy
from changegate.gates.sigstore.outcome import Outcome
from changegate.gates.sigstore.rules import finding
from changegate.gates.sigstore.trust import TrustSource
from changegate.result import Finding, GateResult, Status

GATE = "verify"


@dataclass(frozen=True)
class Item:
    """One artifact to verify and where its bundle is (None: not found)."""

    artifact: Artifact | None
    label: str
    bundle: Path | None
    bundle_label: str | None
    problem: tuple[str, str] | None = None  # (rule, message) found while resolving


@dataclass(frozen=True)
class VerifyRequest:
    items: list[Item]
    trust: TrustSource
    policy: IdentityPolicy | None
    key: Any | None = None
    key_label: str | None = None
    predicate_type: str | None = None


def run(request: VerifyRequest) -> GateResult:
    from changegate.gates.sigstore.verifying import BundleVerifier

    verifier = BundleVerifier(request.trust, request.policy, key=request.key,
                              predicate_type=request.predicate_type)
    outcomes: list[Outcome] = []
    for item in request.items:
        if item.problem is not None or item.artifact is None or item.bundle is None:
            rule, message = item.problem or ("BUNDLE_MISSING", f"no bundle for {item.label}")
            outcomes.append(Outcome(artifact=item.label, sha256=getattr(item.artifact, "sha256",
                                                                         ""),
                                    bundle=item.bundle_label, rule=rule, reason=message,
                                    inconclusive=True))
            continue
        outcomes.append(verifier.verify(item.artifact, item.bundle, item.bundle_label or ""))
    return _result(request, outcomes)


def _result(request: VerifyRequest, outcomes: list[Outcome]) -> GateResult:
    findings: list[Finding] = []
    for outcome in outcomes:
        if outcome.verified or outcome.rule is None:
            continue
        where = f" (bundle {outcome.bundle})" if outcome.bundle else ""
        findings.append(finding(outcome.rule, f"{outcome.artifact}{where}: {outcome.reason}",
                                file=None if outcome.artifact.startswith("sha256:")
                                else outcome.artifact))
    if any(o.inconclusive for o in outcomes):
        status = Status.ERROR
    elif all(o.verified for o in outcomes) and outcomes:
        status = Status.PASS
    else:
        status = Status.FAIL
    verified = sum(o.verified for o in outcomes)
    first = next((o for o in outcomes if o.verified), outcomes[0] if outcomes else None)
    signer = request.policy.describe() if request.policy else f"key {request.key_label}"
    if status is Status.PASS:
        summary = f"{verified} of {len(outcomes)} verified: signed by {signer}"
    else:
        failed = [o for o in outcomes if not o.verified]
        summary = (f"{len(failed)} of {len(outcomes)} did not verify against {signer}: "
                   + "; ".join(f"{o.artifact}: {o.rule}" for o in failed[:5]))
    details: dict[str, Any] = {
        "verified": status is Status.PASS,
        "identity": first.identity if first else None,
        "issuer": first.issuer if first else None,
        "statement": first.statement if first else None,
        "artifacts": [o.to_json() for o in outcomes],
        "policy": request.policy.to_json() if request.policy else {"key": request.key_label},
        "trust": request.trust.describe(),
    }
    return GateResult(gate=GATE, status=status, summary=summary, findings=findings,
                      details=details)
