"""The relay on a real Anvil: a kill -9 right after the commit transaction went out loses nothing
and commits nothing twice; a blob commit records the blob's versioned hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from gridmint import merkle
from gridmint.slots import end_of, slot_of
from oracle.eip712 import Domain, MeterSigner, Reading
from oracle.relay import Relay, RelayStore, Web3RelayChain
from tests.utils.anvil import DEV_KEYS, Anvil, dev_account
from tools.bench_scale import web3_reading_system

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def anvil(tmp_path):
    node = Anvil().start()
    yield node
    node.stop()


def _advance_to(w3, t):
    w3.provider.make_request("evm_setNextBlockTimestamp", [t])
    w3.provider.make_request("evm_mine", [])


def test_relay__kill_9_after_send__nothing_lost_nothing_twice(anvil, tmp_path):
    w3 = anvil.w3()
    operator, owner, relay_acct = dev_account(0), dev_account(1), dev_account(2)
    sys_ = web3_reading_system(w3, operator)
    sys_.log.set_relay(relay_acct.address, True, sender=operator)
    meters = [MeterSigner(keccak(f"kill-meter-{i}".encode())) for i in range(3)]
    now = w3.eth.get_block("latest")["timestamp"]
    for m in meters:
        sys_.registry.register_meter(m.address, owner.address, 1, 10_000, "pv", (now - 86_400, 0, 0, 0, 0), sender=operator)
        sys_.registry.accept_meter(m.address, sender=owner)
    record = tmp_path / "deployment.json"
    record.write_text(json.dumps({"network": "ethereum:local", "chain_id": w3.eth.chain_id, "params": {}, "contracts": {
        "MeterRegistry": {"address": sys_.registry.address, "abi": sys_.registry.abi},
        "ReadingLog": {"address": sys_.log.address, "abi": sys_.log.abi}}}))
    domain = Domain(w3.eth.chain_id, sys_.registry.address)
    chain = Web3RelayChain(w3, relay_acct, sys_.registry.address, sys_.registry.abi, sys_.log.address, sys_.log.abi)
    db, archive = tmp_path / "relay.sqlite", tmp_path / "archive"
    relay = Relay(RelayStore(db), chain, domain, archive, 1_800, 300, "demand")
    t = w3.eth.get_block("latest")["timestamp"]
    signed = []
    for i, m in enumerate(meters):
        r = Reading(m.address, t, 1_000 + i, 0, 500 + i, 0)
        sig = m.sign(r, domain)
        assert relay.receive(r, sig).ok
        signed.append((r, sig))
    relay.store.close()
    slot = slot_of(t, 1_800)
    _advance_to(w3, end_of(slot, 1_800) + 1)

    cmd = [sys.executable, "-m", "oracle.relay_http", "--deployment", str(record), "--rpc", anvil.url,
           "--db", str(db), "--archive-dir", str(archive), "--policy", "demand", "--once"]
    env = {**os.environ, "GRIDMINT_RELAY_KEY": DEV_KEYS[2], "GRIDMINT_RELAY_CRASH_AT": "after_send"}
    killed = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr  # a real SIGKILL, after the node took the commit
    assert DEV_KEYS[2] not in killed.stdout + killed.stderr
    state = RelayStore(db).db.execute("SELECT state FROM slots WHERE slot=?", (slot,)).fetchone()
    assert state == ("sent",)  # the outbox did not learn the commit was mined

    env.pop("GRIDMINT_RELAY_CRASH_AT")
    again = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["committed"] == [slot]
    expected = merkle.build_root(merkle.reading_leaf(r, s) for r, s in signed)
    assert bytes(sys_.log.root_of(relay_acct.address, slot)) == expected
    # exactly one commit transaction: the relay's nonce is 1, one RootCommitted log
    assert w3.eth.get_transaction_count(relay_acct.address) == 1
    logs = sys_.log.contract.events.RootCommitted().get_logs(from_block=0)
    assert [(e.args.slot, bytes(e.args.root)) for e in logs] == [(slot, expected)]
    # nothing lost: every reading is provable from the restarted relay's outbox and checks on chain
    restarted = Relay(RelayStore(db), chain, domain, archive, 1_800, 300, "demand")
    for r, sig in signed:
        p = restarted.proof(r.meter, r.timestamp)
        proof = [bytes.fromhex(x[2:]) for x in p["proof"]]
        assert sys_.log.verify_reading(relay_acct.address, slot, r.as_call_arg(), sig, proof)
    # and a third run does nothing
    third = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert json.loads(third.stdout)["committed"] == [] and w3.eth.get_transaction_count(relay_acct.address) == 1


def test_commit_with_a_blob__records_its_versioned_hash(anvil, tmp_path):
    from oracle.relay import payload_of_blob

    w3 = anvil.w3()
    operator, relay_acct = dev_account(0), dev_account(2)
    sys_ = web3_reading_system(w3, operator)
    sys_.log.set_relay(relay_acct.address, True, sender=operator)
    chain = Web3RelayChain(w3, relay_acct, sys_.registry.address, sys_.registry.abi, sys_.log.address, sys_.log.abi)
    slot = w3.eth.get_block("latest")["timestamp"] // 1_800 - 1
    payload = b'{"meter":"0x...","timestamp":1}\n' * 100
    prepared, raw = chain.prepare_commit_blob(slot, b"\x05" * 32, 100, payload)
    tx_hash = chain.broadcast(raw)
    assert tx_hash == prepared  # the hash the outbox records before sending is the node's
    assert chain.broadcast(raw) == tx_hash and len(chain.gas_used) == 1  # sent again: taken once, counted once
    assert chain.receipt_status(tx_hash) == 1
    (hashed,) = w3.eth.get_transaction(tx_hash)["blobVersionedHashes"]
    (ev,) = sys_.log.contract.events.RootCommitted().get_logs(from_block=0)
    assert ev.args.data_kind == 2 and bytes(ev.args.data_ref) == bytes(hashed) and bytes(hashed)[0] == 1
    assert bytes(sys_.log.root_of(relay_acct.address, slot)) == b"\x05" * 32
    # the gas of the commit itself does not grow with the blob: the data pays blob gas apart
    assert w3.eth.get_transaction_receipt(tx_hash)["gasUsed"] <= 60_000
    from oracle.relay import blob_of

    assert payload_of_blob(blob_of(payload)) == payload
