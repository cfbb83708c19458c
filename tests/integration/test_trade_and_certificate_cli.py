"""The trader and certificate CLIs, run in-process against the test session's node (the `cli` fixture of
conftest.py: the command an `ape run trade|certificates ...` runs), with bad input refused before
anything is sent: exit status 2, one line on stderr, nothing on stdout, no block mined."""

import re

import pytest

from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract
from tests.utils.meters import submit_one

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]


def test_trade_and_certificate_commands(cli, cli_market, accounts, chain):
    # a PV meter of the seller exports 6 kWh into the battery; both deposit rent; the buyer has 100 TEUR
    m = cli_market("42", (8_000, 2_000, 6_000, 0), 1_800, "CLI roof")
    watt, quote = m.watt, m.quote
    seller, buyer, meter = m.seller, m.buyer, m.meter

    assert "band 0.0800 TEUR/kWh (feed-in) .. 0.3500 TEUR/kWh (retail)" in cli("trade", "book")
    out = cli("trade", "place", "sell", "0.2", "5", "--account", "test:2")
    assert "order 1 rests: sell 5.000 kWh at 0.2000 TEUR/kWh, expires no expiry" in out

    # bad input: nothing is sent (the seller's nonce does not move)
    nonce = seller.nonce
    expected = {
        "outside the band": ("trade", "place", "sell", "0.5", "1", "--account", "test:2"),
        "not on the tick": ("trade", "place", "sell", "0.20005", "1", "--account", "test:2"),
        "below the minimum": ("trade", "place", "sell", "0.2", "0.05", "--account", "test:2"),
        "you hold 1.000 kWh of free WATT": ("trade", "place", "sell", "0.2", "2", "--account", "test:2"),
        "not an amount of energy": ("trade", "place", "sell", "0.2", "two", "--account", "test:2"),
        "not a duration": ("trade", "place", "sell", "0.2", "1", "--expires-in", "soon", "--account", "test:2"),
        "not an order id": ("trade", "cancel", "first", "--account", "test:2"),
        "no order 99": ("trade", "cancel", "99", "--account", "test:2"),
        "belongs to": ("trade", "cancel", "1", "--account", "test:3"),
    }
    for text, args in expected.items():
        out = cli(*args, code=2)
        assert text in out, out
    assert seller.nonce == nonce

    out = cli("trade", "place", "buy", "0.25", "2", "--ioc", "--account", "test:3")
    assert "traded 2.000 kWh at 0.2000 TEUR/kWh = 0.4000 TEUR" in out
    assert "2.000 kWh at 0.2000 TEUR/kWh on average" in cli("trade", "trades")
    # maker / taker: the taker is found from its order's OrderPlaced (Trade names it by order id only)
    assert f"{seller.address}/{buyer.address}" in cli("trade", "trades", "--wide")
    orders = cli("trade", "orders", "--account", "test:2")
    assert "3.000" in orders and "sell" in orders
    assert "order 1 cancelled; refunded 3.000 kWh of WATT" in cli("trade", "cancel", "1", "--account", "test:2")
    assert "already closed" in cli("trade", "cancel", "1", "--account", "test:2", code=2)
    balances = cli.table("trade", "balances", "--account", "test:2")
    assert "4.000 kWh" in balances and "rent arrears now               0.000000 TSL" in balances
    assert re.search(r"storage left +(more than a year|[0-9.,]+ days)", balances), balances
    assert "withdrew 0.3996 TEUR" in cli("trade", "withdraw", "--account", "test:2")  # 0.40 minus the 10 bps maker fee
    assert "no proceeds to withdraw" in cli("trade", "withdraw", "--account", "test:2", code=2)
    assert watt.balanceOf(buyer) == 2_000 and quote.balanceOf(seller) == 399_600
    # a balance on the book: the buyer's next bid escrows out of it, nothing leaves its wallet
    assert "0 TEUR is not a positive multiple" in cli("trade", "deposit", "0", "--account", "test:3", code=2)
    out = cli("trade", "deposit", "1", "--account", "test:3")
    assert "deposited 1.0000 TEUR; your balance on the book is 1.0000 TEUR" in out, out
    wallet = quote.balanceOf(buyer)
    assert "rests: buy 1.000 kWh at 0.1000 TEUR/kWh" in cli("trade", "place", "buy", "0.1", "1", "--account", "test:3")
    assert quote.balanceOf(buyer) == wallet and m.exchange.proceeds_of(buyer) == 1_000_000 - 101_000

    # certificates: a stranger's issue is simulated and refused with the contract's reason, nothing sent
    assert "issue would be refused" in cli("certificates", "issue", meter.address, "--account", "test:5", code=2)
    assert "meter must be an address" in cli("certificates", "issue", "roof", "--account", "test:2", code=2)
    # issue the meter's 8 kWh, move some, claim, and refuse bad input
    assert "issued certificate #1: 8.000 kWh" in cli("certificates", "issue", meter.address, "--account", "test:2")
    assert "CLI roof" in cli("certificates", "show", "1")
    assert "no certificate #7" in cli("certificates", "show", "7", code=2)
    assert "moved 3.000 kWh of certificate #1" in cli("certificates", "transfer", "1", buyer.address, "3", "--account", "test:2")
    assert "you hold 3.000 kWh of certificate #1, not 5.000 kWh" in cli(
        "certificates", "claim", "1", "5", "--beneficiary", buyer.address, "--purpose", "x", "--account", "test:3", code=2)
    assert "beneficiary must be an address" in cli(
        "certificates", "claim", "1", "1", "--beneficiary", "Hofmann Tools", "--purpose", "x", "--account", "test:3", code=2)
    cli("certificates", "claim", "1", "1000 Wh", "--beneficiary", buyer.address, "--purpose", "school year", "--account", "test:3")
    certificate = m.certificate
    assert certificate.claimed_balance_of(buyer, 1) == 1_000 and certificate.balanceOf(buyer, 1) == 2_000
    assert "CLI roof" in cli.table("certificates", "list", "--holder", "test:3")

    # ------------------------------------------------------------ the certificate market
    cx = m.cx
    method, vintage = cx.class_of(1)
    assert method == 1
    month = f"{vintage // 100}-{vintage % 100:02d}"  # the class of certificate #1: solar, the month of its period's end
    assert "no orders yet" in cli("certificates", "market", "classes")

    # refusals: one line, exit 2, nothing sent
    market = ("certificates", "market")
    expected = {
        "not a vintage: '2026-13'": (*market, "book", "solar", "2026-13"),
        "unknown generation method 'coal'": (*market, "book", "coal", month),
        "is outside the band 0.00010 TEUR/kWh .. 0.02000 TEUR/kWh": (*market, "sell", "1", "0.5", "1", "--account", "test:2"),
        "not on the tick of 0.00001 TEUR/kWh": (*market, "sell", "1", "0.005001", "1", "--account", "test:2"),
        "below the minimum order of 1.000 kWh": (*market, "sell", "1", "0.005", "500 Wh", "--account", "test:2"),
        "you hold 0.000 kWh of certificate #1, not 1.000 kWh": (*market, "sell", "1", "0.005", "1", "--account", "test:4"),
        "no certificate #9": (*market, "sell", "9", "0.005", "1", "--account", "test:2"),
        "no order 99": (*market, "cancel", "99", "--account", "test:2"),
        "--ioc and --post-only exclude each other": (
            *market, "buy", "solar", month, "0.005", "1", "--ioc", "--post-only", "--account", "test:3"),
        f"nothing of solar {month} is offered at or below 0.00600 TEUR/kWh (there are no asks)": (
            *market, "buy-and-claim", "solar", month, "0.006", "1", "--beneficiary", "test:3", "--purpose", "x",
            "--account", "test:3"),
        "nothing to withdraw": (*market, "withdraw", "--account", "test:3"),
    }
    for text, args in expected.items():
        out = cli(*args, code=2)
        assert text in out, out
    assert cx.next_order_id() == 1

    # sell: approves the exchange once, then the ask rests (units escrowed)
    out = cli("certificates", "market", "sell", "1", "0.005", "3", "--account", "test:2")
    assert "approved the certificate exchange" in out
    assert f"order 1 rests: sell 3.000 kWh of certificate #1 (solar {month}) at 0.00500 TEUR/kWh, expires no expiry" in out
    out = cli("certificates", "market", "sell", "1", "0.006", "1", "--account", "test:2")
    assert "approved" not in out and "order 2 rests: sell 1.000 kWh" in out
    belongs = cli(*market, "cancel", "1", "--account", "test:3", code=2)
    crosses = cli(*market, "buy", "solar", month, "0.005", "1", "--post-only", "--account", "test:3", code=2)
    assert "order 1 belongs to" in belongs
    assert "post-only order at 0.00500 TEUR/kWh would cross the best ask 0.00500 TEUR/kWh" in crosses
    book = cli("certificates", "market", "book", "solar", month)
    assert "0.00500 TEUR/kWh" in book and "0.00600 TEUR/kWh" in book and "3.000" in book
    assert "minimum order 1.000 kWh" in book
    classes = cli("certificates", "market", "classes")
    assert f"solar {month}" in classes and "4.000" in classes

    # buy: fills from the cheapest ask, the units are delivered at once
    out = cli("certificates", "market", "buy", "solar", month, "0.0055", "2", "--account", "test:3")
    assert "bought 2.000 kWh at 0.00500 TEUR/kWh = 0.010000 TEUR (fees 0.000030 TEUR)" in out
    assert "received 2.000 kWh of certificate #1" in out and "nothing rests" in out
    # a bid below the asks rests; a later ask at its price fills it and the units go to the bidder at once
    out = cli("certificates", "market", "buy", "solar", month, "0.004", "2", "--account", "test:3")
    # the 4th order (3 was the buy that filled) rests in the word that buy left free: id = number | key << 32
    assert f"order {4 | 3 << 32} rests: buy 2.000 kWh (solar {month}) at 0.00400 TEUR/kWh" in out
    orders = cli("certificates", "market", "orders", "--account", "test:3")
    assert "buy" in orders and "any" in orders and "0.00400 TEUR/kWh" in orders
    held = certificate.balanceOf(buyer, 1)
    assert "sold 1.000 kWh at 0.00400 TEUR/kWh = 0.004000 TEUR" in cli(
        "certificates", "market", "sell", "1", "0.004", "1", "--ioc", "--account", "test:2")
    assert certificate.balanceOf(buyer, 1) == held + 1_000  # delivered in the seller's transaction
    assert "certificate units" not in cli("certificates", "market", "orders", "--owner", buyer.address)

    # buy-and-claim: 1 kWh at 0.005 and 0.5 kWh at 0.006, claimed for the beneficiary in the same transaction;
    # the second ask's 0.5 kWh left is below the minimum: closed, credited back to the seller
    out = cli("certificates", "market", "buy-and-claim", "solar", month, "0.006", "1.5", "--beneficiary", "test:3",
              "--purpose", "school year 2026/27", "--account", "test:3")
    assert f"bought and claimed 1.500 kWh of solar {month} for {buyer.address} at 0.00533 TEUR/kWh on average" in out
    assert "claimed certificates: #1 1.500 kWh" in out
    assert certificate.claimed_balance_of(buyer, 1) == 2_500

    # cancel the rest of the bid; withdraw refunds, proceeds and credited units
    bid = 4 | 3 << 32  # the resting bid above
    assert f"order {bid} cancelled; refunded" in cli("certificates", "market", "cancel", str(bid), "--account", "test:3")
    out = cli("certificates", "market", "withdraw", "--account", "test:3")
    assert "withdrew" in out and "TEUR" in out and "kWh of certificate" not in out
    out = cli("certificates", "market", "withdraw", "--account", "test:2")
    assert "withdrew 0.500 kWh of certificate #1" in out and "withdrew 0.0" in out
    closed = cli(*market, "cancel", str(bid), "--account", "test:3", code=2)
    nothing = cli(*market, "withdraw", "--account", "test:2", code=2)
    assert f"order {bid} is already closed" in closed and "nothing to withdraw" in nothing

    # conservation: the seller sold 4.5 kWh, the buyer got 3 kWh and claimed 1.5 kWh; the exchange holds nothing
    assert certificate.balanceOf(seller, 1) == 5_000 - 3_000 - 1_000 - 1_000 + 500
    assert certificate.balanceOf(buyer, 1) == 2_000 + 2_000 + 1_000
    assert certificate.balanceOf(cx.address, 1) == 0 and cx.proceeds_of(seller) == cx.proceeds_of(buyer) == 0
    assert not cx.open_orders(seller) and not cx.open_orders(buyer)


def _member_with_watt(cli_deploy, accounts, chain, label: str):
    """A deployment and a member (test:2) whose meter just exported 2 kWh into the battery: WATT and no
    rent deposit. Returns the WATT token."""
    d = cli_deploy()
    registry, watt = d.registry, d.watt
    operator, member = accounts[0], accounts[2]
    meter = MeterSigner(bytes.fromhex(label * 32))
    onboard_meter(registry, operator, member, meter.address, 1, 50_000, "Arrears roof", commissioning(chain.pending_timestamp - 1))
    t = chain.pending_timestamp + 600
    reading = Reading(meter.address, t, 2_000, 0, 2_000, 0)
    chain.pending_timestamp = t
    submit_one(registry, meter, reading, domain_from_contract(registry), sender=operator)
    assert watt.balanceOf(member) == 2_000 and watt.rent_deposit(member) == 0
    return watt


def test_sell_without_rent_deposit__refused_for_the_block_it_lands_in(cli, cli_deploy, accounts, chain):
    """WATT and no rent deposit: at the latest block the account owes nothing yet, so a simulation there
    passes, but rent accrues by the time the order is mined and the exchange reverts ("account in
    arrears", gas spent). The sale is refused before anything is sent, in one line."""
    watt = _member_with_watt(cli_deploy, accounts, chain, "71")
    line = cli("trade", "place", "sell", "0.2", "1", "--account", "test:2", code=2)
    assert "your rent deposit" in line and "before this order can land" in line and "deposit-rent" in line, line
    assert not watt.escrowed_of(accounts[2])


def test_balances__show_the_arrears_accrued_until_now(cli, cli_deploy, accounts, chain):
    """`balances` shows what the account owes now (rent accrued to the latest block, `rent_due`), not only
    the arrears last recorded on chain (0 until someone settles them)."""
    watt = _member_with_watt(cli_deploy, accounts, chain, "72")
    cli("operator", "advance-time", "1d")
    member = accounts[2]
    assert watt.arrears_of(member)[0] == 0 and watt.rent_due(member) > 0  # accrued, not recorded
    out = cli.table("trade", "balances", "--account", "test:2")
    row = next(line for line in out.splitlines() if "rent arrears now" in line)
    assert f"{watt.rent_due(member) / 10**18:.6f} TSL" in row, out
    assert "in arrears since" in out and "selling is refused" in out


def test_order_while_paused__one_line_nothing_sent(cli):
    cli("deploy")
    cli("operator", "faucet", "test:3", "--eth", "0", "--tsl", "0", "--quote", "10")
    cli("operator", "pause", "exchange")
    assert cli("trade", "place", "buy", "0.2", "1", "--account", "test:3", code=2) == (
        "Error: the exchange is paused: no new orders (cancels and withdrawals still work)")
    cli("operator", "pause", "certificate-market")
    assert "the certificate market is paused" in cli(
        "certificates", "market", "buy", "solar", "2026-06", "0.005", "1", "--account", "test:3", code=2)
