"""The append-only ledger: one JSON line per record, each holding its predecessor's hash.

An entry is `{"v": 1, "index", "prev", "kind", "time", ..., "hash"}` where `hash` is SHA-256 over
the RFC 8785 canonical JSON of the entry without `hash`, and `prev` is the previous entry's
`hash` (64 zeros for the first). Changing, deleting, inserting or reordering an entry therefore
breaks a link that `changegate evidence verify` names. Each recording run ends with a
checkpoint entry: the Merkle root (RFC 9162) over every entry before it, committed to by a
checkpoint statement that is signed when a signer is available, and the Merkle frontier so the
next checkpoint extends it without re-reading the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from changegate.errors import ChangegateError
from changegate.evidence.canonical import GENESIS, canonical, sha256_hex
from changegate.evidence.merkle import MerkleAccumulator

if TYPE_CHECKING:
    from changegate.evidence.stores import Store

VERSION = 1
KINDS = ("store", "statement", "change", "checkpoint")

# Called inside the append with (tree_size, root_hex, head_hash): returns the checkpoint body.
CheckpointMaker = Callable[[int, str, str], dict[str, Any]]


def entry_hash(entry: Mapping[str, Any]) -> str:
    return sha256_hex(canonical({k: v for k, v in entry.items() if k != "hash"}))


def seal(body: Mapping[str, Any], index: int, prev: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"v": VERSION, "index": index, "prev": prev, **body}
    entry["hash"] = entry_hash(entry)
    return entry


def encode(entry: Mapping[str, Any]) -> bytes:
    return canonical(dict(entry)) + b"\n"


@dataclass(frozen=True)
class ParsedLine:
    """A ledger line as read: the entry, or why it is not one."""

    position: int
    location: str
    entry: dict[str, Any] | None
    error: str | None = None


def read(store: Store) -> Iterator[ParsedLine]:
    for position, line in enumerate(store.ledger_lines()):
        try:
            entry = json.loads(line.text)
        except ValueError as exc:
            yield ParsedLine(position, line.location, None, f"not JSON ({exc})")
            continue
        if not isinstance(entry, dict):
            yield ParsedLine(position, line.location, None, "not a JSON object")
            continue
        yield ParsedLine(position, line.location, entry)


def entries(store: Store, kind: str | None = None) -> Iterator[dict[str, Any]]:
    """Readable entries (of one kind), in ledger order; damaged lines are `verify`'s business."""
    for parsed in read(store):
        if parsed.entry is not None and (kind is None or parsed.entry.get("kind") == kind):
            yield parsed.entry


class Ledger:
    """Appends to a store's ledger; the store provides atomicity, this class the chain."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, bodies: list[dict[str, Any]],
               checkpoint: CheckpointMaker | None = None) -> list[dict[str, Any]]:
        """Seal `bodies` after the current tail, then a checkpoint over everything before it."""
        sealed: list[dict[str, Any]] = []

        def build(tail: dict[str, Any] | None) -> list[bytes]:
            sealed.clear()
            index, prev = _position_after(tail)
            acc = self._accumulator(tail) if checkpoint else None
            for body in bodies:
                entry = seal(body, index, prev)
                sealed.append(entry)
                if acc is not None:
                    acc.append(bytes.fromhex(entry["hash"]))
                index, prev = index + 1, entry["hash"]
            if checkpoint is not None and acc is not None:
                body = checkpoint(acc.size, acc.root().hex(), prev)
                body["checkpoint"]["frontier"] = [node.hex() for node in acc.frontier]
                sealed.append(seal(body, index, prev))
            return [encode(entry) for entry in sealed]

        self.store.append_ledger(build)
        return list(sealed)

    def _accumulator(self, tail: dict[str, Any] | None) -> MerkleAccumulator:
        """The tree over every entry so far: from the tail checkpoint's frontier if it has one."""
        if tail is None:
            return MerkleAccumulator()
        point = tail.get("checkpoint")
        if (tail.get("kind") == "checkpoint" and isinstance(point, dict)
                and point.get("tree_size") == tail.get("index")):
            try:
                acc = MerkleAccumulator([bytes.fromhex(h) for h in point["frontier"]],
                                        int(point["tree_size"]))
                acc.append(bytes.fromhex(tail["hash"]))
                return acc
            except (KeyError, TypeError, ValueError):
                pass  # an unusable frontier: recompute from the entries below
        acc = MerkleAccumulator()
        for parsed in read(self.store):
            if parsed.entry is None or not isinstance(parsed.entry.get("hash"), str):
                raise ChangegateError(
                    "EVIDENCE_LEDGER_TORN", f"{parsed.location}: {parsed.error or 'no hash'}",
                    fix="run `changegate evidence verify`; the ledger is damaged")
            acc.append(bytes.fromhex(parsed.entry["hash"]))
        return acc


def _position_after(tail: dict[str, Any] | None) -> tuple[int, str]:
    if tail is None:
        return 0, GENESIS
    index, digest = tail.get("index"), tail.get("hash")
    if not isinstance(index, int) or not isinstance(digest, str):
        raise ChangegateError("EVIDENCE_LEDGER_TORN",
                              "the ledger's last entry has no index or hash",
                              fix="run `changegate evidence verify`; the ledger is damaged")
    return index + 1, digest
