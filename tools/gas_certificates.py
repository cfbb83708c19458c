"""Gas of certificates per slot, measured on Anvil: whole-transaction `gas_used` from receipts.

`measure(system, operator, report)` adds (scripts/gas.py's main calls it):
  certificate.issue.day48         a meter's daily issuance with its 48-slot profile (target <= 150,000)
  certificate.issue.day48.first_of_meter  the same, for a meter's first certificate (it also records the
                                  meter and generator addresses once, in the meter table)
  certificate.issue.day_no_profile  a daily issuance without a profile (plain claims only)
  certificate.claim_slots.day48   a time-matched claim naming all 48 slots of it (target <= 150,000)
  certificate.claim_slots.one     a time-matched claim of one slot
  certificate.transfer.profiled   a transfer of a profiled certificate's units (<= 58,793, today's transfer)
  certificate.claim.profiled      a plain claim on a profiled certificate (<= 68,036, today's claim)

`measure_parts(system, operator, report)` adds (call it last: it moves the chain's clock ~100 days on):
  certificate.issue.month_part    a member who has not issued for 67 days (402 profile words: more
                                  than one issuance carries) issues the oldest month, a 31-day month
                                  of a wind meter generating in every slot, as a part
                                  (`issue(meter, profile, until)`: 186 words, the dearest month)
  certificate.issue.rest_after_part  the rest of that period (36 days, two months) whole

Run alone (tools/gas_standalone.py: inside its own network namespace, with Anvil on 127.0.0.1:8545):
  python -m tools.gas_certificates            # prints the figures, writes nothing
"""

from __future__ import annotations

from ape import accounts, chain
from eth_hash.auto import keccak

from gridmint import profile as P
from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

SOLAR, WIND = 1, 2
DAY_S = 86_400


def _wind_day(slots: int) -> list[int]:
    """Wh per slot of a windy day: every slot generates (the dearest profile: no zero lane)."""
    return [2_000 + (i * 373) % 3_000 for i in range(slots)]


def _read_day(registry, domain, meter, midnight, per_slot, relayer, slot_s):
    """The meter reads at the end of every slot of the day from `midnight`; returns {slot: Wh}."""
    total = registry.last_reading(meter.address).generated_wh
    readings = []
    for i, wh in enumerate(per_slot):
        total += wh
        readings.append(Reading(meter.address, midnight + (i + 1) * slot_s, total, 0, 0, 0))
    sep = domain.separator
    for k in range(0, len(readings), 64):
        batch = readings[k : k + 64]
        registry.submit_readings([r.as_call_arg() for r in batch], [meter.sign(r, domain, sep) for r in batch], sender=relayer)
    return {midnight // slot_s + i: w for i, w in enumerate(per_slot)}


def _issue_day(cert, registry, meter, slot_wh, owner, slot_s):
    wh, start, end = registry.certifiable(meter.address)
    assert wh == sum(slot_wh.values()) and end - start == DAY_S, "the day must be certifiable whole"
    words = P.issue_words(start, end, slot_wh, slot_s)
    tx = cert.issue(meter.address, words, sender=owner)
    id = cert.next_id() - 1
    assert cert.profile_commitment(id) == P.commitment(id, words)
    return tx, id, words, start, end


def measure(system, operator, report, relayer=None):
    registry, cert = system.registry, system.certificate
    relayer = relayer or operator
    slot_s = cert.SLOT_S()
    domain = domain_from_contract(registry)
    owner = accounts.test_accounts.generate_test_account()
    buyer = accounts.test_accounts.generate_test_account()
    operator.transfer(owner, 10**19)
    operator.transfer(buyer, 10**19)
    meter = MeterSigner(keccak(b"gas-certificate-day48"))
    bare = MeterSigner(keccak(b"gas-certificate-day48-bare"))
    per_slot = _wind_day(DAY_S // slot_s)
    # day 1: the last whole UTC day before the chain's time; each meter's first certificate
    midnight = (chain.blocks.head.timestamp // DAY_S - 1) * DAY_S
    for m, name in ((meter, "Wind farm Nord"), (bare, "Wind farm Sued")):
        onboard_meter(registry, operator, owner, m.address, WIND, 20_000, name, commissioning(midnight))
        _read_day(registry, domain, m, midnight, per_slot, relayer, slot_s)
    slot_wh = {midnight // slot_s + i: w for i, w in enumerate(per_slot)}
    tx, *_ = _issue_day(cert, registry, meter, slot_wh, owner, slot_s)
    report["certificate.issue.day48.first_of_meter"] = tx.gas_used
    cert.issue(bare.address, sender=owner)
    # day 2, a day later: the daily issuance of a meter that has had certificates before
    chain.pending_timestamp += DAY_S
    chain.mine()
    midnight += DAY_S
    slot_wh = _read_day(registry, domain, meter, midnight, per_slot, relayer, slot_s)
    _read_day(registry, domain, bare, midnight, per_slot, relayer, slot_s)
    tx, id, words, start, end = _issue_day(cert, registry, meter, slot_wh, owner, slot_s)
    report["certificate.issue.day48"] = tx.gas_used
    report["certificate.issue.day_no_profile"] = cert.issue(bare.address, sender=owner).gas_used
    total = sum(slot_wh.values())

    tx = cert.safeTransferFrom(owner, buyer, id, total // 2, b"", sender=owner)
    report["certificate.transfer.profiled"] = tx.gas_used
    tx = cert.claim(id, 1_000, buyer, "2026 consumption, Hofmann Tools", sender=buyer)
    report["certificate.claim.profiled"] = tx.gas_used

    # one slot, then all 48 (a quarter of what each slot has left)
    one = P.pack(start // slot_s, end // slot_s - 1, {start // slot_s + 20: 500})
    tx = cert.claim_slots(id, words, 0, one, buyer, "Hofmann Tools, 10:00-10:30", sender=buyer)
    report["certificate.claim_slots.one"] = tx.gas_used
    left = P.subtract(words, 0, one)
    share = {s: w // 4 for s, w in P.unpack(P.first_word_slot(start // slot_s), left).items()}
    day = P.pack(start // slot_s, end // slot_s - 1, share)
    assert len(share) == DAY_S // slot_s
    tx = cert.claim_slots(id, left, 0, day, buyer, "Hofmann Tools 24/7, one day", sender=buyer)
    report["certificate.claim_slots.day48"] = tx.gas_used
    return report


def measure_parts(system, operator, report, relayer=None):
    registry, cert = system.registry, system.certificate
    relayer = relayer or operator
    slot_s = cert.SLOT_S()
    domain = domain_from_contract(registry)
    owner = accounts.test_accounts.generate_test_account()
    operator.transfer(owner, 10**19)
    meter = MeterSigner(keccak(b"gas-certificate-long-gap"))
    per_slot = _wind_day(DAY_S // slot_s)
    # the gap starts at the first 31-day month after the chain's time: its part is the dearest month
    start = P.month_of(chain.blocks.head.timestamp)[2]
    while (P.month_of(start)[2] - start) // DAY_S != 31:
        start = P.month_of(start)[2]
    chain.pending_timestamp = start
    chain.mine()
    onboard_meter(registry, operator, owner, meter.address, WIND, 20_000, "Wind farm Ost", commissioning(start))
    slot_wh: dict[int, int] = {}
    for day in range(67):  # a day's readings relayed at its end, within the credit lag
        midnight = start + day * DAY_S
        chain.pending_timestamp = midnight + DAY_S
        slot_wh.update(_read_day(registry, domain, meter, midnight, per_slot, relayer, slot_s))
    wh, p_start, p_end = registry.certifiable(meter.address)
    assert wh == sum(slot_wh.values()) and len(P.issue_words(p_start, p_end, slot_wh, slot_s)) > P.MAX_PROFILE_WORDS
    until = P.next_part_end(p_start, p_end, slot_s)
    words = P.issue_words(p_start, until, slot_wh, slot_s)
    assert until == P.month_of(start)[2] and len(words) == 31 * DAY_S // slot_s // P.SLOTS_PER_WORD
    report["certificate.issue.month_part"] = cert.issue(meter.address, words, until, sender=owner).gas_used
    _, rest_start, rest_end = registry.certifiable(meter.address)
    rest = P.issue_words(rest_start, rest_end, slot_wh, slot_s)
    report["certificate.issue.rest_after_part"] = cert.issue(meter.address, rest, sender=owner).gas_used
    assert registry.certifiable(meter.address)[0] == 0
    return report


if __name__ == "__main__":
    from tools.gas_standalone import main

    main(measure, measure_parts)
