"""contracts/ReadingLog.vy: one root per slot per relay, never replaced; proofs checked against meter keys."""

import boa
import pytest
from eth_hash.auto import keccak

from gridmint import merkle
from gridmint.onboarding import Registers
from gridmint.slots import slot_of, end_of
from oracle.eip712 import Reading
from tests.conftest import events
from tests.utils.meters import meter_signer

SLOT_S = 1_800
DATA_CALLDATA, DATA_BLOB, DATA_ARCHIVE = 1, 2, 3


@pytest.fixture
def log(system):
    return system.reading_log


@pytest.fixture
def relay(log, operator):
    relay = boa.env.generate_address("relay")
    log.set_relay(relay, True, sender=operator)
    return relay


@pytest.fixture
def slot_readings(register, meter_owner, domain, now):
    """Factory: two meters' signed readings inside the current slot, plus a decoy leaf; returns
    (slot, [(meter, reading, sig)], tree)."""

    def _make(extra_leaves=()):
        # commissioned an hour ago: 300 and 500 Wh are plausible for a 10 kW site
        a = register("log-a", meter_owner, commissioning=Registers(now() - 3_600))
        b = register("log-b", meter_owner, commissioning=Registers(now() - 3_600))
        t = now()
        slot = slot_of(t, SLOT_S)
        signed = []
        for m, exp in ((a, 300), (b, 500)):
            r = m.reading(t, gen=exp, exp=exp)
            signed.append((m, r, m.signer.sign(r, domain)))
        leaves = [merkle.reading_leaf(r, s) for _, r, s in signed] + list(extra_leaves)
        return slot, signed, merkle.ReadingTree(leaves)

    return _make


def _end_slot(slot):
    boa.env.evm.patch.timestamp = max(boa.env.evm.patch.timestamp, end_of(slot, SLOT_S))


def _commit(log, relay, slot, tree, kind=DATA_ARCHIVE, ref=None, uri="https://archive.example/slot.jsonl"):
    return log.commit(slot, tree.root, tree.leaf_count, kind, ref or keccak(b"data"), uri, sender=relay)


def test_commit__by_relay_after_slot_end__stores_root_and_logs(log, relay, slot_readings):
    slot, _, tree = slot_readings()
    with boa.reverts("reading_log: slot not ended"):
        _commit(log, relay, slot, tree)
    _end_slot(slot)
    _commit(log, relay, slot, tree)
    (ev,) = events(log.get_logs(), "RootCommitted")
    assert (ev.slot, ev.root, ev.leaf_count, ev.data_kind, ev.data_ref) == (
        slot, tree.root, 2, DATA_ARCHIVE, keccak(b"data"))
    assert log.root_of(relay, slot) == tree.root


def test_commit__twice__root_is_never_replaced(log, relay, slot_readings):
    slot, _, tree = slot_readings()
    _end_slot(slot)
    _commit(log, relay, slot, tree)
    other = merkle.ReadingTree([keccak(b"other")])
    with boa.reverts("reading_log: root already committed"):
        _commit(log, relay, slot, other)
    assert log.root_of(relay, slot) == tree.root


@pytest.mark.parametrize(
    "args, reason",
    [
        ((b"\0" * 32, 1, DATA_ARCHIVE, b"\1" * 32, "u"), "reading_log: zero root"),
        ((b"\2" * 32, 0, DATA_ARCHIVE, b"\1" * 32, "u"), "reading_log: bad leaf count"),
        ((b"\2" * 32, 2**32 + 1, DATA_ARCHIVE, b"\1" * 32, "u"), "reading_log: bad leaf count"),
        ((b"\2" * 32, 1, 4, b"\1" * 32, "u"), "reading_log: unknown data kind"),
        ((b"\2" * 32, 1, DATA_CALLDATA, b"\0" * 32, "tx:0x1"), "reading_log: zero data ref"),
        ((b"\2" * 32, 1, DATA_ARCHIVE, b"\1" * 32, ""), "reading_log: empty data uri"),
    ],
)
def test_commit__bad_arguments__reverts(log, relay, now, args, reason):
    slot = slot_of(now(), SLOT_S) - 1
    with boa.reverts(reason):
        log.commit(slot, *args, sender=relay)


def test_commit__not_a_relay_or_removed__reverts(log, relay, operator, stranger, now):
    slot = slot_of(now(), SLOT_S) - 1
    with boa.reverts("reading_log: caller is not a relay"):
        log.commit(slot, b"\2" * 32, 1, DATA_ARCHIVE, b"\1" * 32, "u", sender=stranger)
    with boa.reverts():  # ownable: only the operator appoints relays
        log.set_relay(stranger, True, sender=stranger)
    log.set_relay(relay, False, sender=operator)
    with boa.reverts("reading_log: caller is not a relay"):
        log.commit(slot, b"\2" * 32, 1, DATA_ARCHIVE, b"\1" * 32, "u", sender=relay)


def test_prove__committed_reading__is_verified_and_logged(log, relay, slot_readings, stranger):
    slot, signed, tree = slot_readings()
    _end_slot(slot)
    _commit(log, relay, slot, tree)
    for m, r, sig in signed:
        leaf = merkle.reading_leaf(r, sig)
        assert log.leaf_of(r.as_call_arg(), sig) == leaf
        proof = tree.proof(leaf)
        assert log.verify_reading(relay, slot, r.as_call_arg(), sig, proof)
        log.prove(relay, slot, r.as_call_arg(), sig, proof, sender=stranger)
        (ev,) = events(log.get_logs(), "ReadingProven")
        assert (ev.meter, ev.timestamp, ev.leaf) == (m.address, r.timestamp, leaf)


def test_prove__other_slot_other_relay_or_tampered__refused(log, relay, operator, slot_readings):
    slot, signed, tree = slot_readings()
    _end_slot(slot)
    _commit(log, relay, slot, tree)
    other_relay = boa.env.generate_address("relay-2")
    log.set_relay(other_relay, True, sender=operator)
    boa.env.time_travel(seconds=SLOT_S)
    # the same reading committed again by the same relay in the next slot proves nothing there
    _commit(log, relay, slot + 1, tree)
    _, r, sig = signed[0]
    proof = tree.proof(merkle.reading_leaf(r, sig))
    assert not log.verify_reading(relay, slot + 1, r.as_call_arg(), sig, proof)
    assert not log.verify_reading(other_relay, slot, r.as_call_arg(), sig, proof)
    more = r._replace(exported_wh=r.exported_wh + 1)
    assert not log.verify_reading(relay, slot, more.as_call_arg(), sig, proof)
    # another meter's leaf path does not prove this meter's reading
    _, r2, sig2 = signed[1]
    assert not log.verify_reading(relay, slot, r2.as_call_arg(), sig2, proof) or len(proof) == 0
    with boa.reverts("reading_log: not committed"):
        log.prove(relay, slot + 1, r.as_call_arg(), sig, proof)


def test_prove__committed_but_forged_signature__refused(log, relay, register, meter_owner, domain, now):
    """A relay can commit any bytes; a leaf whose signature is not the meter's key proves nothing."""
    m = register("forged", meter_owner)
    r = m.reading(now(), exp=100)
    forged = meter_signer("not-the-meter").sign_digest(b"\x11" * 32)
    unknown = meter_signer("never-registered")
    r_unknown = Reading(unknown.address, now(), 0, 0, 5, 0)
    sig_unknown = unknown.sign(r_unknown, domain)
    tree = merkle.ReadingTree([merkle.reading_leaf(r, forged), merkle.reading_leaf(r_unknown, sig_unknown)])
    slot = slot_of(now(), SLOT_S)
    _end_slot(slot)
    _commit(log, relay, slot, tree)
    proof = tree.proof(merkle.reading_leaf(r, forged))
    assert log.is_committed(relay, slot, r.as_call_arg(), forged, proof)
    assert not log.verify_reading(relay, slot, r.as_call_arg(), forged, proof)
    with boa.reverts("reading_log: bad meter signature"):
        log.prove(relay, slot, r.as_call_arg(), forged, proof)
    # signed by its own key, but not a meter the registry knows
    proof_u = tree.proof(merkle.reading_leaf(r_unknown, sig_unknown))
    assert log.is_committed(relay, slot, r_unknown.as_call_arg(), sig_unknown, proof_u)
    assert not log.verify_reading(relay, slot, r_unknown.as_call_arg(), sig_unknown, proof_u)


def test_credit_proven__credits_once_like_a_direct_relay(log, relay, slot_readings, watt, meter_owner, stranger):
    slot, signed, tree = slot_readings()
    _end_slot(slot)
    _commit(log, relay, slot, tree)
    before = watt.balanceOf(meter_owner)
    for _, r, sig in signed:
        proof = tree.proof(merkle.reading_leaf(r, sig))
        assert log.credit_proven(relay, slot, r.as_call_arg(), sig, proof, sender=stranger)
        # the same reading again: stale, nothing credited twice
        assert not log.credit_proven(relay, slot, r.as_call_arg(), sig, proof, sender=stranger)
    assert watt.balanceOf(meter_owner) == before + 300 + 500
    with boa.reverts("reading_log: not committed"):
        log.credit_proven(relay, slot, signed[0][1].as_call_arg(), signed[0][2], [], sender=stranger)
