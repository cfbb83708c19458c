"""A long pending period issued a part at a time: `issue(meter, profile, until)`.

A member who has not issued for longer than one profile covers (400 words: 66 days of 30-minute
slots) can issue neither with a profile (too long) nor without one (it spans months). Issuing the
oldest month at a time (until = midnight of the 1st) certifies everything, each certificate within
its month with its profile, the totals exact; every rejection keeps the pending generation."""

from datetime import datetime, timezone

import boa
import pytest

from gridmint import matching as M
from gridmint import profile as P
from gridmint.onboarding import Registers
from tests.conftest import SOLAR, events

SLOT = 1_800
DAY = 86_400
READ_EVERY_S = 6 * 3_600  # the long gap reads every 6 hours: 400 readings over 100 days


def ts(iso):
    return int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp())


@pytest.fixture
def gap(register, submit, meter_owner):
    """Factory: a fresh meter commissioned at `start` reads every `every_s` for `days` days (relayed
    a day at a time, within the credit lag) and is never issued; returns (meter, {slot: Wh})."""
    counter = {"n": 0}

    def _gap(start, days, every_s=READ_EVERY_S):
        counter["n"] += 1
        boa.env.evm.patch.timestamp = start
        m = register(f"gap-pv-{counter['n']}", meter_owner, SOLAR, 20_000, commissioning=Registers(start))
        slot_wh: dict[int, int] = {}
        per_day = DAY // every_s
        for d in range(days):
            batch = []
            for k in range(per_day):
                t = start + d * DAY + (k + 1) * every_s
                wh = 1_000 + (d * 37 + k * 311) % 9_000
                batch.append((m, m.reading(t, gen=wh)))
                slot = P.slot_of_reading(t, SLOT)
                slot_wh[slot] = slot_wh.get(slot, 0) + wh
            boa.env.evm.patch.timestamp = start + (d + 1) * DAY
            assert submit(batch)[0] == per_day
        return m, slot_wh

    return _gap


def test_a_100_day_gap__issued_month_by_month__to_nothing_left(cert, registry, gap, meter_owner):
    start = ts("2026-05-20T00:00:00")
    m, slot_wh = gap(start, 100)
    total, p_start, p_end = registry.certifiable(m.address)
    assert (total, p_start, p_end) == (sum(slot_wh.values()), start, start + 100 * DAY)
    words = P.issue_words(p_start, p_end, slot_wh, SLOT)
    assert len(words) == 600 > P.MAX_PROFILE_WORDS  # one profile cannot carry it
    with boa.reverts("certificate: period spans two months; issue with a profile"):
        cert.issue(m.address, sender=meter_owner)  # nor can a plain issuance

    calls = M.issue_month_by_month(cert, registry, m.address, meter_owner, slot_wh)
    untils = [until for until, _ in calls]
    ids = list(range(calls[0][1], cert.next_id()))
    # the oldest month while the rest is too long for one profile, then the rest (July 1 .. August 28,
    # 58 days) whole: one certificate per month as ever
    june, july, august = ts("2026-06-01T00:00:00"), ts("2026-07-01T00:00:00"), ts("2026-08-01T00:00:00")
    assert untils == [june, july, 0]
    assert registry.certifiable(m.address) == (0, 0, 0)

    certs = [cert.certificate(i) for i in ids]
    assert [cert.vintage(i) for i in ids] == [202605, 202606, 202607, 202608]
    bounds = [p_start, june, july, august, p_end]
    assert [(c.period_start, c.period_end) for c in certs] == list(zip(bounds, bounds[1:]))
    assert sum(c.amount_wh for c in certs) == total  # invariant 3: exact, nothing lost or doubled
    assert [first for _, first in calls] == ids[:3]  # May, June, then July and August in one call
    for i, c in zip(ids, certs):
        lo, hi, profiled = cert.slots_of(i)
        assert profiled and P.month_of(lo * SLOT)[0] == P.month_of(hi * SLOT)[0] == cert.vintage(i)
        mine = {s: w for s, w in slot_wh.items() if lo <= s <= hi}
        assert c.amount_wh == sum(mine.values())  # each part carries exactly its month's readings
        assert cert.balanceOf(meter_owner, i) == c.amount_wh
        assert cert.profile_commitment(i) == P.commitment(i, P.pack(lo, hi, mine))


def test_a_part__leaves_the_rest_certifiable_and_new_readings_join_it(cert, registry, submit, gap, meter_owner):
    start = ts("2026-06-28T00:00:00")
    m, slot_wh = gap(start, 4)  # June 28 .. July 2
    total = registry.certifiable(m.address)[0]
    july = ts("2026-07-01T00:00:00")
    june_wh = sum(w for s, w in slot_wh.items() if s < july // SLOT)
    first = cert.issue(m.address, P.issue_words(start, july, slot_wh, SLOT), july, sender=meter_owner)
    assert cert.certificate(first).amount_wh == june_wh and cert.vintage(first) == 202606
    assert registry.certifiable(m.address) == (total - june_wh, july, start + 4 * DAY)
    # a later reading adds to what the part left
    t = start + 4 * DAY + READ_EVERY_S
    boa.env.evm.patch.timestamp = t
    assert submit([(m, m.reading(t, gen=777))])[0] == 1
    assert registry.certifiable(m.address) == (total - june_wh + 777, july, t)


def test_a_part_with_no_generation__moves_the_start_and_mints_nothing(cert, registry, register, submit, meter_owner):
    start = ts("2026-05-20T00:00:00")
    boa.env.evm.patch.timestamp = start
    m = register("offline-pv", meter_owner, SOLAR, 20_000, commissioning=Registers(start))
    t = ts("2026-06-10T00:00:00")  # offline until June 10: the first reading credits its Wh to its last slot
    boa.env.evm.patch.timestamp = t
    assert submit([(m, m.reading(t, gen=50_000))])[0] == 1
    june = ts("2026-06-01T00:00:00")
    before = cert.next_id()
    zero = P.issue_words(start, june, {}, SLOT)
    assert cert.issue(m.address, zero, june, sender=meter_owner) == 0
    (taken,) = events(cert.get_logs(), "CertifiableTaken")  # the registry's event, in the same call
    assert (taken.wh, taken.period_start, taken.period_end) == (0, start, june)
    assert cert.next_id() == before
    assert registry.certifiable(m.address) == (50_000, june, t)
    id = cert.issue(m.address, P.issue_words(june, t, {P.slot_of_reading(t, SLOT): 50_000}, SLOT), sender=meter_owner)
    assert cert.certificate(id).amount_wh == 50_000 and cert.vintage(id) == 202606


# ---------------------------------------------------------------- rejections


@pytest.fixture
def straddle(gap):
    """A meter pending June 29 .. July 2 (readings every 6 h), its July 1 part's words."""
    start = ts("2026-06-29T00:00:00")
    m, slot_wh = gap(start, 3)
    july = ts("2026-07-01T00:00:00")
    return m, slot_wh, start, july, P.issue_words(start, july, slot_wh, SLOT)


def _with_lane(words, lane_wh):
    """`words` with `lane_wh` added to lane 0 of the last word."""
    return words[:-1] + [words[-1] + lane_wh]


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda m, w, s, u: (m, w, u + 60), "certificate: until is not a slot boundary"),
        (lambda m, w, s, u: (m, [], u), "certificate: a part needs its profile"),
        (lambda m, w, s, u: (m, w, s), "registry: part outside the pending period"),
        (lambda m, w, s, u: (m, w, s + 3 * DAY), "registry: part outside the pending period"),  # its end
        (lambda m, w, s, u: (m, w, s + 4 * DAY), "registry: part outside the pending period"),
        (lambda m, w, s, u: (m, _with_lane(w, 2**30), u), "registry: part exceeds the certifiable Wh"),
        (lambda m, w, s, u: (m, w + [0], u), "certificate: profile does not cover the period"),
        (lambda m, w, s, u: (m, w[:-1], u), "certificate: profile does not cover the period"),
        (lambda m, w, s, u: (m, _with_lane(w, 2**31), u), "certificate: slot amount too large"),
        (lambda m, w, s, u: (boa.env.generate_address("no-meter"), w, u), "certificate: unknown meter"),
    ],
)
def test_a_part__rejections_keep_the_pending_generation(cert, registry, straddle, meter_owner, change, reason):
    m, _, start, july, words = straddle
    pending = registry.certifiable(m.address)
    meter, w, until = change(m.address, words, start, july)
    with boa.reverts(reason):
        cert.issue(meter, w, until, sender=meter_owner)
    assert registry.certifiable(m.address) == pending


def test_a_part__only_the_owner_and_only_what_is_pending(cert, registry, straddle, meter_owner, other_owner, operator):
    m, slot_wh, start, july, words = straddle
    pending = registry.certifiable(m.address)
    for who in (other_owner, operator):
        with boa.reverts("certificate: caller is not the meter owner"):
            cert.issue(m.address, words, july, sender=who)
    with boa.reverts("registry: caller is not the certificate"):
        registry.take_certifiable_part(m.address, 0, july, sender=meter_owner)
    assert registry.certifiable(m.address) == pending
    cert.issue(m.address, words, july, sender=meter_owner)
    _, rest_start, end = registry.certifiable(m.address)
    cert.issue(m.address, P.issue_words(rest_start, end, slot_wh, SLOT), sender=meter_owner)
    with boa.reverts("certificate: nothing to issue"):
        cert.issue(m.address, words, july, sender=meter_owner)
