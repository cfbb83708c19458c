"""The 24/7 score (gridmint/matching.py): consumption per half hour against green Wh claimed per slot."""

from datetime import datetime, timezone

import boa
import pytest

from gridmint import matching as M
from gridmint import profile as P
from tests.conftest import NONE, SOLAR, events

SLOT = 1_800


def test_score__matched_share_slot_by_slot():
    m = M.score({10: 1_000, 11: 1_000, 12: 500}, {10: 1_500, 11: 250, 13: 900})
    assert [(r.slot, r.matched_wh) for r in m.rows] == [(10, 1_000), (11, 250), (12, 0), (13, 0)]
    assert (m.consumed_wh, m.green_wh, m.matched_wh) == (2_500, 2_650, 1_250)
    assert m.score == pytest.approx(0.5)  # surplus in slot 10 and 13 does not cover slot 11 or 12
    assert M.score({}, {1: 5}).score == 0.0


def test_plan__never_beyond_a_slot_or_the_units_held():
    need = {1: 700, 2: 700, 3: 100}
    unclaimed = {7: {1: 500, 2: 100}, 9: {1: 500, 2: 1_000, 3: 50}}
    plan = M.plan_slot_claims(need, unclaimed, {7: 10_000, 9: 650})
    assert plan == {7: {1: 500, 2: 100}, 9: {1: 200, 2: 450}}  # id 9's 650 units run out in slot 2


def test_consumption_by_slot__a_reading_belongs_to_its_last_second():
    assert M.consumption_by_slot([(1_800, 5), (1_801, 7), (3_600, 1)], SLOT) == {0: 5, 1: 8}


def test_claim_by_slot__end_to_end_score_from_the_events(system, register, submit, meter_owner, other_owner):
    """A school's PV certifies its day with a profile; a company holds the units, claims them slot
    by slot against its own meter's consumption, and its 24/7 score follows from the events."""
    cert, registry = system.certificate, system.registry
    from gridmint.onboarding import Registers

    start = int(datetime(2026, 6, 10, tzinfo=timezone.utc).timestamp())
    boa.env.evm.patch.timestamp = start
    pv = register("school-pv", meter_owner, SOLAR, 10_000, commissioning=Registers(start))
    plant = register("company-load", other_owner, NONE, 10_000, commissioning=Registers(start))
    gen = [max(0, 2_000 - abs(i - 24) * 200) for i in range(48)]
    load = [600 if 14 <= i < 36 else 150 for i in range(48)]  # office hours, and a base load at night
    consumed = []
    for i in range(48):
        t = start + (i + 1) * SLOT
        boa.env.evm.patch.timestamp = t
        assert submit([(pv, pv.reading(t, gen=gen[i])), (plant, plant.reading(t, cons=load[i]))])[0] == 2
        consumed.append((t, load[i]))
    _, p_start, p_end = registry.certifiable(pv.address)
    slot_wh = {start // SLOT + i: w for i, w in enumerate(gen) if w}
    id = cert.issue(pv.address, P.issue_words(p_start, p_end, slot_wh, SLOT), sender=meter_owner)
    (profile,) = events(cert.get_logs(), "CertificateProfile")
    cert.safeTransferFrom(meter_owner, other_owner, id, sum(gen), b"", sender=meter_owner)

    need = M.consumption_by_slot(consumed, SLOT)
    unclaimed = M.unclaimed_from_events([profile], [])
    plan = M.plan_slot_claims(need, unclaimed, {id: cert.balanceOf(other_owner, id)})
    M.claim_by_slot(cert, other_owner, other_owner, plan, unclaimed, "company 24/7, 2026-06-10")
    (claim,) = events(cert.get_logs(), "ClaimedSlots")

    matching = M.score(need, M.green_by_slot([claim], other_owner))
    expected = sum(min(g, c) for g, c in zip(gen, load))
    assert matching.matched_wh == expected == claim.amount == cert.claimed_balance_of(other_owner, id)
    assert matching.consumed_wh == sum(load) and matching.score == pytest.approx(expected / sum(load))
    assert 0 < matching.score < 1  # the night is not matched by solar
    night = matching.rows[0]
    assert night.consumed_wh == 150 and night.green_wh == 0
    # what is left per slot is what the chain commits to
    left = M.unclaimed_from_events([profile], [claim])
    first, last, _ = cert.slots_of(id)
    assert cert.profile_commitment(id) == P.commitment(id, P.pack(first, last, left[id]))


def test_demo_hook__issue_with_profile_and_claim_matching(system, register, submit, meter_owner, other_owner):
    """The calls the demo makes: issue with the profile, then claim against a consumption per slot."""
    cert, registry = system.certificate, system.registry
    from gridmint.onboarding import Registers

    start = int(datetime(2026, 6, 11, tzinfo=timezone.utc).timestamp())
    boa.env.evm.patch.timestamp = start
    pv = register("demo-pv", meter_owner, SOLAR, 10_000, commissioning=Registers(start))
    deltas = []
    for i, wh in enumerate([0, 500, 1_500, 900]):
        t = start + (i + 1) * SLOT
        boa.env.evm.patch.timestamp = t
        submit([(pv, pv.reading(t, gen=wh))])
        deltas.append((t, wh))
    first = start // SLOT
    id = M.issue_with_profile(cert, registry, pv.address, meter_owner, P.profile_from_readings(deltas, SLOT))
    (profile,) = events(cert.get_logs(), "CertificateProfile")
    cert.safeTransferFrom(meter_owner, other_owner, id, 2_000, b"", sender=meter_owner)
    consumption = {first: 300, first + 1: 300, first + 2: 300, first + 3: 300}
    matching, sent = M.claim_matching(cert, other_owner, other_owner, consumption,
                                      M.unclaimed_from_events([profile], []), "demo 24/7")
    assert len(sent) == 1 and matching.matched_wh == 900 and matching.score == pytest.approx(0.75)
    assert cert.claimed_balance_of(other_owner, id) == 900
