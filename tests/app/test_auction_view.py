"""The slot auction's section of the Market page, in a real Chromium against the seeded chain.

1. Orders show as the slot's curves, the indicative clearing by the contract's rule, and mine.
2. Trading from the browser wallet: one member places an ask and another a bid in the current slot
   (a permit for the bid's escrow, each write simulated first), chain time passes the slot's end,
   the operator clears, both claim and withdraw from the browser; every balance moves as the
   reference auction (gridmint/auction.py) says, and the recent-prices chart shows the price.

The seeded chain runs months ahead of the auction's deployment: the module first clears the ended
empty slots (`clear(k)` catches up 48 per transaction; about 190 transactions), and each test starts
in a fresh slot."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from gridmint import auction as ref
from tests.utils.browser import connect, drawn_at, record, transact

pytestmark = pytest.mark.integration
SELLER, BUYER = "Okafor household", "Lindqvist flat"


def kwh(wh: int) -> str:
    return f"{wh // 1000:,}.{wh % 1000:03d} kWh"


def units(value: int, decimals: int, shown: int, symbol: str) -> str:
    """The app's display: truncated (not rounded) to `shown` decimals, thousands grouped."""
    whole, frac = divmod(value, 10**decimals)
    return f"{whole:,}.{str(frac).zfill(decimals)[:shown]} {symbol}"


def _send(w3, call, sender, gas=5_000_000):
    return transact(w3, call, sender, gas)


def _catch_up(w3, auction) -> int:
    """Clears every ended slot (`clear(k)` catches up 48 per transaction); returns the transactions."""
    calls = ref.catch_up_calls(auction.functions.next_to_clear().call(), auction.functions.current_slot().call())
    for k in calls:
        _send(w3, auction.functions.clear(k), w3.eth.accounts[0], gas=15_000_000)
    return len(calls)


@pytest.fixture(scope="module")
def auction_ready(chain, contracts):
    """Once for this module, undone at its end (a snapshot around it: the other app tests see the
    seeded chain): WATT wired to the auction, the auction's rent funded, every ended slot cleared."""
    w3 = chain[0]
    auction, watt, tsl = contracts["EnergyAuction"], contracts["WattToken"], contracts["StorageRentToken"]
    operator = w3.eth.accounts[0]
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    if int(watt.functions.auction().call(), 16) == 0:  # the operator wires WATT's second market once
        _send(w3, watt.functions.set_auction(auction.address), operator)
    # the operator funds the rent of the WATT the auction holds between a seller's claim and the buyer's
    # withdrawal, as the demo does (gridmint/auction_day.py): unfunded, the auction is in arrears as
    # soon as it holds WATT and the buyer's withdrawal is refused ("watt: account in arrears")
    rent_tsl = 10**20
    _send(w3, tsl.functions.mint(operator, rent_tsl), operator)
    _send(w3, tsl.functions.approve(auction.address, rent_tsl), operator)
    _send(w3, auction.functions.fund_rent(rent_tsl), operator)
    t = time.perf_counter()
    record("auction_catch_up_clear_transactions", _catch_up(w3, auction))
    record("auction_catch_up_s", round(time.perf_counter() - t, 2))
    yield
    w3.provider.make_request("evm_revert", [snap])


@pytest.fixture
def fresh_slot(chain, contracts, auction_ready):
    """Chain time at the start of the next slot (a whole slot ahead for the test), every ended slot
    cleared; returns (send, slot number, SLOT_S)."""
    w3 = chain[0]
    auction = contracts["EnergyAuction"]
    slot_s = auction.functions.SLOT_S().call()
    start = (w3.eth.get_block("latest")["timestamp"] // slot_s + 1) * slot_s
    w3.provider.make_request("evm_setNextBlockTimestamp", [start])
    w3.provider.make_request("evm_mine", [])
    _catch_up(w3, auction)
    current = auction.functions.current_slot().call()
    assert auction.functions.next_to_clear().call() == current
    return (lambda call, sender, gas=5_000_000: _send(w3, call, sender, gas)), current, slot_s


def test_auction__orders_show_as_curves_indicative_price_and_mine(open_app, members, contracts, fresh_slot):
    send, slot, _ = fresh_slot
    auction, quote = contracts["EnergyAuction"], contracts["QuoteToken"]
    sym = quote.functions.symbol().call()
    seller, buyer = members[SELLER]["account"], members[BUYER]["account"]
    send(quote.functions.approve(auction.address, 2**256 - 1), buyer)
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
    expect(mine).to_contain_text("waiting for its slot to end")
    expect(section.get_by_test_id("auction-prices")).to_contain_text("No slot has traded yet.")


def _place(page, side: str, amount: str, limit: str):
    form = page.get_by_test_id("auction").get_by_role("form", name="Place an auction order")
    form.get_by_label("Buy or sell").select_option(side)
    form.get_by_label("Kind of auction order").select_option("once")
    form.get_by_label("Auction amount (kWh per slot)").fill(amount)
    form.get_by_label("Auction limit").fill(limit)
    return form


def test_auction__place_clear_claim_and_withdraw_from_the_browser(open_app, chain, members, contracts, fresh_slot):
    w3 = chain[0]
    send, slot, slot_s = fresh_slot
    auction, quote, watt = contracts["EnergyAuction"], contracts["QuoteToken"], contracts["WattToken"]
    sym, dec = quote.functions.symbol().call(), quote.functions.decimals().call()
    seller, buyer = members[SELLER]["account"], members[BUYER]["account"]
    ask_p, ask_wh, bid_p, bid_wh = 190_000, 300, 210_000, 500
    before = {a: (quote.functions.balanceOf(a).call(), watt.functions.balanceOf(a).call()) for a in (seller, buyer)}

    s_page, b_page = open_app(seller, path="#/market"), open_app(buyer, path="#/market")
    for p in (s_page, b_page):
        connect(p)
        drawn_at(p)
    s_sec, b_sec = s_page.get_by_test_id("auction"), b_page.get_by_test_id("auction")

    # the seller's ask: the preview shows the WATT escrow before signing
    form = _place(s_page, "sell", "0.3", "0.1900")
    expect(form.get_by_test_id("auction-preview")).to_contain_text(f"Escrows {kwh(ask_wh)} of your WATT now")
    form.get_by_role("button", name="Place auction order").click()
    expect(form.get_by_role("status")).to_contain_text(f"at 0.1900 {sym}/kWh joins slot {slot}.", timeout=15_000)
    expect(form.get_by_role("status")).to_contain_text("Confirmed: ask #")

    # the buyer's bid: a permit for its escrow (price x amount + the 1 % fee cap), then the order
    escrow = ref.bid_escrow(bid_wh, bid_p)
    form = _place(b_page, "buy", "0.5", "0.2100")
    expect(form.get_by_test_id("auction-preview")).to_contain_text(f"Escrows {units(escrow, dec, 4, sym)} now")
    form.get_by_role("button", name="Place auction order").click()
    expect(form.get_by_role("status")).to_contain_text("Confirmed: bid #", timeout=15_000)
    expect(form.get_by_role("status")).to_contain_text(f"at 0.2100 {sym}/kWh joins slot {slot}.")
    assert auction.functions.current_slot().call() == slot
    placed = auction.events.OrderPlaced.get_logs(from_block=w3.eth.block_number - 5)
    ids = {(e.args.owner, e.args.is_buy): e.args.order_id for e in placed}
    ask_id, bid_id = ids[(seller, False)], ids[(buyer, True)]
    expect(b_sec.get_by_test_id("auction-indicative")).to_contain_text(f"0.300 kWh at 0.2100 {sym}/kWh")
    assert quote.functions.balanceOf(buyer).call() == before[buyer][0] - escrow
    assert watt.functions.balanceOf(seller).call() == before[seller][1] - ask_wh

    # the slot ends; the operator clears it (anyone may)
    w3.provider.make_request("evm_setNextBlockTimestamp", [(slot + 1) * slot_s])
    w3.provider.make_request("evm_mine", [])
    send(auction.functions.clear(slot), w3.eth.accounts[0])

    tick = auction.functions.TICK().call()
    floor_i, ceiling_i = auction.functions.floor_price().call() // tick, auction.functions.ceiling_price().call() // tick
    fee_bps = auction.functions.taker_fee_bps().call()
    c = ref.clear_slot([ref.Order(ask_id, False, ask_p // tick, ask_wh), ref.Order(bid_id, True, bid_p // tick, bid_wh)],
                       floor_i, ceiling_i, fee_bps)
    r = auction.functions.result(slot).call()
    assert (r[0], r[1]) == (c.idx * tick, c.matched_wh) and c.matched_wh > 0
    sold_wh, sold_q = ref.fill(c, False, ask_p // tick, ask_wh, tick)
    bought_wh, bought_q = ref.fill(c, True, bid_p // tick, bid_wh, tick)
    seller_gets = sold_q - ref.fee_of(sold_q, fee_bps)
    buyer_pays = bought_q + ref.fee_of(bought_q, fee_bps)
    price_text = units(c.idx * tick, dec, 4, sym) + "/kWh"

    # the chart shows the cleared price; the seller claims first (the WATT reaches the auction), then the buyer
    for sec in (s_sec, b_sec):
        expect(sec.get_by_test_id("auction-prices")).to_contain_text(f"last {price_text} (slot {slot})", timeout=10_000)
        expect(sec.get_by_test_id("auction-mine")).to_contain_text("cleared: claim it")
    s_sec.get_by_role("button", name="Claim settled auction orders").click()
    expect(s_sec.get_by_test_id("auction-claim-msg")).to_contain_text(
        f"Confirmed: order #{ask_id}: sold {kwh(sold_wh)} for {units(sold_q, dec, 4, sym)}, fee {units(sold_q - seller_gets, dec, 4, sym)}: "
        f"received {units(seller_gets, dec, 4, sym)}; refunded {units(0, dec, 4, sym)} and {kwh(ask_wh - sold_wh)}.", timeout=15_000)
    b_sec.get_by_role("button", name="Claim settled auction orders").click()
    expect(b_sec.get_by_test_id("auction-claim-msg")).to_contain_text(
        f"Confirmed: order #{bid_id}: bought {kwh(bought_wh)} for {units(bought_q, dec, 4, sym)}, fee {units(buyer_pays - bought_q, dec, 4, sym)}: "
        f"paid {units(buyer_pays, dec, 4, sym)}; refunded {units(escrow - buyer_pays, dec, 4, sym)} and {kwh(0)}.", timeout=15_000)
    assert auction.functions.proceeds_of(seller).call() == seller_gets
    assert auction.functions.proceeds_of(buyer).call() == escrow - buyer_pays  # the unused escrow
    assert auction.functions.watt_of(buyer).call() == bought_wh
    expect(s_sec.get_by_test_id("auction-proceeds")).to_have_text(units(seller_gets, dec, 4, sym), timeout=10_000)
    expect(b_sec.get_by_test_id("auction-watt")).to_have_text(kwh(bought_wh), timeout=10_000)
    expect(s_sec.get_by_test_id("auction-mine")).to_contain_text(f"claimed; sold {kwh(sold_wh)}")

    # both withdraw: the seller its proceeds, the buyer the WATT bought and the refund
    s_sec.get_by_role("button", name="Withdraw auction proceeds").click()
    expect(s_sec.get_by_test_id("auction-proceeds")).to_have_text(units(0, dec, 4, sym), timeout=15_000)
    b_sec.get_by_role("button", name="Withdraw bought WATT").click()
    expect(b_sec.get_by_test_id("auction-withdraw-msg")).to_have_text(f"Withdraw {kwh(bought_wh)} of WATT bought: confirmed", timeout=15_000)
    expect(b_sec.get_by_test_id("auction-watt")).to_have_text(kwh(0), timeout=15_000)
    b_sec.get_by_role("button", name="Withdraw auction proceeds").click()
    expect(b_sec.get_by_test_id("auction-proceeds")).to_have_text(units(0, dec, 4, sym), timeout=15_000)

    assert quote.functions.balanceOf(seller).call() == before[seller][0] + seller_gets
    assert watt.functions.balanceOf(seller).call() == before[seller][1] - sold_wh
    assert quote.functions.balanceOf(buyer).call() == before[buyer][0] - buyer_pays
    assert watt.functions.balanceOf(buyer).call() == before[buyer][1] + bought_wh


def test_auction__standing_bid_from_the_browser_then_cancelled(open_app, chain, members, contracts, fresh_slot):
    """A standing bid for two hours (four 30-minute slots) escrows every slot it may join; cancelled in
    its first slot, all of it comes back to the member's auction proceeds."""
    w3 = chain[0]
    send, slot, slot_s = fresh_slot
    auction, quote = contracts["EnergyAuction"], contracts["QuoteToken"]
    sym, dec = quote.functions.symbol().call(), quote.functions.decimals().call()
    buyer = members[BUYER]["account"]
    n = 2 * 3_600 // slot_s
    escrow = ref.bid_escrow(200, 200_000) * n
    wallet_before = quote.functions.balanceOf(buyer).call()

    page = open_app(buyer, path="#/market")
    connect(page)
    drawn_at(page)
    sec = page.get_by_test_id("auction")
    form = _place(page, "buy", "0.2", "0.2000")
    form.get_by_label("Kind of auction order").select_option("standing")
    form.get_by_label("Standing for (hours)").fill("2")
    expect(form.get_by_test_id("auction-preview")).to_contain_text(f"in slots {slot} to {slot + n - 1} ({n} slots")
    expect(form.get_by_test_id("auction-preview")).to_contain_text(f"Escrows {units(escrow, dec, 4, sym)} now")
    form.get_by_role("button", name="Place auction order").click()
    expect(form.get_by_role("status")).to_contain_text(
        f"per slot at 0.2000 {sym}/kWh joins slots {slot} to {slot + n - 1}.", timeout=15_000)
    assert quote.functions.balanceOf(buyer).call() == wallet_before - escrow
    (ev,) = auction.events.OrderPlaced.get_logs(from_block=w3.eth.block_number - 3, argument_filters={"owner": buyer})
    order_id = ev.args.order_id
    assert (ev.args.standing, ev.args.first_slot, ev.args.last_slot) == (True, slot, slot + n - 1)
    mine = sec.get_by_test_id("auction-mine")
    expect(mine).to_contain_text("standing")
    expect(mine).to_contain_text("0.200 kWh per slot")
    # the standing levels count in this slot's curves
    expect(sec.get_by_test_id("auction-curves")).to_contain_text(f"0.2000 {sym}/kWh")

    sec.get_by_role("button", name=f"Cancel auction order {order_id}").click()
    expect(sec.get_by_test_id("auction-claim-msg")).to_have_text(
        f"Confirmed: order #{order_id} cancelled; refunded {units(escrow, dec, 4, sym)} (to withdraw) and {kwh(0)} of WATT.", timeout=15_000)
    assert auction.functions.proceeds_of(buyer).call() == escrow
    expect(sec.get_by_test_id("auction-proceeds")).to_have_text(units(escrow, dec, 4, sym), timeout=10_000)
    expect(mine).to_contain_text("none: cancelled before its first slot")
    expect(mine).to_contain_text("cancelled")


def test_auction__the_market_page_with_orders_fits_a_phone(open_app, members, contracts, fresh_slot):
    send, slot, _ = fresh_slot
    auction, quote = contracts["EnergyAuction"], contracts["QuoteToken"]
    buyer = members[BUYER]["account"]
    send(quote.functions.approve(auction.address, 2**256 - 1), buyer)
    send(auction.functions.place_order(True, 210_000, 500), buyer)
    page = open_app(buyer, width=390, height=844, mobile=True, path="#/market")
    connect(page)
    drawn_at(page)
    section = page.get_by_test_id("auction")
    expect(section.get_by_test_id("auction-mine")).to_contain_text("waiting for its slot to end")
    expect(section.get_by_role("form", name="Place an auction order")).to_be_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the market page scrolls sideways by {overflow}px at 390px"
