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
from changegate.evidence.canonical import GENESIS, sha256_hex
from changegate.evidence.ledger import ParsedLine, entry_hash, read
from changegate.evidence.merkle import MerkleAccumulator
from changegate.evidence.signing import BundleVerifier, SignatureError, check_bundle_payload
from changegate.evidence.stores import RECORDS, Store, bundle_key, record_key

if TYPE_CHECKING:
    from changegate.evidence.stores import StoreIssue

HEX64 = re.compile(r"^[0-9a-f]{64}$")


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


@dataclass
class _Item:
    position: int
    location: str
    index: int
    hash: str
    prev: str
    entry: dict[str, Any]


def verify_store(store: Store, *, verifier: BundleVerifier | None = None,
                 require_signed: bool = False, expect_head: str | None = None,
                 expect_size: int | None = None, record: str | None = None) -> Verification:
    report = Verification(store=store.label)
    items = _parse(read(store), report)
    report.entries = len(items)
    genuine = _sequence(items, report)
    _checkpoints(genuine, report)
    if genuine:
        last = genuine[-1]
        report.head, report.size = last.hash, last.index + 1
    referenced = _records(store, genuine, report, verifier, require_signed)
    _anchors(genuine, report, expect_head, expect_size)
    if record is not None:
        changes = {i.entry["record"]["sha256"] for i in genuine
                   if i.entry.get("kind") == "change" and isinstance(i.entry.get("record"), dict)}
        if record.lower() not in changes:
            report.problems.append(Problem(
                "record-missing", f"change record {record} is not in this ledger"))
    _unledgered(store, referenced, report)
    for issue in store.audit():
        report.problems.append(_store_problem(issue))
    return report


# -- parsing ------------------------------------------------------------------------------


def _parse(lines: Iterable[ParsedLine], report: Verification) -> list[_Item]:
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
        if entry_hash(entry) != digest:
            report.problems.append(Problem(
                "changed", "the entry's content does not match its hash: it was edited after it "
                "was written", index, line.location))
        items.append(_Item(line.position, line.location, index, digest, prev, entry))
    return items


# -- chain --------------------------------------------------------------------------------


def _sequence(items: list[_Item], report: Verification) -> list[_Item]:
    """The genuine entries in index order; reports inserted, reordered, deleted and relinked."""
    items = _drop_duplicates(items, report)
    backbone_positions = set(_longest_increasing(items))
    on_backbone = {items[p].index: items[p] for p in backbone_positions}
    by_index = dict(on_backbone)
    for position, item in enumerate(items):
        if position in backbone_positions:
            continue
        if item.index in by_index:  # duplicates were resolved already; defensive
            report.problems.append(Problem("inserted", "the entry repeats an index",
                                           item.index, item.location))
            continue
        by_index[item.index] = item
    # Off-backbone entries whose links fit their index moved; the others were inserted.
    for position, item in enumerate(items):
        if position in backbone_positions or by_index.get(item.index) is not item:
            continue
        before, after = by_index.get(item.index - 1), by_index.get(item.index + 1)
        fits = ((item.index == 0 and item.prev == GENESIS)
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
            linked_before = (item.prev == GENESIS if index == 0
                             else any(p.hash == item.prev for p in predecessors))
            return 2 * linked_after + linked_before + (entry_hash(item.entry) == item.hash)

        keep = max(group, key=lambda item: (score(item), -item.position))
        for item in group:
            if item is not keep:
                losers.add(id(item))
                report.problems.append(Problem(
                    "inserted", f"a second entry claims index {index} (the genuine one is at "
                    f"{keep.location})", index, item.location))
    return [item for item in items if id(item) not in losers]


def _longest_increasing(items: list[_Item]) -> list[int]:
    """Positions of a longest strictly increasing run of indexes (patience sorting)."""
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
        elif item.index == 0 and item.prev != GENESIS:
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
        point = item.entry.get("checkpoint")
        if item.entry.get("kind") == "checkpoint":
            report.checkpoints += 1
            if contiguous:
                _one_checkpoint(item, point, acc, report)
        if contiguous:
            acc.append(bytes.fromhex(item.hash) if HEX64.match(item.hash) else item.hash.encode())


def _one_checkpoint(item: _Item, point: object, acc: MerkleAccumulator,
                    report: Verification) -> None:
    if not isinstance(point, dict):
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


def _records(store: Store, genuine: list[_Item], report: Verification,
             verifier: BundleVerifier | None, require_signed: bool) -> set[str]:
    referenced: set[str] = set()
    ledgered = {i.entry["record"]["sha256"] for i in genuine
                if isinstance(i.entry.get("record"), dict)
                and isinstance(i.entry["record"].get("sha256"), str)}
    for item in genuine:
        descriptor = item.entry.get("record")
        if not isinstance(descriptor, dict):
            continue
        digest = descriptor.get("sha256")
        if not isinstance(digest, str) or not HEX64.match(digest):
            report.problems.append(Problem("changed", "the entry's record digest is malformed",
                                           item.index, item.location))
            continue
        referenced.update({record_key(digest), bundle_key(digest)})
        data = store.get(record_key(digest))
        report.records += 1
        if data is None:
            report.problems.append(Problem(
                "record-missing", f"record {digest[:16]}… ({store.uri(record_key(digest))}) "
                "was deleted", item.index, item.location))
            continue
        if sha256_hex(data) != digest:
            report.problems.append(Problem(
                "record-changed", f"record {store.uri(record_key(digest))} no longer has the "
                "digest the ledger holds: it was edited", item.index, item.location))
            continue
        _signature(store, item, descriptor, data, report, verifier=verifier,
                   require_signed=require_signed)
        kind = item.entry.get("kind")
        if kind in ("change", "checkpoint"):
            _content(item, data, report, ledgered)
        if kind == "change":
            report.changes += 1
    return referenced


def _signature(store: Store, item: _Item, descriptor: dict[str, Any], data: bytes,
               report: Verification, *, verifier: BundleVerifier | None,
               require_signed: bool) -> None:
    signature = descriptor.get("signature") or {}
    if signature.get("status") != "signed":
        report.unsigned += 1
        if require_signed:
            report.problems.append(Problem(
                "unsigned", f"the record is unsigned ({signature.get('reason')}) and signatures "
                "are required", item.index, item.location))
        return
    report.signed += 1
    key = bundle_key(descriptor["sha256"])
    bundle = store.get(key)
    if bundle is None:
        report.problems.append(Problem("bundle-missing", f"signature bundle {store.uri(key)} "
                                       "was deleted", item.index, item.location))
        return
    if sha256_hex(bundle) != signature.get("bundle_sha256"):
        report.problems.append(Problem("bundle-changed", f"signature bundle {store.uri(key)} "
                                       "was replaced or edited", item.index, item.location))
        return
    try:
        check_bundle_payload(bundle, data)
        if verifier is not None:
            verifier.verify_dsse(bundle.decode("utf-8"), data)
            report.signatures_checked += 1
    except SignatureError as exc:
        report.problems.append(Problem("signature-invalid", str(exc), item.index, item.location))


def _content(item: _Item, data: bytes, report: Verification, ledgered: set[str]) -> None:
    """The change record and checkpoint statements must agree with their ledger entries."""
    try:
        document = json.loads(data)
        predicate = document["predicate"]
    except (ValueError, KeyError, TypeError):
        report.problems.append(Problem("record-changed", "the record is not an in-toto statement",
                                       item.index, item.location))
        return
    entry = item.entry
    if entry.get("kind") == "checkpoint":
        point = entry.get("checkpoint") or {}
        if (predicate.get("rootHash") != point.get("root")
                or predicate.get("treeSize") != point.get("tree_size")):
            report.problems.append(Problem(
                "checkpoint-mismatch", "the checkpoint entry and its (signed) statement disagree "
                "on the tree", item.index, item.location))
        return
    if document.get("predicateType") != st.VSA:
        report.problems.append(Problem("changed", "the change entry points at a record that is "
                                       "not a change record", item.index, item.location))
        return
    if predicate.get("verificationResult") != entry.get("verdict"):
        report.problems.append(Problem(
            "changed", f"the entry says {entry.get('verdict')} but the change record says "
            f"{predicate.get('verificationResult')}", item.index, item.location))
    for source in predicate.get("inputAttestations") or []:
        digest = (source.get("digest") or {}).get("sha256") if isinstance(source, dict) else None
        if digest not in ledgered:
            report.problems.append(Problem(
                "record-missing", f"input statement {str(digest)[:16]}… named by the change "
                "record is not in the ledger: its entry was deleted", item.index, item.location))


def _anchors(genuine: list[_Item], report: Verification, expect_head: str | None,
             expect_size: int | None) -> None:
    if expect_size is not None and report.size < expect_size:
        report.problems.append(Problem(
            "truncated", f"the ledger holds {report.size} entries but {expect_size} were "
            f"expected: entries {report.size}..{expect_size - 1} were deleted"))
    if expect_head is not None:
        hashes = {i.hash: i for i in genuine}
        if expect_head.lower() not in hashes:
            report.problems.append(Problem(
                "truncated", f"the expected head {expect_head[:16]}… is not in the ledger: the "
                "ledger was truncated or rewritten after it"))


def _unledgered(store: Store, referenced: set[str], report: Verification) -> None:
    for key in store.keys(RECORDS):
        if key not in referenced:
            report.warnings.append(Problem(
                "unledgered", f"{store.uri(key)} is in the store but in no ledger entry (an "
                "interrupted run, or a planted file: it is not evidence)"))


def _store_problem(issue: StoreIssue) -> Problem:
    return Problem(f"store-{issue.kind}", issue.message, None, issue.key)
