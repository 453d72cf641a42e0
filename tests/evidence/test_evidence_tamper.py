"""`evidence verify` against every way of tampering with a ledger: each is found and named.

The ledger under test holds three recorded `check` runs of 7 entries each (the store statement,
four gate statements, the change record, a checkpoint): entries 0..20.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from evidence_support import Workspace

from changegate.evidence.ledger import entry_hash
from changegate.evidence.verify import Verification, verify_store

PER_RUN = 7


@pytest.fixture
def ledger(workspace: Workspace) -> Workspace:
    workspace.record(3)
    return workspace


def read_lines(ws: Workspace) -> list[str]:
    return (ws.evidence / "ledger.jsonl").read_text().splitlines()


def write_lines(ws: Workspace, lines: list[str]) -> None:
    (ws.evidence / "ledger.jsonl").write_text("".join(f"{line}\n" for line in lines))


def entry(line: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(line)
    return value


def dump(value: dict[str, Any], rehash: bool = False) -> str:
    if rehash:
        value["hash"] = entry_hash(value)
    return json.dumps(value)


def found(report: Verification) -> set[tuple[str, int | None]]:
    return {(p.kind, p.entry) for p in report.problems}


def test_an_untouched_ledger_verifies(ledger: Workspace) -> None:
    report = verify_store(ledger.store())
    assert report.ok, report.problems
    assert (report.entries, report.changes, report.checkpoints) == (21, 3, 3)
    assert report.size == 21 and report.head == entry(read_lines(ledger)[-1])["hash"]
    assert report.warnings == []


def test_edited_entry_is_named(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    edited = entry(lines[3])
    edited["status"] = "pass" if edited["status"] == "fail" else "fail"
    lines[3] = dump(edited)
    write_lines(ledger, lines)
    report = verify_store(ledger.store())
    assert ("changed", 3) in found(report)
    assert next(p for p in report.problems if p.entry == 3).location == "ledger.jsonl:4"


def test_edited_and_rehashed_entry_breaks_the_next_link(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    edited = entry(lines[3])
    edited["gate"] = "something-else"
    lines[3] = dump(edited, rehash=True)
    write_lines(ledger, lines)
    problems = found(verify_store(ledger.store()))
    assert ("changed", 3) in problems
    assert ("checkpoint-mismatch", PER_RUN - 1) in problems


def test_rewritten_chain_is_caught_by_the_checkpoints(ledger: Workspace) -> None:
    """Re-linking every later entry hides the edit from the chain, not from the Merkle root."""
    lines = read_lines(ledger)
    previous = None
    for position in range(3, len(lines)):
        value = entry(lines[position])
        if position == 3:
            value["status"] = "fail"
        if previous is not None:
            value["prev"] = previous
        lines[position] = dump(value, rehash=True)
        previous = value["hash"]
    write_lines(ledger, lines)
    problems = found(verify_store(ledger.store()))
    assert {k for k, _ in problems} == {"checkpoint-mismatch"}
    assert ("checkpoint-mismatch", PER_RUN - 1) in problems


def test_a_full_rewrite_is_caught_by_an_anchor(ledger: Workspace) -> None:
    """An attacker who rewrites everything, checkpoints included, still loses the old head."""
    old_head = entry(read_lines(ledger)[-1])["hash"]
    lines = read_lines(ledger)
    rewritten, previous = [], "0" * 64
    for line in lines:
        value = entry(line)
        value["time"] = "2020-01-01T00:00:00.000000Z"
        value["prev"] = previous
        rewritten.append(value)
        previous = entry_hash(value)
        value["hash"] = previous
    from changegate.evidence.merkle import MerkleAccumulator

    acc = MerkleAccumulator()
    previous = "0" * 64
    for value in rewritten:
        value["prev"] = previous
        if value["kind"] == "checkpoint":
            value["checkpoint"].update(tree_size=acc.size, root=acc.root().hex(),
                                       frontier=[n.hex() for n in acc.frontier])
        value["hash"] = entry_hash(value)
        acc.append(bytes.fromhex(value["hash"]))
        previous = value["hash"]
    write_lines(ledger, [json.dumps(v) for v in rewritten])
    plain = verify_store(ledger.store())
    # The checkpoint statements (separate records) still commit to the genuine roots.
    assert {k for k, _ in found(plain)} == {"checkpoint-mismatch"}
    anchored = verify_store(ledger.store(), expect_head=old_head)
    assert "truncated" in {k for k, _ in found(anchored)}


def test_deleted_entry_is_named(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    del lines[11]  # the second run's audit statement (its time makes it unique to that run)
    write_lines(ledger, lines)
    report = verify_store(ledger.store())
    problems = found(report)
    assert ("deleted", 12) in problems
    deleted = next(p for p in report.problems if p.kind == "deleted")
    assert "entry 11 missing" in deleted.message and "after entry 10" in deleted.message
    # The change record of that run names the deleted entry's statement as an input.
    assert ("record-missing", 2 * PER_RUN - 2) in problems


def test_deleted_first_entry(ledger: Workspace) -> None:
    write_lines(ledger, read_lines(ledger)[1:])
    assert ("deleted", 1) in found(verify_store(ledger.store()))


def test_deleted_tail_needs_an_anchor(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    head = entry(lines[-1])["hash"]
    write_lines(ledger, lines[:-PER_RUN])
    report = verify_store(ledger.store())
    assert report.ok  # nothing left links to the deleted entries ...
    assert {w.kind for w in report.warnings} == {"unledgered"}  # ... but their records remain
    assert ("truncated", None) in found(verify_store(ledger.store(), expect_size=21))
    assert ("truncated", None) in found(verify_store(ledger.store(), expect_head=head))


def test_inserted_copy_and_forgery_are_named(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    forged = entry(lines[5])
    forged["status"] = "pass"
    forged["gate"] = "approvals"
    lines.insert(6, dump(forged, rehash=True))
    write_lines(ledger, lines)
    report = verify_store(ledger.store())
    assert ("inserted", 5) in found(report)
    inserted = next(p for p in report.problems if p.kind == "inserted")
    assert inserted.location == "ledger.jsonl:7"
    assert not any(p.kind in ("deleted", "reordered") for p in report.problems)


def test_inserted_entry_with_a_new_index(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    planted = entry(lines[4])
    planted.update(index=500, prev="1" * 64)
    lines.insert(10, dump(planted, rehash=True))
    write_lines(ledger, lines)
    report = verify_store(ledger.store())
    assert found(report) == {("inserted", 500)}


def test_swapped_entries_are_reordered(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    lines[3], lines[4] = lines[4], lines[3]
    write_lines(ledger, lines)
    report = verify_store(ledger.store())
    kinds = found(report)
    assert {k for k, _ in kinds} == {"reordered"}
    assert kinds & {("reordered", 3), ("reordered", 4)}


def test_moved_entry_is_reordered(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    lines.append(lines.pop(2))
    write_lines(ledger, lines)
    assert found(verify_store(ledger.store())) == {("reordered", 2)}


def _record_path(ws: Workspace, index: int) -> Path:
    digest = entry(read_lines(ws)[index])["record"]["sha256"]
    return ws.evidence / "records" / f"{digest}.json"


def test_edited_record_is_named(ledger: Workspace) -> None:
    path = _record_path(ledger, 4)  # the audit statement: unique to the first run
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"medium"', b'"low"'))
    assert found(verify_store(ledger.store())) == {("record-changed", 4)}


def test_deleted_record_is_named(ledger: Workspace) -> None:
    _record_path(ledger, PER_RUN + 5).unlink()
    assert found(verify_store(ledger.store())) == {("record-missing", PER_RUN + 5)}


def test_planted_record_is_a_warning(ledger: Workspace) -> None:
    (ledger.evidence / "records" / f"{'0' * 64}.json").write_text("{}")
    report = verify_store(ledger.store())
    assert report.ok
    assert [w.kind for w in report.warnings] == ["unledgered"]


def test_torn_last_line_is_reported_and_blocks_appends(ledger: Workspace) -> None:
    from changegate.errors import ChangegateError

    path = ledger.evidence / "ledger.jsonl"
    path.write_bytes(path.read_bytes()[:-40])
    report = verify_store(ledger.store())
    assert any(p.kind == "changed" and p.location == "ledger.jsonl:21" for p in report.problems)
    with pytest.raises(ChangegateError) as caught:
        ledger.record()
    assert caught.value.rule == "EVIDENCE_LEDGER_TORN"


def test_altered_frontier_is_named(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    point = entry(lines[PER_RUN - 1])
    point["checkpoint"]["frontier"] = ["00" * 32]
    lines[PER_RUN - 1] = dump(point, rehash=True)
    write_lines(ledger, lines)
    problems = found(verify_store(ledger.store()))
    assert ("changed", PER_RUN - 1) in problems


def test_entry_and_change_record_must_agree(ledger: Workspace) -> None:
    lines = read_lines(ledger)
    change = entry(lines[PER_RUN - 2])
    change["verdict"] = "FAILED" if change["verdict"] == "PASSED" else "PASSED"
    lines[PER_RUN - 2] = dump(change, rehash=True)
    write_lines(ledger, lines)
    problems = found(verify_store(ledger.store()))
    assert ("changed", PER_RUN - 2) in problems


def test_unknown_record_is_reported(ledger: Workspace) -> None:
    report = verify_store(ledger.store(), record="f" * 64)
    assert found(report) == {("record-missing", None)}
    change = entry(read_lines(ledger)[PER_RUN - 2])["record"]["sha256"]
    assert verify_store(ledger.store(), record=change).ok
