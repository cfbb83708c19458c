"""The reference model of green energy through the battery (gridmint/storage_green.py): hand-computed
cases, then the invariants of issue 26 under random charges, discharges and readings."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridmint.storage_green import (
    ETA_PPM_DEFAULT,
    PPM,
    Flow,
    GreenBattery,
    Lot,
    Reading,
    charge_needed_wh,
    from_readings,
    green_of_charge_wh,
    member_totals,
    settle_all,
    slot_flows,
)

SOLAR, NONE = 1, 0
generator_a = "0x" + "a1" * 20
generator_b = "0x" + "a2" * 20
night_buyer = "0x" + "b1" * 20
second_buyer = "0x" + "c1" * 20


# ---------------------------------------------------------------- hand-computed numbers


def test_rounding__charge_needed_is_ceiling_and_green_is_floor():
    assert charge_needed_wh(50, 900_000) == 56  # 55.55...
    assert charge_needed_wh(90, 900_000) == 100  # exact
    assert green_of_charge_wh(56, 900_000) == 50  # 50.4
    assert green_of_charge_wh(100, 900_000) == 90
    assert charge_needed_wh(7, PPM) == 7 and green_of_charge_wh(7, PPM) == 7


def test_charge_then_discharge__hand_computed():
    methods = {generator_a: SOLAR, night_buyer: NONE}
    flows = {
        0: {generator_a: Flow(generated_wh=80, exported_wh=100)},  # green charge = min(100, 80) = 80
        1: {night_buyer: Flow(imported_wh=50)},  # needs ceil(50 / 0.9) = 56 Wh of charge
        2: {night_buyer: Flow(imported_wh=30)},  # needs 34, only 24 left: part grey
    }
    noon, evening, night = settle_all(flows, methods)
    assert noon.charged == {generator_a: 80}
    assert noon.content == (Lot(generator_a, 0, 80),)
    d = evening.discharges[night_buyer]
    assert (d.charge_wh, d.green_wh, d.grey_wh) == (56, 50, 0)
    assert d.lots == (Lot(generator_a, 0, 56),)
    assert evening.losses_wh == 6
    assert evening.content == (Lot(generator_a, 0, 24),)
    d = night.discharges[night_buyer]
    assert (d.charge_wh, d.green_wh, d.grey_wh) == (24, 21, 9)  # floor(24 * 0.9) = 21
    assert night.losses_wh == 3
    assert night.content == ()


def test_scarce_content__shared_pro_rata_and_provenance_in_address_order():
    methods = {generator_a: SOLAR, generator_b: SOLAR, night_buyer: NONE, second_buyer: NONE}
    flows = {
        0: {
            generator_a: Flow(generated_wh=40, exported_wh=40),
            generator_b: Flow(generated_wh=60, exported_wh=70),
        },
        # needs 100 and 50 of 100 Wh of content: shares floor(100 * 100 / 150) = 66, floor(50 * 100 / 150) = 33
        1: {second_buyer: Flow(imported_wh=45), night_buyer: Flow(imported_wh=90)},
    }
    _, night = settle_all(flows, methods)
    first, second = night.discharges[night_buyer], night.discharges[second_buyer]
    assert (first.charge_wh, first.green_wh, first.grey_wh) == (66, 59, 31)
    assert (second.charge_wh, second.green_wh, second.grey_wh) == (33, 29, 16)
    assert first.lots == (Lot(generator_a, 0, 40), Lot(generator_b, 0, 26))  # the lower address: oldest lots
    assert second.lots == (Lot(generator_b, 0, 33),)
    assert night.content == (Lot(generator_b, 0, 1),)  # the rounding dust waits for a later slot
    assert night.losses_wh == 66 - 59 + 33 - 29


def test_charges_of_a_slot_serve_its_discharges__after_older_lots():
    methods = {generator_a: SOLAR, generator_b: SOLAR, night_buyer: NONE}
    flows = {
        3: {generator_a: Flow(generated_wh=10, exported_wh=10)},
        5: {generator_b: Flow(generated_wh=200, exported_wh=90), night_buyer: Flow(imported_wh=81)},
    }
    _, slot5 = settle_all(flows, methods)
    d = slot5.discharges[night_buyer]
    assert (d.charge_wh, d.green_wh) == (90, 81)
    assert d.lots == (Lot(generator_a, 3, 10), Lot(generator_b, 5, 80))
    assert slot5.content == (Lot(generator_b, 5, 10),)


def test_three_days__noon_solar_serves_the_nights_with_its_losses():
    methods = {generator_a: SOLAR, night_buyer: NONE}
    flows = {}
    for day in range(3):
        base = day * 48
        flows[base + 24] = {generator_a: Flow(generated_wh=1_200, exported_wh=1_000)}  # noon: 1,000 Wh stored
        for night_slot in (40, 42, 44):  # each needs ceil(300 / 0.9) = 334; the third finds 332 left
            flows[base + night_slot] = {night_buyer: Flow(imported_wh=300)}
    results = settle_all(flows, methods)
    green = [r.discharges[night_buyer].green_wh for r in results if r.discharges]
    assert green == [300, 300, 298] * 3  # floor(332 * 0.9) = 298
    assert [r.content_wh for r in results if r.discharges] == [666, 332, 0] * 3
    totals = member_totals(results)
    assert totals[generator_a].charged_wh == 3_000
    assert (totals[night_buyer].imported_wh, totals[night_buyer].green_wh) == (2_700, 2_694)
    assert totals[night_buyer].green_ppm == 997_777  # "99.8 % solar from the community battery"
    assert sum(r.losses_wh for r in results) == 3 * (34 + 34 + 34) == 3_000 - 2_694
    assert member_totals([]) == {} and totals[generator_a].green_ppm == 0


def test_non_renewable_export__charges_nothing_and_the_import_is_grey():
    methods = {generator_a: NONE, night_buyer: NONE}
    results = settle_all(
        {
            0: {generator_a: Flow(generated_wh=500, exported_wh=1_000)},
            1: {night_buyer: Flow(imported_wh=300)},
        },
        methods,
    )
    assert results[0].charged == {} and results[0].content == ()
    d = results[1].discharges[night_buyer]
    assert (d.green_wh, d.grey_wh, d.charge_wh, d.lots) == (0, 300, 0, ())


def test_readings__wh_of_an_interval_belong_to_the_slot_of_its_last_second():
    start = Reading(generator_a, 1_000, 5, 0, 7, 0)
    readings = [
        Reading(generator_a, 1_800, 25, 0, 17, 0),  # (1000, 1800]: slot 0 (closes it)
        Reading(generator_a, 1_801, 26, 0, 30, 0),  # slot 1
        Reading(generator_a, 3_600, 40, 0, 30, 4),  # slot 1
    ]
    flows = slot_flows({generator_a: start}, readings)
    assert flows == {0: {generator_a: Flow(20, 10, 0)}, 1: {generator_a: Flow(15, 13, 4)}}
    # the slot's sums, not per reading: min(10, 20) in slot 0; min(13, 15) in slot 1 (per reading: 1 + 0)
    results = from_readings({generator_a: start}, readings, {generator_a: SOLAR})
    assert [r.charged for r in results] == [{generator_a: 10}, {generator_a: 13}]
    # 15-minute slots: 1,800 closes slot 1, 1,801 opens slot 2
    assert sorted(slot_flows({generator_a: start}, readings, slot_s=900)) == [1, 2, 3]
    with pytest.raises(ValueError, match="slot length"):
        slot_flows({generator_a: start}, readings, slot_s=600)


@pytest.mark.parametrize(
    "bad, reason",
    [
        (Reading(generator_a, 1_000, 5, 0, 7, 0), "not after"),
        (Reading(generator_a, 2_000, 4, 0, 7, 0), "generated_wh went down"),
        (Reading(night_buyer, 2_000, 0, 0, 0, 0), "unknown meter"),
    ],
)
def test_slot_flows__refuses_what_the_registry_rejects(bad, reason):
    with pytest.raises(ValueError, match=reason):
        slot_flows({generator_a: Reading(generator_a, 1_000, 5, 0, 7, 0)}, [bad])


def test_battery__efficiency_is_immutable_and_bounded_and_slots_only_go_forward():
    battery = GreenBattery()
    assert battery.eta_ppm == ETA_PPM_DEFAULT == 900_000
    with pytest.raises(AttributeError, match="immutable"):
        battery.eta_ppm = PPM
    for bad in (0, PPM + 1, -5):
        with pytest.raises(ValueError, match="efficiency"):
            GreenBattery(bad)
    battery.settle(4, {}, {})
    with pytest.raises(ValueError, match="not after"):
        battery.settle(4, {}, {})
    with pytest.raises(ValueError, match="no generation method"):
        battery.settle(5, {night_buyer: Flow(imported_wh=1)}, {})


# ---------------------------------------------------------------- invariants under random flows

METERS = ["0x" + f"{i:02x}" * 20 for i in (3, 1, 4, 15, 9)]
etas = st.one_of(st.just(ETA_PPM_DEFAULT), st.just(PPM), st.integers(1, PPM))
wh = st.integers(0, 2_000)


@st.composite
def communities(draw):
    meters = draw(st.lists(st.sampled_from(METERS), min_size=1, max_size=5, unique=True))
    methods = {m: draw(st.integers(0, 5)) for m in meters}
    slots = sorted(draw(st.sets(st.integers(0, 200), min_size=1, max_size=24)))
    flows = {}
    for slot in slots:
        active = draw(st.lists(st.sampled_from(meters), unique=True))
        flows[slot] = {
            m: Flow(draw(wh), draw(wh), draw(st.one_of(st.just(0), wh, st.integers(0, 20_000))))
            for m in active
        }
    return methods, flows, draw(etas)


def check_fifo(results):
    """Independent FIFO oracle: the lots ever taken, in order, are the charge stream cut at the Wh
    taken so far, and the content is the rest of it."""
    stream = [
        [lot.meter, lot.charge_slot, lot.wh]
        for r in results
        for lot in (Lot(m, r.slot, w) for m, w in sorted(r.charged.items()))
    ]
    i = 0
    for r in results:
        while i < len(stream) and stream[i][1] <= r.slot and stream[i][2] == 0:
            i += 1
        for meter in sorted(r.discharges):
            for lot in r.discharges[meter].lots:
                assert lot.wh > 0
                while stream[i][2] == 0:
                    i += 1
                head = stream[i]
                assert (lot.meter, lot.charge_slot) == (
                    head[0],
                    head[1],
                ), "a lot was used while an older one had Wh left"
                assert lot.wh <= head[2]
                head[2] -= lot.wh
        rest = tuple(Lot(m, s, w) for m, s, w in stream if w and s <= r.slot)
        assert r.content == rest


@given(communities())
def test_invariants__green_bounded_by_efficiency_fifo_conservation(community):
    methods, flows, eta = community
    results = settle_all(flows, methods, eta)
    check_fifo(results)
    charged_total = taken_total = green_total = losses_total = 0
    content_before = 0
    for r in results:
        slot_flows_ = flows[r.slot]
        # green charge: min(exported, generated) of a renewable meter, nothing from method NONE
        for m, f in slot_flows_.items():
            expected = min(f.exported_wh, f.generated_wh) if methods[m] else 0
            assert r.charged.get(m, 0) == expected <= f.generated_wh
        assert set(r.discharges) == {m for m, f in slot_flows_.items() if f.imported_wh}
        available = content_before + r.charged_wh
        # computed here, not with the model's helper: ceil(d / eta), the least charge that covers d
        need = {m: -(-f.imported_wh * PPM // eta) for m, f in slot_flows_.items() if f.imported_wh}
        for m, d in r.discharges.items():
            # rounding never creates green; each discharge's lots are its charge
            assert d.green_wh * PPM <= d.charge_wh * eta
            assert 0 <= d.green_wh <= d.imported_wh == slot_flows_[m].imported_wh
            assert sum(lot.wh for lot in d.lots) == d.charge_wh
            if sum(need.values()) <= available:
                assert (d.charge_wh, d.grey_wh) == (need[m], 0)
            else:  # pro rata to need, floored
                assert (
                    d.charge_wh * sum(need.values())
                    <= need[m] * available
                    < (d.charge_wh + 1) * sum(need.values())
                )
        if sum(need.values()) > available:
            assert r.content_wh < len(need)  # the battery is emptied but for the rounding dust
            assert (
                sum(d.grey_wh for d in r.discharges.values()) > 0
            )  # a discharge beyond the content is part grey
        # per slot: green discharged <= charge taken x efficiency; losses = taken - green
        assert r.green_wh * PPM <= r.charge_taken_wh * eta
        assert r.losses_wh == r.charge_taken_wh - r.green_wh >= 0
        charged_total += r.charged_wh
        taken_total += r.charge_taken_wh
        green_total += r.green_wh
        losses_total += r.losses_wh
        # cumulatively: green discharged <= green charged x efficiency; conservation
        assert green_total * PPM <= charged_total * eta
        assert charged_total == green_total + losses_total + r.content_wh
        assert r.content_wh == available - r.charge_taken_wh
        content_before = r.content_wh


@given(communities(), st.permutations(range(5)))
def test_invariants__renaming_discharging_meters_changes_no_amount(community, perm):
    """Address order only labels provenance: the Wh each meter gets do not depend on its address."""
    methods, flows, eta = community
    rename = {m: METERS[perm[i]] for i, m in enumerate(METERS)}
    renamed_flows = {s: {rename[m]: f for m, f in fs.items()} for s, fs in flows.items()}
    renamed_methods = {rename[m]: k for m, k in methods.items()}
    for a, b in zip(settle_all(flows, methods, eta), settle_all(renamed_flows, renamed_methods, eta)):
        assert {rename[m]: w for m, w in a.charged.items()} == b.charged
        assert {rename[m]: (d.charge_wh, d.green_wh) for m, d in a.discharges.items()} == {
            m: (d.charge_wh, d.green_wh) for m, d in b.discharges.items()
        }
        assert a.losses_wh == b.losses_wh and a.content_wh == b.content_wh


# ---------------------------------------------------------------- readings: order and batching never matter


@st.composite
def reading_histories(draw):
    meters = draw(st.lists(st.sampled_from(METERS), min_size=1, max_size=4, unique=True))
    methods = {m: draw(st.integers(0, 2)) for m in meters}
    commissioning, readings = {}, []
    for m in meters:
        t0 = draw(st.integers(0, 3_600))
        regs = [draw(st.integers(0, 100)) for _ in range(4)]
        commissioning[m] = Reading(m, t0, *regs)
        times = sorted(draw(st.sets(st.integers(t0 + 1, t0 + 6 * 1_800), max_size=12)))
        for t in times:
            regs = [x + draw(st.integers(0, 300)) for x in regs]
            readings.append(Reading(m, t, *regs))
    return commissioning, readings, methods, draw(etas), draw(st.randoms(use_true_random=False))


def summary(results):
    return [(r.slot, r.charged, r.discharges, r.losses_wh, r.content) for r in results]


@given(reading_histories())
def test_readings__reordering_and_skipping_within_a_slot_change_nothing(history):
    commissioning, readings, methods, eta, rnd = history
    expected = summary(from_readings(commissioning, readings, methods, eta))
    shuffled = list(readings)
    rnd.shuffle(shuffled)
    assert summary(from_readings(commissioning, shuffled, methods, eta)) == expected
    # lazy crediting: a reading followed by the same meter's next reading in the same slot may be left out
    by_meter = sorted(readings, key=lambda r: (r.meter, r.timestamp_s))
    kept = [
        r
        for r, nxt in zip(by_meter, [*by_meter[1:], None])
        if nxt is None
        or nxt.meter != r.meter
        or (nxt.timestamp_s - 1) // 1_800 != (r.timestamp_s - 1) // 1_800
        or rnd.random() < 0.5
    ]
    assert summary(from_readings(commissioning, kept, methods, eta)) == expected


def test_readings__a_discharge_from_a_non_renewable_meters_export_is_grey():
    """Attack: charging with non-renewable export (a consumption-only meter exporting grid energy)."""
    rnd = random.Random(26)
    commissioning = {
        generator_a: Reading(generator_a, 0, 0, 0, 0, 0),
        night_buyer: Reading(night_buyer, 0, 0, 0, 0, 0),
    }
    exports = [Reading(generator_a, 1_800 * k, 900 * k, 0, 1_000 * k, 0) for k in range(1, 9)]
    imports = [Reading(night_buyer, 1_800 * k + 60, 0, 0, 0, 700 * k) for k in range(1, 9)]
    both = exports + imports
    rnd.shuffle(both)
    results = from_readings(commissioning, both, {generator_a: NONE, night_buyer: NONE})
    assert sum(r.charged_wh for r in results) == 0
    assert sum(r.green_wh for r in results) == 0
    assert sum(d.grey_wh for r in results for d in r.discharges.values()) == 700 * 8
