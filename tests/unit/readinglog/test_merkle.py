"""gridmint/merkle.py: the leaf, the sorted-pair tree, proofs; and ReadingLog's processProof agrees."""

import boa
import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings, strategies as st

from gridmint import merkle
from oracle.eip712 import Reading, struct_hash
from tests.utils.meters import meter_signer

LEAVES = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=80)

_HARNESS = """
# pragma version ~=0.4.3
@external
@pure
def process(leaf: bytes32, proof: DynArray[bytes32, 32]) -> bytes32:
    node: bytes32 = leaf
    for sibling: bytes32 in proof:
        if convert(node, uint256) <= convert(sibling, uint256):
            node = keccak256(concat(node, sibling))
        else:
            node = keccak256(concat(sibling, node))
    return node
"""


def test_leaf__is_keccak_of_struct_hash_and_signature():
    signer = meter_signer("leaf")
    r = Reading(signer.address, 1_700_000_000, 1, 2, 3, 4)
    sig = b"\x01" * 65
    assert merkle.reading_leaf(r, sig) == keccak(struct_hash(r) + sig)
    with pytest.raises(ValueError):
        merkle.leaf_of(struct_hash(r), sig[:64])


@given(LEAVES)
def test_every_leaf__proves_against_the_root(leaves):
    tree = merkle.ReadingTree(leaves)
    assert tree.leaf_count == len(set(leaves))
    for leaf in leaves:
        proof = tree.proof(leaf)
        assert len(proof) <= merkle.MAX_PROOF_DEPTH
        assert merkle.verify(leaf, proof, tree.root)


@given(LEAVES, st.randoms())
def test_root__does_not_depend_on_arrival_order(leaves, rnd):
    shuffled = list(leaves)
    rnd.shuffle(shuffled)
    assert merkle.build_root(leaves) == merkle.build_root(shuffled + leaves[:3])


@given(LEAVES, st.binary(min_size=32, max_size=32))
def test_a_leaf_outside_the_tree__does_not_prove(leaves, outsider):
    tree = merkle.ReadingTree(leaves)
    if outsider in set(leaves):
        return
    for leaf in leaves[:5]:
        assert not merkle.verify(outsider, tree.proof(leaf), tree.root)
    with pytest.raises(KeyError):
        tree.proof(outsider)


@given(LEAVES.filter(lambda x: len(set(x)) > 1), st.data())
def test_a_tampered_proof__does_not_prove(leaves, data):
    tree = merkle.ReadingTree(leaves)
    leaf = data.draw(st.sampled_from(leaves))
    proof = tree.proof(leaf)
    i = data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
    assert not merkle.verify(leaf, bad, tree.root)


def test_single_leaf__is_its_own_root_and_empty_has_none():
    leaf = keccak(b"x")
    assert merkle.build_root([leaf]) == leaf
    assert merkle.ReadingTree([leaf]).proof(leaf) == []
    with pytest.raises(ValueError):
        merkle.ReadingTree([])


@pytest.fixture
def harness():
    return boa.loads(_HARNESS)


@settings(max_examples=25)
@given(LEAVES, st.data())
def test_vyper_process_proof__agrees_with_python(harness, leaves, data):
    tree = merkle.ReadingTree(leaves)
    leaf = data.draw(st.sampled_from(leaves))
    assert harness.process(leaf, tree.proof(leaf)) == tree.root



def test_reading_type__is_the_oracles_and_the_registrys(registry):
    """gridmint (which may not import the oracle) spells the Reading type once more: it must be the same."""
    from oracle.eip712 import READING_TYPE, READING_TYPEHASH, digest
    from tests.utils.meters import domain_of

    assert merkle.READING_TYPE == READING_TYPE and merkle.READING_TYPEHASH == READING_TYPEHASH
    r = Reading(meter_signer("type").address, 1_700_000_000, 2**48 - 1, 0, 7, 2**40)
    assert merkle.struct_hash_of(*r) == struct_hash(r)
    assert registry.reading_digest(r.as_call_arg()) == digest(r, domain_of(registry))
