"""EnergyAuction: placing, clearing at one price, the fill rule, lazy claims, standing orders."""

from __future__ import annotations

import boa

from gridmint import auction as ref
from tests.unit.auction.conftest import FEE_BPS, P, SLOT_S, catch_up, next_slot

PRICE = 200_000  # 0.20 EUR/kWh in quote base units


def idx(price):
    return price // P.tick


def test_one_price_for_everyone_and_nothing_moves_at_clearing(auction, stub_watt, cash, member):
    s1, s2, b1, b2 = member("s1"), member("s2"), member("b1"), member("b2")
    next_slot(auction)
    slot = auction.current_slot()
    a1 = auction.place_order(False, 150_000, 1_000, sender=s1)
    a2 = auction.place_order(False, 180_000, 1_000, sender=s2)
    d1 = auction.place_order(True, 250_000, 1_200, sender=b1)
    d2 = auction.place_order(True, 180_000, 1_000, sender=b2)
    assert stub_watt.escrowed_of(s1) == 1_000
    next_slot(auction)
    r = auction.result(slot)
    orders = [ref.Order(a1, False, idx(150_000), 1_000), ref.Order(a2, False, idx(180_000), 1_000),
              ref.Order(d1, True, idx(250_000), 1_200), ref.Order(d2, True, idx(180_000), 1_000)]
    c = ref.clear_slot(orders, idx(P.floor_price), idx(P.ceiling_price), FEE_BPS)
    assert r.cleared and r.price == c.idx * P.tick == 180_000
    assert r.matched_wh == c.matched_wh == 2_000
    # bids long at 180,000: b2 shares the 800 Wh left after b1's 1,200
    assert (r.long_side, r.shared_wh, r.level_wh) == (ref.LONG_BIDS, 800, 1_000)
    # nothing moved: escrow still in place, no proceeds
    assert stub_watt.escrowed_of(s1) == 1_000 and auction.proceeds_of(s1) == 0
    for o in orders:
        assert tuple(auction.fill_of(o.order_id, slot)) == ref.fill(c, o.is_buy, o.idx, o.amount_wh, P.tick)


def test_claims_settle_each_order_and_are_idempotent(auction, stub_watt, cash, member):
    s, b = member("s"), member("b")
    next_slot(auction)
    ask = auction.place_order(False, 150_000, 1_000, sender=s)
    bid = auction.place_order(True, 250_000, 1_000, sender=b)
    escrow = ref.bid_escrow(1_000, 250_000)
    assert auction.bid_escrow_total() == escrow
    next_slot(auction)
    # the lowest price among ties (volume 1,000 and no imbalance at both 150,000 and 250,000)
    assert auction.result(auction.current_slot() - 1).price == 150_000
    auction.claim([ask, bid, ask, bid, 999])
    q = 1_000 * 150_000 // 1000
    fee = q * FEE_BPS // 10_000
    assert auction.proceeds_of(s) == q - fee
    assert auction.proceeds_of(b) == escrow - q - fee
    assert auction.watt_of(b) == 1_000 and stub_watt.balanceOf(auction.address) == 1_000
    assert stub_watt.escrowed_of(s) == 0
    assert auction.fees_accrued() == 2 * fee and auction.bid_escrow_total() == 0
    before = (auction.proceeds_of(s), auction.proceeds_of(b), auction.watt_of(b))
    auction.claim([ask, bid])
    assert (auction.proceeds_of(s), auction.proceeds_of(b), auction.watt_of(b)) == before
    auction.withdraw_watt(1_000, sender=b)
    assert stub_watt.balanceOf(b) == 100_000 + 1_000
    assert not auction.order(ask).open and not auction.order(bid).open


def test_asks_long_round_up_delivery_and_down_payment(auction, stub_watt, member):
    sellers = [member(f"s{i}") for i in range(3)]
    b = member("b")
    next_slot(auction)
    asks = [auction.place_order(False, PRICE, 1_000, sender=s) for s in sellers]
    bid = auction.place_order(True, PRICE, 1_000, sender=b)
    slot = auction.current_slot()
    next_slot(auction)
    r = auction.result(slot)
    assert (r.long_side, r.shared_wh, r.level_wh) == (ref.LONG_ASKS, 1_000, 3_000)
    delivered = sum(auction.fill_of(a, slot)[0] for a in asks)
    paid = sum(auction.fill_of(a, slot)[1] for a in asks)
    assert delivered == 3 * 334 and delivered >= 1_000  # 2 Wh of dust stay with the auction
    assert paid <= auction.fill_of(bid, slot)[1]  # quote out <= quote in
    auction.claim(asks + [bid])
    assert stub_watt.balanceOf(auction.address) - auction.watt_of(b) == delivered - 1_000


def test_clear_early_twice_out_of_order_and_junk(auction, member):
    next_slot(auction)
    slot = auction.current_slot()
    with boa.reverts("auction: slot not ended"):
        auction.clear(slot)
    boa.env.time_travel(seconds=SLOT_S - 1)
    with boa.reverts("auction: slot not ended"):
        auction.clear(slot)
    boa.env.time_travel(seconds=1)  # the first second of the next slot: slot has ended
    auction.clear(slot)
    with boa.reverts("auction: slot already cleared"):
        auction.clear(slot)
    with boa.reverts("auction: slot already cleared"):
        auction.clear(0)
    with boa.reverts():
        auction.clear(2**255)
    boa.env.time_travel(seconds=3 * SLOT_S)
    with boa.reverts("auction: slot not ended"):
        auction.clear(slot + 4)
    # a later slot clears the ended ones before it too, in one call
    auction.clear(slot + 2)
    assert auction.next_to_clear() == slot + 3


def test_a_late_clear_catches_up_every_skipped_slot_in_one_call(auction, member):
    s, b = member("late-s"), member("late-b")
    next_slot(auction)
    first = auction.current_slot()
    placed = {}
    for k in range(4):  # slot first+1 gets no orders at all; first+3 only a bid (nothing matches)
        if k != 1:
            bid = auction.place_order(True, 200_000 + 10_000 * k, 1_000 + k, sender=b)
            placed[first + k] = [ref.Order(bid, True, idx(200_000 + 10_000 * k), 1_000 + k)]
        if k in (0, 2):
            ask = auction.place_order(False, 180_000, 700 + k, sender=s)
            placed[first + k].append(ref.Order(ask, False, idx(180_000), 700 + k))
        boa.env.time_travel(seconds=SLOT_S)
    assert auction.current_slot() == first + 4
    auction.clear(first + 3)
    logged = [e for e in auction.get_logs() if type(e).__name__ == "AuctionCleared"]
    assert [e.slot for e in logged] == [first, first + 1, first + 2, first + 3]  # one event per slot
    assert auction.next_to_clear() == first + 4
    for k in range(first, first + 4):
        c = ref.clear_slot(placed.get(k, []), idx(P.floor_price), idx(P.ceiling_price), FEE_BPS)
        r = auction.result(k)
        assert r.cleared and (r.price, r.matched_wh, r.long_side) == (c.idx * P.tick, c.matched_wh, c.long_side)
        assert logged[k - first].matched_wh == c.matched_wh
        for o in placed.get(k, []):
            assert tuple(auction.fill_of(o.order_id, k)) == ref.fill(c, o.is_buy, o.idx, o.amount_wh, P.tick)
    assert auction.result(first).matched_wh == 700 and auction.result(first + 2).matched_wh == 702
    assert auction.result(first + 1).matched_wh == auction.result(first + 3).matched_wh == 0


def test_catching_up_is_bounded_per_call(auction, member):
    bound = auction.MAX_CATCH_UP()
    assert bound == 48  # a day of 30-minute slots
    s, b = member("bound-s"), member("bound-b")
    next_slot(auction)
    first = auction.current_slot()
    auction.place_order(False, 180_000, 1_000, sender=s)
    auction.place_order(True, 200_000, 1_000, sender=b)
    boa.env.time_travel(seconds=(bound + 2) * SLOT_S)
    # one slot beyond the bound reverts and changes nothing: clear an earlier one first
    with boa.reverts("auction: too many slots to catch up"):
        auction.clear(first + bound)
    assert auction.next_to_clear() == first
    assert auction.clear(first + bound - 1) is None  # at the bound: all 48 in one call
    assert auction.next_to_clear() == first + bound
    assert auction.result(first).matched_wh == 1_000 and auction.result(first + bound - 1).cleared
    auction.clear(first + bound + 1)
    assert auction.next_to_clear() == auction.current_slot()


def test_order_in_the_last_second_joins_its_slot(auction, member):
    s, b = member("s"), member("b")
    next_slot(auction)
    slot = auction.current_slot()
    boa.env.time_travel(seconds=SLOT_S - 1)
    auction.place_order(False, PRICE, 500, sender=s)
    boa.env.time_travel(seconds=1)
    late = auction.place_order(True, PRICE, 500, sender=b)
    assert auction.order(late).first_slot == slot + 1
    catch_up(auction)
    assert auction.result(slot).matched_wh == 0


def test_member_on_both_sides_and_dust(auction, stub_watt, member):
    m = member("m")
    next_slot(auction)
    with boa.reverts("auction: order below minimum"):
        auction.place_order(True, PRICE, P.min_order_wh - 1, sender=m)
    with boa.reverts("auction: price not on tick"):
        auction.place_order(True, PRICE + 1, 1_000, sender=m)
    ask = auction.place_order(False, PRICE, 1_000, sender=m)
    bid = auction.place_order(True, PRICE, 1_000, sender=m)
    next_slot(auction)
    auction.claim([ask, bid])
    # trading with oneself only pays the fees
    assert auction.watt_of(m) == 1_000
    assert stub_watt.balanceOf(m) == 100_000 - 1_000


def test_band_change_between_placement_and_clearing(auction, stub_watt, operator, member):
    s, b = member("s"), member("b")
    next_slot(auction)
    auction.announce_price_band(P.floor_price, 300_000, sender=operator)
    boa.env.time_travel(seconds=P.notice_s)
    catch_up(auction)
    ask = auction.place_order(False, 300_000, 1_000, sender=s)
    bid = auction.place_order(True, P.ceiling_price, 1_000, sender=b)
    slot = auction.current_slot()
    auction.apply_price_band(sender=operator)  # ceiling 300,000: the bid is now outside the band
    next_slot(auction)
    assert auction.result(slot).matched_wh == 0
    auction.claim([ask, bid])
    assert stub_watt.escrowed_of(s) == 0 and auction.proceeds_of(b) == ref.bid_escrow(1_000, P.ceiling_price)


def test_seller_in_arrears_never_profits(auction, stub_watt, member):
    s, b = member("s"), member("b")
    next_slot(auction)
    ask = auction.place_order(False, PRICE, 1_000, sender=s)
    bid = auction.place_order(True, PRICE, 1_000, sender=b)
    next_slot(auction)
    stub_watt.set_arrears(s, True)
    with boa.reverts("watt: account in arrears"):
        auction.place_order(False, PRICE, 1_000, sender=s)
    auction.claim([ask, bid])
    assert auction.proceeds_of(s) == 0 and auction.order(ask).open  # not settled while in arrears
    stub_watt.set_arrears(s, False)
    auction.claim([ask])
    assert auction.proceeds_of(s) > 0 and not auction.order(ask).open


def test_arrears_close_takes_asks_out_of_uncleared_auctions(auction, stub_watt, member):
    s, b = member("s"), member("b")
    next_slot(auction)
    ask = auction.place_order(False, PRICE, 1_000, sender=s)
    standing = auction.place_standing(False, PRICE, 500, boa.env.evm.patch.timestamp + 10 * SLOT_S, sender=s)
    auction.place_order(True, PRICE, 1_000, sender=b)
    slot = auction.current_slot()
    with boa.reverts("auction: caller is not watt"):
        auction.close_asks_of(s, sender=s)
    joined = auction.order(standing).last_slot - slot + 1
    closed = auction.close_asks_of(s, sender=stub_watt.address)
    assert closed == 1_000 + 500 * joined
    assert not auction.order(ask).open
    next_slot(auction)
    assert auction.result(slot).matched_wh == 0


def test_standing_order_joins_every_slot_without_a_transaction(auction, stub_watt, member):
    s, b = member("s"), member("b")
    next_slot(auction)
    first = auction.current_slot()
    until = (first + 4) * SLOT_S  # slots first .. first + 3
    sid = auction.place_standing(False, 150_000, 600, until, sender=s)
    assert stub_watt.escrowed_of(s) == 4 * 600
    bids = []
    for k in range(4):
        bids.append(auction.place_order(True, 200_000, 400 + 100 * k, sender=b))
        next_slot(auction)
    # a standing order never fills more per slot than it may
    fills = [auction.fill_of(sid, first + k)[0] for k in range(4)]
    assert fills == [400, 500, 600, 600]
    auction.claim([sid])
    assert not auction.order(sid).open
    assert stub_watt.escrowed_of(s) == 0 and stub_watt.balanceOf(auction.address) == sum(fills)
    auction.claim(bids)
    assert auction.watt_of(b) == sum(fills)


def test_standing_cancel_refunds_future_slots(auction, stub_watt, cash, member):
    b = member("b")
    next_slot(auction)
    first = auction.current_slot()
    sid = auction.place_standing(True, PRICE, 1_000, (first + 5) * SLOT_S, sender=b)
    per_slot = ref.bid_escrow(1_000, PRICE)
    assert auction.bid_escrow_total() == 5 * per_slot
    next_slot(auction)
    next_slot(auction)
    auction.cancel_order(sid, sender=b)  # stops from slot first + 2
    assert auction.proceeds_of(b) == 3 * per_slot
    assert auction.order(sid).last_slot == first + 1
    auction.claim([sid])
    assert auction.proceeds_of(b) == 5 * per_slot and auction.bid_escrow_total() == 0


def test_one_shot_cancel_only_while_open(auction, stub_watt, member):
    s = member("s")
    next_slot(auction)
    a = auction.place_order(False, PRICE, 1_000, sender=s)
    auction.cancel_order(a, sender=s)
    assert stub_watt.escrowed_of(s) == 0
    a = auction.place_order(False, PRICE, 1_000, sender=s)
    boa.env.time_travel(seconds=SLOT_S)
    with boa.reverts("auction: slot ended, claim after clearing"):
        auction.cancel_order(a, sender=s)
    with boa.reverts("auction: not your open order"):
        auction.cancel_order(a, sender=boa.env.generate_address("x"))


def test_never_cleared_loses_nothing_and_pause_traps_nothing(auction, stub_watt, operator, member):
    s, b = member("s"), member("b")
    next_slot(auction)
    slot = auction.current_slot()
    ask = auction.place_order(False, PRICE, 1_000, sender=s)
    bid = auction.place_order(True, PRICE, 1_000, sender=b)
    auction.pause(sender=operator)
    with boa.reverts():
        auction.place_order(True, PRICE, 1_000, sender=b)
    boa.env.time_travel(seconds=30 * SLOT_S)  # nobody cleared for 15 hours
    auction.claim([ask, bid])
    assert auction.order(ask).open  # not claimable before its slot is cleared
    catch_up(auction)  # anyone clears, in order, while paused
    assert auction.result(slot).matched_wh == 1_000
    auction.claim([ask, bid])
    assert auction.watt_of(b) == 1_000 and auction.proceeds_of(s) > 0


def test_standing_needs_ended_slots_cleared(auction, member):
    s = member("s")
    next_slot(auction)
    boa.env.time_travel(seconds=SLOT_S)
    with boa.reverts("auction: clear the ended slots first"):
        auction.place_standing(False, PRICE, 500, boa.env.evm.patch.timestamp + 4 * SLOT_S, sender=s)
    with boa.reverts("auction: standing order too long"):
        catch_up(auction)
        auction.place_standing(False, PRICE, 500, boa.env.evm.patch.timestamp + 400 * SLOT_S, sender=s)


def test_catch_up_calls_plan_one_call_per_48_ended_slots():
    assert ref.catch_up_calls(10, 10) == []  # nothing ended
    assert ref.catch_up_calls(10, 11) == [10]
    assert ref.catch_up_calls(10, 58) == [57]  # 48 slots: one call
    assert ref.catch_up_calls(10, 59) == [57, 58]  # 49: two
    assert ref.catch_up_calls(0, 100) == [47, 95, 99]
    assert ref.catch_up_calls(0, 100, most_slots=50) == [47, 49]  # the CLI's --max
    for nxt, cur in [(0, 1), (3, 200), (7, 55)]:
        calls = ref.catch_up_calls(nxt, cur)
        assert calls[-1] == cur - 1 and all(0 < b - a <= ref.MAX_CATCH_UP for a, b in zip([nxt - 1] + calls, calls))


def test_a_settled_orders_word_is_reused_under_a_new_id(auction, member):
    b = member("reuse-b")
    next_slot(auction)
    first = auction.place_order(True, PRICE, 1_000, sender=b)
    auction.cancel_order(first, sender=b)
    again = auction.place_order(True, PRICE, 2_000, sender=b)
    # the same word (low 32 bits), the next generation: the old id now names nothing
    assert again & (2**32 - 1) == first & (2**32 - 1) and again >> 32 == (first >> 32) + 1
    assert not auction.order(first).open and auction.order(again).amount_wh == 2_000
    with boa.reverts("auction: not your open order"):
        auction.cancel_order(first, sender=b)
    escrow = auction.bid_escrow_total()
    auction.claim([first])  # a stale id settles nothing
    assert auction.bid_escrow_total() == escrow and auction.order(again).open
    assert not auction.order(again | (2**48)).open  # ids above 48 bits name nothing


def _random_book(auction, member, rng, label, n_orders, prices):
    """Places `n_orders` random one-shot orders in the current slot; returns them as the reference sees them."""
    sellers = [member(f"{label}-s{i}") for i in range(n_orders // 8 + 1)]
    buyer = member(f"{label}-b")
    placed, asks = [], 0
    for _ in range(n_orders):
        is_buy = rng.random() < 0.5
        price, wh = rng.choice(prices), rng.choice([100, 250, 1_000, 1_337, 5_000])
        who = buyer if is_buy else sellers[asks // 8]
        asks += not is_buy
        oid = auction.place_order(is_buy, price, wh, sender=who)
        placed.append(ref.Order(oid, is_buy, idx(price), wh))
    return placed


def _assert_clears_as_reference(auction, slot, placed, floor_price, ceiling_price):
    c = ref.clear_slot(placed, idx(floor_price + P.tick - 1), idx(ceiling_price), FEE_BPS)
    r = auction.result(slot)
    assert (r.price, r.matched_wh, r.long_side, r.shared_wh, r.level_wh) == (
        c.idx * P.tick, c.matched_wh, c.long_side, c.shared_wh, c.level_wh), (slot, r, c)
    for o in placed:
        assert tuple(auction.fill_of(o.order_id, slot)) == ref.fill(c, o.is_buy, o.idx, o.amount_wh, P.tick)


def test_the_one_pass_walk_clears_as_the_brute_force_reference_across_leaves(auction, member):
    """Levels on both sides of 256-index leaf boundaries and at the band's edges, crossing or not."""
    import random

    rng = random.Random(23)
    edges = [P.floor_price, P.ceiling_price] + [256 * k * P.tick + d for k in (4, 5, 8) for d in (-P.tick, 0, P.tick)]
    traded = 0
    for round_ in range(8):
        next_slot(auction)
        slot = auction.current_slot()
        prices = rng.sample(edges, 6) + [rng.randrange(idx(P.floor_price), idx(P.ceiling_price) + 1) * P.tick for _ in range(4)]
        placed = _random_book(auction, member, rng, f"walk{round_}", 40, prices)
        next_slot(auction)
        _assert_clears_as_reference(auction, slot, placed, P.floor_price, P.ceiling_price)
        traded += auction.result(slot).matched_wh > 0
    assert traded >= 6  # most rounds cross


def test_a_band_narrowed_mid_leaf_before_a_late_clearing(auction, member, operator):
    """Orders placed under the wide band, cleared 7 days later (7 catch-up calls of 48 slots) under a
    band whose edges fall inside a leaf: orders outside it take no part, the rest clear as the reference."""
    import random

    rng = random.Random(7)
    next_slot(auction)
    slot = auction.current_slot()
    prices = [100_000, 100_100, 102_300, 102_400, 150_000, 204_700, 204_800, 260_000, 260_100, 300_000]
    placed = _random_book(auction, member, rng, "band", 40, prices)
    floor, ceiling = 100_100, 260_000  # index 1001 (leaf 3, bit 233) .. 2600 (leaf 10, bit 40)
    auction.announce_price_band(floor, ceiling, sender=operator)
    boa.env.time_travel(seconds=P.notice_s)
    auction.apply_price_band(sender=operator)
    calls = ref.catch_up_calls(auction.next_to_clear(), auction.current_slot())
    assert len(calls) == -(-(auction.current_slot() - slot) // 48)
    for upto in calls:
        auction.clear(upto)
    _assert_clears_as_reference(auction, slot, placed, floor, ceiling)
    assert auction.result(slot).matched_wh > 0 and any(not floor <= o.idx * P.tick <= ceiling for o in placed)
    auction.announce_price_band(P.floor_price, P.ceiling_price, sender=operator)
    boa.env.time_travel(seconds=P.notice_s)
    auction.apply_price_band(sender=operator)
    catch_up(auction)
