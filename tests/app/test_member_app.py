"""The member app in a real Chromium against a seeded local chain, driven as a member would
(Playwright locators by role and label), every number checked against the chain."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from gridmint.market import bid_escrow
from tests.utils.browser import connect, drawn_at, record, transact

pytestmark = pytest.mark.integration
BERLIN = ZoneInfo("Europe/Berlin")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "app"
SELLER, BUYER, COMPANY = "Okafor household", "Lindqvist flat", "Hofmann Tools GmbH"


def kwh(wh: int) -> str:
    return f"{wh // 1000:,}.{wh % 1000:03d} kWh"


def units(value: int, decimals: int, shown: int, symbol: str) -> str:
    """The app's display: truncated (not rounded) to `shown` decimals, thousands grouped."""
    whole, frac = divmod(value, 10**decimals)
    return f"{whole:,}.{str(frac).zfill(decimals)[:shown]} {symbol}"


DAYS_SHOWN_MAX = 365  # storage left shows in days up to a year, then "more than a year" (units.ts daysLeft)


def days_left(text: str) -> float:
    if text.startswith("more than a year"):
        return float("inf")
    m = re.match(r"([\d,.]+) days", text)
    assert m, text
    return float(m.group(1).replace(",", ""))


def expect_days_left(text: str, days: float) -> None:
    """The app's storage-left text for `days` left: days to a tenth up to a year, then "more than a year"."""
    if days > DAYS_SHOWN_MAX:
        assert text == "more than a year", text
    else:
        assert days_left(text) == pytest.approx(days, abs=0.051), text


def leave_days_of_rent(w3, watt, member: str, days: float) -> None:
    """Withdraws the member's deposit down to about `days` of storage (the seed deposits for years)."""
    stored, rate = watt.functions.stored_of(member).call(), watt.functions.rent_rate().call()
    keep = rate * stored * int(days * 86_400) // (86_400 * 1_000)
    excess = watt.functions.rent_deposit(member).call() - keep
    if excess > 0:
        transact(w3, watt.functions.withdraw_rent(excess), member)


def market_row(page, heading: str):
    return page.get_by_role("table", name=heading)


def test_connect__injected_wallet_found_through_eip6963__home_shows_the_account(open_app, members):
    me = members[SELLER]["account"]
    page = open_app(me)
    t0 = time.time()
    button = page.get_by_role("banner").get_by_role("button", name="Connect Test Wallet")
    expect(button).to_be_visible()
    interactive_ms = page.evaluate("() => window.__gridmint?.ready")
    t_click = time.time()
    connect(page)
    drawn_at(page)
    drawn_ms = (time.time() - t_click) * 1000
    assert page.get_by_test_id("account").get_attribute("title") == me
    expect(page.get_by_role("heading", name="My energy")).to_be_visible()
    calls = page.evaluate("() => window.__walletCalls")
    assert "eth_requestAccounts" in calls and "eth_chainId" in calls
    record("first_page_interactive_ms", round(interactive_ms))
    record("connect_click_to_home_drawn_ms", round(drawn_ms))
    record("navigation_to_connect_button_s", round(time.time() - t0, 3))
    assert interactive_ms < 1_000, f"first page interactive after {interactive_ms:.0f} ms"
    assert drawn_ms < 1_000, f"home drawn {drawn_ms:.0f} ms after connecting"


def test_connect__wallet_on_another_chain__app_asks_it_to_add_and_switch(open_app, members, chain):
    page = open_app(members[BUYER]["account"], wallet_chain=1)  # the wallet is on Ethereum mainnet
    connect(page)
    drawn_at(page)
    calls = page.evaluate("() => window.__walletCalls")
    assert calls.index("wallet_switchEthereumChain") < calls.index("wallet_addEthereumChain")
    assert page.evaluate("() => window.ethereum === undefined")  # found through EIP-6963 alone
    expect(page.get_by_test_id("watt-held")).to_have_text(re.compile(r"^[\d,]+\.\d{3} kWh$"))

def test_home__numbers_equal_the_chains(open_app, members, contracts, chain, deployment):
    w3 = chain[0]
    me = members[SELLER]["account"]
    page = open_app(me)
    connect(page)
    block = drawn_at(page)
    watt, registry, ex = contracts["WattToken"], contracts["MeterRegistry"], contracts["EnergyExchange"]
    at = {"block_identifier": block}
    bal = watt.functions.balanceOf(me).call(**at)
    assert bal > 0, "the seeded PV home stores energy"
    expect(page.get_by_test_id("watt-held")).to_have_text(kwh(bal))
    expect(page.get_by_test_id("watt-escrowed")).to_have_text(kwh(watt.functions.escrowed_of(me).call(**at)))
    expect(page.get_by_test_id("tsl-deposit")).to_have_text(units(watt.functions.rent_deposit(me).call(**at), 18, 4, "TSL"))
    ts = w3.eth.get_block(block)["timestamp"]
    paid_until = watt.functions.storage_paid_until(me).call(**at)
    expect_days_left(page.get_by_test_id("storage-left").inner_text(), (paid_until - ts) / 86_400)
    # the wallet's own balances beside the app's: the quote token and the ETH that pays gas
    quote_sym = contracts["QuoteToken"].functions.symbol().call()
    expect(page.get_by_test_id("quote-wallet")).to_have_text(units(contracts["QuoteToken"].functions.balanceOf(me).call(**at), 6, 2, quote_sym))
    expect(page.get_by_test_id("eth-wallet")).to_have_text(units(w3.eth.get_balance(me, block), 18, 4, "ETH"))

    # today's energy: the member's accepted readings since local midnight of chain time
    day0 = int(datetime.fromtimestamp(ts, BERLIN).replace(hour=0, minute=0, second=0).timestamp())
    logs = registry.events.ReadingAccepted().get_logs(from_block=0, to_block=block, argument_filters={"owner": me})
    today = [e["args"] for e in logs if e["args"]["timestamp"] > day0]
    generated, imported = sum(a["generated_wh"] for a in today), sum(a["imported_wh"] for a in today)
    assert generated > 0
    energy = page.get_by_role("table", name="My energy, today and this month")
    expect(energy.get_by_role("row").filter(has_text="Generated").get_by_role("cell").nth(1)).to_have_text(kwh(generated))
    expect(energy.get_by_role("row").filter(has_text="Imported from the battery").get_by_role("cell").nth(1)).to_have_text(kwh(imported))
    # sold on the market today: Trade events where this member was the seller
    placed = {e["args"]["order_id"]: e["args"] for e in ex.events.OrderPlaced().get_logs(from_block=0, to_block=block)}
    sold = 0
    for e in ex.events.Trade().get_logs(from_block=0, to_block=block):
        a = e["args"]
        # a bid maker's seller is the taker: its order's OrderPlaced owner (Trade does not repeat it)
        seller = placed[a["taker_order_id"]]["owner"] if placed[a["maker_order_id"]]["is_buy"] else a["maker"]
        if seller == me and w3.eth.get_block(e["blockNumber"])["timestamp"] >= day0:
            sold += a["amount_wh"]
    expect(energy.get_by_role("row").filter(has_text="Sold on the market").get_by_role("cell").nth(1)).to_have_text(kwh(sold))


def test_trade__one_member_rests_an_ask_another_takes_it__both_pages_show_it(open_app, members, contracts, chain):
    watt, ex = contracts["WattToken"], contracts["EnergyExchange"]
    sym = contracts["QuoteToken"].functions.symbol().call()
    seller, buyer = members[SELLER]["account"], members[BUYER]["account"]
    s_page, b_page = open_app(seller, path="#/market"), open_app(buyer, path="#/market")
    connect(s_page)
    connect(b_page)
    drawn_at(s_page)
    drawn_at(b_page)
    seller_before, buyer_before = watt.functions.balanceOf(seller).call(), watt.functions.balanceOf(buyer).call()
    sold_rows = s_page.get_by_role("table", name="My trades").get_by_role("row").filter(has_text="sold (maker)")
    bought_rows = b_page.get_by_role("table", name="My trades").get_by_role("row").filter(has_text="bought (taker)")
    sold_before, bought_before = sold_rows.count(), bought_rows.count()
    proceeds_before = ex.functions.proceeds_of(seller).call()

    # the seller rests an ask of 0.5 kWh at 0.2000 EUR/kWh (above every seeded bid)
    form = s_page.get_by_role("form", name="Place an order")
    form.get_by_label("Side").select_option("sell")
    form.get_by_label("Order type").select_option("0")
    form.get_by_label("Amount (kWh)").fill("0.5")
    form.get_by_label(re.compile(r"^Price \(")).fill("0.2000")
    expect(form.get_by_test_id("order-preview")).to_contain_text("Rests in the book: 0.500 kWh")
    form.get_by_role("button", name="Place order").click()
    expect(form.get_by_role("status")).to_contain_text("confirmed", ignore_case=True, timeout=15_000)
    mine = [ex.functions.order(i).call() for i in ex.functions.open_orders(seller).call()]
    assert [(o[2], o[3]) for o in mine if not o[1]].count((200_000, 500)) == 1  # (price, Wh) of the new ask
    expect(s_page.get_by_role("table", name="My open orders")).to_contain_text(f"0.2000 {sym}/kWh")

    # the buyer sees it as the best ask and takes it (immediate-or-cancel)
    expect(b_page.get_by_test_id("best-ask")).to_have_text(f"0.2000 {sym}/kWh · 0.500 kWh", timeout=5_000)
    form = b_page.get_by_role("form", name="Place an order")
    form.get_by_label("Side").select_option("buy")
    form.get_by_label("Order type").select_option("1")
    form.get_by_label("Amount (kWh)").fill("0.5")
    form.get_by_label(re.compile(r"^Price \(")).fill("0.2000")
    # cost and fees before signing: 0.5 kWh x 0.20 = 0.1000, taker fee 20 bps = 0.0002
    # split: what the buyer pays (price + taker fee), what the seller receives (price - maker fee)
    expect(form.get_by_test_id("order-preview")).to_contain_text(
        f"Trades now: 0.500 kWh for 0.1000 {sym}. You pay 0.1002 {sym} (0.1000 {sym} + taker fee 0.0002 {sym}, 0.20 %); "
        f"the sellers receive 0.1000 {sym} less their maker fee (0.10 %).")
    form.get_by_role("button", name="Place order").click()
    # the confirmation is the fill, not the limit and a block number
    expect(form.get_by_role("status")).to_have_text(
        f"Confirmed: Bought 0.500 kWh at 0.2000 {sym}/kWh on average: 0.1002 {sym} paid (0.1000 {sym} + taker fee 0.0002 {sym}).",
        timeout=15_000)
    t_trade = time.time()

    # the seller's page shows the trade without a reload
    expect(sold_rows).to_have_count(sold_before + 1, timeout=5_000)
    latency = time.time() - t_trade
    record("seller_page_after_buyer_saw_confirmation_s", round(latency, 3))
    assert latency < 2.0, f"the seller's market page showed the trade {latency:.2f} s after it"
    expect(bought_rows).to_have_count(bought_before + 1)
    expect(s_page.get_by_test_id("best-ask")).not_to_contain_text(f"0.2000 {sym}/kWh")
    q, maker_fee = 100_000, 100_000 * 10 // 10_000
    assert ex.functions.proceeds_of(seller).call() == proceeds_before + q - maker_fee
    expect(s_page.get_by_test_id("proceeds")).to_have_text(units(proceeds_before + q - maker_fee, 6, 4, sym))

    # the seller withdraws the proceeds to the wallet
    quote = contracts["QuoteToken"]
    wallet_before = quote.functions.balanceOf(seller).call()
    s_page.get_by_role("button", name="Withdraw proceeds").click()
    expect(s_page.get_by_test_id("proceeds")).to_have_text(units(0, 6, 4, sym), timeout=10_000)
    assert quote.functions.balanceOf(seller).call() == wallet_before + proceeds_before + q - maker_fee

    # and the new balances on both members' home pages
    assert watt.functions.balanceOf(buyer).call() == buyer_before + 500
    assert watt.functions.balanceOf(seller).call() == seller_before - 500
    s_page.get_by_role("link", name="Home").click()
    b_page.get_by_role("link", name="Home").click()
    expect(s_page.get_by_test_id("watt-held")).to_have_text(kwh(seller_before - 500))
    expect(b_page.get_by_test_id("watt-held")).to_have_text(kwh(buyer_before + 500))
    expect(b_page.get_by_role("table", name="My energy, today and this month").get_by_role("row")
           .filter(has_text="Bought on the market").get_by_role("cell").nth(1)).not_to_have_text("0.000 kWh")

    # the update latency proper: a trade sent outside the browser, until the open page is redrawn from it
    w3 = chain[0]
    s_page.get_by_role("link", name="Market").click()
    drawn_at(s_page)
    best_price, best_wh = ex.functions.best_ask().call()
    t_sent = time.time()
    tx = ex.functions.place_order(True, best_price, 100, 0, 1).transact({"from": buyer, "gas": 2_000_000})
    mined = w3.eth.wait_for_transaction_receipt(tx)["blockNumber"]
    drawn_at(s_page, mined, timeout_s=5)
    latency = time.time() - t_sent
    record("market_update_after_trade_s", round(latency, 3))
    assert latency < 2.0, f"the market page was redrawn {latency:.2f} s after a trade"
    if best_wh > 100:
        expect(s_page.get_by_test_id("best-ask")).to_contain_text(kwh(best_wh - 100))


def test_rent__deposit_with_a_permit__days_left_move(open_app, members, contracts, chain):
    watt, tsl = contracts["WattToken"], contracts["StorageRentToken"]
    me = members[SELLER]["account"]
    leave_days_of_rent(chain[0], watt, me, 30)  # the seed's deposit lasts more than a year
    stored, rate = watt.functions.stored_of(me).call(), watt.functions.rent_rate().call()
    # a deposit worth about 20 more days, in whole hundredths of a TSL
    amount_cents = max(1, rate * stored * 20 // 1_000 // 10**16)
    amount = f"{amount_cents / 100:.2f}"
    page = open_app(me, path="#/rent")
    connect(page)
    drawn_at(page)
    before = days_left(page.get_by_test_id("rent-days-left").inner_text())
    deposit_before, wallet_before = watt.functions.rent_deposit(me).call(), tsl.functions.balanceOf(me).call()
    form = page.get_by_role("form", name="Deposit rent")
    assert before < DAYS_SHOWN_MAX
    form.get_by_label("Deposit (TSL)").fill(amount)
    expect(form.get_by_test_id("deposit-after")).to_contain_text("Storage left after:")
    predicted = days_left(form.get_by_test_id("deposit-after").inner_text().split("after: ")[1])
    assert before < predicted < DAYS_SHOWN_MAX
    form.get_by_role("button", name="Deposit").click()
    expect(form.get_by_role("status")).to_contain_text("confirmed", ignore_case=True, timeout=15_000)
    assert tsl.functions.balanceOf(me).call() == wallet_before - amount_cents * 10**16
    assert watt.functions.rent_deposit(me).call() > deposit_before + amount_cents * 10**16 * 9 // 10
    calls = page.evaluate("() => window.__walletCalls")
    assert "eth_signTypedData_v4" in calls, "the TSL approval is an EIP-2612 permit signature"
    expect(page.get_by_test_id("rent-days-left")).not_to_have_text(re.compile(rf"^{before:,.1f} days"))
    after = days_left(page.get_by_test_id("rent-days-left").inner_text())
    assert after == pytest.approx(predicted, abs=0.15) and after > before + 1
    # more than a year of deposit reads "more than a year", before and after alike
    form.get_by_label("Deposit (TSL)").fill(f"{rate * stored * 400 // 1_000 / 10**18:.2f}")
    expect(form.get_by_test_id("deposit-after")).to_have_text("Storage left after: more than a year")


def test_certificates__claim_for_a_beneficiary__proof_page_checks_it(open_app, members, contracts, browser, app_url):
    cert = contracts["EnvironmentalCertificate"]
    me = members[COMPANY]["account"]
    page = open_app(me, path="#/certificates")
    connect(page)
    drawn_at(page)
    card = page.get_by_role("article").filter(has=page.get_by_role("heading", name=re.compile(r"Certificate #\d+"))).first
    cert_id = int(re.search(r"#(\d+)", card.get_by_role("heading").first.inner_text()).group(1))
    held = cert.functions.balanceOf(me, cert_id).call()
    assert held > 100
    expect(card.get_by_test_id(f"cert-{cert_id}-balance")).to_have_text(kwh(held))
    # the generation period with its dates: one date within a day, both when it spans days
    day, hm = r"\d{1,2} \w{3} \d{4}", r"\d{2}:\d{2}"
    expect(card.get_by_test_id("cert-period")).to_have_text(re.compile(rf"^{day}, {hm}(–{hm}| → {day}, {hm})$"))
    card.get_by_text("Transfer or claim").click()
    claim = card.get_by_role("form", name=f"Claim certificate #{cert_id}")
    beneficiary = members["Riverside school"]["account"]
    claim.get_by_label("Beneficiary (address)").fill(beneficiary)
    claim.get_by_label("Purpose").fill("school canteen, June")
    claim.get_by_label("Amount (kWh)").fill("0.1")
    claimed_before = cert.functions.claimed_balance_of(beneficiary, cert_id).call()
    claim.get_by_role("button", name="Claim").click()
    proof_link = claim.get_by_role("link", name="Open the claim proof")
    expect(proof_link).to_be_visible(timeout=15_000)
    assert cert.functions.claimed_balance_of(beneficiary, cert_id).call() == claimed_before + 100
    assert cert.functions.balanceOf(me, cert_id).call() == held - 100
    proof_link.click()
    proof = page.get_by_test_id("claim-proof")
    expect(proof.get_by_test_id("proof-purpose")).to_have_text("school canteen, June")
    expect(proof.get_by_test_id("proof-amount")).to_have_text("0.100 kWh")
    expect_full_value(proof.get_by_test_id("proof-beneficiary"), beneficiary)
    tx_hash = page.url.rsplit("/", 1)[1]

    # anyone (no wallet at all) opens the proof by certificate id or by transaction, on a phone
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2,
                              timezone_id="Europe/Berlin", locale="en-GB")
    try:
        stranger = ctx.new_page()
        stranger.goto(f"{app_url}#/proof/id/{cert_id}")
        expect(stranger.get_by_test_id("proof-purpose").filter(has_text="school canteen, June")).to_have_count(1)
        claims_of_cert = stranger.get_by_test_id("claim-proof").count()
        assert_readable_on_a_phone(stranger, max_height_px=1_200 + 800 * claims_of_cert)
        record("proof_page_by_id_phone_height_px", {"claims": claims_of_cert,
                                                     "px": stranger.evaluate("() => document.documentElement.scrollHeight")})
        stranger.goto(f"{app_url}#/proof/tx/{tx_hash}")
        expect(stranger.get_by_test_id("claim-proof")).to_have_count(1)
        expect_full_value(stranger.get_by_test_id("proof-beneficiary"), beneficiary)
        assert_readable_on_a_phone(stranger, max_height_px=2_500)
        # the proof needs no wallet: no "install a wallet" nag, no connect prompt
        expect(stranger.get_by_text(re.compile("Install MetaMask|No browser wallet", re.I))).to_have_count(0)
        expect(stranger.get_by_role("button", name=re.compile("^Connect"))).to_have_count(0)
        record("proof_page_phone_height_px", stranger.evaluate("() => document.documentElement.scrollHeight"))
    finally:
        ctx.close()


def expect_full_value(cell, value: str) -> None:
    """An address or hash shown short (0x1234…abcd), the whole value in its title and copy button."""
    code = cell.locator("code[data-value]")
    expect(code).to_have_text(f"{value[:6]}…{value[-4:]}")
    expect(code).to_have_attribute("title", value)
    expect(cell.get_by_role("button", name=re.compile(r"^Copy the full"))).to_have_attribute("title", f"Copy {value}")


# Every value of the proof is readable on a phone: no value box narrower than its longest word (a
# value one character wide breaks every word), nothing clipped or scrolling inside it, the page not
# wider than the screen and not thousands of pixels tall.
READABLE_JS = r"""
() => {
  const bad = [];
  const probe = document.createElement("span");
  probe.style.cssText = "position:absolute;visibility:hidden;white-space:nowrap";
  document.body.append(probe);
  const cells = document.querySelectorAll("#page dl.facts dd, #page [data-testid=claim-proof] h2");
  for (const el of cells) {
    const cs = getComputedStyle(el);
    probe.style.font = cs.font;
    probe.style.letterSpacing = cs.letterSpacing;
    const words = (el.innerText || "").split(/\s+/).filter(Boolean);
    let widest = 0, word = "";
    for (const w of words) { probe.textContent = w; if (probe.offsetWidth > widest) { widest = probe.offsetWidth; word = w; } }
    const inner = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    if (widest > inner + 1) bad.push(`${el.dataset.testid || el.tagName}: "${word}" needs ${widest}px, has ${inner}px`);
    if (el.scrollWidth > el.clientWidth + 1) bad.push(`${el.dataset.testid || el.tagName}: clipped (${el.scrollWidth} > ${el.clientWidth})`);
    if (el.clientWidth < 120) bad.push(`${el.dataset.testid || el.tagName}: only ${el.clientWidth}px wide`);
  }
  probe.remove();
  return { bad, cells: cells.length, width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight };
}
"""


def assert_readable_on_a_phone(page, max_height_px: int) -> None:
    page.get_by_test_id("claim-proof").first.wait_for()
    got = page.evaluate(READABLE_JS)
    assert got["cells"] >= 8, got
    assert not got["bad"], got["bad"]
    assert got["width"] <= 390, f"the proof page is {got['width']} px wide on a 390 px phone"
    assert got["height"] < max_height_px, f"the proof page is {got['height']} px tall (bound {max_height_px})"


def test_refused_inputs__price_outside_the_band_and_a_reverting_transfer__nothing_sent(open_app, members, chain, contracts):
    w3 = chain[0]
    sym = contracts["QuoteToken"].functions.symbol().call()
    ex = contracts["EnergyExchange"]
    floor, ceiling = ex.functions.floor_price().call(), ex.functions.ceiling_price().call()
    page = open_app(members[BUYER]["account"], path="#/market")
    connect(page)
    drawn_at(page)
    block = w3.eth.block_number
    form = page.get_by_role("form", name="Place an order")
    form.get_by_label("Side").select_option("buy")
    form.get_by_label("Amount (kWh)").fill("1")
    above = f"{(ceiling + 10_000) / 1e6:.4f}"  # one cent above the utility's price
    form.get_by_label(re.compile(r"^Price \(")).fill(above)
    form.get_by_role("button", name="Place order").click()
    expect(form.get_by_role("status")).to_contain_text(
        f"Not sent: Price outside the band: it must be between {units(floor, 6, 4, sym)}/kWh (feed-in tariff) and "
        f"{units(ceiling, 6, 4, sym)}/kWh (utility price).")

    # a transfer the chain would refuse (to the zero address) is simulated, refused in words, not sent
    page.get_by_role("link", name="Certificates").click()
    drawn_at(page)
    company = open_app(members[COMPANY]["account"], path="#/certificates")
    connect(company)
    drawn_at(company)
    card = company.get_by_role("article").first
    card.get_by_text("Transfer or claim").click()
    transfer = card.get_by_role("form", name=re.compile(r"Transfer certificate #\d+"))
    transfer.get_by_label("Send to (address)").fill("0x" + "0" * 40)
    transfer.get_by_label("Amount (kWh)").fill("0.1")
    transfer.get_by_role("button", name="Transfer").click()
    expect(transfer.get_by_role("status")).to_contain_text("refused, nothing sent: erc1155: transfer to the zero address")

    assert w3.eth.block_number == block
    for p in (page, company):
        assert "eth_sendTransaction" not in p.evaluate("() => window.__walletCalls")


def certificate_of(contracts, generator: str) -> int:
    """The id of the certificate the seed issued to `generator` (one per generator)."""
    issued = contracts["EnvironmentalCertificate"].events.CertificateIssued().get_logs(
        from_block=0, argument_filters={"generator": generator})
    assert issued, "the seed issues a certificate to every generator"
    return issued[0]["args"]["id"]


def class_counts(cx, cls) -> str:
    """The class picker's "N asks, M bids" of a certificate class, from the book: its orders (OrderPlaced) still open."""
    asks = bids = 0
    for e in cx.events.OrderPlaced().get_logs(from_block=0):
        a = e["args"]
        if (a["method"], a["vintage"]) == tuple(cls) and cx.functions.order(a["order_id"]).call()[-1]:  # OrderView.open
            bids, asks = bids + a["is_buy"], asks + (not a["is_buy"])
    return f"{asks} ask{'' if asks == 1 else 's'}, {bids} bid{'' if bids == 1 else 's'}"


def test_certificate_market__a_member_sells__another_buys_and_claims__proof_page_shows_it(open_app, members, contracts, chain):
    w3 = chain[0]
    cert, cx, quote = contracts["EnvironmentalCertificate"], contracts["CertificateExchange"], contracts["QuoteToken"]
    sym = quote.functions.symbol().call()
    seller, buyer, school = members[SELLER]["account"], members[BUYER]["account"], members["Riverside school"]["account"]
    cert_id = certificate_of(contracts, seller)
    # a seller who has not approved the market yet (the seed's asks approved it): the app asks for it
    transact(w3, cert.functions.setApprovalForAll(cx.address, False), seller)
    held = cert.functions.balanceOf(seller, cert_id).call()
    assert held >= 1_500
    assert quote.functions.allowance(buyer, cx.address).call() == 0  # the buyer approves by permit
    s_page, b_page = open_app(seller, path="#/certificates"), open_app(buyer, path="#/certificates")
    t_connect = time.time()
    connect(s_page)
    drawn_at(s_page)
    record("connect_click_to_certificates_page_drawn_ms", round((time.time() - t_connect) * 1000))
    connect(b_page)
    drawn_at(b_page)
    s_market = s_page.get_by_role("region", name="Certificate market")
    b_market = b_page.get_by_role("region", name="Certificate market")
    expect(s_market.get_by_test_id("cx-best-ask")).to_contain_text(f"{sym}/kWh")  # the seed's asks

    # step 1, explained: ERC-1155 has no permit, so the market is approved as operator in its own transaction
    approval = s_market.get_by_test_id("cx-approval")
    expect(approval).to_contain_text("ERC-1155 tokens, which have no permit signature")
    approval.get_by_role("button", name="Allow the market to hold my certificates").click()
    expect(approval).to_contain_text("The market may hold your certificate units", timeout=15_000)
    assert cert.functions.isApprovedForAll(seller, cx.address).call()

    # the seller offers 1.5 kWh at 0.00300 EUR/kWh (below the seed's asks, above its bid): it rests
    sell = s_market.get_by_role("form", name="Sell certificate units")
    sell.get_by_label("Certificate").select_option(str(cert_id))
    sell.get_by_label("Amount (kWh)").fill("1.5")
    sell.get_by_label("Price (per kWh)").fill("0.00300")
    expect(sell.get_by_test_id("cx-sell-preview")).to_contain_text(
        f"Rests in the book: 1.500 kWh of certificate #{cert_id} at 0.00300 {sym}/kWh")
    sell.get_by_role("button", name="Sell", exact=True).click()
    expect(sell.get_by_role("status").last).to_contain_text("confirmed", ignore_case=True, timeout=15_000)
    t_sold = time.time()
    assert cert.functions.balanceOf(seller, cert_id).call() == held - 1_500
    expect(s_market.get_by_role("table", name="My open certificate orders")).to_contain_text(f"0.00300 {sym}/kWh")
    cls = cx.functions.class_of(cert_id).call()
    class_option = s_market.get_by_label("Class (generation method, vintage month)").locator(f'option[value="{cls[0]}:{cls[1]}"]')
    expect(class_option).to_have_text(re.compile(f" — {class_counts(cx, cls)}$"))

    # the buyer's open page shows it as the best ask without a reload
    expect(b_market.get_by_test_id("cx-best-ask")).to_have_text(f"0.00300 {sym}/kWh · 1.500 kWh", timeout=5_000)
    record("certificate_market_update_after_ask_s", round(time.time() - t_sold, 3))

    # buy and claim for the school in one transaction: cost and fees before signing
    claim = b_market.get_by_role("form", name="Buy and claim for a beneficiary")
    claim.get_by_label("Amount (kWh)").fill("1.5")
    claim.get_by_label("Highest price (per kWh)").fill("0.00300")
    claim.get_by_label("Beneficiary (address)").fill(school)
    claim.get_by_label("Purpose").fill("Lindqvist flat, June electricity")
    q, taker_fee, maker_fee = 1_500 * 3_000 // 1_000, 4_500 * 20 // 10_000, 4_500 * 10 // 10_000
    expect(claim.get_by_test_id("cx-claim-preview")).to_contain_text(
        f"Buys and claims: 1.500 kWh for {units(q, 6, 6, sym)}. You pay {units(q + taker_fee, 6, 6, sym)} "
        f"({units(q, 6, 6, sym)} + taker fee {units(taker_fee, 6, 6, sym)}, 0.20 %); the sellers receive {units(q, 6, 6, sym)} "
        "less their maker fee (0.10 %).")
    claimed_before = cert.functions.claimed_balance_of(school, cert_id).call()
    quote_before, proceeds_before = quote.functions.balanceOf(buyer).call(), cx.functions.proceeds_of(seller).call()
    t_click = time.time()
    claim.get_by_role("button", name="Buy and claim").click()
    proof_link = claim.get_by_role("link", name="Open the claim proof")
    expect(proof_link).to_be_visible(timeout=20_000)
    record("buy_and_claim_click_to_proof_link_s", round(time.time() - t_click, 3))
    # the confirmation says what happened: the fill at its average price, what it cost, the claim
    expect(claim.get_by_role("status")).to_contain_text(
        f"Confirmed: Bought 1.500 kWh at 0.00300 {sym}/kWh on average: {units(q + taker_fee, 6, 6, sym)} paid")
    expect(claim.get_by_role("status")).to_contain_text(f"Claimed 1.500 kWh (certificate #{cert_id})")
    assert cert.functions.claimed_balance_of(school, cert_id).call() == claimed_before + 1_500
    assert quote.functions.balanceOf(buyer).call() == quote_before - q - taker_fee
    assert cx.functions.proceeds_of(seller).call() == proceeds_before + q - maker_fee
    calls = b_page.evaluate("() => window.__walletCalls")
    assert "eth_signTypedData_v4" in calls and calls.count("eth_sendTransaction") == 2  # permit, then buy_and_claim

    # the claim proof names the beneficiary, the purpose and the member who bought
    t_proof = time.time()
    proof_link.click()
    proof = b_page.get_by_test_id("claim-proof")
    expect(proof.get_by_test_id("proof-purpose")).to_have_text("Lindqvist flat, June electricity")
    record("claim_proof_drawn_after_click_s", round(time.time() - t_proof, 3))
    expect(proof.get_by_test_id("proof-amount")).to_have_text("1.500 kWh")
    expect_full_value(proof.get_by_test_id("proof-beneficiary"), school)
    expect(proof.get_by_test_id("proof-claimer")).to_contain_text("buy-and-claim sent by")
    expect_full_value(proof.get_by_test_id("proof-claimer"), buyer)

    # the seller's page: the ask is gone, the trade is listed, the proceeds withdrawn to the wallet
    expect(s_market.get_by_role("table", name="My open certificate orders")).not_to_contain_text(f"0.00300 {sym}/kWh")
    # the ask filled in full is no longer counted open (its Trade's maker_left 0 says so: no OrderClosed)
    expect(class_option).to_have_text(re.compile(f" — {class_counts(cx, cls)}$"))
    trades = s_market.get_by_role("table", name=re.compile(r"^Recent trades:"))
    expect(trades.get_by_role("row").filter(has_text=f"0.00300 {sym}/kWh")).to_contain_text("1.500 kWh")
    expect(trades.get_by_role("row").filter(has_text=f"0.00300 {sym}/kWh").get_by_role("cell").last).to_have_text("sold")
    proceeds = proceeds_before + q - maker_fee
    expect(s_market.get_by_test_id("cx-proceeds")).to_have_text(units(proceeds, 6, 6, sym))
    wallet_before = quote.functions.balanceOf(seller).call()
    s_market.get_by_role("button", name="Withdraw proceeds").click()
    expect(s_market.get_by_test_id("cx-proceeds")).to_have_text(units(0, 6, 6, sym), timeout=10_000)
    assert quote.functions.balanceOf(seller).call() == wallet_before + proceeds


def test_certificate_market__sale_into_a_resting_bid__delivered_to_the_bidder_at_once(open_app, members, contracts):
    cert, cx = contracts["EnvironmentalCertificate"], contracts["CertificateExchange"]
    seller, company = members[SELLER]["account"], members[COMPANY]["account"]
    cert_id = certificate_of(contracts, seller)
    bid_price, _ = cx.functions.best_bid(*cx.functions.class_of(cert_id).call()).call()
    assert bid_price > 0, "the seed leaves the company's bid in the book"
    page = open_app(seller, path="#/certificates")
    connect(page)
    drawn_at(page)
    # from the certificate's card: its class is chosen and it is picked in the sell form
    card = page.get_by_role("article").filter(has=page.get_by_role("heading", name=f"Certificate #{cert_id}"))
    card.get_by_role("button", name="Sell on the market").click()
    sell = page.get_by_role("region", name="Certificate market").get_by_role("form", name="Sell certificate units")
    expect(sell.get_by_label("Certificate")).to_have_value(str(cert_id))
    expect(sell.get_by_label("Amount (kWh)")).to_be_focused()
    sell.get_by_label("Order type").select_option("1")
    sell.get_by_label("Amount (kWh)").fill("1")
    sell.get_by_label("Price (per kWh)").fill(f"{bid_price / 1e6:.5f}")
    preview = sell.get_by_test_id("cx-sell-preview")
    expect(preview).to_contain_text("Trades now: 1.000 kWh for")
    expect(preview).to_contain_text(re.compile(r"The buyers pay .* plus their maker fee \(0\.10 %\); you receive .* − taker fee .*, 0\.20 %\)"))
    held = cert.functions.balanceOf(company, cert_id).call()
    sell.get_by_role("button", name="Sell", exact=True).click()
    expect(sell.get_by_role("status").last).to_contain_text("confirmed", ignore_case=True, timeout=15_000)
    # delivered to the bidder in the seller's transaction (issue 25: a bid never holds units that could
    # expire before a withdrawal); nothing waits in units_of, so the company has nothing to withdraw
    assert cert.functions.balanceOf(company, cert_id).call() == held + 1_000
    assert cx.functions.units_of(company, cert_id).call() == 0
    c_page = open_app(company, path="#/certificates")
    connect(c_page)
    drawn_at(c_page)
    expect(c_page.get_by_role("button", name=f"Withdraw units of certificate {cert_id}")).to_have_count(0)


def test_certificate_market__bid_outside_the_band__one_line_reason_nothing_sent(open_app, members, contracts, chain):
    w3 = chain[0]
    cx = contracts["CertificateExchange"]
    sym = contracts["QuoteToken"].functions.symbol().call()
    floor, ceiling = cx.functions.floor_price().call(), cx.functions.ceiling_price().call()
    page = open_app(members[BUYER]["account"], path="#/certificates")
    connect(page)
    drawn_at(page)
    block = w3.eth.block_number
    buy = page.get_by_role("region", name="Certificate market").get_by_role("form", name="Buy certificate units")
    buy.get_by_label("Amount (kWh)").fill("2")
    buy.get_by_label("Price (per kWh)").fill(f"{(ceiling + 10_000) / 1e6:.5f}")  # one cent above the ceiling
    buy.get_by_role("button", name="Buy", exact=True).click()
    status = buy.get_by_role("status").last
    expect(status).to_have_text(
        f"Not sent: Price outside the band: it must be between {units(floor, 6, 5, sym)}/kWh and {units(ceiling, 6, 5, sym)}/kWh.")
    assert "\n" not in status.inner_text()
    assert w3.eth.block_number == block
    calls = page.evaluate("() => window.__walletCalls")
    assert "eth_sendTransaction" not in calls and "eth_signTypedData_v4" not in calls


PAGES = [("home", "My energy"), ("market", "Market"), ("rent", "Storage rent"), ("certificates", "Certificates"),
         ("meters", "My meters"), ("changes", "Parameter changes")]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_every_page__phone_and_desktop__fits_and_is_screenshotted(open_app, members, viewport, contracts):
    phone = viewport == "phone"
    width, height = (390, 844) if phone else (1280, 800)
    page = open_app(members[COMPANY]["account"], width=width, height=height, mobile=phone)
    connect(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, heading in PAGES:
        page.get_by_role("navigation", name="Pages").get_by_role("link", name=name.capitalize()).click()
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        drawn_at(page)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
        page.screenshot(path=str(SHOTS / f"{viewport}-{name}.png"), full_page=not phone)
        if name == "certificates":  # the market part of the page, scrolled to
            page.evaluate("() => document.getElementById('cert-market').scrollIntoView({ block: 'start' })")
            page.screenshot(path=str(SHOTS / f"{viewport}-certificate-market.png"))
    # the claim proof as anyone sees it
    claimed = contracts["EnvironmentalCertificate"].events.Claimed().get_logs(from_block=0)
    assert claimed, "the seed claims part of a certificate"
    page.goto(page.url.split("#")[0] + f"#/proof/tx/{claimed[0]['transactionHash'].to_0x_hex()}")
    expect(page.get_by_test_id("claim-proof")).to_be_visible()
    if phone:
        assert_readable_on_a_phone(page, max_height_px=2_500)
    page.screenshot(path=str(SHOTS / f"{viewport}-proof.png"), full_page=True)


def test_meters__accept_a_new_meter__rejections_shown_with_their_reason(open_app, members, contracts, chain):
    from eth_hash.auto import keccak

    from oracle.eip712 import Domain, MeterSigner, Reading

    w3 = chain[0]
    registry = contracts["MeterRegistry"]
    if not any(i.get("name") == "accept_meter" for i in registry.abi):
        pytest.skip("this MeterRegistry has no accept_meter")
    me, operator = members[BUYER]["account"], w3.eth.accounts[0]
    meter = MeterSigner(keccak(b"app-test: balcony PV"))
    now = w3.eth.get_block("latest")["timestamp"]
    transact(w3, registry.functions.register_meter(meter.address, me, 1, 800, "Balcony PV", (now, 0, 0, 0, 0)), operator)
    page = open_app(me, path="#/meters")
    connect(page)
    drawn_at(page)
    card = page.get_by_role("article").filter(has_text=meter.address)
    expect(card.get_by_test_id("meter-state")).to_contain_text("waiting for you to accept it")
    card.get_by_role("button", name="Accept this meter").click()
    expect(card.get_by_test_id("meter-state")).to_have_text("active", timeout=10_000)
    assert registry.functions.meters(meter.address).call()[3] is True  # accepted

    # a reading stamped an hour ahead of chain time is refused on chain; the page says why
    reading = Reading(meter.address, now + 3_600, 10, 0, 0, 0)
    sig = meter.sign(reading, Domain(w3.eth.chain_id, registry.address))
    transact(w3, registry.functions.submit_readings([reading.as_call_arg()], [sig]), w3.eth.accounts[1], gas=1_000_000)
    rejected = page.get_by_role("table", name="Readings the chain refused").get_by_role("row").filter(has_text="from the future")
    expect(rejected).to_have_count(1, timeout=5_000)


def test_changes__an_announced_fee_change_shows_when_it_applies(open_app, members, contracts, chain):
    w3 = chain[0]
    ex = contracts["EnergyExchange"]
    if not any(i.get("name") == "announce_fees" for i in ex.abi):
        pytest.skip("this exchange announces no fee changes yet")
    transact(w3, ex.functions.announce_fees(15, 25), w3.eth.accounts[0])
    cx = contracts["CertificateExchange"]
    cx_floor, cx_ceiling = cx.functions.floor_price().call(), cx.functions.ceiling_price().call()
    transact(w3, cx.functions.announce_price_band(cx_floor, cx_ceiling - 1_000), w3.eth.accounts[0])
    page = open_app(members[SELLER]["account"], path="#/changes")
    expect(page.get_by_role("heading", name="Parameter changes", level=1)).to_be_visible()
    row = page.get_by_role("table", name="Announced changes").get_by_role("row").filter(has_text="energy market fees")
    expect(row).to_contain_text("maker fee 0.15 % (15 bps); taker fee 0.25 % (25 bps)")
    expect(row).to_contain_text("(in 7.0 days)")
    # in words throughout: no contract or event names, no "bps 15 bps"
    band = page.get_by_role("table", name="Announced changes").get_by_role("row").filter(has_text="certificate market price band")
    expect(band).to_contain_text(f"lowest price {cx_floor / 1e6:.5f}")
    text = page.get_by_role("main").inner_text()
    assert not re.search(r"\b(EnergyExchange|CertificateExchange|WattToken|MeterRegistry)\.|Update[A-Z]|bps \d+ bps", text), text


def test_cancel__a_resting_ask_is_cancelled_from_my_open_orders__escrow_returns(open_app, members, contracts):
    watt, ex = contracts["WattToken"], contracts["EnergyExchange"]
    me = members[SELLER]["account"]
    page = open_app(me, path="#/market")
    connect(page)
    drawn_at(page)
    free_before = watt.functions.balanceOf(me).call()
    open_before = set(ex.functions.open_orders(me).call())
    form = page.get_by_role("form", name="Place an order")
    form.get_by_label("Side").select_option("sell")
    form.get_by_label("Order type").select_option("2")
    form.get_by_label("Amount (kWh)").fill("0.3")
    form.get_by_label(re.compile(r"^Price \(")).fill("0.3400")
    form.get_by_role("button", name="Place order").click()
    expect(form.get_by_role("status")).to_contain_text("confirmed", ignore_case=True, timeout=15_000)
    assert watt.functions.balanceOf(me).call() == free_before - 300
    # the new order's id: ids are not ordered by age (a closed order's storage words are reused)
    (order_id,) = set(ex.functions.open_orders(me).call()) - open_before
    page.get_by_role("button", name=f"Cancel order {order_id}").click()
    expect(page.get_by_role("button", name=f"Cancel order {order_id}")).to_have_count(0, timeout=10_000)
    assert order_id not in ex.functions.open_orders(me).call()
    assert watt.functions.balanceOf(me).call() == free_before


def test_buy__a_newcomer_approves_by_permit_signature__then_takes_the_best_ask(open_app, contracts, chain):
    w3 = chain[0]
    quote, watt, ex = contracts["QuoteToken"], contracts["WattToken"], contracts["EnergyExchange"]
    sym = quote.functions.symbol().call()
    newcomer = w3.eth.accounts[-1]  # not a seeded member: no allowance, no WATT
    transact(w3, quote.functions.mint(newcomer, 10 * 10**6), w3.eth.accounts[0])
    assert quote.functions.allowance(newcomer, ex.address).call() == 0
    ask_price, ask_wh = ex.functions.best_ask().call()
    assert ask_wh >= 300, "the seed leaves asks in the book"
    page = open_app(newcomer, path="#/market")
    connect(page)
    drawn_at(page)
    form = page.get_by_role("form", name="Place an order")
    form.get_by_label("Side").select_option("buy")
    form.get_by_label("Order type").select_option("1")
    form.get_by_label("Amount (kWh)").fill("0.3")
    form.get_by_label(re.compile(r"^Price \(")).fill(f"{ask_price / 1e6:.4f}")
    cost = 300 * ask_price // 1000
    fee = cost * ex.functions.taker_fee_bps().call() // 10_000
    expect(form.get_by_test_id("order-preview")).to_contain_text(f"At most {units(cost + fee, 6, 4, sym)} leaves your wallet.")
    form.get_by_role("button", name="Place order").click()
    expect(form.get_by_role("status")).to_contain_text("confirmed", ignore_case=True, timeout=15_000)
    assert watt.functions.balanceOf(newcomer).call() == 300
    assert quote.functions.balanceOf(newcomer).call() == 10 * 10**6 - cost - fee
    calls = page.evaluate("() => window.__walletCalls")
    assert "eth_signTypedData_v4" in calls and calls.count("eth_sendTransaction") == 2  # permit, then the order


def test_deposit__quote_into_the_balance_here__a_bid_then_pays_from_it_not_the_wallet(open_app, members, contracts, chain):
    w3 = chain[0]
    quote, ex = contracts["QuoteToken"], contracts["EnergyExchange"]
    sym = quote.functions.symbol().call()
    me = members[BUYER]["account"]
    # no allowance left: the deposit must ask for exactly what it moves
    transact(w3, quote.functions.approve(ex.address, 0), me)
    page = open_app(me, path="#/market")
    connect(page)
    drawn_at(page, w3.eth.block_number)
    wallet0, bal0 = quote.functions.balanceOf(me).call(), ex.functions.proceeds_of(me).call()
    shown = page.get_by_text(re.compile(r"^Withdrawable: .* in your wallet$"))
    expect(shown).to_have_text(f"Withdrawable: {units(bal0, 6, 4, sym)} · wallet: {units(wallet0, 6, 4, sym)} in your wallet")
    form = page.get_by_role("form", name="Deposit to your balance here")
    expect(form).to_contain_text("Your bids pay from it first")
    status = form.get_by_role("status")
    amount_in = form.get_by_label(f"Deposit ({sym})")

    # bad input: refused in one line, nothing signed or sent
    block = w3.eth.block_number
    too_much = wallet0 + 10**6
    for text, refusal in (
        ("0", f"Not sent: Deposit ({sym}): must be more than zero."),
        ("ten", f'Not sent: Deposit ({sym}): "ten" is not a number.'),
        (f"{too_much // 10**6}.{too_much % 10**6:06d}",
         f"Not sent: You hold {units(wallet0, 6, 4, sym)} in your wallet; the deposit is {units(too_much, 6, 4, sym)}."),
    ):
        amount_in.fill(text)
        form.get_by_role("button", name="Deposit").click()
        expect(status).to_have_text(refusal)
    assert w3.eth.block_number == block
    calls = page.evaluate("() => window.__walletCalls")
    assert "eth_sendTransaction" not in calls and "eth_signTypedData_v4" not in calls
    assert (quote.functions.balanceOf(me).call(), ex.functions.proceeds_of(me).call()) == (wallet0, bal0)

    # a deposit of 2.5: a permit for exactly that, then deposit_quote; the page shows the new balance
    deposit = 2_500_000
    amount_in.fill("2.5")
    expect(form.get_by_test_id("quote-deposit-after")).to_have_text(
        f"Balance here after: {units(bal0 + deposit, 6, 4, sym)} · wallet after: {units(wallet0 - deposit, 6, 4, sym)}")
    t0 = time.time()
    form.get_by_role("button", name="Deposit").click()
    expect(status).to_have_text(f"Deposit {units(deposit, 6, 4, sym)} into your balance here: confirmed", timeout=15_000)
    expect(page.get_by_test_id("proceeds")).to_have_text(units(bal0 + deposit, 6, 4, sym), timeout=5_000)
    record("quote_deposit_click_to_balance_shown_s", round(time.time() - t0, 3))
    expect(shown).to_have_text(
        f"Withdrawable: {units(bal0 + deposit, 6, 4, sym)} · wallet: {units(wallet0 - deposit, 6, 4, sym)} in your wallet")
    assert ex.functions.proceeds_of(me).call() == bal0 + deposit
    assert quote.functions.balanceOf(me).call() == wallet0 - deposit
    assert quote.functions.allowance(me, ex.address).call() == 0  # the permit covered the deposit, no more
    calls = page.evaluate("() => window.__walletCalls")
    assert calls.count("eth_signTypedData_v4") == 1 and calls.count("eth_sendTransaction") == 2  # permit, deposit

    # a post-only bid of 1 kWh at the floor rests; its escrow comes out of the balance, nothing from the wallet
    floor = ex.functions.floor_price().call()
    assert ex.functions.min_order_wh().call() <= 1000
    ask_price, ask_wh = ex.functions.best_ask().call()
    assert ask_wh == 0 or ask_price > floor, "the bid must rest, not trade"
    escrow = bid_escrow(1000, floor)
    assert escrow <= bal0 + deposit
    order = page.get_by_role("form", name="Place an order")
    order.get_by_label("Side").select_option("buy")
    order.get_by_label("Order type").select_option("2")
    order.get_by_label("Amount (kWh)").fill("1")
    order.get_by_label(re.compile(r"^Price \(")).fill(f"{floor // 10**6}.{floor % 10**6:06d}")
    expect(order.get_by_test_id("order-preview")).to_contain_text(
        f"At most {units(0, 6, 4, sym)} leaves your wallet (your balance here pays up to {units(escrow, 6, 4, sym)} first).")
    order.get_by_role("button", name="Place order").click()
    expect(order.get_by_role("status")).to_contain_text("confirmed", ignore_case=True, timeout=15_000)
    expect(page.get_by_test_id("proceeds")).to_have_text(units(bal0 + deposit - escrow, 6, 4, sym), timeout=5_000)
    assert quote.functions.balanceOf(me).call() == wallet0 - deposit
    assert ex.functions.proceeds_of(me).call() == bal0 + deposit - escrow
    calls = page.evaluate("() => window.__walletCalls")
    assert calls.count("eth_signTypedData_v4") == 1 and calls.count("eth_sendTransaction") == 3  # no permit for the bid


def test_arrears__home_says_what_to_do__selling_is_refused_before_sending(open_app, members, contracts, chain):
    """Last in the file: it moves chain time a day ahead."""
    w3 = chain[0]
    watt = contracts["WattToken"]
    me = members[SELLER]["account"]
    # all but ~20 s of rent (the deposit shrinks every second: "all of it" would revert a block later)
    transact(w3, watt.functions.withdraw_rent(watt.functions.rent_deposit(me).call() - 10**12), me)
    w3.provider.make_request("evm_increaseTime", [86_400])
    # waited for: the node answers a sent transaction before it mines it, and the read below must see it
    transact(w3, watt.functions.settle_rent(me), w3.eth.accounts[0])
    arrears, since = watt.functions.arrears_of(me).call()
    assert arrears > 0
    page = open_app(me)
    connect(page)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Rent arrears:")
    expect(alert.get_by_role("link", name="Deposit TSL on the Rent page")).to_be_visible()
    page.get_by_role("link", name="Market").click()
    drawn_at(page)
    block = w3.eth.block_number
    form = page.get_by_role("form", name="Place an order")
    form.get_by_label("Side").select_option("sell")
    form.get_by_label("Amount (kWh)").fill("0.2")
    form.get_by_label(re.compile(r"^Price \(")).fill("0.3000")
    form.get_by_role("button", name="Place order").click()
    expect(form.get_by_role("status")).to_contain_text("Not sent: You are in storage-rent arrears")
    assert w3.eth.block_number == block
    assert "eth_sendTransaction" not in page.evaluate("() => window.__walletCalls")


def test_confirmations__on_a_chain_with_a_block_time__pending_then_the_fill_or_the_failure(open_app, members, contracts, chain):
    """Against a node that mines every second (and, for the failure, when the test says), not at once:
    each transaction shows as pending, then what it did; a stale refusal goes when the input changes."""
    w3 = chain[0]
    rpc = w3.provider.make_request
    ex = contracts["EnergyExchange"]
    seller, buyer = members[SELLER]["account"], members[BUYER]["account"]
    page = open_app(seller, path="#/market")
    connect(page)
    drawn_at(page)
    form = page.get_by_role("form", name="Place an order")
    status = form.get_by_role("status")

    # a refusal the app makes itself, then the input changes: the "Not sent" line goes
    form.get_by_label("Side").select_option("sell")
    form.get_by_label("Order type").select_option("2")
    form.get_by_label("Amount (kWh)").fill("0.4")
    form.get_by_label(re.compile(r"^Price \(")).fill("9.0000")
    form.get_by_role("button", name="Place order").click()
    expect(status).to_contain_text("Not sent: Price outside the band")
    form.get_by_label(re.compile(r"^Price \(")).fill("0.3")
    expect(status).to_have_text("")

    ask_price, _ = ex.functions.best_ask().call()
    bid_price, _ = ex.functions.best_bid().call()
    tick = ex.functions.TICK().call()
    inside = ask_price - tick  # inside the spread: a post-only ask there rests unless a bid arrives first
    assert inside - tick > bid_price, "the seed leaves a spread of at least two ticks"
    try:
        rpc("evm_setAutomine", [False])
        rpc("evm_setIntervalMining", [1])
        # 1. mined within a second: pending, then the fill in words
        form.get_by_label("Order type").select_option("2")
        form.get_by_label("Amount (kWh)").fill("0.4")
        form.get_by_label(re.compile(r"^Price \(")).fill(f"{inside / 1e6:.4f}")
        t0 = time.time()
        form.get_by_role("button", name="Place order").click()
        expect(status).to_contain_text("waiting for the next block")
        expect(page.locator("#activity .tx.pending")).to_have_count(1)
        expect(status).to_have_text(re.compile(r"^Confirmed: Nothing traded at once\. 0\.400 kWh rests in the book as order #\d+\.$"), timeout=10_000)
        expect(page.locator("#activity .tx.confirmed").first).to_contain_text("confirmed")
        record("order_click_to_confirmed_with_1s_blocks_s", round(time.time() - t0, 3))

        # 2. a bid lands ahead of the member's post-only ask in the same block: the ask fails on chain
        rpc("evm_setIntervalMining", [0])  # blocks only when the test mines one
        before = w3.eth.block_number
        form.get_by_label("Amount (kWh)").fill("0.3")
        form.get_by_label(re.compile(r"^Price \(")).fill(f"{(inside - tick) / 1e6:.4f}")
        form.get_by_role("button", name="Place order").click()
        expect(status).to_contain_text("waiting for the next block")
        expect(status).to_have_class(re.compile(r"\bpending\b"))
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        ex.functions.place_order(True, inside - tick, 300, 0, 0).transact(
            {"from": buyer, "gas": 2_000_000, "maxPriorityFeePerGas": 50 * 10**9, "maxFeePerGas": base_fee * 2 + 50 * 10**9})
        rpc("evm_mine", [])
        expect(status).to_contain_text("failed on chain", timeout=10_000)
        expect(status).to_contain_text("post-only would cross")
        expect(page.locator("#activity .tx.failed").first).to_contain_text("failed")
        assert w3.eth.block_number == before + 1
    finally:
        rpc("evm_setIntervalMining", [0])
        rpc("evm_setAutomine", [True])


def test_first_page__says_what_gridmint_is__then_network_balances_disconnect(open_app, members, contracts, chain):
    w3 = chain[0]
    me = members[BUYER]["account"]
    page = open_app(me)
    intro = page.get_by_test_id("intro")
    expect(intro).to_contain_text("gridmint is your energy community's market and battery account")
    connect(page)
    drawn_at(page)
    expect(page.get_by_test_id("network")).to_have_text("gridmint on local test chain")
    expect(page.get_by_test_id("intro")).to_have_count(0)

    # rent: a member without TSL is told where it comes from
    tsl = contracts["StorageRentToken"]
    held = tsl.functions.balanceOf(me).call()
    if held:
        transact(w3, tsl.functions.transfer(w3.eth.accounts[0], held), me)
    page.get_by_role("link", name="Rent").click()
    drawn_at(page, w3.eth.block_number)
    expect(page.get_by_test_id("tsl-source")).to_contain_text("You hold no TSL.")
    expect(page.get_by_test_id("tsl-source")).to_contain_text("operator mints it")

    # the price chart has labelled axes with units
    page.get_by_role("link", name="Market").click()
    drawn_at(page)
    chart = page.locator("figure.chart svg")
    expect(chart.locator("text.axis-title")).to_have_text([re.compile(r"/kWh$"), "time of trade (chain time)"])
    assert chart.locator("line.axis").count() >= 4  # two axes and their ticks
    expect(page.get_by_test_id("fees")).to_contain_text("The buyer pays the price plus 0.20 % when taking an offer")

    # a certificate's generation period carries its dates
    page.get_by_role("banner").get_by_role("button", name="Disconnect").click()
    expect(page.get_by_test_id("account")).to_have_count(0)
    expect(page.get_by_role("banner").get_by_role("button", name="Connect Test Wallet")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('gridmint.wallet')") is None
