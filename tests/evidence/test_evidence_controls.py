"""The shipped control mapping, and how a control's verdict follows from the gates."""

from __future__ import annotations

import pytest

from changegate.errors import ChangegateError
from changegate.evidence.controls import evaluate, load_catalog, shipped

REQUIRED = {
    "pci-dss-4.0.1": {"6.2.3", "6.3.1", "6.3.2", "6.5.1", "6.5.4", "10.5.1"},
    "soc2": {"CC8.1"},
    "iso27001-2022": {"A.8.25", "A.8.29", "A.8.31", "A.8.32"},
    "dora": {"Art. 9(4)(e)", "RTS 2024/1774 Art. 17"},
    "ssdf": {"PS.2.1", "PS.3.1", "PS.3.2", "PW.7", "RV.1"},
}
GATES = {"verify-commits", "sbom", "audit", "sign", "verify", "approvals", "change-record",
         "evidence-retention"}


def test_the_mapping_covers_every_required_control() -> None:
    catalog = load_catalog()
    have: dict[str, set[str]] = {}
    for control in catalog.controls:
        have.setdefault(control.framework, set()).add(control.id)
    assert have == REQUIRED
    assert shipped()["version"] == catalog.version


def test_every_control_maps_to_known_gates_with_a_rationale() -> None:
    for control in load_catalog().controls:
        assert set(control.requires) | set(control.supports) <= GATES, control.key
        assert control.requires or control.supports, control.key
        assert control.title and control.rationale, control.key


def by_key(statuses: dict[str, str], retention: int | None = None) -> dict[str, str]:
    results = evaluate(load_catalog(), statuses, retention_years=retention,
                       environment="production")
    return {r.control.key: r.status for r in results}


def test_required_gate_missing_is_not_evidenced_never_pass() -> None:
    verdicts = by_key({"audit": "pass", "change-record": "pass"})
    assert verdicts["pci-dss-4.0.1:6.3.1"] == "pass"
    assert verdicts["pci-dss-4.0.1:6.2.3"] == "not-evidenced"
    assert verdicts["iso27001-2022:A.8.25"] == "pass"  # supports only: one ran and passed


def test_failed_or_inconclusive_contributing_gate_fails_the_control() -> None:
    verdicts = by_key({"approvals": "pass", "change-record": "pass", "verify-commits": "fail",
                       "audit": "error"})
    assert verdicts["pci-dss-4.0.1:6.2.3"] == "fail"  # supports verify-commits, which failed
    assert verdicts["pci-dss-4.0.1:6.3.1"] == "error"
    assert verdicts["ssdf:PW.7"] == "pass"


def test_retention_is_evidenced_only_by_a_verified_lock() -> None:
    assert by_key({"change-record": "pass"})["pci-dss-4.0.1:10.5.1"] == "not-evidenced"
    assert by_key({"change-record": "pass"}, retention=7)["pci-dss-4.0.1:10.5.1"] == "pass"
    assert by_key({"change-record": "pass"}, retention=7)["ssdf:PS.3.1"] == "pass"


def test_frameworks_can_be_selected_and_added() -> None:
    catalog = load_catalog(["soc2", "sox"], {"sox": {"title": "SOX ITGC", "controls": [
        {"id": "ITGC-CM-1", "requires": ["approvals"], "supports": ["verify-commits"]}]}})
    assert [c.key for c in catalog.controls] == ["soc2:CC8.1", "sox:ITGC-CM-1"]
    with pytest.raises(ChangegateError):
        load_catalog(["hipaa"])
    with pytest.raises(ChangegateError):
        load_catalog(None, {"bad": {"controls": [{"id": 1}]}})
