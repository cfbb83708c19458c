"""`amend_order` (issue 22): an open order changes its price and remaining amount in place and keeps
its id. A price change or an increase loses time priority (to the tail of the level), a decrease at
the same price keeps it; a bid's escrow becomes that of a new bid on the new terms (topped up from
the owner, or the rest credited to `proceeds_of`); an ask escrows more WATT or gets some back. Every
rule of a new order applies, and each rejection has its reason."""

import boa
import pytest

from tests.conftest import events
from tests.utils.book import bid_escrow as escrow_of

FLOOR, CEIL, TICK = 80_000, 350_000, 100


def amended(logs):
    return [(e.order_id, e.price, e.amount_wh) for e in events(logs, "OrderAmended")]


def makers(logs):
    return [(e.maker_order_id, e.amount_wh) for e in events(logs, "Trade")]


@pytest.fixture
def seller2(trader):
    return trader("seller2", wh=5_000)  # the battery holds 50 kWh in all


def test_ask_decrease__keeps_its_place_and_releases_watt(exchange, watt, seller, seller2, buyer):
    a = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    b = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller2)
    next_id = exchange.next_order_id()
    exchange.amend_order(a, 150_000, 1_000, sender=seller)
    assert amended(exchange.get_logs()) == [(a, 150_000, 1_000)]
    assert (watt.balanceOf(seller), watt.escrowed_of(seller)) == (39_000, 1_000)
    assert exchange.best_ask() == (150_000, 4_000)
    assert exchange.next_order_id() == next_id  # no new id
    o = exchange.order(a)
    assert (o.open, o.price, o.remaining_wh) == (True, 150_000, 1_000)
    exchange.place_order(True, 150_000, 1_500, 0, 1, sender=buyer)
    assert makers(exchange.get_logs()) == [(a, 1_000), (b, 500)]  # still first


def test_ask_increase__loses_its_place_and_escrows_more(exchange, watt, seller, seller2, buyer):
    a = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    b = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller2)
    exchange.amend_order(a, 150_000, 5_000, sender=seller)
    assert (watt.balanceOf(seller), watt.escrowed_of(seller)) == (35_000, 5_000)
    assert exchange.best_ask() == (150_000, 8_000)
    exchange.place_order(True, 150_000, 4_000, 0, 1, sender=buyer)
    assert makers(exchange.get_logs()) == [(b, 3_000), (a, 1_000)]  # behind the younger order now


def test_ask_price_change__moves_level_and_loses_its_place(exchange, watt, seller, seller2, buyer):
    a = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    b = exchange.place_order(False, 140_000, 3_000, 0, 0, sender=seller2)
    exchange.amend_order(a, 140_000, 3_000, sender=seller)
    assert exchange.depth(False, 5) == [(140_000, 6_000)]  # the old level is gone
    assert watt.escrowed_of(seller) == 3_000
    assert exchange.order(a).price == 140_000
    exchange.place_order(True, 140_000, 4_000, 0, 1, sender=buyer)
    assert makers(exchange.get_logs()) == [(b, 3_000), (a, 1_000)]


def test_head_of_a_level_amended_up__the_rest_of_the_queue_is_intact(exchange, seller, seller2, buyer):
    a = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)
    b = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller2)
    c = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller2)
    exchange.amend_order(b, 150_000, 2_000, sender=seller2)  # from the middle to the tail
    exchange.amend_order(a, 150_000, 1_500, sender=seller)  # the head to the tail
    assert exchange.best_ask() == (150_000, 4_500)
    exchange.place_order(True, 150_000, 4_500, 0, 1, sender=buyer)
    assert makers(exchange.get_logs()) == [(c, 1_000), (b, 2_000), (a, 1_500)]
    assert exchange.best_ask() == (0, 0)


def test_bid_decrease__surplus_escrow_to_proceeds(exchange, quote, buyer):
    oid = exchange.place_order(True, 200_000, 5_000, 0, 0, sender=buyer)
    wallet = quote.balanceOf(buyer)
    exchange.amend_order(oid, 200_000, 2_000, sender=buyer)
    assert quote.balanceOf(buyer) == wallet  # nothing pushed: credited
    assert exchange.proceeds_of(buyer) == escrow_of(5_000, 200_000) - escrow_of(2_000, 200_000)
    assert exchange.order(oid).escrow_quote == escrow_of(2_000, 200_000) == exchange.bid_escrow_total()
    assert exchange.best_bid() == (200_000, 2_000)


def test_bid_price_up__tops_up_the_escrow(exchange, quote, buyer):
    oid = exchange.place_order(True, 200_000, 5_000, 0, 0, sender=buyer)
    wallet = quote.balanceOf(buyer)
    exchange.amend_order(oid, 250_000, 5_000, sender=buyer)
    assert wallet - quote.balanceOf(buyer) == escrow_of(5_000, 250_000) - escrow_of(5_000, 200_000)
    assert exchange.order(oid).escrow_quote == escrow_of(5_000, 250_000) == exchange.bid_escrow_total()
    assert quote.balanceOf(exchange.address) == escrow_of(5_000, 250_000)
    assert exchange.best_bid() == (250_000, 5_000)


def test_partly_filled_bid_amended__escrow_is_the_new_terms_and_still_covers(exchange, quote, seller, buyer):
    oid = exchange.place_order(True, 200_000, 5_000, 0, 0, sender=buyer)
    exchange.place_order(False, 200_000, 1_999, 0, 0, sender=seller)
    left = exchange.order(oid).escrow_quote
    exchange.amend_order(oid, 190_000, 3_001, sender=buyer)
    assert exchange.proceeds_of(buyer) == left - escrow_of(3_001, 190_000)
    exchange.place_order(False, 190_000, 3_001, 0, 0, sender=seller)
    assert not exchange.order(oid).open
    held = quote.balanceOf(exchange.address)
    assert held == exchange.proceeds_of(buyer) + exchange.proceeds_of(seller) + exchange.fees_accrued()


# ------------------------------------------------------------------ every rule of a new order


@pytest.mark.parametrize(
    "price, wh, reason",
    [
        (CEIL + TICK, 3_000, "exchange: price outside band"),
        (FLOOR - TICK, 3_000, "exchange: price outside band"),
        (150_050, 3_000, "exchange: price not on tick"),
        (150_000, 9, "exchange: order below minimum"),
        (150_000, 2**56, "exchange: order too large"),
        (150_000, 3_000, "exchange: nothing to amend"),
    ],
)
def test_amend__terms_of_a_new_order(exchange, seller, price, wh, reason):
    oid = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    with boa.reverts(reason):
        exchange.amend_order(oid, price, wh, sender=seller)


def test_amend__would_cross__reverts(exchange, seller, buyer):
    ask = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    exchange.place_order(True, 140_000, 3_000, 0, 0, sender=buyer)
    with boa.reverts("exchange: amend would cross"):
        exchange.amend_order(ask, 140_000, 3_000, sender=seller)
    exchange.amend_order(ask, 140_100, 3_000, sender=seller)  # one tick above: rests
    assert exchange.best_ask() == (140_100, 3_000)


def test_amend__not_the_owner_unknown_or_closed__reverts(exchange, seller, buyer, stranger):
    oid = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    with boa.reverts("exchange: caller is not the order owner"):
        exchange.amend_order(oid, 150_000, 2_000, sender=stranger)
    with boa.reverts("exchange: unknown order"):
        exchange.amend_order(oid + 1, 150_000, 2_000, sender=seller)
    exchange.cancel_order(oid, sender=seller)
    with boa.reverts("exchange: unknown order"):
        exchange.amend_order(oid, 150_000, 2_000, sender=seller)


def test_amend__at_its_expiry_second__reverts(exchange, seller, now):
    expires = now() + 600
    oid = exchange.place_order(False, 150_000, 3_000, expires, 0, sender=seller)
    boa.env.time_travel(seconds=599)
    exchange.amend_order(oid, 150_000, 2_000, sender=seller)  # one second before: live
    boa.env.time_travel(seconds=1)
    with boa.reverts("exchange: order expired"):
        exchange.amend_order(oid, 150_000, 1_000, sender=seller)


def test_amend__paused__reverts_and_cancel_still_works(exchange, operator, seller):
    oid = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    exchange.pause(sender=operator)
    with boa.reverts("pausable: contract is paused"):
        exchange.amend_order(oid, 150_000, 2_000, sender=seller)
    exchange.cancel_order(oid, sender=seller)


def test_ask_increase__beyond_free_watt_or_in_arrears__reverts(exchange, watt, seller, give_watt):
    oid = exchange.place_order(False, 150_000, 3_000, 0, 0, sender=seller)
    with boa.reverts("watt: escrow exceeds balance"):
        exchange.amend_order(oid, 150_000, 43_001, sender=seller)
    debtor = boa.env.generate_address("amend-debtor")
    give_watt(debtor, 5_000)  # no rent deposit: in arrears from the next second on
    ask = exchange.place_order(False, 150_000, 2_000, 0, 0, sender=debtor)
    boa.env.time_travel(seconds=86_400)
    assert watt.in_arrears(debtor)
    with boa.reverts("watt: account in arrears"):
        exchange.amend_order(ask, 150_000, 3_000, sender=debtor)
    exchange.amend_order(ask, 150_000, 1_000, sender=debtor)  # giving escrow back always works
    assert watt.escrowed_of(debtor) == 1_000


def test_last_of_its_level_amended_up__stays_last_and_the_total_follows(exchange, watt, seller, seller2, buyer):
    a = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)
    b = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller2)
    exchange.amend_order(b, 150_000, 3_000, sender=seller2)  # already at the tail
    exchange.amend_order(b, 150_000, 2_000, sender=seller2)
    assert exchange.best_ask() == (150_000, 3_000)
    assert watt.escrowed_of(seller2) == 2_000
    c = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)
    exchange.place_order(True, 150_000, 4_000, 0, 1, sender=buyer)
    assert makers(exchange.get_logs()) == [(a, 1_000), (b, 2_000), (c, 1_000)]
    assert exchange.best_ask() == (0, 0)
