"""`changegate evidence verify`: check a ledger and its records offline, and name what changed.

The analysis reconstructs the genuine chain from what is on disk instead of stopping at the first
broken link, so an auditor learns *what* happened and *where*:

- changed: an entry whose content no longer matches its hash, or whose hash no longer matches
  what the next entry recorded (rewritten in place);
- deleted: indexes missing from the chain (and records missing from the store);
- inserted: an entry that claims an index another genuine entry holds, or that links to nothing;
- reordered: a genuine entry found out of sequence (its links still fit where it belongs).

The backbone is the longest run of entries in increasing index order; entries off the backbone
are reordered when their links fit their index and inserted otherwise. Then every checkpoint's
Merkle root is recomputed, every record's digest checked, every bundle matched to its record
(and verified cryptographically when a trust root and identity are given), and, for S3, the
object versions are listed for overwrites and delete markers. Deleting the newest entries leaves
no broken link: `expect_head`/`expect_size` (an anchor kept elsewhere, such as the CI log or a
signed checkpoint held by the auditor) catch that.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from changegate.evidence import statements as st
from changegate.evidence.canonical import sha256_hex
from changegate.evidence.ledger import ParsedLine, entry_hash, read
from changegate.evidence.merkle import MerkleAccumulator
from changegate.evidence.signing import BundleVerifier, SignatureError, check_bundle_payload
from changegate.evidence.stores import RECORDS, Store, bundle_key, record_key

if TYPE_CHECKING:
    from changegate.evidence.stores import StoreIssue

HEX64 = re.compile(r"^[0-9a-f]{64}$")
GENESIS_BYTES = bytes(32)  # the genesis `prev`: 64 zeros


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    entry: int | None = None
    location: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "entry": self.entry, "location": self.location,
                "message": self.message}

    def describe(self) -> str:
        where = self.location or (f"entry {self.entry}" if self.entry is not None else "")
        return f"{self.kind}: {where}: {self.message}" if where else f"{self.kind}: {self.message}"


@dataclass
class Verification:
    """What verification found; `ok` means no problem (warnings do not count)."""

    store: str
    entries: int = 0
    records: int = 0
    signed: int = 0
    unsigned: int = 0
    signatures_checked: int = 0
    checkpoints: int = 0
    changes: int = 0
    head: str | None = None
    size: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "store": self.store, "entries": self.entries,
                "size": self.size, "head": self.head, "records": self.records,
                "changes": self.changes, "checkpoints": self.checkpoints,
                "signed": self.signed, "unsigned": self.unsigned,
                "signatures_verified": self.signatures_checked,
                "problems": [p.to_json() for p in self.problems],
                "warnings": [w.to_json() for w in self.warnings]}


@dataclass(slots=True)
class _Item:
    """What the chain analysis keeps of an entry: small, so a million entries fit in memory."""

    position: int
    location: str
    index: int
    hash: bytes
    prev: bytes
    self_ok: bool
    kind: str | None = None
    checkpoint: dict[str, Any] | None = None

    @property
    def hex(self) -> str:
        return self.hash.hex()


def verify_store(store: Store, *, verifier: BundleVerifier | None = None,
                 require_signed: bool = False, expect_head: str | None = None,
                 expect_size: int | None = None, record: str | None = None) -> Verification:
    report = Verification(store=store.label)
    records = _RecordChecker(store, report, verifier=verifier, require_signed=require_signed)
    items = _parse(read(store), report, records)
    report.entries = len(items)
    genuine = _sequence(items, report)
    _checkpoints(genuine, report)
    if genuine:
        last = genuine[-1]
        report.head, report.size = last.hex, last.index + 1
    records.finish()
    _anchors(genuine, report, expect_head, expect_size)
    if record is not None and record.lower() not in records.changes:
        report.problems.append(Problem(
            "record-missing", f"change record {record} is not in this ledger"))
    _unledgered(store, records.ledgered, report)
    for issue in store.audit():
        report.problems.append(_store_problem(issue))
    return report


# -- parsing ------------------------------------------------------------------------------


def _digest(value: str) -> bytes:
    return bytes.fromhex(value) if HEX64.match(value) else b""


def _parse(lines: Iterable[ParsedLine], report: Verification,
           records: _RecordChecker) -> list[_Item]:
    """One streaming pass: entry hashes, record checks; keeps only what the chain needs."""
    items: list[_Item] = []
    for line in lines:
        entry = line.entry
        if entry is None:
            report.problems.append(Problem("changed", f"not a ledger entry: {line.error}; the "
                                           "line was altered or damaged", None, line.location))
            continue
        index, digest, prev = entry.get("index"), entry.get("hash"), entry.get("prev")
        if (not isinstance(index, int) or isinstance(index, bool) or index < 0
                or not isinstance(digest, str) or not isinstance(prev, str)):
            report.problems.append(Problem("changed", "the entry lacks a valid index, hash or "
                                           "prev; it was altered", None, line.location))
            continue
        self_ok = entry_hash(entry) == digest
        if not self_ok:
            report.problems.append(Problem(
                "changed", "the entry's content does not match its hash: it was edited after it "
                "was written", index, line.location))
        kind = entry.get("kind")
        point = entry.get("checkpoint")
        items.append(_Item(line.position, line.location, index, _digest(digest), _digest(prev),
                           self_ok, kind if isinstance(kind, str) else None,
                           point if isinstance(point, dict) else None))
        records.check(index, line.location, entry)
    return items


# -- chain --------------------------------------------------------------------------------


def _sequence(items: list[_Item], report: Verification) -> list[_Item]:
    """The genuine entries in index order; reports inserted, reordered, deleted and relinked."""
    items = _drop_duplicates(items, report)
    backbone = set(_longest_increasing(items))
    by_index = {items[p].index: items[p] for p in backbone}
    for position, item in enumerate(items):
        if position not in backbone:
            by_index[item.index] = item  # duplicates are gone: this index is free
    # Off-backbone entries whose links fit their index moved; the others were inserted.
    for position, item in enumerate(items):
        if position in backbone:
            continue
        before, after = by_index.get(item.index - 1), by_index.get(item.index + 1)
        fits = ((item.index == 0 and item.prev == GENESIS_BYTES)
                or (before is not None and before.hash == item.prev)
                or (after is not None and after.prev == item.hash))
        if fits:
            report.problems.append(Problem(
                "reordered", f"entry {item.index} is out of order (found at position "
                f"{item.position + 1} of the ledger)", item.index, item.location))
        else:
            report.problems.append(Problem(
                "inserted", "the entry is not linked to the chain: nothing before or after it "
                "records its hash", item.index, item.location))
            del by_index[item.index]
    genuine = [by_index[i] for i in sorted(by_index)]
    _links(genuine, report)
    return genuine


def _drop_duplicates(items: list[_Item], report: Verification) -> list[_Item]:
    """Entries sharing an index: keep the one the chain links to, report the others inserted."""
    groups: dict[int, list[_Item]] = {}
    for item in items:
        groups.setdefault(item.index, []).append(item)
    losers: set[int] = set()
    for index, group in groups.items():
        if len(group) < 2:
            continue
        successors = groups.get(index + 1, [])
        predecessors = groups.get(index - 1, [])

        def score(item: _Item, successors: list[_Item] = successors,
                  predecessors: list[_Item] = predecessors, index: int = index) -> int:
            linked_after = any(s.prev == item.hash for s in successors)
            linked_before = (item.prev == GENESIS_BYTES if index == 0
                             else any(p.hash == item.prev for p in predecessors))
            return 2 * linked_after + linked_before + item.self_ok

        keep = max(group, key=lambda item: (score(item), -item.position))
        for item in group:
            if item is not keep:
                losers.add(item.position)
                report.problems.append(Problem(
                    "inserted", f"a second entry claims index {index} (the genuine one is at "
                    f"{keep.location})", index, item.location))
    return [item for item in items if item.position not in losers]


def _longest_increasing(items: list[_Item]) -> list[int]:
    """Positions (in `items`) of a longest strictly increasing run of indexes."""
    tails: list[int] = []
    tail_pos: list[int] = []
    parent: list[int] = [-1] * len(items)
    for position, item in enumerate(items):
        slot = bisect.bisect_left(tails, item.index)
        if slot > 0:
            parent[position] = tail_pos[slot - 1]
        if slot == len(tails):
            tails.append(item.index)
            tail_pos.append(position)
        else:
            tails[slot] = item.index
            tail_pos[slot] = position
    out: list[int] = []
    position = tail_pos[-1] if tail_pos else -1
    while position != -1:
        out.append(position)
        position = parent[position]
    return out[::-1]


def _links(genuine: list[_Item], report: Verification) -> None:
    expected = 0
    previous: _Item | None = None
    for item in genuine:
        if item.index > expected:
            after = f" after entry {previous.index} ({previous.location})" if previous else ""
            span = (f"entry {expected}" if item.index - expected == 1
                    else f"entries {expected}..{item.index - 1}")
            report.problems.append(Problem(
                "deleted", f"{span} missing{after}, before entry {item.index}",
                item.index, item.location))
        elif item.index == 0 and item.prev != GENESIS_BYTES:
            report.problems.append(Problem(
                "changed", "the first entry does not start the chain (its prev is not the "
                "genesis value)", 0, item.location))
        elif previous is not None and previous.index == item.index - 1 \
                and item.prev != previous.hash:
            report.problems.append(Problem(
                "changed", f"entry {previous.index} ({previous.location}) was changed or "
                f"replaced: entry {item.index} recorded a different hash for it",
                previous.index, previous.location))
        expected = item.index + 1
        previous = item


def _checkpoints(genuine: list[_Item], report: Verification) -> None:
    acc = MerkleAccumulator()
    contiguous = True
    for expected, item in enumerate(genuine):
        contiguous = contiguous and item.index == expected
        if item.kind == "checkpoint":
            report.checkpoints += 1
            if contiguous:
                _one_checkpoint(item, acc, report)
        if contiguous:
            acc.append(item.hash)


def _one_checkpoint(item: _Item, acc: MerkleAccumulator, report: Verification) -> None:
    point = item.checkpoint
    if point is None:
        report.problems.append(Problem("changed", "a checkpoint entry without its checkpoint",
                                       item.index, item.location))
        return
    if point.get("tree_size") != acc.size or point.get("root") != acc.root().hex():
        report.problems.append(Problem(
            "checkpoint-mismatch", f"the checkpoint (tree size {point.get('tree_size')}) does "
            f"not match the {acc.size} entries before it: entries it covers were changed, "
            "inserted or deleted after it was made", item.index, item.location))
    elif point.get("frontier") != [node.hex() for node in acc.frontier]:
        report.problems.append(Problem("changed", "the checkpoint's Merkle frontier was altered",
                                       item.index, item.location))


# -- records ------------------------------------------------------------------------------


class _RecordChecker:
    """Checks each entry's record as the ledger streams by; cross-record checks in `finish`."""

    def __init__(self, store: Store, report: Verification, *,
                 verifier: BundleVerifier | None, require_signed: bool) -> None:
        self.store = store
        self.report = report
        self.verifier = verifier
        self.require_signed = require_signed
        self.ledgered: set[str] = set()
        self.changes: set[str] = set()
        self._inputs: list[tuple[int, str, list[str]]] = []

    def check(self, index: int, location: str, entry: dict[str, Any]) -> None:
        descriptor = entry.get("record")
        if not isinstance(descriptor, dict):
            return
        digest = descriptor.get("sha256")
        if not isinstance(digest, str) or not HEX64.match(digest):
            self._problem("changed", "the entry's record digest is malformed", index, location)
            return
        self.ledgered.add(digest)
        kind = entry.get("kind")
        if kind == "change":
            self.changes.add(digest)
            self.report.changes += 1
        self.report.records += 1
        key = record_key(digest)
        data = self.store.get(key)
        if data is None:
            self._problem("record-missing", f"record {digest[:16]}… ({self.store.uri(key)}) "
                          "was deleted", index, location)
            return
        if sha256_hex(data) != digest:
            self._problem("record-changed", f"record {self.store.uri(key)} no longer has the "
                          "digest the ledger holds: it was edited", index, location)
            return
        self._signature(index, location, descriptor, data)
        if kind in ("change", "checkpoint"):
            self._content(index, location, entry, data)

    def finish(self) -> None:
        """Every input a change record names must itself be a ledgered record."""
        for index, location, inputs in self._inputs:
            for digest in inputs:
                if digest not in self.ledgered:
                    self._problem("record-missing", f"input statement {digest[:16]}… named by "
                                  "the change record is not in the ledger: its entry was "
                                  "deleted", index, location)

    def _problem(self, kind: str, message: str, index: int, location: str) -> None:
        self.report.problems.append(Problem(kind, message, index, location))

    def _signature(self, index: int, location: str, descriptor: dict[str, Any],
                   data: bytes) -> None:
        signature = descriptor.get("signature") or {}
        if signature.get("status") != "signed":
            self.report.unsigned += 1
            if self.require_signed:
                self._problem("unsigned", f"the record is unsigned ({signature.get('reason')}) "
                              "and signatures are required", index, location)
            return
        self.report.signed += 1
        key = bundle_key(descriptor["sha256"])
        bundle = self.store.get(key)
        if bundle is None:
            self._problem("bundle-missing", f"signature bundle {self.store.uri(key)} was "
                          "deleted", index, location)
            return
        if sha256_hex(bundle) != signature.get("bundle_sha256"):
            self._problem("bundle-changed", f"signature bundle {self.store.uri(key)} was "
                          "replaced or edited", index, location)
            return
        try:
            check_bundle_payload(bundle, data)
            if self.verifier is not None:
                self.verifier.verify_dsse(bundle.decode("utf-8"), data)
                self.report.signatures_checked += 1
        except SignatureError as exc:
            self._problem("signature-invalid", str(exc), index, location)

    def _content(self, index: int, location: str, entry: dict[str, Any], data: bytes) -> None:
        """The change record and checkpoint statements must agree with their ledger entries."""
        try:
            document = json.loads(data)
            predicate = document["predicate"]
        except (ValueError, KeyError, TypeError):
            self._problem("record-changed", "the record is not an in-toto statement", index,
                          location)
            return
        if entry.get("kind") == "checkpoint":
            point = entry.get("checkpoint") or {}
            if (predicate.get("rootHash") != point.get("root")
                    or predicate.get("treeSize") != point.get("tree_size")):
                self._problem("checkpoint-mismatch", "the checkpoint entry and its (signed) "
                              "statement disagree on the tree", index, location)
            return
        if document.get("predicateType") != st.VSA:
            self._problem("changed", "the change entry points at a record that is not a change "
                          "record", index, location)
            return
        if predicate.get("verificationResult") != entry.get("verdict"):
            self._problem("changed", f"the entry says {entry.get('verdict')} but the change "
                          f"record says {predicate.get('verificationResult')}", index, location)
        inputs = [str((item.get("digest") or {}).get("sha256"))
                  for item in predicate.get("inputAttestations") or [] if isinstance(item, dict)]
        self._inputs.append((index, location, inputs))


def _anchors(genuine: list[_Item], report: Verification, expect_head: str | None,
             expect_size: int | None) -> None:
    if expect_size is not None and report.size < expect_size:
        report.problems.append(Problem(
            "truncated", f"the ledger holds {report.size} entries but {expect_size} were "
            f"expected: entries {report.size}..{expect_size - 1} were deleted"))
    if expect_head is not None and _digest(expect_head.lower()) not in {i.hash for i in genuine}:
        report.problems.append(Problem(
            "truncated", f"the expected head {expect_head[:16]}… is not in the ledger: the "
            "ledger was truncated or rewritten after it"))


def _unledgered(store: Store, ledgered: set[str], report: Verification) -> None:
    for key in store.keys(RECORDS):
        digest = key[len(RECORDS):].split(".", 1)[0]
        if digest not in ledgered:
            report.warnings.append(Problem(
                "unledgered", f"{store.uri(key)} is in the store but in no ledger entry (an "
                "interrupted run, or a planted file: it is not evidence)"))


def _store_problem(issue: StoreIssue) -> Problem:
    return Problem(f"store-{issue.kind}", issue.message, None, issue.key)
