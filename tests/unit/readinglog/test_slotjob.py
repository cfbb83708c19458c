"""gridmint/slotjob.py: every signature checked as the registry checks it; the same root in process
and on a Dask LocalCluster; the fast keccak is Keccak-256."""

import os

import pytest
from eth_hash.auto import keccak as reference_keccak

from gridmint import merkle
from gridmint.slotjob import recover_address, run_slot, struct_hash_row, verify_chunk
from oracle.eip712 import Domain, Reading, digest, malleate, struct_hash
from tests.utils.meters import meter_signer

DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


def _rows(n_meters=4, per_meter=5):
    rows = []
    for k in range(n_meters):
        s = meter_signer(f"slotjob-{k}")
        for j in range(per_meter):
            r = Reading(s.address, 1_800_000_000 + j, 10 * j, 5 * j, 3 * j, j)
            rows.append((bytes.fromhex(s.address[2:]), *r[1:], s.sign(r, DOMAIN)))
    return rows


def test_fast_keccak__is_keccak256():
    for data in (b"", b"abc", os.urandom(97)):
        assert merkle.keccak(data) == reference_keccak(data)


def test_struct_hash_row__matches_eip712():
    row = _rows(1, 1)[0]
    r = Reading("0x" + row[0].hex(), *row[1:6])
    assert struct_hash_row(row) == struct_hash(r)
    assert recover_address(digest(r, DOMAIN), row[6]) == row[0]


def test_verify_chunk__refuses_forged_high_s_wrong_v_and_unknown():
    rows = _rows(2, 2)
    good = rows[0]
    other = rows[2]
    forged = good[:6] + (other[6],)  # another meter's signature
    high_s = good[:6] + (malleate(good[6]),)
    bad_v = good[:6] + (good[6][:64] + bytes([29]),)
    short = good[:6] + (good[6][:64],)
    leaves, bad = verify_chunk([good, forged, high_s, bad_v, short, other], DOMAIN.separator)
    assert bad == [1, 2, 3, 4]
    assert leaves == [merkle.leaf_of(struct_hash_row(good), good[6]), merkle.leaf_of(struct_hash_row(other), other[6])]
    leaves, bad = verify_chunk([good, other], DOMAIN.separator, known=frozenset({good[0]}))
    assert bad == [1]


def test_run_slot__same_root_in_process_and_on_dask():
    pytest.importorskip("distributed")
    from gridmint.slotjob import local_client

    rows = _rows(6, 7)
    local = run_slot(rows, DOMAIN.separator, chunk_rows=10)
    client = local_client(workers=1)
    try:
        spread = run_slot(rows, DOMAIN.separator, client, chunk_rows=10)
    finally:
        client.close()
        client.cluster.close()
    assert local.root == spread.root and local.tree.leaf_count == len(rows) and spread.refused == 0
