"""EnergyAuction: bids escrow out of the member's balance in the auction first (proceeds, refunds,
`deposit_quote`), the pause flag read from the parameters word, and AuctionLens's price levels."""

from __future__ import annotations

import boa

from gridmint import auction as ref
from gridmint.system import CONTRACTS_DIR
from tests.unit.auction.conftest import CASH, P, SLOT_S, catch_up, next_slot

PRICE = 200_000  # 0.20 EUR/kWh in quote base units


def test_a_bid_escrows_from_the_balance_first_and_pulls_only_the_rest(auction, cash, member):
    b = member("balance-bidder")
    next_slot(auction)
    big = auction.place_order(True, PRICE, 5_000, sender=b)  # pulled: the balance is empty
    assert cash.balanceOf(b) == CASH - ref.bid_escrow(5_000, PRICE) and auction.proceeds_of(b) == 0
    auction.cancel_order(big, sender=b)  # the refund is credited to the balance
    balance = ref.bid_escrow(5_000, PRICE)
    assert auction.proceeds_of(b) == balance
    wallet = cash.balanceOf(b)
    total = auction.bid_escrow_total()
    small = ref.bid_escrow(1_000, PRICE)
    auction.place_order(True, PRICE, 1_000, sender=b)  # covered by the balance: no token moves
    assert cash.balanceOf(b) == wallet and auction.proceeds_of(b) == balance - small
    assert auction.bid_escrow_total() == total + small
    # a bid beyond what is left: the balance is used up, the wallet pays the rest
    need = ref.bid_escrow(6_000, PRICE)
    auction.place_order(True, PRICE, 6_000, sender=b)
    assert auction.proceeds_of(b) == 0
    assert cash.balanceOf(b) == wallet - (need - (balance - small))
    assert cash.balanceOf(auction.address) == auction.bid_escrow_total() + auction.fees_accrued() + sum(
        auction.proceeds_of(x) for x in (b,))


def test_a_deposit_is_a_budget_bids_and_standing_bids_escrow_from(auction, cash, member, operator):
    b = member("energy-manager")
    next_slot(auction)
    auction.deposit_quote(10**9, sender=b)
    (ev,) = [e for e in auction.get_logs() if type(e).__name__ == "QuoteDeposited"]
    assert (ev.owner, ev.amount) == (b, 10**9)
    assert auction.proceeds_of(b) == 10**9 and cash.balanceOf(b) == CASH - 10**9
    wallet = cash.balanceOf(b)
    first = auction.current_slot()
    auction.place_standing(True, PRICE, 1_000, (first + 4) * SLOT_S, sender=b)
    auction.place_order(True, PRICE, 2_000, sender=b)
    spent = 4 * ref.bid_escrow(1_000, PRICE) + ref.bid_escrow(2_000, PRICE)
    assert cash.balanceOf(b) == wallet and auction.proceeds_of(b) == 10**9 - spent
    # the balance is the member's: withdrawn at any time, also while paused
    auction.pause(sender=operator)
    auction.withdraw_proceeds(10**9 - spent, sender=b)
    assert cash.balanceOf(b) == wallet + 10**9 - spent and auction.proceeds_of(b) == 0
    with boa.reverts("auction: zero amount"):
        auction.deposit_quote(0, sender=b)


def test_pause_is_read_from_the_parameters_word(auction, operator, member):
    b = member("paused-bidder")
    next_slot(auction)
    auction.pause(sender=operator)
    assert auction.paused()
    with boa.reverts("pausable: contract is paused"):
        auction.place_order(True, PRICE, 1_000, sender=b)
    with boa.reverts("pausable: contract is paused"):
        auction.place_standing(True, PRICE, 1_000, (auction.current_slot() + 2) * SLOT_S, sender=b)
    auction.unpause(sender=operator)
    assert not auction.paused()
    auction.place_order(True, PRICE, 1_000, sender=b)
    # the other parameters in the word are untouched by pause and unpause
    assert (auction.floor_price(), auction.ceiling_price(), auction.min_order_wh()) == (
        P.floor_price, P.ceiling_price, P.min_order_wh)


def test_the_lens_shows_the_levels_across_leaves_best_first(auction, member, operator):
    with boa.env.prank(operator):
        lens = boa.load(str(CONTRACTS_DIR / "AuctionLens.vy"), auction.address)
    s, b = member("lens-seller"), member("lens-buyer")
    next_slot(auction)
    slot = auction.current_slot()
    # price indexes in different leaves (256 ticks each) and two orders on one level
    tick = P.tick
    lo = -(-P.floor_price // tick)
    asks = [lo + 300, lo + 2, lo + 2, lo + 700]
    bids = [lo + 1, lo + 600, lo + 257]
    for i in asks:
        auction.place_order(False, i * tick, 1_000, sender=s)
    for i in bids:
        auction.place_order(True, i * tick, 500, sender=b)
    auction.place_standing(False, (lo + 5) * tick, 700, (slot + 2) * SLOT_S, sender=s)
    got_asks = [(lv.price, lv.amount_wh) for lv in lens.levels(slot, False, 32)]
    assert got_asks == [((lo + 2) * tick, 2_000), ((lo + 300) * tick, 1_000), ((lo + 700) * tick, 1_000)]
    got_bids = [(lv.price, lv.amount_wh) for lv in lens.levels(slot, True, 2)]
    assert got_bids == [((lo + 600) * tick, 500), ((lo + 257) * tick, 500)]  # n = 2: the best two
    assert [(lv.price, lv.amount_wh) for lv in lens.standing_levels(False, 32)] == [((lo + 5) * tick, 700)]
    assert list(lens.standing_levels(True, 32)) == [] and list(lens.levels(slot + 1, True, 32)) == []
    assert lens.AUCTION() == auction.address


def test_a_deposit_never_carries_into_the_watt_field(auction, cash, member, operator):
    b = member("whale")
    cash.mint(b, 2**129, sender=operator)
    with boa.reverts("auction: balance too large"):
        auction.deposit_quote(2**128, sender=b)
    auction.deposit_quote(2**128 - 1, sender=b)
    assert auction.proceeds_of(b) == 2**128 - 1 and auction.watt_of(b) == 0
    with boa.reverts("auction: balance too large"):
        auction.deposit_quote(1, sender=b)


def test_a_slot_reuses_the_level_words_of_the_slot_a_ring_before_once_it_is_cleared(auction, member, operator):
    """One-shot level words live in a ring of SLOT_RING slots (auction_clearing): slot k + 48 writes the words
    of slot k. An order for k + 48 waits until k is cleared, so a clearing never reads a later slot's Wh, and
    the later slot starts from nothing: its clearing and the lens see only its own orders."""
    with boa.env.prank(operator):
        lens = boa.load(str(CONTRACTS_DIR / "AuctionLens.vy"), auction.address)
    s, b = member("ring-seller"), member("ring-buyer")
    ring = auction.SLOT_RING()
    assert ring == ref.SLOT_RING == 48
    next_slot(auction)
    k = auction.current_slot()
    auction.place_order(False, PRICE, 1_000, sender=s)
    auction.place_order(True, PRICE, 1_000, sender=b)
    auction.place_order(True, PRICE + P.tick, 400, sender=b)
    # nobody clears for a day: slot k + 48 would write slot k's words, so its orders wait (one clear call)
    boa.env.time_travel(seconds=ring * SLOT_S)
    assert auction.current_slot() == k + ring and auction.next_to_clear() == k
    with boa.reverts("auction: clear the ended slots first"):
        auction.place_order(True, PRICE, 700, sender=b)
    with boa.reverts("auction: clear the ended slots first"):
        auction.place_order(False, PRICE, 700, sender=s)
    catch_up(auction)
    r = auction.result(k)
    assert (r.price, r.matched_wh) == (PRICE, 1_000)  # k's own orders, cleared late
    auction.place_order(True, PRICE, 700, sender=b)
    auction.place_order(False, PRICE, 300, sender=s)
    # the word of PRICE holds slot k + 48 now: its levels are its own; slot k's level there reads empty, its
    # other level (no order of k + 48 took that word) still reads as it was
    assert [(lv.price, lv.amount_wh) for lv in lens.levels(k + ring, True, 32)] == [(PRICE, 700)]
    assert [(lv.price, lv.amount_wh) for lv in lens.levels(k, True, 32)] == [(PRICE + P.tick, 400), (PRICE, 0)]
    next_slot(auction)
    r = auction.result(k + ring)
    assert (r.price, r.matched_wh, r.long_side, r.level_wh) == (PRICE, 300, ref.LONG_BIDS, 700)
    # a level emptied by a cancel keeps its word (tagged), and the next order there starts from 0
    bid = auction.place_order(True, PRICE, 500, sender=b)
    auction.cancel_order(bid, sender=b)
    auction.place_order(True, PRICE, 200, sender=b)
    assert [(lv.price, lv.amount_wh) for lv in lens.levels(k + ring + 1, True, 32)] == [(PRICE, 200)]
