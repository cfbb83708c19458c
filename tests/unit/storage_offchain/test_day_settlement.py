"""gridmint/storage_ledger.py: the chain's events -> flows -> a day's settlement in StorageLedger's words,
against the reference (gridmint/storage_green.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridmint import merkle
from gridmint.storage_green import (
    ETA_PPM_DEFAULT,
    Flow,
    GreenBattery,
    Reading,
    charge_needed_wh,
    from_readings,
    green_of_charge_wh,
)
from gridmint.storage_ledger import (
    DAY_S,
    DISCHARGE_LEAF_TAG,
    MAX_TAKE_WH,
    ZERO_ROOT,
    FlowLog,
    battery_with_content,
    day_claims,
    discharge_leaf,
    first_slot_of,
    pack_day,
    release_key,
    settle_day,
    settle_days,
    split_take_word,
    take_word,
    unpack_day,
)
from tests.unit.storage_offchain.chain_events import Chain

SLOT_S = 1_800
DAY = 20_000  # 2024-10-04
T0 = DAY * DAY_S
SOLAR, NONE = 1, 0
generator = "0x" + "a1" * 20
second_generator = "0x" + "a2" * 20
night_buyer = "0x" + "b1" * 20
owner_g, owner_b = "0x" + "0a" * 20, "0x" + "0b" * 20
LEDGER = "0x" + "5e" * 20  # the StorageLedger's address


# ---------------------------------------------------------------- words


@given(st.sampled_from([1_800, 900]), st.integers(0, 40_000),
       st.dictionaries(st.integers(0, 95), st.integers(0, 2**31 - 1), max_size=40))
def test_day_words__round_trip(slot_s, day, lanes):
    per_day = DAY_S // slot_s
    slot_wh = {first_slot_of(day, slot_s) + k % per_day: wh for k, wh in lanes.items()}
    words = pack_day(day, slot_s, slot_wh)
    assert len(words) == per_day // 8
    assert all(w < 2**256 for w in words)
    assert unpack_day(day, slot_s, words) == {s: wh for s, wh in slot_wh.items() if wh}


@given(st.integers(1, 2**160 - 1), st.integers(1, MAX_TAKE_WH))
def test_take_word__round_trip(address, wh):
    meter = "0x" + address.to_bytes(20, "big").hex()
    assert split_take_word(take_word(meter, wh)) == (meter, wh)


def test_words__refuse_what_does_not_fit():
    with pytest.raises(ValueError):
        pack_day(DAY, SLOT_S, {first_slot_of(DAY + 1, SLOT_S): 1})  # the next day's slot
    with pytest.raises(ValueError):
        pack_day(DAY, SLOT_S, {first_slot_of(DAY, SLOT_S): 2**31})  # a lane's top bit
    with pytest.raises(ValueError):
        take_word(generator, MAX_TAKE_WH + 1)
    with pytest.raises(ValueError):
        take_word(generator, 0)


def _leaf_bytes(ledger: str, meter: str, day: int, words: list[int]) -> bytes:
    """StorageLedger's leaf preimage word by word (C1's notes): TAG | ledger | meter | day | 0xa0 | W | words."""
    def w(x: int) -> bytes:
        return int(x).to_bytes(32, "big")

    def a(addr: str) -> bytes:
        return bytes.fromhex(addr[2:]).rjust(32, b"\0")

    return (DISCHARGE_LEAF_TAG + a(ledger) + a(meter) + w(day) + w(0xA0) + w(len(words))
            + b"".join(w(x) for x in words))


def test_discharge_leaf__the_contracts_bytes_and_no_inner_node():
    words = pack_day(DAY, SLOT_S, {first_slot_of(DAY, SLOT_S) + 40: 500})
    preimage = _leaf_bytes(LEDGER, night_buyer, DAY, words)
    assert len(preimage) == 32 * (6 + 6) != 64
    assert discharge_leaf(LEDGER, night_buyer, DAY, words) == merkle.keccak(preimage)
    assert DISCHARGE_LEAF_TAG == merkle.keccak(b"gridmint.StorageLedger.discharge.v1")


def test_discharge_leaf__binds_ledger_meter_day_and_words():
    words = pack_day(DAY, SLOT_S, {first_slot_of(DAY, SLOT_S) + 40: 500})
    leaf = discharge_leaf(LEDGER, night_buyer, DAY, words)
    assert leaf != discharge_leaf("0x" + "ee" * 20, night_buyer, DAY, words)
    assert leaf != discharge_leaf(LEDGER, generator, DAY, words)
    assert leaf != discharge_leaf(LEDGER, night_buyer, DAY + 1, words)
    assert leaf != discharge_leaf(LEDGER, night_buyer, DAY, pack_day(DAY, SLOT_S, {first_slot_of(DAY, SLOT_S) + 40: 501}))
    assert leaf != discharge_leaf(LEDGER, night_buyer, DAY, words + [0] * 6)  # the word count is committed
    with pytest.raises(ValueError):
        discharge_leaf(LEDGER, night_buyer, DAY, [0] * 13)


# ---------------------------------------------------------------- events -> flows


def test_flow_log__grid_parts_left_out_and_release_counted():
    chain = Chain()
    chain.register(generator, owner_g, SOLAR)
    chain.register(night_buyer, owner_b, NONE)
    # noon: 600 Wh generated, 500 exported of which 100 went to the grid (battery full)
    chain.reading(generator, owner_g, T0 + 12 * 3600, gen=600, exp=500, grid_export=100)
    # night: 300 imported, 50 of them from the grid (no WATT left)
    chain.reading(night_buyer, owner_b, T0 + 22 * 3600, imp=300, grid_import=50)
    chain.add("WattToken", "StorageReleased", T0 + 23 * 3600 + 5, account=owner_g, wh=40, tsl=0)
    log = FlowLog(SLOT_S).apply_all(chain.events)
    noon, night = (T0 + 12 * 3600 - 1) // SLOT_S, (T0 + 22 * 3600 - 1) // SLOT_S
    release = (T0 + 23 * 3600 + 5) // SLOT_S
    flows = log.flows()
    assert flows[noon] == {generator: Flow(generated_wh=600, exported_wh=400)}
    assert flows[night] == {night_buyer: Flow(imported_wh=250)}
    assert flows[release] == {release_key(owner_g): Flow(imported_wh=40)}
    assert log.methods_of(flows) == {generator: SOLAR, night_buyer: NONE, release_key(owner_g): NONE}
    assert log.days() == [DAY]


def test_flow_log__grid_event_of_another_transaction_is_not_paired():
    chain = Chain()
    chain.reading(generator, owner_g, T0 + 3600, gen=100, exp=100)
    chain.add("MeterRegistry", "GridExport", T0 + 3600, owner=owner_g, wh=60)  # a different tx
    assert FlowLog(SLOT_S).apply_all(chain.events).flows()[(T0 + 3599) // SLOT_S][generator].exported_wh == 100


def test_flow_log__rotated_key_keeps_the_method():
    chain = Chain()
    new_key = "0x" + "a9" * 20
    chain.register(generator, owner_g, SOLAR)
    chain.add("MeterRegistry", "MeterKeyRotated", old_meter=generator, new_meter=new_key)
    assert FlowLog(SLOT_S).apply_all(chain.events).methods[new_key] == SOLAR


# ---------------------------------------------------------------- a day's settlement, by hand


def test_settle_day__hand_computed_words_tree_and_claims():
    first = first_slot_of(DAY, SLOT_S)
    noon, evening, night = first + 24, first + 38, first + 44
    flows = {
        noon: {generator: Flow(generated_wh=800, exported_wh=1_000), second_generator: Flow(generated_wh=100, exported_wh=100)},
        evening: {night_buyer: Flow(imported_wh=450)},  # needs 500 of 900
        night: {night_buyer: Flow(imported_wh=450), release_key(owner_g): Flow(imported_wh=90)},  # needs 500 + 100 of 400
    }
    methods = {generator: SOLAR, second_generator: SOLAR, night_buyer: NONE, release_key(owner_g): NONE}
    s = settle_day(GreenBattery(ETA_PPM_DEFAULT), DAY, flows, methods, SLOT_S, LEDGER)
    assert s.takes == {generator: 800, second_generator: 100}
    assert s.take_words == [take_word(generator, 800), take_word(second_generator, 100)]
    assert s.charged == {noon: 900}
    assert s.need == {evening: 500, night: 600}
    assert s.content == {noon: 900, evening: 900, night: 400}
    assert s.cover == {evening: 500, night: 400}
    # pro rata at night: floor(500 * 400 / 600) = 333 and floor(100 * 400 / 600) = 66; 1 Wh of dust stays
    assert s.taken == {evening: 500, night: 399}
    assert s.content_after_wh == 1
    assert s.discharges == {night_buyer: {evening: 450, night: 450}}  # the release has no leaf
    assert s.green == {night_buyer: {evening: 450, night: green_of_charge_wh(333, ETA_PPM_DEFAULT)}}
    assert s.green_wh(night_buyer) == 450 + 299
    assert unpack_day(DAY, SLOT_S, s.need_words) == s.need
    assert unpack_day(DAY, SLOT_S, s.green_words(night_buyer)) == s.green[night_buyer]
    assert s.root == discharge_leaf(LEDGER, night_buyer, DAY, s.discharge_words(night_buyer))  # one leaf: the root
    meter, day, words, need, cover, proof = s.claim_args(night_buyer)
    assert (meter, day, need, cover) == (night_buyer, DAY, s.need_words, s.cover_words)
    assert merkle.process_proof(discharge_leaf(LEDGER, meter, day, words), proof) == s.root
    assert s.settle_args() == (DAY, s.charge_words, s.need_words, s.taken_words, s.root)
    assert unpack_day(DAY, SLOT_S, s.cover_words) == s.cover
    with pytest.raises(KeyError):
        s.proof(generator)


def test_settle_day__several_members_each_proof_leads_to_the_root():
    first = first_slot_of(DAY, SLOT_S)
    members = ["0x" + f"{i:040x}" for i in range(1, 8)]
    flows = {first + 20: {generator: Flow(generated_wh=5_000, exported_wh=5_000)},
             first + 40: {m: Flow(imported_wh=100 * (i + 1)) for i, m in enumerate(members)}}
    methods = {generator: SOLAR, **{m: NONE for m in members}}
    s = settle_day(GreenBattery(ETA_PPM_DEFAULT), DAY, flows, methods, SLOT_S, LEDGER)
    assert set(s.leaves) == set(members)
    for m in members:
        assert merkle.process_proof(s.leaves[m], s.proof(m)) == s.root


def test_settle_day__empty_day_and_no_discharge():
    s = settle_day(GreenBattery(ETA_PPM_DEFAULT), DAY, {}, {}, SLOT_S, LEDGER)
    assert s.empty and s.root == ZERO_ROOT and s.take_words == [] and s.need_words == [0] * 6
    first = first_slot_of(DAY, SLOT_S)
    charged = settle_day(GreenBattery(ETA_PPM_DEFAULT), DAY, {first: {generator: Flow(10, 10)}}, {generator: SOLAR}, SLOT_S, LEDGER)
    assert not charged.empty and charged.root == ZERO_ROOT and charged.content_after_wh == 10


def test_settle_day__a_lane_overflow_is_refused():
    first = first_slot_of(DAY, SLOT_S)
    flows = {first: {night_buyer: Flow(imported_wh=2**31 - 1)}}  # needs more than 2**31 - 1 at eta 0.9
    with pytest.raises(ValueError, match="does not fit"):
        settle_day(GreenBattery(ETA_PPM_DEFAULT), DAY, flows, {night_buyer: NONE}, SLOT_S, LEDGER)


# ---------------------------------------------------------------- against the reference, at random

meters = [generator, second_generator, night_buyer, "0x" + "c1" * 20]
METHODS = {generator: SOLAR, second_generator: SOLAR, night_buyer: NONE, meters[3]: 2}
OWNERS = {m: "0x" + f"{i + 1:040x}" for i, m in enumerate(meters)}


@st.composite
def chain_days(draw):
    """Readings over three days: per meter, increasing times, random deltas and grid parts."""
    chain = Chain()
    for m in meters:
        chain.register(m, OWNERS[m], METHODS[m])
    ref: list[Reading] = []
    totals = {m: [0, 0, 0] for m in meters}
    times = {m: sorted(set(draw(st.lists(st.integers(1, 3 * DAY_S), min_size=1, max_size=14)))) for m in meters}
    rows = sorted((T0 + t, m) for m in meters for t in times[m])
    for ts, m in rows:
        gen, exp, imp = (draw(st.integers(0, 3_000)) for _ in range(3))
        gexp, gimp = draw(st.integers(0, exp)), draw(st.integers(0, imp))
        chain.reading(m, OWNERS[m], ts, gen, exp, imp, gexp, gimp)
        t = totals[m]
        t[0], t[1], t[2] = t[0] + gen, t[1] + exp - gexp, t[2] + imp - gimp
        ref.append(Reading(m, ts, t[0], 0, t[1], t[2]))
    return chain, ref


def _chain_green(discharge_wh: int, need_wh: int, cover_wh: int, eta_ppm: int) -> int:
    """What claim_discharge mints for one slot from the words it is passed (C1's notes, StorageLedger.vy)."""
    need_m = charge_needed_wh(discharge_wh, eta_ppm)
    share = 0 if need_wh == 0 else need_m if cover_wh == need_wh else need_m * cover_wh // need_wh
    return min(discharge_wh, min(share, cover_wh) * eta_ppm // 1_000_000)


@given(chain_days(), st.sampled_from([ETA_PPM_DEFAULT, 1_000_000, 500_000]))
def test_days__figures_equal_the_reference(data, eta_ppm):
    chain, ref_readings = data
    log = FlowLog(SLOT_S).apply_all(chain.events)
    flows = log.flows()
    days = settle_days(flows, log.methods_of(flows), eta_ppm, SLOT_S, [DAY, DAY + 1, DAY + 2, DAY + 3], LEDGER)
    reference = from_readings({m: Reading(m, 0, 0, 0, 0, 0) for m in meters}, ref_readings, METHODS, eta_ppm, SLOT_S)
    assert [r for d in days for r in d.results] == reference  # every slot exactly the reference's
    for d in days:
        assert sum(d.takes.values()) == sum(unpack_day(d.day, SLOT_S, d.charge_words).values())
        for s in d.need:
            # per slot: taken <= min(N, C), and N <= C -> taken == N (what the contract checks)
            assert d.taken.get(s, 0) <= min(d.need[s], d.content.get(s, 0))
            if d.need[s] <= d.content.get(s, 0):
                assert d.taken.get(s, 0) == d.need[s]
        for m, per_slot in d.green.items():
            for s, g in per_slot.items():
                assert g <= d.discharges[m][s]
                assert g * 1_000_000 <= d.taken[s] * eta_ppm
        for m, per_slot in d.discharges.items():
            for s, wh in per_slot.items():
                assert _chain_green(wh, d.need.get(s, 0), d.cover.get(s, 0), eta_ppm) == d.green.get(m, {}).get(s, 0)
    # a member's claims rebuilt from the day's flows and the chain's (N, C) per slot: the same green and root
    for d in days:
        settled = {s: (d.need.get(s, 0), d.content.get(s, 0)) for s in set(d.need) | set(d.charged)}
        claims = day_claims(d.day, flows, settled, eta_ppm, SLOT_S, LEDGER)
        assert claims.green == d.green and claims.root == d.root
        assert claims.need_words == d.need_words and claims.cover_words == d.cover_words
        for m in d.discharges:
            assert claims.claim_args(m) == d.claim_args(m)
    # a battery seeded with the queue the chain holds after day 1 settles day 2 the same way
    battery = GreenBattery(eta_ppm)
    settle_day(battery, DAY, flows, log.methods_of(flows), SLOT_S, LEDGER)
    seeded = battery_with_content(battery.content, eta_ppm, first_slot_of(DAY + 1, SLOT_S) - 1)
    again = settle_day(seeded, DAY + 1, flows, log.methods_of(flows), SLOT_S, LEDGER)
    assert again.results == days[1].results and again.root == days[1].root


def test_day_claims__a_need_the_chain_did_not_settle_is_refused():
    first = first_slot_of(DAY, SLOT_S)
    flows = {first + 40: {night_buyer: Flow(imported_wh=90)}}  # needs 100
    with pytest.raises(ValueError, match="settled 99"):
        day_claims(DAY, flows, {first + 40: (99, 500)}, ETA_PPM_DEFAULT, SLOT_S, LEDGER)
    claims = day_claims(DAY, flows, {first + 40: (100, 500)}, ETA_PPM_DEFAULT, SLOT_S, LEDGER)
    assert claims.green == {night_buyer: {first + 40: 90}} and claims.drawn_wh(night_buyer) == 90
    assert claims.green_wh(night_buyer) == 90
    with pytest.raises(KeyError):
        claims.claim_args(generator)
