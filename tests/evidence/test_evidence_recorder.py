"""`record_check`: what `changegate check` gets back, and what lands in the store."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from evidence_support import FailingSigner, FakeSigner, FakeVerifier, Workspace, sample_results

from changegate.errors import ChangegateError
from changegate.evidence import statements as st
from changegate.evidence.ledger import entries
from changegate.evidence.recorder import record_check
from changegate.evidence.verify import verify_store
from changegate.result import GateResult, Status


def load(ws: Workspace, digest: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((ws.evidence / "records" / f"{digest}.json").read_bytes())
    return value


def test_outcome_names_the_change_record(workspace: Workspace) -> None:
    outcome = workspace.record()[0]
    assert outcome["path"] == ".changegate/evidence"
    assert outcome["record_path"] == f".changegate/evidence/records/{outcome['record_sha256']}.json"
    assert outcome["signed"] is False
    assert outcome["unsigned_reason"] == "no signing identity was available to this run"
    assert outcome["verdict"] == "PASSED"
    assert outcome["ledger"] == {"index": 5, "head": outcome["ledger"]["head"], "size": 7}
    assert [s["gate"] for s in outcome["statements"]] == [
        "store", "verify-commits", "sbom", "approvals", "audit", "change"]
    assert outcome["verify_command"] == (
        "changegate evidence verify --dir .changegate/evidence --record "
        f"{outcome['record_sha256']}")


def test_change_record_is_a_vsa_naming_policy_inputs_and_controls(workspace: Workspace) -> None:
    outcome = workspace.record()[0]
    vsa = load(workspace, outcome["record_sha256"])
    assert vsa["predicateType"] == st.VSA
    predicate = vsa["predicate"]
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["policy"] == {"uri": "changegate:built-in-defaults"}
    inputs = {i["digest"]["sha256"] for i in predicate["inputAttestations"]}
    assert inputs == {s["sha256"] for s in outcome["statements"][:-1]}
    assert "pci-dss-4.0.1:6.3.2" in predicate["verifiedLevels"]
    assert not any(level.startswith("SLSA_") for level in predicate["verifiedLevels"])
    ext = predicate[st.CHANGE_RECORD_FIELD]
    assert ext["change"]["number"] == 42 and ext["change"]["environment"] == "production"
    assert [g["gate"] for g in ext["gates"]] == ["verify-commits", "sbom", "approvals", "audit"]
    assert ext["gates"][0]["statement"]["predicateType"] == st.COMMIT_SIGNATURES
    controls = {c["key"]: c["status"] for c in ext["controls"]["results"]}
    assert controls["pci-dss-4.0.1:10.5.1"] == "not-evidenced"  # a directory locks nothing
    assert controls["soc2:CC8.1"] == "pass"
    assert vsa["subject"][0]["annotations"]["gitCommit"] == workspace.head


def test_failed_gate_fails_the_verdict(workspace: Workspace) -> None:
    results = sample_results(workspace.head, workspace.path, audit_status=Status.FAIL)
    outcome = workspace.record(results=results)[0]
    predicate = load(workspace, outcome["record_sha256"])["predicate"]
    assert predicate["verificationResult"] == "FAILED"
    assert predicate["verifiedLevels"] == ["FAILED"]
    controls = {c["key"]: c for c in predicate[st.CHANGE_RECORD_FIELD]["controls"]["results"]}
    assert controls["pci-dss-4.0.1:6.3.1"]["status"] == "fail"
    assert controls["pci-dss-4.0.1:6.3.1"]["reason"] == "audit failed"


def test_inconclusive_gate_fails_closed(workspace: Workspace) -> None:
    results = [GateResult.inconclusive("verify-commits", "RANGE_INCOMPLETE", "shallow clone")]
    outcome = workspace.record(results=results)[0]
    assert outcome["verdict"] == "FAILED"
    entry = list(entries(workspace.store(), "change"))[-1]
    assert entry["status"] == "error"
    assert entry["gates"] == [{"gate": "verify-commits", "status": "error"}]


def test_no_results_is_not_a_pass(workspace: Workspace) -> None:
    outcome = record_check([], change=workspace.change, policy=None, environment=None,
                           settings={}, environ={}, workdir=workspace.path)
    assert outcome["verdict"] == "FAILED"


def test_signed_records_carry_verifiable_bundles(workspace: Workspace) -> None:
    signer = FakeSigner()
    outcome = workspace.record(signer=signer)[0]
    assert outcome["signed"] is True and outcome["unsigned_reason"] is None
    assert signer.calls == 7  # store, four gates, the change record, the checkpoint
    bundle = workspace.evidence / "records" / f"{outcome['record_sha256']}.sigstore.json"
    assert bundle.is_file()
    report = verify_store(workspace.store(), verifier=FakeVerifier(signer), require_signed=True)
    assert report.ok and report.signatures_checked == 7 and report.signed == 7


def test_tampered_bundles_are_caught(workspace: Workspace) -> None:
    signer = FakeSigner()
    outcome = workspace.record(signer=signer)[0]
    bundle = workspace.evidence / "records" / f"{outcome['record_sha256']}.sigstore.json"
    bundle.chmod(0o644)
    bundle.write_text(bundle.read_text().replace('"sig": "', '"sig": "AAAA'))
    kinds = {p.kind for p in verify_store(workspace.store(), verifier=FakeVerifier(signer))
             .problems}
    assert kinds == {"bundle-changed"}
    bundle.unlink()
    kinds = {p.kind for p in verify_store(workspace.store()).problems}
    assert kinds == {"bundle-missing"}


def test_a_bundle_from_another_signer_fails_verification(workspace: Workspace) -> None:
    outcome = workspace.record(signer=FakeSigner())[0]
    other = FakeSigner()
    report = verify_store(workspace.store(), verifier=FakeVerifier(other),
                          record=outcome["record_sha256"])
    assert {p.kind for p in report.problems} == {"signature-invalid"}


def test_signing_failure_keeps_the_record_unsigned_and_says_why(workspace: Workspace) -> None:
    outcome = workspace.record(signer=FailingSigner())[0]
    assert outcome["signed"] is False
    assert "signing failed: ConnectionError: fulcio unreachable" in outcome["unsigned_reason"]
    report = verify_store(workspace.store())
    assert report.ok and report.unsigned == 7
    assert {p.kind for p in verify_store(workspace.store(), require_signed=True).problems} == {
        "unsigned"}


def test_require_signature_refuses_after_keeping_the_records(workspace: Workspace) -> None:
    with pytest.raises(ChangegateError) as caught:
        workspace.record(settings={"require_signature": True})
    assert caught.value.rule == "EVIDENCE_UNSIGNED"
    assert verify_store(workspace.store()).ok  # kept, and marked unsigned


def test_custom_dir_and_controls(workspace: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    outcome = workspace.record(settings={
        "dir": str(target), "controls": ["pci-dss-4.0.1", "sox-itgc"],
        "extra_controls": {"sox-itgc": {"title": "SOX ITGC", "controls": [
            {"id": "CM-01", "title": "Changes are approved", "requires": ["approvals"]}]}}})[0]
    assert outcome["path"] == str(target)
    vsa = json.loads((target / "records" / f"{outcome['record_sha256']}.json").read_bytes())
    controls = vsa["predicate"][st.CHANGE_RECORD_FIELD]["controls"]
    assert controls["frameworks"] == ["pci-dss-4.0.1", "sox-itgc"]
    assert controls["catalog"].endswith("+custom")
    assert "sox-itgc:CM-01" in vsa["predicate"]["verifiedLevels"]


@pytest.mark.parametrize(("settings", "key"), [
    ({"dir": ""}, "evidence.dir"),
    ({"controls": "pci"}, "evidence.controls"),
    ({"controls": ["nope"]}, "evidence.controls"),
    ({"store": {"type": "ftp"}}, "evidence.store.type"),
    ({"store": {"type": "s3"}}, "evidence.store.bucket"),
    ({"store": {"type": "s3", "bucket": "b"}}, "evidence.store.retention_years"),
    ({"store": {"type": "s3", "bucket": "b", "retention_years": 0}},
     "evidence.store.retention_years"),
    ({"store": {"type": "s3", "bucket": "b", "mode": "lax"}}, "evidence.store.mode"),
    ({"extra_controls": {"x": {"controls": [{"title": "no id"}]}}}, "evidence.extra_controls"),
    ({"require_signature": "yes"}, "evidence.require_signature"),
])
def test_invalid_settings_are_named(workspace: Workspace, settings: dict[str, Any],
                                    key: str) -> None:
    with pytest.raises(ChangegateError) as caught:
        workspace.record(settings=settings)
    assert caught.value.rule == "EVIDENCE_SETTINGS_INVALID"
    assert key in caught.value.message


def test_concurrent_writers_keep_one_chain(workspace: Workspace) -> None:
    """Two processes' worth of writers (separate file descriptions): flock serialises them."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            workspace.record(3)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = verify_store(workspace.store())
    assert report.ok, report.problems
    assert report.entries == 12 * 7 and report.changes == 12


def test_appending_reuses_the_checkpoint_frontier(workspace: Workspace,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    workspace.record()
    from changegate.evidence import ledger

    def no_full_read(store: object) -> object:
        raise AssertionError("the ledger was re-read to append")

    monkeypatch.setattr(ledger, "read", no_full_read)
    workspace.record()
    monkeypatch.undo()
    assert verify_store(workspace.store()).ok
