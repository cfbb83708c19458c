"""A bid pays out of its owner's balance on the book first (`proceeds_of`: sale proceeds, refunds,
`deposit_quote`), the rest from its wallet (proceeds._pay_in): a trader who keeps a balance moves no
token when it bids. The balance is never overdrawn and the wallet pays only what the balance does not."""

import boa

from tests.conftest import events
from tests.utils.book import bid_escrow as escrow_of

P = 200_000  # quote base units per kWh


def test_deposit__a_resting_bid_escrows_out_of_the_balance_then_the_wallet(exchange, quote, buyer):
    exchange.deposit_quote(500_000, sender=buyer)
    (ev,) = events(exchange.get_logs(), "QuoteDeposited")
    assert (str(ev.owner), ev.amount) == (buyer, 500_000)
    assert exchange.proceeds_of(buyer) == 500_000
    wallet = quote.balanceOf(buyer)
    oid = exchange.place_order(True, P, 5_000, 0, 0, sender=buyer)
    escrow = escrow_of(5_000, P)  # 1,010,000: the balance pays 500,000, the wallet the rest
    assert exchange.proceeds_of(buyer) == 0
    assert wallet - quote.balanceOf(buyer) == escrow - 500_000
    assert quote.balanceOf(exchange.address) == escrow == exchange.bid_escrow_total()
    # cancelled: the whole escrow comes back to the balance, and the next bid moves no token at all
    exchange.cancel_order(oid, sender=buyer)
    assert exchange.proceeds_of(buyer) == escrow
    wallet = quote.balanceOf(buyer)
    exchange.place_order(True, P, 3_000, 0, 0, sender=buyer)
    assert quote.balanceOf(buyer) == wallet
    assert exchange.proceeds_of(buyer) == escrow - escrow_of(3_000, P)


def test_a_sellers_proceeds_pay_its_next_bid_fills_and_fees(exchange, quote, watt, seller, buyer, trader):
    exchange.place_order(False, 150_000, 2_000, 0, 0, sender=seller)
    exchange.place_order(True, 150_000, 2_000, 0, 0, sender=buyer)
    earned = exchange.proceeds_of(seller)
    q = 2_000 * 150_000 // 1000
    assert earned == q - q * 10 // 10_000  # the maker fee off its proceeds
    # the seller buys back less than it earned: fills and the taker fee come out of its proceeds
    other = trader("other-seller", wh=5_000)
    exchange.place_order(False, 140_000, 1_000, 0, 0, sender=other)
    quote.mint(seller, 1, sender=exchange.owner())
    wallet = quote.balanceOf(seller)
    exchange.place_order(True, 140_000, 1_000, 0, 1, sender=seller)  # IOC: takes and rests nothing
    q2 = 1_000 * 140_000 // 1000
    assert exchange.proceeds_of(seller) == earned - q2 - q2 * 20 // 10_000
    assert quote.balanceOf(seller) == wallet
    assert watt.balanceOf(seller) == 40_000 - 2_000 + 1_000


def test_amend__a_larger_escrow_comes_out_of_the_balance_first(exchange, quote, buyer):
    oid = exchange.place_order(True, P, 1_000, 0, 0, sender=buyer)
    exchange.deposit_quote(100_000, sender=buyer)
    wallet = quote.balanceOf(buyer)
    exchange.amend_order(oid, P, 2_000, sender=buyer)
    more = escrow_of(2_000, P) - escrow_of(1_000, P)  # 202,000
    assert exchange.proceeds_of(buyer) == 0
    assert wallet - quote.balanceOf(buyer) == more - 100_000


def test_deposit__zero_or_unfunded__reverts_and_changes_nothing(exchange, quote, trader):
    poor = trader("poor")  # approved, holds nothing
    with boa.reverts("exchange: zero amount"):
        exchange.deposit_quote(0, sender=poor)
    with boa.reverts():
        exchange.deposit_quote(1, sender=poor)
    assert exchange.proceeds_of(poor) == 0 and quote.balanceOf(exchange.address) == 0


def test_withdraw__a_deposit_comes_back_whole_also_while_paused(exchange, quote, buyer, operator):
    wallet = quote.balanceOf(buyer)
    exchange.deposit_quote(700_000, sender=buyer)
    exchange.pause(sender=operator)
    exchange.withdraw_proceeds(700_000, sender=buyer)
    assert quote.balanceOf(buyer) == wallet and exchange.proceeds_of(buyer) == 0
