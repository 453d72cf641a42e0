"""The Merkle tree against RFC 9162's recursive definition, and its inclusion proofs."""

from __future__ import annotations

import hashlib

import pytest

from changegate.evidence.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 9162 section 2.1.1 writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k])
                          + reference_root(leaves[k:])).digest()


LEAVES = [hashlib.sha256(str(i).encode()).digest() for i in range(70)]


@pytest.mark.parametrize("size", range(0, 70))
def test_root_matches_rfc_definition(size: int) -> None:
    assert merkle_root(LEAVES[:size]) == reference_root(LEAVES[:size])


def test_empty_tree_and_single_leaf() -> None:
    assert MerkleAccumulator().root() == EMPTY_ROOT
    assert merkle_root([b"x"]) == leaf_hash(b"x")
    assert merkle_root([b"a", b"b"]) == node_hash(leaf_hash(b"a"), leaf_hash(b"b"))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 32, 45])
def test_frontier_resumes_the_same_tree(size: int) -> None:
    first = MerkleAccumulator()
    for leaf in LEAVES[:size]:
        first.append(leaf)
    resumed = MerkleAccumulator(first.frontier, first.size)
    for leaf in LEAVES[size:60]:
        first.append(leaf)
        resumed.append(leaf)
    assert resumed.root() == first.root() == reference_root(LEAVES[:60])


def test_frontier_must_fit_the_size() -> None:
    with pytest.raises(ValueError):
        MerkleAccumulator([b"\x00" * 32], 3)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 11, 16, 21])
def test_inclusion_proofs_verify_for_every_leaf(size: int) -> None:
    leaves = LEAVES[:size]
    root = merkle_root(leaves)
    for index in range(size):
        proof = inclusion_proof(leaves, index)
        assert verify_inclusion(leaves[index], index, size, proof, root)
        assert not verify_inclusion(b"forged", index, size, proof, root)
        if proof:
            bad = [bytes(32), *proof[1:]]
            assert not verify_inclusion(leaves[index], index, size, bad, root)
    assert not verify_inclusion(leaves[0], size, size, [], root)
