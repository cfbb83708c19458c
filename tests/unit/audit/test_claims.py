"""The auditor per slot (gridmint/audit/claims.py, invariant 9) on the real contracts: a day that
straddles a month end is certified with its profile (two certificates), claimed slot by slot,
and recomputed from the logs alone; tampered events are caught."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import boa

from gridmint import profile as P
from gridmint.audit.claims import SlotClaims
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import deploy_system
from oracle.eip712 import Reading
from tests.unit.audit.boa_capture import audit_in_process, boa_record_contracts
from tests.unit.audit.driver import _DEPLOY, OPERATOR, OWNERS, PARAMS
from tests.utils.meters import domain_of, meter_signer, submit_one

SLOT = 1_800


def _day_across_a_month_end(capture):
    start = int(datetime(2026, 6, 30, 12, tzinfo=timezone.utc).timestamp())
    boa.env.timestamp = start
    system = deploy_system(_DEPLOY, OPERATOR, PARAMS)
    cert, registry = system.certificate, system.registry
    owner, company = OWNERS[0], OWNERS[1]
    m = meter_signer("claims-audit-pv")
    onboard_meter(registry, OPERATOR, owner, m.address, 1, 20_000, "roof", Registers(start, 0, 0, 0, 0))
    domain, total, gen = domain_of(registry), 0, {}
    for i in range(48):
        t = start + (i + 1) * SLOT
        boa.env.timestamp = t
        wh = 500 + 37 * i
        total += wh
        gen[start // SLOT + i] = wh
        r = Reading(m.address, t, total, 0, 0, 0)
        submit_one(registry, m, r, domain, sender=OPERATOR)
    _, p_start, p_end = registry.certifiable(m.address)
    first = cert.issue(m.address, P.issue_words(p_start, p_end, gen, SLOT), sender=owner)
    june, july = first, first + 1
    for cid in (june, july):
        lo, hi, _ = cert.slots_of(cid)
        words = P.pack(lo, hi, {s: w for s, w in gen.items() if lo <= s <= hi})
        take = {lo: 200, hi: gen[hi]}  # part of the first slot, all of the last
        base = P.first_word_slot(lo)
        w_lo, w_hi = (lo - base) // 8, (hi - base) // 8
        claim = P.pack(base + 8 * w_lo, base + 8 * w_hi + 7, take)
        cert.claim_slots(cid, words, w_lo, claim, company, "24/7 audit", sender=owner)
    cert.claim(june, 100, company, "annual", sender=owner)
    return system, capture.events(boa_record_contracts(system)), (june, july), gen


def test_claims__recomputed_per_slot__no_finding_and_commitments_match(capture):
    system, events, (june, july), gen = _day_across_a_month_end(capture)
    ledger, failing = audit_in_process(system, events)
    assert failing == []  # the split issuance and slot claims fold cleanly
    slots = SlotClaims(SLOT).apply_all(events)
    assert slots.finish() == []
    assert slots.commitments() == {cid: system.certificate.profile_commitment(cid) for cid in (june, july)}
    assert sum(slots.certified().values()) == sum(gen.values())
    company = OWNERS[1]
    green = slots.by_beneficiary[company]
    assert sum(green.values()) == sum(system.certificate.claimed_balance_of(company, c) for c in (june, july)) - 100


def test_claims__tampered_profile_or_claim__found(capture):
    _, events, (june, _), gen = _day_across_a_month_end(capture)
    profile = next(e for e in events if e.name == "CertificateProfile" and e.args["id"] == june)
    # the same total, one slot moved to an evening slot that generated less: certified > generated there
    words = list(profile.args["slot_wh"])
    words[0] += 1_000  # + 1,000 Wh in the first slot
    words[1] -= 1_000  # - 1,000 Wh in slot 8 (plenty there)
    moved = dataclasses.replace(profile, args={**profile.args, "slot_wh": words})
    found = SlotClaims(SLOT).apply_all([moved if e is profile else e for e in events]).finish()
    assert {f.check for f in found} >= {"inv9.certified-above-generated"}
    claim = next(e for e in events if e.name == "ClaimedSlots" and e.args["id"] == june)
    again = [*events, dataclasses.replace(claim, log_index=claim.log_index + 1000)]
    found = SlotClaims(SLOT).apply_all(again).finish()
    assert "inv9.slot-overclaimed" in {f.check for f in found}
