"""Issue 22: order words are reused. A closed order's word goes on a LIFO free list and the next order
that rests rewrites it; an id is the order's number (low 32 bits, one more per order) | its word's key
<< 32 (the number alone while the two are equal), so ids stay unique and a stale id names nothing."""

import boa
import pytest

from tests.conftest import events

M32 = 2**32 - 1


def oid(key, seq):
    return seq if key == seq else seq | key << 32


@pytest.fixture
def sellers(trader):
    return [trader(f"word-seller-{i}", wh=10_000) for i in range(3)]


def test_cancelled_word__next_resting_order_reuses_it__stale_id_is_unknown(exchange, buyer):
    a = exchange.place_order(True, 140_000, 1_000, 0, 0, sender=buyer)
    b = exchange.place_order(True, 140_000, 1_000, 0, 0, sender=buyer)
    assert (a, b) == (1, 2)
    exchange.cancel_order(a, sender=buyer)
    assert exchange.next_order_id() == oid(1, 3)
    c = exchange.place_order(True, 130_000, 700, 0, 0, sender=buyer)
    assert c == 3 | 1 << 32  # order 3 in word 1
    # the old id names nothing: not open, not cancellable, not expirable; the new order is intact
    assert not exchange.order(a).open
    with boa.reverts("exchange: unknown order"):
        exchange.cancel_order(a, sender=buyer)
    with boa.reverts("exchange: unknown order"):
        exchange.cancel_expired(a, sender=buyer)
    view = exchange.order(c)
    assert view.open and view.price == 130_000 and view.remaining_wh == 700
    # the word's key alone, or the key repeated as the number, is not an id of the order in it
    for alias in (1, 1 | 1 << 32, 3, 3 | 3 << 32):
        assert not exchange.order(alias).open
    assert sorted(exchange.open_orders(buyer)) == sorted([b, c])
    # the level's FIFO runs through the reused word: b (older) fills before c at the same price
    exchange.amend_order(c, 140_000, 700, sender=buyer)
    assert exchange.best_bid() == (140_000, 1_700)


def test_free_list__last_closed_word_is_reused_first(exchange, buyer):
    ids = [exchange.place_order(True, 140_000 - i * 1_000, 1_000, 0, 0, sender=buyer) for i in range(3)]
    assert ids == [1, 2, 3]
    exchange.cancel_order(1, sender=buyer)
    exchange.cancel_order(3, sender=buyer)
    exchange.cancel_order(2, sender=buyer)
    got = [exchange.place_order(True, 120_000, 1_000, 0, 0, sender=buyer) for _ in range(4)]
    # words 2, 3, 1, then a never-used word: 4 (orders 4..7)
    assert got == [4 | 2 << 32, 5 | 3 << 32, 6 | 1 << 32, oid(4, 7)]
    assert exchange.next_order_id() & M32 == 8


def test_taker_that_fills_makers_and_rests__keeps_the_word_its_id_names(exchange, sellers, buyer):
    asks = [exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s) for s in sellers[:2]]
    exchange.cancel_order(asks[1], sender=sellers[1])  # word 2 is free: the next order gets it
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=sellers[2])  # order 3 in word 2
    expected = exchange.next_order_id()
    assert expected == 4 | 3 << 32  # word 3 (a never-used one) is now first
    bid = exchange.place_order(True, 150_000, 2_500, 0, 0, sender=buyer)  # fills words 1 and 2, rests 500
    assert bid == expected
    trades = events(exchange.get_logs(), "Trade")
    assert [(t.maker_order_id, t.taker_order_id) for t in trades] == [(1, bid), (3 | 2 << 32, bid)]
    view = exchange.order(bid)
    assert view.open and view.remaining_wh == 500
    # the two makers' words are free now, the last closed on top; the taker left the list
    assert exchange.next_order_id() == 5 | 2 << 32
    nxt = [exchange.place_order(True, 100_000, 1_000, 0, 0, sender=buyer) for _ in range(3)]
    assert nxt == [5 | 2 << 32, 6 | 1 << 32, 7 | 4 << 32]


def test_taker_that_does_not_rest__its_id_stays_unused_and_unique(exchange, sellers, buyer):
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=sellers[0])
    first = exchange.next_order_id()
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)  # fills, does not rest
    (placed,) = events(exchange.get_logs(), "OrderPlaced")
    assert placed.order_id == first == 2
    # the next order gets a new number: no id is ever logged twice
    assert exchange.next_order_id() == 3 | 1 << 32
    assert exchange.place_order(True, 140_000, 1_000, 0, 0, sender=buyer) == 3 | 1 << 32


def test_close_asks_of__frees_every_word(exchange, watt, sellers, buyer):
    s = sellers[0]
    ids = [exchange.place_order(False, 150_000 + i * 1_000, 1_000, 0, 0, sender=s) for i in range(3)]
    with boa.env.prank(watt.address):
        exchange.close_asks_of(s)
    # walked newest first (3, 2, 1): word 1 was freed last, so it is reused first
    got = [exchange.place_order(True, 100_000, 1_000, 0, 0, sender=buyer) for _ in range(3)]
    assert got == [4 | 1 << 32, 5 | 2 << 32, 6 | 3 << 32]
    assert all(not exchange.order(i).open for i in ids)
    assert exchange.open_orders(s) == []


def test_reused_ask_word__owner_list_and_level_links_are_fresh(exchange, watt, sellers, buyer):
    # an ask in a reused word joins its owner's list and its level's FIFO like any other
    s = sellers[0]
    a = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s)
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)  # a filled: word 1 free
    b = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s)
    c = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=sellers[1])
    assert b == 3 | 1 << 32 and not exchange.order(a).open
    exchange.place_order(True, 150_000, 1_500, 0, 0, sender=buyer)
    trades = events(exchange.get_logs(), "Trade")
    assert [(t.maker_order_id, t.amount_wh) for t in trades] == [(b, 1_000), (c, 500)]
    d = exchange.place_order(False, 160_000, 1_000, 0, 0, sender=s)
    with boa.env.prank(watt.address):
        assert exchange.close_asks_of(s) == 1_000
    assert not exchange.order(d).open and exchange.order(c).open


def _gas(contract):
    return contract._computation.get_gas_used()


def test_resting_in_a_reused_word__costs_two_new_slots_less(exchange, buyer):
    # the same resting bid (a new level in an active leaf), first into never-used words, then into reused ones
    a = exchange.place_order(True, 140_000, 1_000, 0, 0, sender=buyer)
    exchange.place_order(True, 140_100, 1_000, 0, 0, sender=buyer)
    fresh = _gas(exchange)
    exchange.cancel_order(a, sender=buyer)
    reused_id = exchange.place_order(True, 140_200, 1_000, 0, 0, sender=buyer)
    reused = _gas(exchange)
    assert reused_id >> 32 == 1  # it did take word 1
    # two slots rewritten (2 x 5,000) instead of created (2 x 22,100), less the free list's read
    assert fresh - reused >= 30_000, (fresh, reused)
