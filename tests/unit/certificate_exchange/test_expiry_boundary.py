"""Issue 25, MEDIUM: units that expire in the very block they are sold were dumped into a resting bid
(the market took `block.timestamp == expires_at` as live), the bid paid in full, and the units sat in
the bidder's `units_of` where `withdraw_units` reverts "certificate: expired" forever.

Now one expiry rule, the certificate's: units are live while `block.timestamp < expires_at`, in the
market's listing check, its fill gate and the certificate's own transfers. And units a resting bid
buys are delivered to it in the same call (straight from the seller), so a bid never holds units it
could not withdraw in time; only a bidder whose own hook refuses them gets them in `units_of`."""

import boa
import pytest

from tests.conftest import events

P = 5_000  # quote base units per kWh
UNUSABLE = 10


@pytest.fixture
def lot(cx, cert, seller, issue, class_of):
    """A certificate of 3 kWh held by the seller: (id, method, vintage, expires_at)."""
    id = issue(seller, 3_000)
    return (id, *class_of(id), cert.certificate(id).expires_at)


def at(t):
    boa.env.evm.patch.timestamp = t


def test_attack_dump_at_expiry__into_a_resting_bid__refused_and_the_bid_keeps_its_quote(cx, cert, quote, seller, buyer, lot):
    id, method, vintage, expires_at = lot
    bid = cx.place_bid(method, vintage, P, 3_000, 0, 0, sender=buyer)
    escrow = cx.order(bid).escrow_quote
    at(expires_at)
    with boa.reverts("certificate_exchange: certificate expired"):
        cx.place_ask(id, P, 3_000, 0, 0, sender=seller)
    assert cx.order(bid).open and cx.order(bid).escrow_quote == escrow and cx.order(bid).remaining_wh == 3_000
    assert cx.units_of(buyer, id) == 0 and cert.balanceOf(seller, id) == 3_000
    assert cx.proceeds_of(seller) == 0


def test_resting_ask_met_at_exactly_expires_at__closed_unusable_never_sold(cx, cert, quote, seller, buyer, lot):
    id, method, vintage, expires_at = lot
    ask = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    at(expires_at)
    paid_before = quote.balanceOf(buyer)
    assert cx.place_bid(method, vintage, P, 2_000, 0, 1, sender=buyer) == 0  # IOC
    logs = cx.get_logs()
    assert not events(logs, "Trade")
    assert [(e.order_id, e.reason, e.refunded) for e in events(logs, "OrderClosed")][0] == (ask, UNUSABLE, 2_000)
    assert quote.balanceOf(buyer) == paid_before and cert.balanceOf(buyer, id) == 0
    assert cx.units_of(seller, id) == 2_000 and not cx.order(ask).open


def test_resting_ask_met_at_exactly_expires_at__buy_and_claim_claims_nothing(cx, cert, seller, buyer, lot):
    id, method, vintage, expires_at = lot
    ask = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    at(expires_at)
    company = boa.env.generate_address("boundary-company")
    assert cx.buy_and_claim(method, vintage, P, 2_000, company, "x", sender=buyer) == 0
    assert cert.claimed_balance_of(company, id) == 0 and not cx.order(ask).open


def test_sale_one_second_before_expiry__bidder_holds_its_units_when_the_call_returns(cx, cert, seller, buyer, lot):
    id, method, vintage, expires_at = lot
    bid = cx.place_bid(method, vintage, P, 3_000, 0, 0, sender=buyer)
    at(expires_at - 1)
    assert cx.place_ask(id, P, 3_000, 0, 0, sender=seller) == 0
    (trade,) = events(cx.get_logs(), "Trade")
    assert trade.maker_order_id == bid and trade.amount_wh == 3_000
    assert cert.balanceOf(buyer, id) == 3_000 and cx.units_of(buyer, id) == 0
    assert cert.balanceOf(cx.address, id) == 0 and not cx.order(bid).open


def test_resting_ask_one_second_before_expiry__fills(cx, cert, seller, buyer, lot):
    id, method, vintage, expires_at = lot
    ask = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    at(expires_at - 1)
    cx.place_bid(method, vintage, P, 2_000, 0, 1, sender=buyer)
    (trade,) = events(cx.get_logs(), "Trade")
    assert trade.maker_order_id == ask and cert.balanceOf(buyer, id) == 2_000


def test_attack_starved_delivery__no_gas_limit_leaves_a_bid_with_credited_units(cx, cert, seller, buyer, lot):
    """The seller picks the gas limit: whatever it picks, the sale either reverts whole or the bidder
    holds its units; a push that ran out of gas is never turned into a `units_of` credit."""
    id, method, vintage, expires_at = lot
    cx.place_bid(method, vintage, P, 1_000, 0, 0, sender=buyer)
    at(expires_at - 1)
    outcomes = set()
    for gas in range(60_000, 420_000, 4_000):
        with boa.env.anchor():
            try:
                cx.place_ask(id, P, 1_000, 0, 0, sender=seller, gas=gas)
            except boa.BoaError:
                outcomes.add("reverted")
                assert cert.balanceOf(buyer, id) == 0 and cx.units_of(buyer, id) == 0
                continue
            outcomes.add("delivered")
            assert cert.balanceOf(buyer, id) == 1_000, gas
            assert cx.units_of(buyer, id) == 0, gas
    assert outcomes == {"reverted", "delivered"}


def test_cancel_at_exactly_expires_at__units_cannot_move__credited_to_the_seller(cx, cert, seller, lot):
    id, method, vintage, expires_at = lot
    ask = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    at(expires_at)
    cx.cancel_order(ask, sender=seller)
    assert cx.units_of(seller, id) == 2_000 and cert.balanceOf(seller, id) == 1_000
