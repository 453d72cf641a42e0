"""Statements: subjects, the predicate chosen per gate, and acceptance by Sigstore's DSSE model."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from evidence_support import Workspace, make_change, sample_results

from changegate.evidence import statements as st
from changegate.evidence.canonical import canonical, plain, timestamp, utc_now
from changegate.evidence.predicates import GATE_RESULT_FIELD, GateContext, gate_statement
from changegate.evidence.recorder import policy_descriptor
from changegate.result import GateResult, Status


def context(ws: Workspace) -> GateContext:
    return GateContext(change=ws.change, commit=st.commit_ref(ws.change, ws.path),
                       workdir=ws.path, time=timestamp(utc_now()), environment="production",
                       policy=policy_descriptor(None, ws.change))


def by_gate(ws: Workspace) -> dict[str, dict[str, Any]]:
    ctx = context(ws)
    return {r.gate: gate_statement(r, ctx) for r in sample_results(ws.head, ws.path)}


def test_commit_subject_digest_is_the_git_object_hashed_with_sha256(workspace: Workspace) -> None:
    raw = subprocess.run(["git", "cat-file", "commit", workspace.head], cwd=workspace.path,
                         capture_output=True, check=True).stdout
    expected = hashlib.sha256(b"commit %d\0" % len(raw) + raw).hexdigest()
    subject = st.commit_ref(workspace.change, workspace.path).subject()
    assert subject["digest"] == {"sha256": expected}
    assert subject["annotations"] == {"gitCommit": workspace.head}
    assert subject["uri"] == f"git+https://github.com/acme/payments@{workspace.head}"


def test_in_a_sha256_repository_the_digest_is_the_commit_id(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@example.com",
           "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@example.com"}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, env=env, capture_output=True,
                              check=True, text=True).stdout.strip()

    git("init", "-q", "--object-format=sha256", "-b", "main", ".")
    git("commit", "-q", "--allow-empty", "-m", "first")
    head = git("rev-parse", "HEAD")
    assert len(head) == 64
    assert st.commit_object_sha256(tmp_path, head) == head


def test_unreadable_commit_is_an_error(workspace: Workspace) -> None:
    from changegate.errors import ChangegateError

    with pytest.raises(ChangegateError) as caught:
        st.commit_object_sha256(workspace.path, "1" * 40)
    assert caught.value.rule == "EVIDENCE_COMMIT_UNREADABLE"


def test_each_gate_gets_its_predicate(workspace: Workspace) -> None:
    statements = by_gate(workspace)
    assert statements["verify-commits"]["predicateType"] == st.COMMIT_SIGNATURES
    assert statements["approvals"]["predicateType"] == st.APPROVALS
    assert statements["sbom"]["predicateType"] == st.CYCLONEDX
    assert statements["audit"]["predicateType"] == st.VULNS
    for statement in statements.values():
        assert statement["_type"] == "https://in-toto.io/Statement/v1"
        assert statement["subject"][0]["annotations"]["gitCommit"] == workspace.head


def test_commit_signatures_predicate_keeps_the_gate_details(workspace: Workspace) -> None:
    predicate = by_gate(workspace)["verify-commits"]["predicate"]
    assert predicate["commits"][0]["fingerprint"] == "SHA256:k3y"
    assert predicate["result"]["status"] == "pass"
    assert predicate["range"] == {"base": None, "head": workspace.head}


def test_sbom_predicate_is_the_bom_and_the_file_is_a_subject(workspace: Workspace) -> None:
    statement = by_gate(workspace)["sbom"]
    assert statement["predicate"]["bomFormat"] == "CycloneDX"
    data = (workspace.path / "sbom.cdx.json").read_bytes()
    assert {"name": "sbom.cdx.json", "digest": {"sha256": hashlib.sha256(data).hexdigest()}} \
        in statement["subject"]


def test_sbom_changed_after_the_gate_falls_back_to_test_result(workspace: Workspace) -> None:
    results = sample_results(workspace.head, workspace.path)
    (workspace.path / "sbom.cdx.json").write_text("{}")
    sbom = next(r for r in results if r.gate == "sbom")
    statement = gate_statement(sbom, context(workspace))
    assert statement["predicateType"] == st.TEST_RESULT
    assert statement["predicate"][GATE_RESULT_FIELD]["details"]["sbom"]["path"] == "sbom.cdx.json"


def test_vulns_predicate_carries_database_and_exceptions(workspace: Workspace) -> None:
    predicate = by_gate(workspace)["audit"]["predicate"]
    scanner = predicate["scanner"]
    assert scanner["db"]["version"] == "sha256:" + "ab" * 32
    assert scanner["db"]["lastUpdate"] == "2026-02-27T00:00:00Z"
    vuln = scanner["result"][0]
    assert vuln["id"] == "GHSA-h5c8"
    assert {"method": "cvss_score", "score": "5.4"} in vuln["severity"]
    assert vuln["annotations"][0]["exception"]["ticket"] == "SEC-1"
    assert set(predicate["metadata"]) == {"scanStartedOn", "scanFinishedOn"}


def test_sign_gate_gets_slsa_provenance_with_bundles(workspace: Workspace) -> None:
    result = GateResult("sign", Status.PASS, "signed 1 artifact", details={"artifacts": [
        {"name": "dist/app.whl", "sha256": "cd" * 32, "bundle": "dist/app.whl.sigstore.json",
         "bundle_sha256": "ef" * 32}]})
    statement = gate_statement(result, context(workspace))
    assert statement["predicateType"] == st.PROVENANCE
    assert {"name": "dist/app.whl", "digest": {"sha256": "cd" * 32}} in statement["subject"]
    run = statement["predicate"]["runDetails"]
    assert run["byproducts"][0]["digest"] == {"sha256": "ef" * 32}
    dependency = statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]
    assert dependency["digest"]["gitCommit"] == workspace.head


def test_inconclusive_and_unknown_gates_use_test_result(workspace: Workspace) -> None:
    ctx = context(workspace)
    failed = gate_statement(GateResult.inconclusive("sign", "NO_IDENTITY", "no OIDC token"), ctx)
    assert failed["predicateType"] == st.TEST_RESULT
    assert failed["predicate"]["result"] == "FAILED"
    assert failed["predicate"]["failedTests"] == ["NO_IDENTITY"]
    verify = gate_statement(GateResult("verify", Status.PASS, "ok", details={"verified": True}),
                            ctx)
    assert verify["predicate"]["result"] == "PASSED"
    assert verify["predicate"]["passedTests"] == ["verify"]
    assert verify["predicate"]["url"] == workspace.change.run_url


def test_every_statement_is_accepted_by_sigstores_dsse_model(workspace: Workspace) -> None:
    """Sigstore signs only statements whose subject digests are SHA-2/3: ours must all be."""
    from sigstore.dsse import Statement

    for statement in by_gate(workspace).values():
        Statement(canonical(statement))


def test_policy_descriptor_names_revision_and_digest(workspace: Workspace) -> None:
    from changegate.policy.loader import parse_policy

    policy = parse_policy(b"version: 1\n", ".changegate.yml", revision="b" * 40)
    descriptor = policy_descriptor(policy, workspace.change)
    assert descriptor == {
        "uri": f"git+https://github.com/acme/payments@{'b' * 40}#.changegate.yml",
        "digest": {"sha256": policy.sha256}}
    local = make_change(workspace.path, workspace.head, repository=None, platform="local")
    assert policy_descriptor(policy, local)["uri"] == f"git:{'b' * 40}#.changegate.yml"


def test_plain_converts_what_gates_put_in_details() -> None:
    from datetime import date
    from pathlib import PurePosixPath

    value = plain({"s": Status.PASS, "p": PurePosixPath("a/b"), "d": date(2026, 1, 2),
                   "t": (1, 2), "set": {"b", "a"}})
    assert value == {"s": "pass", "p": "a/b", "d": "2026-01-02", "t": [1, 2], "set": ["a", "b"]}
    assert json.loads(canonical(value)) == value


def test_canonical_refuses_what_jcs_cannot_represent() -> None:
    from changegate.errors import ChangegateError

    with pytest.raises(ChangegateError):
        canonical({"x": float("nan")})
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
