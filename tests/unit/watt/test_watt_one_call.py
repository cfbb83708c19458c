"""One WATT call per taker, whatever the number of makers (issue 22): a taker ask's fills and the escrow of
its rest are one `sell`; a taker bid's deliveries are one `settle_escrow`; the book merges a maker's
consecutive fills into one move, so a seller met at several levels (a ladder) or a bidder met for several
bids is settled and logged once. Each rule is tried as the exchange would call it, and through the
exchange itself."""

import boa
import pytest

from tests.conftest import events, logs_of, move

DAY = 86_400


@pytest.fixture
def as_exchange(exchange):
    return str(exchange.address)


@pytest.fixture
def seller(give_watt, fund_rent):
    who = boa.env.generate_address("one-call-seller")
    give_watt(who, 10_000)
    fund_rent(who, 10**18)
    return who


@pytest.fixture
def bidders():
    return [boa.env.generate_address(f"one-call-bidder-{i}") for i in range(3)]


def _state(watt, *accounts):
    return [(watt.balanceOf(a), watt.escrowed_of(a)) for a in accounts]


def test_sell__fills_go_to_bidders_dropped_stays_free_rest_is_escrowed(watt, as_exchange, seller, bidders):
    a, b, _ = bidders
    supply = watt.totalSupply()
    watt.sell(seller, 4_000, 500, [move(a, 1_000), move(b, 700)], sender=as_exchange)
    logs = watt.get_logs()
    # 4,000 covered: 1,700 sold, 500 dropped (free), 1,800 rests in escrow
    assert _state(watt, seller, a, b) == [(10_000 - 3_500, 1_800), (1_000, 0), (700, 0)]
    assert watt.totalSupply() == supply
    assert [(e.account, e.wh) for e in events(logs, "Escrowed")] == [(seller, 1_800)]
    assert [(e.sender, e.receiver, e.value) for e in events(logs, "Transfer")] == [(seller, a, 1_000), (seller, b, 700)]
    assert not events(logs, "EscrowDelivered") and not events(logs, "EscrowReleased")


def test_sell__all_filled__escrows_nothing_and_logs_no_escrow(watt, as_exchange, seller, bidders):
    a = bidders[0]
    watt.sell(seller, 1_000, 0, [move(a, 1_000)], sender=as_exchange)
    assert not events(watt.get_logs(), "Escrowed")
    assert _state(watt, seller, a) == [(9_000, 0), (1_000, 0)]


def test_sell__each_move_credited_to_its_bidder(watt, as_exchange, seller, bidders):
    a, b, _ = bidders
    watt.sell(seller, 375, 0, [move(a, 300), move(b, 50), move(a, 25)], sender=as_exchange)
    transfers = [(e.receiver, e.value) for e in events(watt.get_logs(), "Transfer")]
    assert transfers == [(a, 300), (b, 50), (a, 25)]
    assert _state(watt, a, b) == [(325, 0), (50, 0)]


@pytest.mark.parametrize(
    "ask, dropped, fills, reason",
    [
        (10_001, 0, [], "watt: escrow exceeds balance"),  # the whole ask is covered, even what drops
        (10_001, 10_001, [], "watt: escrow exceeds balance"),
        (1_000, 0, [700, 301], "watt: sale exceeds ask"),
        (1_000, 400, [601], "watt: sale exceeds ask"),
    ],
)
def test_sell__bad_amounts__revert_and_change_nothing(watt, as_exchange, seller, bidders, ask, dropped, fills, reason):
    before = _state(watt, seller, *bidders)
    with boa.reverts(reason):
        watt.sell(seller, ask, dropped, [move(bidders[i], w) for i, w in enumerate(fills)], sender=as_exchange)
    assert _state(watt, seller, *bidders) == before


def test_sell__dropped_beyond_any_ask__reverts_and_changes_nothing(watt, as_exchange, seller, bidders):
    # a market's `dropped_wh` is not bounded by the ABI: a sum that would wrap around reverts
    before = _state(watt, seller, bidders[0])
    with boa.reverts():
        watt.sell(seller, 100, 2**256 - 50, [move(bidders[0], 100)], sender=as_exchange)
    with boa.reverts("watt: sale exceeds ask"):
        watt.sell(seller, 100, 2**255, [move(bidders[0], 100)], sender=as_exchange)
    assert _state(watt, seller, bidders[0]) == before


def test_sell__to_the_zero_address__reverts(watt, as_exchange, seller):
    with boa.reverts("watt: transfer to the zero address"):
        watt.sell(seller, 100, 0, [move("0x" + "00" * 20, 100)], sender=as_exchange)


def test_sell__seller_in_arrears__reverts(watt, as_exchange, give_watt, bidders):
    debtor = boa.env.generate_address("one-call-debtor")
    give_watt(debtor, 5_000)  # no TSL deposit: in arrears from the next second on
    boa.env.time_travel(seconds=60)
    with boa.reverts("watt: account in arrears"):
        watt.sell(debtor, 1_000, 0, [move(bidders[0], 1_000)], sender=as_exchange)
    with boa.reverts("watt: account in arrears"):
        watt.sell(debtor, 1_000, 1_000, [], sender=as_exchange)  # nothing sold, still an ask by a debtor


def test_sell__settles_the_sellers_rent_first(watt, as_exchange, seller, bidders, rate):
    boa.env.time_travel(seconds=DAY)
    owed = watt.rent_accrued(seller)
    assert owed == 10 * rate
    watt.sell(seller, 1_000, 0, [move(bidders[0], 1_000)], sender=as_exchange)
    (charged,) = [e for e in events(watt.get_logs(), "RentCharged") if e.account == seller]
    assert charged.paid == owed and watt.rent_accrued(seller) == 0


def test_exchange__taker_ask_meeting_three_bids__one_sale_no_escrow_round_trip(exchange, watt, trader):
    seller = trader("one-call-taker-seller", wh=5_000)
    a, b = trader("one-call-bid-a", cash=10**12), trader("one-call-bid-b", cash=10**12)
    exchange.place_order(True, 200_000, 1_000, 0, 0, sender=a)
    exchange.place_order(True, 199_000, 500, 0, 0, sender=a)
    exchange.place_order(True, 198_000, 400, 0, 0, sender=b)
    exchange.place_order(False, 198_000, 2_500, 0, 0, sender=seller)
    logs = logs_of(exchange.get_logs(), watt)
    # a's two bids are one run: one Transfer; the 600 Wh left rest in escrow
    assert [(e.receiver, e.value) for e in events(logs, "Transfer")] == [(a, 1_500), (b, 400)]
    assert [(e.account, e.wh) for e in events(logs, "Escrowed")] == [(seller, 600)]
    assert not events(logs, "EscrowDelivered") and not events(logs, "EscrowReleased")
    assert _state(watt, seller, a, b) == [(2_500, 600), (1_500, 0), (400, 0)]


def test_exchange__ioc_ask_remainder__stays_free_without_an_escrow_event(exchange, watt, trader):
    seller = trader("one-call-ioc-seller", wh=5_000)
    a = trader("one-call-ioc-bid", cash=10**12)
    exchange.place_order(True, 200_000, 1_000, 0, 0, sender=a)
    exchange.place_order(False, 200_000, 3_000, 0, 1, sender=seller)  # IOC: 2,000 Wh drop
    logs = logs_of(exchange.get_logs(), watt)
    assert not events(logs, "Escrowed") and not events(logs, "EscrowReleased")
    assert _state(watt, seller, a) == [(4_000, 0), (1_000, 0)]
    with boa.reverts("watt: escrow exceeds balance"):  # the whole ask is covered, even its IOC part
        exchange.place_order(False, 200_000, 4_001, 0, 1, sender=seller)


def test_exchange__bid_sweeping_one_sellers_ladder__one_delivery(exchange, watt, trader):
    seller = trader("one-call-ladder-seller", wh=5_000)
    buyer = trader("one-call-ladder-buyer", cash=10**12)
    for i in range(3):
        exchange.place_order(False, 200_000 + i * 1_000, 300, 0, 0, sender=seller)
    exchange.place_order(True, 202_000, 900, 0, 0, sender=buyer)
    assert len(events(exchange.get_logs(), "Trade")) == 3
    logs = logs_of(exchange.get_logs(), watt)
    assert [(e.seller, e.buyer, e.wh) for e in events(logs, "EscrowDelivered")] == [(seller, buyer, 900)]
    assert [(e.sender, e.receiver, e.value) for e in events(logs, "Transfer")] == [(seller, buyer, 900)]
    assert _state(watt, seller, buyer) == [(4_100, 0), (900, 0)]


def test_exchange__a_refund_between_one_sellers_fills__breaks_the_run(exchange, watt, trader):
    seller = trader("one-call-run-seller", wh=5_000)
    buyer = trader("one-call-run-buyer", cash=10**12)
    exchange.place_order(False, 200_000, 300, 0, 0, sender=seller)
    exchange.place_order(False, 201_000, 300, boa.env.evm.patch.timestamp + 10, 0, sender=seller)
    exchange.place_order(False, 202_000, 300, 0, 0, sender=seller)
    boa.env.time_travel(seconds=20)  # the middle ask expired: met, closed and refunded between two fills
    exchange.place_order(True, 202_000, 900, 0, 0, sender=buyer)
    logs = logs_of(exchange.get_logs(), watt)
    assert [(e.seller, e.wh) for e in events(logs, "EscrowDelivered")] == [(seller, 300), (seller, 300)]
    assert [(e.account, e.wh) for e in events(logs, "EscrowReleased")] == [(seller, 300)]
    assert _state(watt, seller, buyer) == [(4_400, 0), (600, 0)]


def test_exchange__makers_met_in_turn__not_merged(exchange, watt, trader):
    s1, s2 = trader("one-call-turn-1", wh=5_000), trader("one-call-turn-2", wh=5_000)
    buyer = trader("one-call-turn-buyer", cash=10**12)
    for s in (s1, s2, s1):
        exchange.place_order(False, 200_000, 300, 0, 0, sender=s)
    exchange.place_order(True, 200_000, 900, 0, 0, sender=buyer)
    logs = logs_of(exchange.get_logs(), watt)
    assert [(e.seller, e.wh) for e in events(logs, "EscrowDelivered")] == [(s1, 300), (s2, 300), (s1, 300)]
    assert _state(watt, s1, s2, buyer) == [(4_400, 0), (4_700, 0), (900, 0)]
