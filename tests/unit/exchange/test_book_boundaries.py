"""Boundaries the stateful machines did not pin (issue 22, "the suite must also catch"): each test fails
against the planted bug named in its docstring and passes against the contracts as they are."""

import boa
import pytest

from gridmint.generated.contracts import FLAG_IOC as IOC
from gridmint.generated.contracts import FLAG_POST_ONLY as POST_ONLY
from tests.conftest import events, move

DAY = 86_400
EXPIRED, ARREARS = 3, 7


def closes(logs):
    return [(e.order_id, e.reason, e.refunded) for e in events(logs, "OrderClosed")]


@pytest.fixture
def debtor(give_watt):
    """A member with 5 kWh and no TSL deposit: in arrears from the next second on."""
    who = boa.env.generate_address("boundary-debtor")
    give_watt(who, 5_000)
    return who


def test_settle_escrow__called_as_the_exchange_for_a_seller_in_arrears__reverts(
    watt, exchange, debtor, stranger
):
    """Planted bug: `settle_escrow` without its own arrears check (only the book's gate protected it)."""
    as_exchange = str(exchange.address)
    watt.escrow(debtor, 1_000, sender=as_exchange)
    boa.env.time_travel(seconds=60)
    assert watt.in_arrears(debtor)
    with boa.reverts("watt: seller in arrears"):
        watt.settle_escrow(stranger, [move(debtor, 1_000)], sender=as_exchange)
    # releasing the same escrow back to its owner is not a sale: it still works
    watt.settle_escrow(stranger, [move(debtor, 1_000, release=True)], sender=as_exchange)
    assert watt.escrowed_of(debtor) == 0 and watt.balanceOf(stranger) == 0


def test_release_unpaid__free_balance_exactly_covers_arrears__asks_stay_open(
    watt, exchange, debtor, trader, stranger
):
    """Planted bug: `release_unpaid` closing every ask when the free balance exactly covers the arrears
    (`>=` where `>` is meant)."""
    ask = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=debtor)
    boa.env.time_travel(seconds=10 * DAY)
    watt.settle_rent(debtor)
    boa.env.time_travel(seconds=watt.rent_grace_period())
    watt.settle_rent(debtor)  # every Wh-day owed is recorded now; nothing more accrues in this second
    arrears, _ = watt.arrears_of(debtor)
    price = watt.release_price()
    needed_wh = (arrears * 1_000 + price - 1) // price
    free = watt.balanceOf(debtor)
    assert free < needed_wh <= 10_000, (free, needed_wh)
    donor = trader("boundary-donor", wh=10_000)
    watt.transfer(debtor, needed_wh - free, sender=donor)  # same second: no rent accrues on the way
    assert watt.balanceOf(debtor) == needed_wh
    assert watt.release_unpaid(debtor, sender=stranger) == needed_wh
    assert not [c for c in closes(watt.get_logs(include_child_logs=True)) if c[1] == ARREARS]
    assert exchange.order(ask).open and exchange.order(ask).remaining_wh == 1_000
    assert watt.escrowed_of(debtor) == 1_000 and watt.balanceOf(debtor) == 0
    assert watt.arrears_of(debtor)[0] == 0 and not watt.in_arrears(debtor)


def test_take__resting_ask_met_at_exactly_its_expiry__closed_as_expired_not_filled(
    exchange, watt, trader, now
):
    """Planted bug: a resting order filled in the very second it expires (`<` where `<=` is meant);
    `cancel_expired` treats that second as expired, so matching must too: one boundary."""
    seller = trader("boundary-seller", wh=5_000)
    buyer = trader("boundary-buyer", cash=10**12)
    expires_at = now() + 600
    ask = exchange.place_order(False, 150_000, 1_000, expires_at, 0, sender=seller)
    boa.env.time_travel(seconds=expires_at - now())
    assert now() == expires_at
    bought_before = watt.balanceOf(buyer)
    exchange.place_order(True, 150_000, 1_000, 0, 1, sender=buyer)  # IOC: nothing rests
    logs = exchange.get_logs()
    assert not events(logs, "Trade")
    assert (ask, EXPIRED, 1_000) in closes(logs)
    assert watt.balanceOf(buyer) == bought_before and watt.escrowed_of(seller) == 0
    assert not exchange.order(ask).open


def test_take__resting_ask_met_one_second_before_its_expiry__fills(exchange, watt, trader, now):
    seller = trader("boundary-seller2", wh=5_000)
    buyer = trader("boundary-buyer2", cash=10**12)
    expires_at = now() + 600
    ask = exchange.place_order(False, 150_000, 1_000, expires_at, 0, sender=seller)
    boa.env.time_travel(seconds=expires_at - now() - 1)
    exchange.place_order(True, 150_000, 1_000, 0, 1, sender=buyer)
    (trade,) = events(exchange.get_logs(), "Trade")
    assert trade.maker_order_id == ask and trade.amount_wh == 1_000


def test_cancel_expired__at_exactly_its_expiry__closes_and_a_second_earlier_reverts(
    exchange, trader, stranger, now
):
    seller = trader("boundary-seller3", wh=5_000)
    expires_at = now() + 600
    ask = exchange.place_order(False, 150_000, 1_000, expires_at, 0, sender=seller)
    boa.env.time_travel(seconds=expires_at - now() - 1)
    with boa.reverts("exchange: order not expired"):
        exchange.cancel_expired(ask, sender=stranger)
    boa.env.time_travel(seconds=1)
    exchange.cancel_expired(ask, sender=stranger)
    assert closes(exchange.get_logs()) == [(ask, EXPIRED, 1_000)]


def test_release_unpaid__closes_all_asks__the_owners_ask_list_starts_empty_again(
    watt, exchange, debtor, fund_rent, give_watt, stranger
):
    """Planted bug: an owner's ask list not reset on release (its count and head survive the closed
    asks): after a release that closed every ask, the account gets all 64 open asks back."""
    for i in range(3):
        exchange.place_order(False, 150_000 + i * 100, 1_000, 0, 0, sender=debtor)
    boa.env.time_travel(seconds=400 * DAY)
    watt.settle_rent(debtor)
    boa.env.time_travel(seconds=watt.rent_grace_period())
    watt.release_unpaid(debtor, sender=stranger)
    assert len([c for c in closes(watt.get_logs(include_child_logs=True)) if c[1] == ARREARS]) == 3
    assert list(exchange.open_orders(debtor)) == []
    fund_rent(debtor, 10**22)  # pays the arrears left and keeps a deposit
    assert not watt.in_arrears(debtor)
    give_watt(debtor, 6_400)
    asks = [exchange.place_order(False, 150_000 + (i % 8) * 100, 100, 0, 0, sender=debtor) for i in range(64)]
    with boa.reverts("exchange: too many open asks"):
        exchange.place_order(False, 150_000, 100, 0, 0, sender=debtor)
    # and the list holds exactly these 64: a second release closes them, no stale order among them
    assert exchange.close_asks_of(debtor, sender=str(watt.address)) == 6_400
    assert sorted(c[0] for c in closes(exchange.get_logs())) == sorted(asks)


# A leaf of the price index holds 256 ticks: on the energy market (tick 100) index 1,024, 102,400 quote
# base units per kWh, is the first of leaf 4, and 102,300 the last of leaf 3. The crossing check decides
# from the root word alone when the other side's best leaf lies beyond the price's leaf, and reads that
# leaf otherwise (`price_levels._crossing`): these pin the comparison on both sides of the boundary.
LAST_OF_LEAF, FIRST_OF_NEXT = 102_300, 102_400


@pytest.mark.parametrize("maker_is_buy", [False, True], ids=["ask-rests-first-of-leaf", "bid-rests-last-of-leaf"])
def test_crossing__other_side_one_tick_away_across_a_leaf_boundary__rests_and_at_its_price_crosses(
    exchange, trader, maker_is_buy
):
    """Planted bugs: `<` for `<=` between the best ask's leaf and a bid's (an ask in the bid's own leaf
    seen as beyond it), `>` for `>=` on the bid side, or the other side's leaf skipped when it is the
    order's own. The maker rests on its side of the boundary; the taker side's order one tick away
    rests (post-only passes); at the maker's price post-only and an amend are refused as crossing, and
    an IOC trades at it."""
    seller = trader(f"leaf-seller-{maker_is_buy}", wh=5_000)
    buyer = trader(f"leaf-buyer-{maker_is_buy}", cash=10**12)
    maker, taker = (buyer, seller) if maker_is_buy else (seller, buyer)
    maker_price, near = (LAST_OF_LEAF, FIRST_OF_NEXT) if maker_is_buy else (FIRST_OF_NEXT, LAST_OF_LEAF)
    made = exchange.place_order(maker_is_buy, maker_price, 1_000, 0, 0, sender=maker)
    rested = exchange.place_order(not maker_is_buy, near, 1_000, 0, POST_ONLY, sender=taker)
    assert rested != 0
    assert exchange.best_bid() == (LAST_OF_LEAF, 1_000) and exchange.best_ask() == (FIRST_OF_NEXT, 1_000)
    with boa.reverts("exchange: post-only would cross"):
        exchange.place_order(not maker_is_buy, maker_price, 1_000, 0, POST_ONLY, sender=taker)
    with boa.reverts("exchange: amend would cross"):
        exchange.amend_order(rested, maker_price, 1_000, sender=taker)
    exchange.place_order(not maker_is_buy, maker_price, 400, 0, IOC, sender=taker)
    (trade,) = events(exchange.get_logs(), "Trade")
    assert (trade.maker_order_id, trade.price, trade.amount_wh) == (made, maker_price, 400)


def test_crossing__an_order_many_leaves_from_the_other_side__rests_and_the_best_prices_stay(exchange, trader):
    """An order more than a leaf from the other side's best decides from the root word alone."""
    seller = trader("leaf-seller3", wh=5_000)
    buyer = trader("leaf-buyer3", cash=10**12)
    exchange.place_order(False, 300_000, 1_000, 0, 0, sender=seller)
    exchange.place_order(True, 90_000, 1_000, 0, POST_ONLY, sender=buyer)
    exchange.place_order(False, 91_000, 1_000, 0, POST_ONLY, sender=seller)
    assert exchange.best_bid() == (90_000, 1_000) and exchange.best_ask() == (91_000, 1_000)
    assert not events(exchange.get_logs(), "Trade")
