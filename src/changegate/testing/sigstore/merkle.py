"""An RFC 6962 Merkle tree: the structure Rekor (and every CT log) proves inclusion against.

The local log keeps every leaf hash and computes inclusion proofs the way Trillian does, so the
proofs sigstore-python checks are the real algorithm's output, not canned values. Perfect
subtrees (aligned, power-of-two sized) never change once full, so their hashes are cached and a
proof costs O(log n) hashes after the first.
"""

from __future__ import annotations

import hashlib

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly smaller than `size` (RFC 6962, section 2.1)."""
    k = 1
    while k << 1 < size:
        k <<= 1
    return k


class MerkleTree:
    """Append-only leaves; root hashes and inclusion proofs for any tree size."""

    def __init__(self) -> None:
        self._leaves: list[bytes] = []
        self._perfect: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._leaves)

    def append(self, data: bytes) -> int:
        """Add a leaf (the entry's canonical body); returns its index."""
        self._leaves.append(leaf_hash(data))
        return len(self._leaves) - 1

    def root(self, size: int | None = None) -> bytes:
        size = len(self._leaves) if size is None else size
        if size == 0:
            return hashlib.sha256(b"").digest()
        return self._hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size]): sibling hashes from the leaf up to the root."""
        size = len(self._leaves) if size is None else size
        if not 0 <= index < size <= len(self._leaves):
            raise ValueError(f"no leaf {index} in a tree of size {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, size: int) -> list[bytes]:
        if size == 1:
            return []
        k = _split(size)
        if index < k:
            return [*self._path(index, start, k), self._hash(start + k, size - k)]
        return [*self._path(index - k, start + k, size - k), self._hash(start, k)]

    def _hash(self, start: int, size: int) -> bytes:
        if size == 1:
            return self._leaves[start]
        perfect = size & (size - 1) == 0
        if perfect and (start, size) in self._perfect:
            return self._perfect[(start, size)]
        k = _split(size)
        value = node_hash(self._hash(start, k), self._hash(start + k, size - k))
        if perfect:
            self._perfect[(start, size)] = value
        return value
