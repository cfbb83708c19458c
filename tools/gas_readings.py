"""Gas of readings at scale, for `make gas` (scripts/gas.py's main calls `measure`).

Whole-transaction `gas_used` from receipts on Anvil, through ape, as scripts/gas.py measures:
  readings.commit                       one slot's root (archive kind), whatever the slot's size
  readings.credit_batch64.per_meter     crediting 64 meters' newest readings in one batch, / 64
  readings.prove                        `ReadingLog.prove` of one reading of a 1,024-leaf slot
  readings.amortized_per_reading.<M>_meters at 48 readings a meter a day, a commit every slot and each
                                        meter credited once a day, for M meters (20, 1,000, 1M)
"""

from __future__ import annotations

from eth_hash.auto import keccak

from gridmint import merkle
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

SLOT_S = 1_800
READINGS_PER_DAY = 48
DATA_ARCHIVE = 3


def amortized_per_reading(commit_gas: int, credit_per_meter_gas: int, meters: int) -> float:
    """Gas per reading: a day's 48 commits shared by every meter's 48 readings, plus one credit a meter a day."""
    return (READINGS_PER_DAY * commit_gas + meters * credit_per_meter_gas) / (meters * READINGS_PER_DAY)


def measure(system, operator, report: dict) -> None:
    """Adds the readings' figures to `report` (deploy_system's system on ape; `operator` deployed it)."""
    from ape import accounts, chain

    registry, log = system.registry, system.reading_log
    domain = domain_from_contract(registry)
    relay = accounts.test_accounts.generate_test_account()
    owner = accounts.test_accounts.generate_test_account()
    operator.transfer(relay, 10**18)
    operator.transfer(owner, 10**18)
    log.set_relay(relay, True, sender=operator)
    system.tsl.mint(owner, 10**21, sender=operator)
    system.tsl.approve(system.watt.address, 10**21, sender=owner)
    system.watt.deposit_rent(10**21, sender=owner)
    meters = [MeterSigner(keccak(f"gas-readings-meter-{i}".encode())) for i in range(64)]
    installed = (chain.blocks.head.timestamp - 86_400, 0, 0, 0, 0)
    for m in meters:
        registry.register_meter(m.address, owner, 1, 20_000, "PV site", installed, sender=operator)
        registry.accept_meter(m.address, sender=owner)
    sep = domain.separator
    signed = []
    t = chain.pending_timestamp
    for day in (1, 2):  # day 1 credits the first reading; day 2 is the steady state measured
        t += 86_400 if day == 2 else 0
        chain.pending_timestamp = t
        rows = [Reading(m.address, t, 20_000 * day, 9_000 * day, 6_000 * day, 1_000 * day) for m in meters]
        sigs = [m.sign(r, domain, sep) for m, r in zip(meters, rows)]
        tx = registry.submit_readings([r.as_call_arg() for r in rows], sigs, sender=relay)
        signed = list(zip(rows, sigs))
    per_meter = tx.gas_used // 64
    report["readings.credit_batch64.per_meter"] = per_meter

    slot = t // SLOT_S
    leaves = [merkle.reading_leaf(r, s) for r, s in signed] + [keccak(i.to_bytes(8, "big")) for i in range(960)]
    tree = merkle.ReadingTree(leaves)
    chain.pending_timestamp = (slot + 1) * SLOT_S
    tx = log.commit(slot, tree.root, tree.leaf_count, DATA_ARCHIVE, keccak(b"archive"),
                    f"https://relay.example/slot-{slot}.jsonl", sender=relay)
    report["readings.commit"] = tx.gas_used
    r, s = signed[0]
    tx = log.prove(relay, slot, r.as_call_arg(), s, tree.proof(merkle.reading_leaf(r, s)), sender=owner)
    report["readings.prove"] = tx.gas_used
    for m in (20, 1_000, 1_000_000):
        report[f"readings.amortized_per_reading.{m}_meters"] = round(amortized_per_reading(report["readings.commit"], per_meter, m))
