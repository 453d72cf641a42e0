"""One statement per gate result, with the standard predicate where one exists.

- sbom: the CycloneDX BOM itself (`https://cyclonedx.org/bom`), subject the commit and the file;
- audit: the in-toto vulnerabilities predicate v0.2, exceptions as annotations;
- sign: SLSA Provenance v1 for the signed artifacts, bundles as byproducts;
- verify and any other gate: the in-toto test-result predicate;
- verify-commits and approvals: our own versioned predicates (docs/evidence.md), because no
  standard describes commit-signature verdicts or review independence.

Each gate's verdict (status, summary, findings) is always in the change record (the VSA); the
test-result and our predicates carry it too, so such a statement also reads on its own. A gate
result that lacks what its standard predicate needs (an inconclusive run: no BOM, no artifact)
falls back to test-result rather than emitting an invalid standard document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate import __version__
from changegate.evidence import statements as st
from changegate.evidence.canonical import plain, sha256_hex

if TYPE_CHECKING:
    from changegate.change import Change
    from changegate.result import GateResult

GATE_RESULT_FIELD = "https://changegate.dev/attestation/gate-result/v1"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
RESERVED = ("result", "range", "change")


@dataclass(frozen=True)
class GateContext:
    """What every predicate may say about the change besides the gate's own result."""

    change: Change
    commit: st.CommitRef
    workdir: Path
    time: str
    environment: str | None
    policy: dict[str, Any]  # a ResourceDescriptor: {uri, digest?}


Builder = Callable[["GateResult", GateContext], dict[str, Any]]


def gate_statement(result: GateResult, ctx: GateContext) -> dict[str, Any]:
    builder = BUILDERS.get(result.gate, test_result)
    return builder(result, ctx)


def verdict_block(result: GateResult) -> dict[str, Any]:
    return {"gate": result.gate, "status": result.status.value, "summary": result.summary,
            "findings": [plain(f.to_json()) for f in result.findings]}


def _subjects(result: GateResult, ctx: GateContext) -> list[dict[str, Any]]:
    return [ctx.commit.subject(), *st.artifact_subjects(result.details)]


def _details(result: GateResult) -> dict[str, Any]:
    details = plain(result.details)
    return {k: v for k, v in details.items() if k not in RESERVED}


def commit_signatures(result: GateResult, ctx: GateContext) -> dict[str, Any]:
    predicate = {"range": {"base": ctx.change.base, "head": ctx.change.head},
                 "result": verdict_block(result), "policy": ctx.policy, **_details(result)}
    return st.statement(_subjects(result, ctx), st.COMMIT_SIGNATURES, predicate)


def approvals(result: GateResult, ctx: GateContext) -> dict[str, Any]:
    change = ctx.change
    predicate = {"change": {"number": change.number, "head": change.head,
                            "source_branch": change.source_branch, "target": change.ref,
                            "labels": list(change.labels), "actor": change.actor},
                 "result": verdict_block(result), "policy": ctx.policy, **_details(result)}
    return st.statement(_subjects(result, ctx), st.APPROVALS, predicate)


def cyclonedx(result: GateResult, ctx: GateContext) -> dict[str, Any]:
    bom = _read_bom(result.details.get("sbom"), ctx.workdir)
    if bom is None:
        return test_result(result, ctx)
    return st.statement(_subjects(result, ctx), st.CYCLONEDX, bom)


def _read_bom(info: object, workdir: Path) -> dict[str, Any] | None:
    """The BOM the gate wrote, only if it is JSON and still has the digest the gate recorded."""
    if not isinstance(info, Mapping) or info.get("format", "json") != "json":
        return None
    path, digest = info.get("path"), info.get("sha256")
    if not isinstance(path, str) or not isinstance(digest, str):
        return None
    file = Path(path) if Path(path).is_absolute() else workdir / path
    try:
        data = file.read_bytes()
    except OSError:
        return None
    if sha256_hex(data) != digest:
        return None
    try:
        bom = json.loads(data)
    except ValueError:
        return None
    return bom if isinstance(bom, dict) else None


def vulns(result: GateResult, ctx: GateContext) -> dict[str, Any]:
    details = plain(result.details)
    database = details.get("database") or {}
    db: dict[str, Any] = {"uri": str(database.get("uri") or database.get("path") or "osv")}
    if database.get("sha256"):
        db["version"] = f"sha256:{database['sha256']}"
    if database.get("newest_modified"):
        db["lastUpdate"] = database["newest_modified"]
    found = [_vuln(v) for v in details.get("vulnerabilities") or [] if isinstance(v, dict)]
    predicate = {
        "scanner": {"uri": f"pkg:pypi/changegate@{__version__}", "version": __version__,
                    "db": db, "result": found},
        "metadata": {"scanStartedOn": ctx.time, "scanFinishedOn": ctx.time},
    }
    return st.statement(_subjects(result, ctx), st.VULNS, predicate)


def _vuln(vuln: dict[str, Any]) -> dict[str, Any]:
    severity: list[dict[str, str]] = []
    if vuln.get("score") is not None:
        severity.append({"method": "cvss_score", "score": str(vuln["score"])})
    if vuln.get("severity"):
        severity.append({"method": "osv", "score": str(vuln["severity"])})
    notes = {k: vuln[k] for k in ("package", "version", "aliases", "fixed_in", "suppressed",
                                  "exception") if k in vuln}
    return {"id": str(vuln.get("id", "")), "severity": severity, "annotations": [notes]}


def provenance(result: GateResult, ctx: GateContext) -> dict[str, Any]:
    artifacts = st.artifact_subjects(result.details)
    if not artifacts:
        return test_result(result, ctx)
    change = ctx.change
    byproducts = [
        {"name": str(item.get("bundle")), "digest": {"sha256": item["bundle_sha256"]},
         "mediaType": BUNDLE_MEDIA_TYPE}
        for item in result.details.get("artifacts") or []
        if isinstance(item, Mapping) and isinstance(item.get("bundle_sha256"), str)]
    dependency: dict[str, Any] = {"digest": {"gitCommit": change.head,
                                             "sha256": ctx.commit.sha256}}
    if ctx.commit.uri:
        dependency["uri"] = ctx.commit.uri
    predicate = {
        "buildDefinition": {
            "buildType": "https://changegate.dev/buildtypes/sign/v1",
            "externalParameters": {"repository": ctx.commit.repository_uri, "ref": change.ref,
                                   "refType": change.ref_type, "environment": ctx.environment},
            "internalParameters": {"policy": ctx.policy},
            "resolvedDependencies": [dependency],
        },
        "runDetails": {
            "builder": {"id": f"https://changegate.dev/builders/{change.platform}"},
            "metadata": {"invocationId": change.run_url, "startedOn": ctx.time,
                         "finishedOn": ctx.time},
            "byproducts": byproducts,
        },
    }
    return st.statement([ctx.commit.subject(), *artifacts], st.PROVENANCE, predicate)


def test_result(result: GateResult, ctx: GateContext) -> dict[str, Any]:
    """The generic form: PASSED/WARNED/FAILED plus our verdict block as an extension field."""
    warned = sorted({f.rule for f in result.findings if f.severity.value == "warning"})
    failed = sorted({f.rule for f in result.findings if f.severity.value == "error"})
    status = result.status.value
    if status != "pass":
        outcome = "FAILED"
        failed = failed or [result.gate]
    else:
        outcome = "WARNED" if warned else "PASSED"
    predicate: dict[str, Any] = {
        "result": outcome,
        "configuration": [ctx.policy],
        "passedTests": [result.gate] if status == "pass" else [],
        "warnedTests": warned,
        "failedTests": failed,
        GATE_RESULT_FIELD: {**verdict_block(result), "details": plain(result.details)},
    }
    if ctx.change.run_url:
        predicate["url"] = ctx.change.run_url
    return st.statement(_subjects(result, ctx), st.TEST_RESULT, predicate)


BUILDERS: dict[str, Builder] = {
    "verify-commits": commit_signatures,
    "approvals": approvals,
    "sbom": cyclonedx,
    "audit": vulns,
    "sign": provenance,
    "verify": test_result,
}
