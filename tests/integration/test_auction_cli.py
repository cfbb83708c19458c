"""The auction CLI against the test session's node: orders placed in two slots and none in between,
then one `ape run auction clear` clears every ended slot in one transaction (`clear(k)` catches up),
and `ape run auction claim` finds each member's open orders from its OrderPlaced events (order ids are
not consecutive: settled order words are reused)."""

import pytest


pytestmark = [pytest.mark.integration, pytest.mark.local_chain]
SLOT = 1_800


def test_one_clear_catches_up_and_claims_find_the_orders(cli, cli_market, chain):
    m = cli_market("61", (8_000, 0, 8_000, 0), 600, "Auction roof")
    watt, auction, seller, buyer = m.watt, m.auction, m.seller, m.buyer
    cli("auction", "clear")  # whatever ended since the deploy

    def to_next_slot(slots=1):
        t = chain.pending_timestamp
        chain.mine(1, timestamp=t - t % SLOT + slots * SLOT)

    to_next_slot()
    first = int(auction.current_slot())
    cli("auction", "place", "sell", "0.18", "2", "--account", "test:2")
    cli("auction", "place", "buy", "0.2", "1.5", "--account", "test:3")
    to_next_slot(2)  # slot first + 1 has no orders
    cli("auction", "place", "sell", "0.18", "1", "--account", "test:2")
    cli("auction", "place", "buy", "0.21", "1", "--account", "test:3")
    to_next_slot()
    nxt = int(auction.next_to_clear())
    assert nxt < first  # the slot before `first` ended uncleared too
    before = chain.blocks.head.number
    out = cli("auction", "clear")
    # every ended slot (those before `first` too), one transaction, a line each
    assert chain.blocks.head.number == before + 1
    assert out.count("slot ") == first + 3 - nxt
    assert int(auction.next_to_clear()) == first + 3
    assert out.count(f"slot {first}") == 1 and "1.500 kWh at 0.1800" in out
    assert "no trade" in out and "1.000 kWh at 0.1800" in out
    assert "nothing to clear" in cli("auction", "clear")

    # both slots cleared at 0.18 (volume 1.5 then 1 kWh; in the second the lowest price of two ties)
    out = cli("auction", "claim", "--account", "test:3")
    assert out.count("filled") == 2 and "2.500 kWh of WATT bought waits for its sellers' claims" in out
    out = cli("auction", "claim", "--account", "test:2")
    assert out.count("filled") == 2
    assert int(auction.watt_of(buyer)) == 2_500 and watt.balanceOf(seller) == 8_000 - 2_500
    # settled: nothing left to claim; the words are reused by the next orders, under new ids
    assert "no open auction orders" in cli("auction", "claim", "--account", "test:2", code=2)
    out = cli("auction", "place", "sell", "0.18", "1", "--account", "test:2")
    assert "order " in out

    # a budget deposited once: the next bid escrows from it, nothing is pulled from the wallet
    quote = m.quote
    out = cli("auction", "deposit", "1", "--account", "test:3")
    assert "deposited 1.0000" in out
    balance = int(auction.proceeds_of(buyer))
    wallet = int(quote.balanceOf(buyer))
    out = cli("auction", "place", "buy", "0.2", "1", "--account", "test:3")
    assert "order " in out
    assert int(quote.balanceOf(buyer)) == wallet and int(auction.proceeds_of(buyer)) == balance - 202_000
    # the slot's levels, read through AuctionLens: the ask at 0.18 and the bid at 0.20
    out = cli("auction", "book")
    assert "0.1800" in out and "0.2000" in out and "1.000" in out
    assert "cannot deposit" in cli("auction", "deposit", "1000000", "--account", "test:3", code=2)
