"""EnergyExchange: placement, matching, rounding, flags, expiry, cancels, fees, bounds, pause."""

import boa
import pytest

from gridmint.generated.contracts import CLOSE_IOC, CLOSE_UNCROSSABLE
from gridmint.generated.contracts import FLAG_IOC as IOC
from gridmint.generated.contracts import FLAG_POST_ONLY as POST_ONLY
from gridmint.market import quote_for
from tests.conftest import events
from tests.utils.book import bid_escrow as escrow_of
from tests.utils.machine import announce_and_apply

FLOOR, CEIL, TICK = 80_000, 350_000, 100  # quote base units per kWh (6 decimals: 0.08 .. 0.35)


def test_bid__rests_and_escrows_price_plus_fee_cap(exchange, quote, buyer):
    oid = exchange.place_order(True, 200_000, 5_000, 0, 0, sender=buyer)
    logs = exchange.get_logs()
    assert oid == 1
    (ev,) = events(logs, "OrderPlaced")
    assert (ev.order_id, str(ev.owner), ev.is_buy, ev.price, ev.amount_wh) == (1, buyer, True, 200_000, 5_000)
    assert exchange.best_bid() == (200_000, 5_000)
    assert quote.balanceOf(exchange.address) == escrow_of(5_000, 200_000) == 1_010_000
    o = exchange.order(oid)
    assert (o.remaining_wh, o.escrow_quote, o.open) == (5_000, 1_010_000, True)


def test_ask__rests_and_escrows_watt(exchange, watt, seller):
    oid = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    assert exchange.best_ask() == (150_000, 3_000)
    assert (watt.balanceOf(seller), watt.escrowed_of(seller)) == (37_000, 3_000)
    assert exchange.order(oid).open


def test_events__a_fill_is_said_once__maker_left_in_trade__order_closed_only_for_what_goes_back(exchange, seller, buyer):
    bid = exchange.place_order(True, 200_000, 3_000, 0, 0, sender=buyer)
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)  # a taker filled in full
    logs = exchange.get_logs()
    assert [(t.maker_order_id, t.amount_wh, t.maker_left) for t in events(logs, "Trade")] == [(bid, 1_000, 2_000)]
    assert events(logs, "OrderClosed") == []  # the bid rests; the taker's one Trade is its whole amount
    exchange.place_order(False, 150_000, 2_000, 0, 0, sender=seller)
    logs = exchange.get_logs()
    assert [(t.maker_order_id, t.maker_left) for t in events(logs, "Trade")] == [(bid, 0)]
    # the filled bid gives back what its escrow (ceil(3,000 Wh x 0.2) + 1%) did not pay (fills + 0.1% fee)
    escrow = 600_000 + 6_000
    paid = 200_000 + 200 + 400_000 + 400
    assert [(e.order_id, e.reason, e.refunded) for e in events(logs, "OrderClosed")] == [(bid, 1, escrow - paid)]
    assert exchange.proceeds_of(buyer) == escrow - paid


def test_take__at_maker_price_with_fees_and_surplus_never_pulled(exchange, quote, watt, seller, buyer):
    ask = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    before = quote.balanceOf(buyer)
    oid = exchange.place_order(True, 200_000, 3_000, 0, 0, sender=buyer)
    logs = exchange.get_logs()
    assert oid == 0  # filled at once
    (t,) = events(logs, "Trade")
    q = 3_000 * 150_000 // 1000  # 450_000 = 0.45 EUR at the maker's price
    maker_fee, taker_fee = q * 10 // 10_000, q * 20 // 10_000
    assert (t.maker_order_id, t.price, t.amount_wh, t.fee, t.maker_left) == (ask, 150_000, 3_000, maker_fee + taker_fee, 0)
    # said once: the taker is its order's OrderPlaced owner, the quote the price's (floor(w x p / 1000))
    assert not hasattr(t, "taker") and not hasattr(t, "quote_amount")
    (placed,) = [e for e in events(logs, "OrderPlaced") if e.is_buy]
    assert placed.owner == buyer and t.taker_order_id == placed.order_id
    assert before - quote.balanceOf(buyer) == q + taker_fee  # nothing at the 200_000 limit
    assert exchange.proceeds_of(seller) == q - maker_fee
    assert exchange.fees_accrued() == maker_fee + taker_fee
    assert watt.balanceOf(buyer) == 3_000 and watt.escrowed_of(seller) == 0
    # said once: the Trade's maker_left 0 closes the ask; the taker's Trades add up to its amount
    assert events(logs, "OrderClosed") == []
    assert exchange.best_ask() == (0, 0)


def test_price_time_priority_and_partial_fills(exchange, trader, buyer):
    s1, s2, s3 = trader("s1", wh=10_000), trader("s2", wh=10_000), trader("s3", wh=10_000)
    a1 = exchange.place_order(False, 160_000, 1_000, 0, 0, sender=s1)
    a2 = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s2)  # better price
    a3 = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s3)  # same price, later
    exchange.place_order(True, 160_000, 2_500, 0, 0, sender=buyer)
    fills = [(t.maker_order_id, t.amount_wh, t.price) for t in events(exchange.get_logs(), "Trade")]
    assert fills == [(a2, 1_000, 150_000), (a3, 1_000, 150_000), (a1, 500, 160_000)]
    assert exchange.best_ask() == (160_000, 500)
    assert exchange.order(a1).remaining_wh == 500


def test_taker_ask_hits_bids_and_seller_is_credited_internally(exchange, quote, watt, seller, buyer):
    bid = exchange.place_order(True, 200_000, 2_000, 0, 0, sender=buyer)
    exchange.place_order(False, 180_000, 2_000, 0, 0, sender=seller)
    q = 2_000 * 200_000 // 1000
    assert exchange.proceeds_of(seller) == q - q * 20 // 10_000  # taker fee
    # the maker bid's unused escrow (fee cap minus maker fee) is refunded to its proceeds
    assert exchange.proceeds_of(buyer) == escrow_of(2_000, 200_000) - q - q * 10 // 10_000
    assert watt.balanceOf(buyer) == 2_000
    assert not exchange.order(bid).open
    exchange.withdraw_proceeds(exchange.proceeds_of(seller), sender=seller)
    assert quote.balanceOf(seller) == q - q * 20 // 10_000


@pytest.mark.parametrize("price, wh", [(FLOOR, 100), (80_100, 101), (349_900, 997), (123_400, 7_919)])
def test_rounding__awkward_prices_and_prime_amounts(exchange, quote, operator, trader, price, wh):
    exchange.announce_min_order_wh(1, sender=operator)
    announce_and_apply(exchange, "fees", 0, 0, sender=operator)
    exchange.apply_min_order_wh(sender=operator)
    s, b = trader("s", wh=10_000), trader("b", cash=10**9)
    exchange.place_order(False, price, wh, 0, 0, sender=s)
    before = quote.balanceOf(b)
    exchange.place_order(True, price, wh, 0, 0, sender=b)
    (t,) = events(exchange.get_logs(), "Trade")
    q = quote_for(t.amount_wh, t.price)
    assert q == wh * price // 1000  # rounds down, < 1 unit in the buyer's favour
    assert before - quote.balanceOf(b) == q == exchange.proceeds_of(s)


def test_rounding__one_wh_at_the_floor(exchange, quote, operator, trader):
    announce_and_apply(exchange, "min_order_wh", 1, sender=operator)
    s, b = trader("s", wh=10), trader("b", cash=10**9)
    exchange.place_order(True, FLOOR, 1, 0, 0, sender=b)
    assert quote.balanceOf(exchange.address) == escrow_of(1, FLOOR) == 81  # 80 + 1 unit of fee cap
    exchange.place_order(False, FLOOR, 1, 0, 0, sender=s)
    (t,) = events(exchange.get_logs(), "Trade")
    assert (quote_for(t.amount_wh, t.price), t.fee) == (80, 0)  # 80 * 30 bps floors to 0
    assert exchange.proceeds_of(s) == 80 and exchange.proceeds_of(b) == 1  # the unused fee cap back


def test_ioc__remainder_dropped_and_never_pulled(exchange, quote, watt, seller, buyer):
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)
    before = quote.balanceOf(buyer)
    assert exchange.place_order(True, 150_000, 3_000, 0, IOC, sender=buyer) == 0
    closes = events(exchange.get_logs(), "OrderClosed")
    assert closes[-1].reason == CLOSE_IOC
    assert exchange.best_bid() == (0, 0)
    assert before - quote.balanceOf(buyer) == 150_000 + 300  # only the filled 1 kWh + taker fee
    # an IOC ask that finds nothing leaves the WATT free
    assert exchange.place_order(False, 150_000, 1_000, 0, IOC, sender=seller) == 0
    assert watt.escrowed_of(seller) == 0 and watt.balanceOf(seller) == 39_000


def test_post_only__rests_or_reverts(exchange, seller, buyer):
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)
    with boa.reverts("exchange: post-only would cross"):
        exchange.place_order(True, 150_000, 1_000, 0, POST_ONLY, sender=buyer)
    assert exchange.place_order(True, 149_900, 1_000, 0, POST_ONLY, sender=buyer) != 0


def test_expired__never_fills_and_is_refunded(exchange, watt, quote, seller, buyer, stranger):
    now = boa.env.evm.patch.timestamp
    ask = exchange.place_order(False, 150_000, 1_000, now + 60, 0, sender=seller)
    boa.env.time_travel(seconds=61)
    oid = exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
    logs = exchange.get_logs()
    assert events(logs, "Trade") == []
    assert [(e.order_id, e.reason) for e in events(logs, "OrderClosed")] == [(ask, 3)]
    assert watt.escrowed_of(seller) == 0 and watt.balanceOf(seller) == 40_000
    assert exchange.best_bid() == (150_000, 1_000) and oid != 0
    with boa.reverts("exchange: order not expired"):
        exchange.cancel_expired(oid, sender=stranger)
    with boa.reverts("exchange: expired"):
        exchange.place_order(True, 150_000, 1_000, now, 0, sender=buyer)


def test_cancel_expired__by_anyone_refunds_owner(exchange, seller, stranger, watt):
    now = boa.env.evm.patch.timestamp
    ask = exchange.place_order(False, 150_000, 1_000, now + 10, 0, sender=seller)
    boa.env.time_travel(seconds=11)
    exchange.cancel_expired(ask, sender=stranger)
    assert watt.escrowed_of(seller) == 0 and not exchange.order(ask).open


def test_cancel__owner_only_refunds_and_works_paused(exchange, operator, quote, seller, buyer, stranger):
    bid = exchange.place_order(True, 200_000, 5_000, 0, 0, sender=buyer)
    with boa.reverts("exchange: caller is not the order owner"):
        exchange.cancel_order(bid, sender=stranger)
    exchange.pause(sender=operator)
    exchange.cancel_order(bid, sender=buyer)
    (ev,) = events(exchange.get_logs(), "OrderClosed")
    assert (ev.reason, ev.refunded) == (2, escrow_of(5_000, 200_000))
    assert exchange.proceeds_of(buyer) == escrow_of(5_000, 200_000)
    assert exchange.best_bid() == (0, 0) and exchange.bid_escrow_total() == 0
    with boa.reverts("exchange: unknown order"):
        exchange.cancel_order(bid, sender=buyer)


def test_cancel__middle_of_a_level_keeps_fifo(exchange, trader, buyer):
    s = [trader(f"s{i}", wh=5_000) for i in range(3)]
    ids = [exchange.place_order(False, 150_000, 1_000, 0, 0, sender=x) for x in s]
    exchange.cancel_order(ids[1], sender=s[1])
    assert exchange.best_ask() == (150_000, 2_000)
    exchange.place_order(True, 150_000, 2_000, 0, 0, sender=buyer)
    assert [t.maker_order_id for t in events(exchange.get_logs(), "Trade")] == [ids[0], ids[2]]


def test_self_trade__resting_own_order_is_cancelled_not_filled(exchange, trader, watt):
    both = trader("both", wh=10_000, cash=10**10)
    ask = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=both)
    bid = exchange.place_order(True, 150_000, 1_000, 0, 0, sender=both)
    logs = exchange.get_logs()
    assert events(logs, "Trade") == []
    assert (events(logs, "OrderClosed")[0].order_id, events(logs, "OrderClosed")[0].reason) == (ask, 5)
    assert exchange.best_bid() == (150_000, 1_000) and exchange.best_ask() == (0, 0)
    assert bid != 0 and watt.escrowed_of(both) == 0


def test_max_fills__uncrossable_remainder_is_dropped_not_rested(exchange, operator, trader, buyer):
    exchange.set_max_fills(2, sender=operator)
    sellers = [trader(f"s{i}", wh=5_000) for i in range(3)]
    for x in sellers:
        exchange.place_order(False, 150_000, 1_000, 0, 0, sender=x)
    assert exchange.place_order(True, 150_000, 3_000, 0, 0, sender=buyer) == 0
    logs = exchange.get_logs()
    assert len(events(logs, "Trade")) == 2
    assert events(logs, "OrderClosed")[-1].reason == CLOSE_UNCROSSABLE
    assert exchange.best_bid() == (0, 0) and exchange.best_ask() == (150_000, 1_000)


@pytest.mark.parametrize(
    "is_buy, price, wh, expires, flags, reason",
    [
        (True, FLOOR - TICK, 1_000, 0, 0, "exchange: price outside band"),
        (False, CEIL + TICK, 1_000, 0, 0, "exchange: price outside band"),
        (True, 150_050, 1_000, 0, 0, "exchange: price not on tick"),
        (True, 150_000, 99, 0, 0, "exchange: order below minimum"),
        (True, 150_000, 1_000, 0, 4, "exchange: unknown flags"),
        (True, 150_000, 1_000, 0, 3, "exchange: ioc and post-only"),
        (True, 150_000, 1_000, 1, 0, "exchange: expired"),
    ],
)
def test_place__bad_input_reverts(exchange, buyer, is_buy, price, wh, expires, flags, reason):
    with boa.reverts(reason):
        exchange.place_order(is_buy, price, wh, expires, flags, sender=buyer)


def test_place__ask_in_arrears_or_without_watt_reverts(exchange, give_watt, trader):
    broke = trader("broke")
    with boa.reverts("watt: escrow exceeds balance"):
        exchange.place_order(False, 150_000, 1_000, 0, 0, sender=broke)
    debtor = boa.env.generate_address("debtor")
    give_watt(debtor, 5_000)  # no rent deposit
    boa.env.time_travel(seconds=86_400)
    with boa.reverts("watt: account in arrears"):
        exchange.place_order(False, 150_000, 1_000, 0, 0, sender=debtor)


def test_place__bid_without_quote_reverts(exchange, trader):
    poor = trader("poor")
    with boa.reverts():
        exchange.place_order(True, 150_000, 1_000, 0, 0, sender=poor)
    assert exchange.best_bid() == (0, 0)


def test_pause__blocks_new_orders(exchange, operator, buyer, stranger):
    with boa.reverts("ownable: caller is not the owner"):
        exchange.pause(sender=stranger)
    exchange.pause(sender=operator)
    with boa.reverts("pausable: contract is paused"):
        exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
    exchange.unpause(sender=operator)
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)


def test_fees__capped_claimed_by_operator(exchange, operator, stranger, quote, seller, buyer):
    with boa.reverts("exchange: fee above limit"):
        exchange.announce_fees(exchange.MAX_FEE_BPS() + 1, 0, sender=operator)
    exchange.place_order(False, 150_000, 10_000, 0, 0, sender=seller)
    exchange.place_order(True, 150_000, 10_000, 0, 0, sender=buyer)
    fees = exchange.fees_accrued()
    assert fees == 1_500_000 * 30 // 10_000
    with boa.reverts("ownable: caller is not the owner"):
        exchange.claim_fees(sender=stranger)
    exchange.set_treasury(stranger, sender=operator)
    assert exchange.claim_fees(sender=operator) == fees and quote.balanceOf(stranger) == fees


def test_withdraw__more_than_proceeds_reverts(exchange, seller):
    with boa.reverts("exchange: amount exceeds proceeds"):
        exchange.withdraw_proceeds(1, sender=seller)


def test_set_max_fills__bounds(exchange, operator, stranger):
    with boa.reverts("exchange: bad max fills"):
        exchange.set_max_fills(65, sender=operator)
    with boa.reverts("exchange: bad max fills"):
        exchange.set_max_fills(0, sender=operator)
    with boa.reverts("ownable: caller is not the owner"):
        exchange.set_max_fills(3, sender=stranger)
    exchange.set_max_fills(3, sender=operator)
    assert [e.max_fills for e in events(exchange.get_logs(), "UpdateMaxFills")] == [3]


def test_views__depth_and_open_orders(exchange, trader, buyer):
    s = trader("s", wh=20_000)
    for price in (170_000, 150_000, 160_000, 150_000):
        exchange.place_order(False, price, 1_000, 0, 0, sender=s)
    exchange.place_order(True, 120_000, 500, 0, 0, sender=buyer)
    exchange.place_order(True, 130_000, 700, 0, 0, sender=buyer)
    assert [tuple(l) for l in exchange.depth(False, 5)] == [(150_000, 2_000), (160_000, 1_000), (170_000, 1_000)]
    assert [tuple(l) for l in exchange.depth(True, 1)] == [(130_000, 700)]
    assert [tuple(l) for l in exchange.depth(True, 5)] == [(130_000, 700), (120_000, 500)]
    # in word order (words are reused: the order of the words, not of the orders)
    assert list(exchange.open_orders(s)) == [1, 2, 3, 4] and list(exchange.open_orders(buyer)) == [5, 6]
