"""The ledger's Merkle tree, exactly as RFC 9162 (Certificate Transparency 2.0) defines it.

A hash chain proves order but makes an auditor replay every entry; a Merkle root over the same
entries lets a signed checkpoint (tree size + root) commit to the whole ledger in 32 bytes, lets
anyone prove one sampled record is in it with log2(n) hashes, and is the structure transparency
logs (Rekor, CT) already use, so the tooling and the reasoning are familiar. Leaves are the
ledger entries' hashes (32 raw bytes each).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleAccumulator:
    """The root of a growing tree in O(log n) memory: the "compact range" of RFC 9162 logs.

    `frontier` holds the roots of the perfect subtrees that make up the first `size` leaves,
    largest first; folding them from the right gives RFC 9162's MTH. Storing the frontier in a
    checkpoint lets the next checkpoint extend it without re-reading the ledger.
    """

    def __init__(self, frontier: Sequence[bytes] = (), size: int = 0) -> None:
        if len(frontier) != bin(size).count("1"):
            raise ValueError(f"a frontier of {len(frontier)} hashes cannot describe {size} leaves")
        self.size = size
        heights = [h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]
        self._stack: list[tuple[int, bytes]] = list(zip(heights, frontier, strict=True))

    def append(self, data: bytes) -> None:
        node = leaf_hash(data)
        height = 0
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = node_hash(left, node)
            height += 1
        self._stack.append((height, node))
        self.size += 1

    @property
    def frontier(self) -> list[bytes]:
        return [node for _, node in self._stack]

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    acc = MerkleAccumulator()
    for leaf in leaves:
        acc.append(leaf)
    return acc.root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `leaves` (RFC 9162, section 2.1.3.1)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    proof: list[bytes] = []
    _path(index, list(leaves), proof)
    return proof


def _path(index: int, leaves: list[bytes], proof: list[bytes]) -> None:
    if len(leaves) <= 1:
        return
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        _path(index, leaves[:split], proof)
        proof.append(merkle_root(leaves[split:]))
    else:
        _path(index - split, leaves[split:], proof)
        proof.append(merkle_root(leaves[:split]))


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does `proof` show `leaf` at `index` in the tree with `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    node = leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root
