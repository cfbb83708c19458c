"""Issue 16's gas mechanisms keep the book's meaning: a level's head keeps a stale `prev` link that
nothing reads (fills pop the head without touching the next order), a taker bid's WATT moves in one
`settle_escrow` call (each seller's escrow, closed asks back to their owners, the buyer credited
once), and fees share the counters word with the next id and the bid escrow total."""

import boa
import pytest

from tests.conftest import events, logs_of

EXPIRED = 3


@pytest.fixture
def sellers(trader):
    return [trader(f"level-seller-{i}", wh=10_000) for i in range(4)]


def level_ids(exchange, owners):
    return [list(exchange.open_orders(o)) for o in owners]


def test_head_pop__then_cancel_new_head__level_relinks(exchange, sellers, buyer):
    a, b, c, d = (exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s) for s in sellers)
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)  # pops a: b is head with a stale prev
    exchange.cancel_order(b, sender=sellers[1])  # the head goes: c is head, d keeps c as prev
    assert exchange.best_ask() == (150_000, 2_000)
    exchange.cancel_order(d, sender=sellers[3])  # the tail (not the head): c is head and tail
    assert exchange.best_ask() == (150_000, 1_000)
    assert not exchange.order(a).open and not exchange.order(b).open and not exchange.order(d).open
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
    (t,) = events(exchange.get_logs(), "Trade")
    assert t.maker_order_id == c
    assert exchange.best_ask() == (0, 0)
    # the emptied level takes new orders as a fresh FIFO
    e = exchange.place_order(False, 150_000, 700, 0, 0, sender=sellers[0])
    f = exchange.place_order(False, 150_000, 800, 0, 0, sender=sellers[1])
    exchange.place_order(True, 150_000, 1_500, 0, 0, sender=buyer)
    assert [x.maker_order_id for x in events(exchange.get_logs(), "Trade")] == [e, f]


def test_head_pop__then_cancel_middle__order_of_fills_kept(exchange, sellers, buyer):
    a, b, c, d = (exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s) for s in sellers)
    exchange.place_order(True, 150_000, 1_500, 0, 0, sender=buyer)  # a filled, b half: b is head
    exchange.cancel_order(c, sender=sellers[2])  # a middle order: b -> d
    assert exchange.best_ask() == (150_000, 1_500)
    assert exchange.order(b).remaining_wh == 500
    exchange.place_order(True, 150_000, 1_500, 0, 0, sender=buyer)
    assert [(x.maker_order_id, x.amount_wh) for x in events(exchange.get_logs(), "Trade")] == [(b, 500), (d, 1_000)]
    assert exchange.best_ask() == (0, 0) and not exchange.order(d).open


def test_close_asks_of__after_head_pops__closes_the_rest(exchange, watt, sellers, buyer):
    # WATT's release_unpaid path walks the owner's list and unlinks each ask from its level
    s = sellers[0]
    ids = [exchange.place_order(False, 150_000, 1_000, 0, 0, sender=s) for _ in range(3)]
    other = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=sellers[1])
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)  # pops ids[0]
    with boa.env.prank(watt.address):
        closed = exchange.close_asks_of(s)
    assert closed == 2_000
    assert [e.order_id for e in events(exchange.get_logs(), "OrderClosed")] == [ids[2], ids[1]]
    assert exchange.best_ask() == (150_000, 1_000) and exchange.order(other).open


def test_settle_escrow__fills_and_closed_asks_in_one_call(exchange, watt, sellers, buyer):
    a = exchange.place_order(False, 150_000, 1_000, boa.env.evm.patch.timestamp + 100, 0, sender=sellers[0])
    b = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=sellers[1])
    c = exchange.place_order(False, 160_000, 600, 0, 0, sender=sellers[2])
    boa.env.time_travel(seconds=200)  # a has expired
    exchange.place_order(True, 160_000, 1_600, 0, 0, sender=buyer)
    logs = exchange.get_logs()  # with the WATT call's own logs
    closes = [(e.order_id, e.reason, e.refunded) for e in events(logs, "OrderClosed")]
    assert closes[0] == (a, EXPIRED, 1_000)
    assert [(t.maker_order_id, t.amount_wh) for t in events(logs, "Trade")] == [(b, 1_000), (c, 600)]
    wlogs = logs_of(logs, watt)
    assert [(str(e.account), e.wh) for e in events(wlogs, "EscrowReleased")] == [(sellers[0], 1_000)]
    delivered = [(str(e.seller), str(e.buyer), e.wh) for e in events(wlogs, "EscrowDelivered")]
    assert delivered == [(sellers[1], buyer, 1_000), (sellers[2], buyer, 600)]
    transfers = [(str(e.sender), str(e.receiver), e.value) for e in events(wlogs, "Transfer")]
    assert transfers == [(sellers[1], buyer, 1_000), (sellers[2], buyer, 600)]
    assert watt.balanceOf(buyer) == 1_600
    assert [watt.escrowed_of(s) for s in sellers[:3]] == [0, 0, 0]
    assert [watt.balanceOf(s) for s in sellers[:3]] == [10_000, 9_000, 9_400]


def test_settle_escrow__exchange_only(watt, stranger, sellers):
    with boa.reverts("watt: caller is not a market"):
        watt.settle_escrow(stranger, [int(sellers[0], 16) | (1 << 160)], sender=stranger)


def test_settle_escrow__more_than_escrow_reverts(exchange, watt, sellers, buyer):
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=sellers[0])
    with boa.env.prank(exchange.address):
        with boa.reverts("watt: move exceeds escrow"):
            watt.settle_escrow(buyer, [int(sellers[0], 16) | (1_001 << 160)])


def test_counters__fees_next_id_and_escrow_share_a_word(exchange, operator, quote, sellers, buyer):
    bid = exchange.place_order(True, 140_000, 2_000, 0, 0, sender=buyer)
    escrow = exchange.bid_escrow_total()
    assert escrow == exchange.order(bid).escrow_quote
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=sellers[0])
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
    q = 150_000
    fees = q * 10 // 10_000 + q * 20 // 10_000
    assert exchange.fees_accrued() == fees
    # order 4 takes the word the filled ask (order 2) left: id 4 | word 2 << 32
    assert exchange.bid_escrow_total() == escrow and exchange.next_order_id() == 4 | (2 << 32)
    # a taker ask paid from the resting bid's escrow: the total falls, the fees grow
    exchange.place_order(False, 140_000, 1_000, 0, 0, sender=sellers[1])
    q2 = 140_000
    paid = q2 + q2 * 10 // 10_000
    fees += q2 * 10 // 10_000 + q2 * 20 // 10_000
    assert exchange.fees_accrued() == fees
    assert exchange.bid_escrow_total() == escrow - paid == exchange.order(bid).escrow_quote
    assert exchange.claim_fees(sender=operator) == fees
    assert exchange.fees_accrued() == 0
    assert exchange.bid_escrow_total() == escrow - paid and exchange.next_order_id() == 5 | (2 << 32)
    exchange.cancel_order(bid, sender=buyer)
    assert exchange.bid_escrow_total() == 0 and exchange.proceeds_of(buyer) == escrow - paid
