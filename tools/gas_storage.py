"""Gas of green energy through the battery (issue 26), measured on Anvil: whole-transaction `gas_used`
from receipts.

`measure(system, operator, report, relayer)` adds (scripts/gas.py's main calls it):
  storage.record_charges.one              one generator's take of a day (a batch of one)
  storage.record_charges.batch64.per_meter  a batch of 64 generators' takes, per take
  storage.settle_day.day48                a 30-minute day: 16 charging slots (one lot each), 24
                                          discharging slots drawing across the lots (FIFO pops)
  storage.settle_day.empty                a day with no charge and no discharge (48 zero lanes)
  storage.claim_discharge.day48.first_of_meter  a member's first discharge certificate: draws in 24 slots
                                          (green where the queue holds charge: 14 on the first day, 24
                                          on the next), proof depth 10 (a day of 1,024 members), the meter's first
                                          certificate (it records the meter once in the certificate's table)
  storage.claim_discharge.day48           the same member the next day (target <= 150,000)
  storage.claim_discharge_days.week       the same member's next 7 days in one certificate
                                          (`claim_discharge_days`)
  storage.claim_discharge_days.week.per_day  that, per member-day

Run alone (tools/gas_standalone.py: inside its own network namespace, with Anvil on 127.0.0.1:8545):
  python -m tools.gas_storage            # prints the figures, writes nothing
"""

from __future__ import annotations

from ape import accounts, chain
from eth_hash.auto import keccak

from gridmint import merkle
from gridmint.onboarding import commissioning, onboard_meter
from gridmint.storage_ledger import DAY_S, discharge_leaf, pack_day, take_word
from oracle.eip712 import MeterSigner

SOLAR, NONE = 1, 0
ETA_PPM = 900_000
MEMBERS = 1_024  # leaves of the day's tree: a proof of depth 10 (as for any 513 .. 1,024 members)


def _signer(label: str) -> MeterSigner:
    return MeterSigner(keccak(f"gas-storage-{label}".encode()))


def _settle_day(ledger, settler, generators, day, slot_s, report=None):
    """Takes of the 16 daytime slots' generators, then the day: returns the per-slot need/cover words
    and a member's discharge per slot (the member draws 1 % of each night slot's need)."""
    spd = DAY_S // slot_s
    first = day * spd
    charge = {first + 18 + i: 40_000 + 1_000 * i for i in range(16)}  # 09:00 .. 17:00, one lot per slot
    total = sum(charge.values())
    per_gen, rest = divmod(total, len(generators))
    takes = [take_word(g, per_gen + (rest if k == 0 else 0)) for k, g in enumerate(generators)]
    tx = ledger.record_charges(day, takes[:1], sender=settler)
    if report is not None:
        report["storage.record_charges.one"] = tx.gas_used
    tx = ledger.record_charges(day, takes[1:65], sender=settler)
    if report is not None:
        report["storage.record_charges.batch64.per_meter"] = tx.gas_used // len(takes[1:65])
    if len(takes) > 65:
        ledger.record_charges(day, takes[65:], sender=settler)
    # evening and night: 24 slots (17:00 .. 24:00 and 00:00 .. 05:00 of the day), all covered, drawing ~70 %
    member_d = {}
    need = {}
    night = [first + i for i in range(34, 48)] + [first + i for i in range(0, 10)]
    budget = total * 7 // 10
    for s in night:
        n = budget // len(night)
        need[s] = n
        member_d[s] = (n // 100) * ETA_PPM // 1_000_000  # 1 % of the slot's need, in Wh drawn
    # FIFO in time: the morning slots (00:00 .. 05:00) come before the day's charges: they draw on what
    # earlier days left
    content = ledger.content_wh()  # what earlier days left in the queue
    taken = {}
    cover = {}
    for s in range(first, first + spd):
        content += charge.get(s, 0)
        n = need.get(s, 0)
        t = min(n, content)
        if n > content:
            t = content  # pro rata of the whole content (the member's share is computed on chain)
        taken[s] = t
        cover[s] = min(content, n)
        content -= t
    return charge, need, taken, cover, member_d


def measure(system, operator, report, relayer=None) -> None:
    ledger, registry = system.storage_ledger, system.registry
    slot_s = ledger.SLOT_S()
    settler = relayer or accounts.test_accounts[1]
    ledger.set_settler(settler, True, sender=operator)
    installed = commissioning(chain.blocks.head.timestamp - 60)
    generators = []
    for i in range(80):
        g = _signer(f"gen-{i}")
        onboard_meter(registry, operator, operator, g.address, SOLAR, 20_000, "PV roof", installed)
        generators.append(g.address)
    member = accounts.test_accounts.generate_test_account()
    operator.transfer(member, 10**19)
    meter = _signer("member")
    onboard_meter(registry, operator, member, meter.address, NONE, 20_000, "home", installed)

    # an empty day first (the clock's day has not ended; the day before has)
    day = chain.blocks.head.timestamp // DAY_S - 1
    zero = [0] * (DAY_S // slot_s // 8)
    report["storage.settle_day.empty"] = ledger.settle_day(day - 1, zero, zero, zero, b"\0" * 32, sender=settler).gas_used

    def settle(day, label=None):
        charge, need, taken, cover, member_d = _settle_day(ledger, settler, generators, day, slot_s,
                                                           report if label == "first" else None)
        mine = pack_day(day, slot_s, member_d)
        leaf = discharge_leaf(str(ledger.address), str(meter.address), day, mine)
        others = [keccak(f"member-{i}-{day}".encode()) for i in range(MEMBERS - 1)]
        tree = merkle.ReadingTree([leaf, *others])
        proof = tree.proof(leaf)
        assert len(proof) == 10, len(proof)
        need_w, cover_w = pack_day(day, slot_s, need), pack_day(day, slot_s, cover)
        tx = ledger.settle_day(day, pack_day(day, slot_s, charge), need_w, pack_day(day, slot_s, taken), tree.root,
                               sender=settler)
        if label == "first":
            report["storage.settle_day.day48"] = tx.gas_used
        # the next day ends
        chain.mine(timestamp=max(chain.blocks.head.timestamp, (day + 2) * DAY_S) + 1)
        return mine, need_w, cover_w, proof

    for label in ("storage.claim_discharge.day48.first_of_meter", "storage.claim_discharge.day48"):
        mine, need_w, cover_w, proof = settle(day, "first" if label.endswith("first_of_meter") else None)
        tx = ledger.claim_discharge(meter.address, day, mine, need_w, cover_w, proof, sender=member)
        report[label] = tx.gas_used
        day += 1
    # a week in one certificate (the days lie in one month: the clock starts on the 1st)
    week = [settle(d) for d in range(day, day + 7)]
    days = list(range(day, day + 7))
    tx = ledger.claim_discharge_days(meter.address, days, *([w[k] for w in week] for k in range(4)), sender=member)
    report["storage.claim_discharge_days.week"] = tx.gas_used
    report["storage.claim_discharge_days.week.per_day"] = tx.gas_used // 7


if __name__ == "__main__":
    from tools.gas_standalone import main

    main(measure)
