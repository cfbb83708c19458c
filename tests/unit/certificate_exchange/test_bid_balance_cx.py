"""The certificate market's bids pay out of the bidder's proceeds there first, the rest from its wallet
(proceeds._pay_in, as on the energy market)."""

P = 5_000  # quote base units per kWh (5 EUR/MWh)


def test_a_sellers_proceeds_pay_its_bid_before_its_wallet(cx, cert, quote, seller, issue, cash, buyer, trader, class_of):
    id = issue(seller, 4_000)
    method, vintage = class_of(id)
    cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    cx.place_bid(method, vintage, P, 2_000, 0, 0, sender=buyer)
    earned = cx.proceeds_of(seller)
    assert earned > 0
    # another seller's units of the same class: the first seller buys 1,000 with what it earned
    other = trader("cx-other")
    other_id = issue(other, 3_000)
    assert class_of(other_id) == (method, vintage)
    cx.place_ask(other_id, P, 1_000, 0, 0, sender=other)
    cash(seller, 1)
    wallet = quote.balanceOf(seller)
    cx.place_bid(method, vintage, P, 1_000, 0, 1, sender=seller)  # IOC: fills, rests nothing
    q = 1_000 * P // 1000
    assert cx.proceeds_of(seller) == earned - q - q * cx.taker_fee_bps() // 10_000
    assert quote.balanceOf(seller) == wallet
    assert cert.balanceOf(seller, other_id) == 1_000
