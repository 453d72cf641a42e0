"""The change record: one SLSA Verification Summary Attestation v1 per `changegate check`.

The VSA is the standard way to say "a verifier checked this artifact against this policy, using
these attestations, and decided PASSED/FAILED". Ours names the policy by digest, every input
statement by digest (`inputAttestations`), and lists the controls the change evidences in
`verifiedLevels` as custom values `<framework>:<id>` (SLSA allows custom values that do not start
with `SLSA_`; on failure the list is `["FAILED"]`, as the spec requires). The details an auditor
needs that the VSA has no field for (the change, each gate's verdict and findings, the whole
control table) go in one URI-named extension field, which SLSA's parsing rules allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from changegate import __version__
from changegate.evidence import statements as st
from changegate.evidence.predicates import verdict_block

if TYPE_CHECKING:
    from changegate.change import Change
    from changegate.evidence.controls import Catalog, ControlResult
    from changegate.result import GateResult


@dataclass(frozen=True)
class InputRecord:
    """One statement the verdict was made from, as the VSA points at it."""

    gate: str | None
    sha256: str
    uri: str
    predicate_type: str

    def descriptor(self) -> dict[str, Any]:
        item: dict[str, Any] = {"uri": self.uri, "digest": {"sha256": self.sha256},
                                "mediaType": "application/vnd.in-toto+json",
                                "annotations": {"predicateType": self.predicate_type}}
        if self.gate:
            item["name"] = self.gate
        return item


def change_facts(change: Change, environment: str | None) -> dict[str, Any]:
    return {"platform": change.platform, "repository": change.repository, "ref": change.ref,
            "ref_type": change.ref_type, "event": change.event, "number": change.number,
            "head": change.head, "base": change.base, "source_branch": change.source_branch,
            "actor": change.actor, "run_url": change.run_url, "labels": list(change.labels),
            "environment": environment}


def verdict(status: str) -> str:
    """PASSED only if every gate passed: an inconclusive gate fails the change (fail closed)."""
    return "PASSED" if status == "pass" else "FAILED"


def build_change_record(*, change: Change, commit: st.CommitRef, environment: str | None,
                        time: str, policy: Mapping[str, Any], status: str,
                        results: Sequence[GateResult], inputs: Sequence[InputRecord],
                        catalog: Catalog, controls: Sequence[ControlResult],
                        store: Mapping[str, Any]) -> dict[str, Any]:
    result = verdict(status)
    passed = [c.control.key for c in controls if c.status == "pass"]
    by_gate = {i.gate: i for i in inputs if i.gate}
    gates = []
    for gate_result in results:
        block = verdict_block(gate_result)
        record = by_gate.get(gate_result.gate)
        if record is not None:
            block["statement"] = {"sha256": record.sha256, "predicateType": record.predicate_type}
        gates.append(block)
    subjects = [commit.subject()]
    for gate_result in results:
        subjects.extend(st.artifact_subjects(gate_result.details))
    predicate: dict[str, Any] = {
        "verifier": {"id": st.VERIFIER_ID, "version": {"changegate": __version__}},
        "timeVerified": time,
        "resourceUri": commit.uri or f"commit:{commit.sha}",
        "policy": dict(policy),
        "inputAttestations": [i.descriptor() for i in inputs],
        "verificationResult": result,
        "verifiedLevels": passed if result == "PASSED" else ["FAILED"],
        "slsaVersion": "1.0",
        st.CHANGE_RECORD_FIELD: {
            "status": status,
            "change": change_facts(change, environment),
            "gates": gates,
            "controls": {"catalog": catalog.version, "frameworks": catalog.frameworks,
                         "results": [c.to_json() for c in controls]},
            "store": dict(store),
        },
    }
    return st.statement(subjects, st.VSA, predicate)
