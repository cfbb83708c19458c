"""The slot auction's section of the Market page: the current slot's countdown, its aggregate supply
and demand, the indicative clearing by the contract's rule, and my orders, all equal to the chain's.

(The seeded chain runs months ahead of the auction's deployment, so its slots are not cleared here:
clearing them is one transaction per slot; the clearing chart is covered by the unit tests' data.)"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.utils.browser import connect, drawn_at

SELLER, BUYER = "Okafor household", "Lindqvist flat"


def test_auction__orders_show_as_curves_indicative_price_and_mine(open_app, members, contracts, chain):
    w3 = chain[0]
    auction, quote, watt = contracts["EnergyAuction"], contracts["QuoteToken"], contracts["WattToken"]

    def send(call, sender, gas=2_000_000):  # mined before the next read
        return w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": gas}))

    sym = quote.functions.symbol().call()
    seller, buyer = members[SELLER]["account"], members[BUYER]["account"]
    if int(watt.functions.auction().call(), 16) == 0:  # the operator wires WATT's second market once
        send(watt.functions.set_auction(auction.address), w3.eth.accounts[0])
    send(quote.functions.approve(auction.address, 2**256 - 1), buyer)
    slot = auction.functions.current_slot().call()
    send(auction.functions.place_order(False, 190_000, 300), seller)
    send(auction.functions.place_order(True, 210_000, 500), buyer)

    page = open_app(buyer, path="#/market")
    connect(page)
    drawn_at(page)
    section = page.get_by_test_id("auction")
    expect(section.get_by_test_id("auction-countdown")).to_contain_text(f"(slot {slot})")
    curves = section.get_by_test_id("auction-curves")
    expect(curves).to_contain_text(f"0.1900 {sym}/kWh")
    expect(curves).to_contain_text(f"0.2100 {sym}/kWh")
    # the bid at 0.21 could not fill completely at 0.19 (orders better than the price fill
    # completely), so the slot would clear at 0.21 with the bid rationed
    expect(section.get_by_test_id("auction-indicative")).to_contain_text(f"0.300 kWh at 0.2100 {sym}/kWh")
    mine = section.get_by_test_id("auction-mine")
    expect(mine).to_contain_text("buy")
    expect(mine).to_contain_text(f"0.2100 {sym}/kWh")
    expect(section.get_by_test_id("auction-prices")).to_contain_text("No slot has traded yet.")
