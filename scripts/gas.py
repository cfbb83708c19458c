"""`make gas`: gas used by the named operations, measured on Anvil, written to gas-report.json.

Each figure is the whole transaction's `gas_used` from its receipt (per-reading
figures divide the batch transaction by its size). Run with
`ape run gas --network ethereum:local:foundry`.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from ape import accounts, chain
from eth_hash.auto import keccak

from oracle.eip712 import MeterSigner, Reading, domain_from_contract
from gridmint.onboarding import commissioning, onboard_meter
from gridmint.cli.options import quiet
from gridmint.system import SystemParams, ape_deployer, deploy_system

# quiet before ape connects: a provider's INFO lines ("Connecting to existing 'Hardhat node' process.")
# are noise to a user, and so is a line per transaction
quiet()

# GRIDMINT_GAS_REPORT writes elsewhere (a check of the figures that leaves the committed report alone)
REPORT = Path(os.environ.get("GRIDMINT_GAS_REPORT", Path(__file__).resolve().parent.parent / "gas-report.json"))
SOLAR = 1


def _meter(i: int) -> MeterSigner:
    return MeterSigner(keccak(f"gas-meter-{i}".encode()))


def _fund_rent(system, operator, member, amount=10**21):
    system.tsl.mint(member, amount, sender=operator)
    system.tsl.approve(system.watt.address, amount, sender=member)
    return system.watt.deposit_rent(amount, sender=member)


def _submit(registry, domain, readings, signers, sender):
    sep = domain.separator
    sigs = [signers[r.meter].sign(r, domain, sep) for r in readings]
    return registry.submit_readings([r.as_call_arg() for r in readings], sigs, sender=sender)


def measure_registry(system, operator, relayer, report):
    registry = system.registry
    domain = domain_from_contract(registry)
    meters = [_meter(i) for i in range(65)]
    signers = {m.address: m for m in meters}
    # members who pay their storage rent from a TSL deposit, as real members do
    owners = [accounts.test_accounts.generate_test_account() for _ in range(64)]
    for owner in owners:
        operator.transfer(owner, 10**18)
        _fund_rent(system, operator, owner)
    # commissioned a day ago at zero and accepted by their owners
    installed = commissioning(chain.blocks.head.timestamp - 86_400)
    for m, owner in zip(meters, owners):
        onboard_meter(registry, operator, owner, m.address, SOLAR, 20_000, "PV site", installed)
    lone = meters[64]
    onboard_meter(registry, operator, owners[0], lone.address, SOLAR, 20_000, "PV site", installed)

    t = chain.pending_timestamp
    tx = _submit(registry, domain, [Reading(lone.address, t, 50_000, 20_000, 10_000, 5_000)], signers, relayer)
    report["registry.first_reading"] = tx.gas_used

    # steady state: every meter has a baseline and every owner already holds WATT
    counters = {m.address: [100_000, 40_000, 30_000, 10_000] for m in meters[:64]}
    for step in range(3):
        t += 900
        chain.pending_timestamp = t
        readings = []
        for m in meters[:64]:
            c = counters[m.address]
            if step:
                c[0] += 2_000  # generated
                c[1] += 600  # consumed
                c[2] += 1_200 + step  # exported -> WATT minted
            readings.append(Reading(m.address, t, *c))
        tx = _submit(registry, domain, readings, signers, relayer)
    assert len(tx.decode_logs(registry.ReadingAccepted)) == 64, "all 64 readings must be accepted"
    assert len(tx.decode_logs(system.watt.RentCharged)) == 64, "every owner's rent is settled"
    report["registry.batch64.per_reading"] = tx.gas_used // 64


def measure_watt(system, operator, relayer, report):
    registry, watt = system.registry, system.watt
    domain = domain_from_contract(registry)
    sender, receiver = accounts.test_accounts[3], accounts.test_accounts[4]
    _fund_rent(system, operator, receiver)
    report["watt.deposit_rent"] = _fund_rent(system, operator, sender).gas_used
    meters = [_meter(1000), _meter(1001)]
    signers = {m.address: m for m in meters}
    for m, owner in zip(meters, (sender, receiver)):
        onboard_meter(registry, operator, owner, m.address, SOLAR, 20_000, "PV site", commissioning(chain.blocks.head.timestamp - 60))
    t = chain.pending_timestamp
    _submit(registry, domain, [Reading(m.address, t, 0, 0, 0, 0) for m in meters], signers, relayer)
    chain.pending_timestamp = t + 900
    _submit(registry, domain, [Reading(m.address, t + 900, 0, 0, 1_000, 0) for m in meters], signers, relayer)
    assert watt.balanceOf(sender) == watt.balanceOf(receiver) == 1_000
    chain.pending_timestamp += 3_600  # an hour of rent to settle on both sides
    tx = watt.transfer(receiver, 250, sender=sender)
    assert len(tx.decode_logs(watt.RentCharged)) == 2
    report["watt.transfer"] = tx.gas_used


def measure_certificate(system, operator, relayer, report):
    registry, cert = system.registry, system.certificate
    domain = domain_from_contract(registry)
    owner, buyer = accounts.test_accounts[5], accounts.test_accounts[6]
    meter = _meter(2000)
    signers = {meter.address: meter}
    onboard_meter(registry, operator, owner, meter.address, SOLAR, 20_000, "School roof PV", commissioning(chain.blocks.head.timestamp - 60))
    t = chain.pending_timestamp
    _submit(registry, domain, [Reading(meter.address, t, 0, 0, 0, 0)], signers, relayer)
    chain.pending_timestamp = t + 1_800
    _submit(registry, domain, [Reading(meter.address, t + 1_800, 9_000, 0, 0, 0)], signers, relayer)
    tx = cert.issue(meter.address, sender=owner)
    report["certificate.issue"] = tx.gas_used
    id = tx.return_value if tx.return_value else cert.next_id() - 1
    tx = cert.safeTransferFrom(owner, buyer, id, 4_000, b"", sender=owner)
    report["certificate.transfer"] = tx.gas_used
    tx = cert.claim(id, 1_000, buyer, "2026 consumption, Hofmann Tools", sender=buyer)
    report["certificate.claim"] = tx.gas_used


def _member_with_watt(system, operator, relayer, wh, label):
    """A generated account holding `wh` WATT (via a meter export), a rent deposit, gas money and quote."""
    registry = system.registry
    domain = domain_from_contract(registry)
    member = accounts.test_accounts.generate_test_account()
    operator.transfer(member, 10**19)
    _fund_rent(system, operator, member)
    system.quote.mint(member, 10**15, sender=operator)
    system.quote.approve(system.exchange.address, 2**256 - 1, sender=member)
    if wh:
        meter = _meter(int.from_bytes(keccak(label.encode())[:4], "big") + 5000)  # stable across runs (not hash())
        power = registry.MAX_RATED_POWER_W()
        # commissioned a day ago at zero: a day of the largest rated power may be exported at once
        onboard_meter(registry, operator, member, meter.address, SOLAR, power, "m", commissioning(chain.blocks.head.timestamp - 86_400))
        t = chain.pending_timestamp
        chain.pending_timestamp = t + 60
        _submit(registry, domain, [Reading(meter.address, t + 60, 0, 0, wh, 0)], {meter.address: meter}, relayer)
    return member


# the makers one `take_ten` taker meets
TAKE_TEN = 10


def take_ten_figures(ten: int, one: int) -> dict[str, int]:
    """A market's two `take_ten` figures from the gas of its ten-maker take and of its one-maker take
    (`take_one`): per fill, and what each maker after the first adds."""
    return {"take_ten.per_fill": ten // TAKE_TEN, "take_ten.per_extra_maker": (ten - one) // (TAKE_TEN - 1)}


@contextmanager
def _rolled_back():
    """Measures on a snapshot that is then rolled back: one more block would move every later block's
    time, and with it the calldata (and gas) of the sections after this one."""
    snapshot = chain.snapshot()
    try:
        yield
    finally:
        chain.restore(snapshot)


def _placed(market, tx):
    """The id of the order `tx` placed (from its `OrderPlaced`: ids are not consecutive once words are reused)."""
    return tx.decode_logs(market.OrderPlaced)[0].order_id


def measure_exchange(system, operator, relayer, report, suffix="", resting=0):
    """Named exchange operations; with `resting` orders already on the book for the `.deep` figures."""
    ex = system.exchange
    sellers = [_member_with_watt(system, operator, relayer, 50_000, f"seller{suffix}{i}") for i in range(11)]
    buyer = _member_with_watt(system, operator, relayer, 1_000, f"buyer{suffix}")
    # the flood: `resting` orders at many prices away from the measured ones
    for i in range(resting):
        if i % 2:
            ex.place_order(False, 250_000 + (i % 500) * 100, 100, 0, 0, sender=sellers[i % 11])
        else:
            ex.place_order(True, 90_000 + (i % 100) * 100, 100, 0, 0, sender=buyer)
    # steady state: every seller has traded before (holds proceeds), the buyer keeps a balance on the
    # book (a budget deposited once: its bids pay out of it, no token moves), other levels are active,
    # and orders have closed (filled), so an order that rests reuses a closed order's word (issue 22)
    tx = ex.deposit_quote(10**8, sender=buyer)
    report[f"exchange.deposit_quote{suffix}"] = tx.gas_used
    for s in sellers:
        ex.place_order(False, 200_000, 100, 0, 0, sender=s)
    ex.place_order(True, 200_000, 100 * len(sellers), 0, 0, sender=buyer)
    ex.place_order(True, 100_000, 100, 0, 0, sender=buyer)
    ex.place_order(True, 195_000, 100, 0, 0, sender=buyer)  # bids trade around 0.19-0.20 EUR/kWh
    ex.place_order(False, 300_000, 100, 0, 0, sender=sellers[0])
    # a bid resting at a new price level in a band (256 ticks = 0.0256 EUR/kWh) where others rest
    tx = ex.place_order(True, 199_000, 1_000, 0, 0, sender=buyer)
    report[f"exchange.place_resting{suffix}"] = tx.gas_used
    # worst case: the first level in an empty 256-tick band also writes a fresh bitmap word
    tx = ex.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
    report[f"exchange.place_resting.new_leaf{suffix}"] = tx.gas_used
    if suffix:
        return
    # the same resting bid by a member with no balance on the book: its escrow is pulled (transferFrom)
    puller = _member_with_watt(system, operator, relayer, 0, "puller")
    tx = ex.place_order(True, 198_000, 1_000, 0, 0, sender=puller)
    report["exchange.place_resting.pull"] = tx.gas_used
    # an ask by a member who has sold before and has no open ask: the common case of a seller
    tx = ex.place_order(False, 210_000, 1_000, 0, 0, sender=sellers[1])
    report["exchange.place_resting_ask"] = tx.gas_used
    tx = ex.place_order(True, 210_000, 1_000, 0, 0, sender=buyer)  # fully fills one resting ask
    assert len(tx.decode_logs(ex.Trade)) == 1
    report["exchange.take_one"] = tx.gas_used
    for s in sellers[1:]:
        ex.place_order(False, 220_000, 500, 0, 0, sender=s)
    tx = ex.place_order(True, 220_000, 5_000, 0, 0, sender=buyer)  # fills ten resting asks
    assert len(tx.decode_logs(ex.Trade)) == TAKE_TEN
    for name, gas in take_ten_figures(tx.gas_used, report["exchange.take_one"]).items():
        report[f"exchange.{name}"] = gas
    oid = _placed(ex, ex.place_order(True, 140_000, 1_000, 0, 0, sender=buyer))
    tx = ex.cancel_order(oid, sender=buyer)
    report["exchange.cancel"] = tx.gas_used
    # amend in place: fewer Wh at the same price (keeps its place; the surplus escrow to proceeds), then a
    # new price where bids already rest (to that level's tail; the escrow topped up)
    oid = _placed(ex, ex.place_order(True, 140_000, 1_000, 0, 0, sender=buyer))
    tx = ex.amend_order(oid, 140_000, 800, sender=buyer)
    report["exchange.amend"] = tx.gas_used
    tx = ex.amend_order(oid, 150_000, 800, sender=buyer)
    report["exchange.amend_price"] = tx.gas_used
    # a seller cancels its one open ask (its WATT back from escrow)
    with _rolled_back():
        oid = _placed(ex, ex.place_order(False, 260_000, 1_000, 0, 0, sender=sellers[2]))
        tx = ex.cancel_order(oid, sender=sellers[2])
        report["exchange.cancel_ask"] = tx.gas_used
    # the other direction: a taker ask meeting resting bids (its seller's WATT goes to each bidder), and a
    # bid sweeping one seller's ladder of asks (ten levels, one seller: the seller's escrow settled once)
    with _rolled_back():
        measure_sells_and_ladder(system, operator, relayer, report, sellers, buyer)
    # the common case of a liquid book: a bid joining a level where bids already rest (the old tail's word
    # gets the link; no new level word, no bitmap write)
    with _rolled_back():
        tx = ex.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
        report["exchange.place_resting.joins_level"] = tx.gas_used
    # `place_resting` again, but within a leaf (256 ticks) of the best ask: its crossing check reads that
    # ask's leaf word, which a bid further from the asks does not
    with _rolled_back():
        ex.place_order(False, 204_500, 1_000, 0, 0, sender=sellers[3])
        tx = ex.place_order(True, 204_000, 1_000, 0, 0, sender=buyer)
        report["exchange.place_resting.near_ask"] = tx.gas_used


def measure_sells_and_ladder(system, operator, relayer, report, sellers, buyer):
    """`exchange.sell_one` (a taker ask filling one resting bid), `exchange.sell_ten.per_extra_maker` (the
    same ask filling ten bids of ten bidders, per bid after the first) and `exchange.take_ladder.per_extra_level`
    (a bid filling one seller's asks at ten prices, per level after the first, against `take_one`). The
    bidders have bought before (they hold WATT) and keep a balance on the book, as the buyer does; the
    bids rest above every other bid and below every ask."""
    ex = system.exchange
    bidders = [_member_with_watt(system, operator, relayer, 100, f"bidder{i}") for i in range(TAKE_TEN)]
    for b in bidders:
        ex.deposit_quote(10**8, sender=b)
    ex.place_order(True, 205_000, 1_000, 0, 0, sender=bidders[0])
    tx = ex.place_order(False, 205_000, 1_000, 0, 0, sender=sellers[4])
    assert len(tx.decode_logs(ex.Trade)) == 1
    report["exchange.sell_one"] = one = tx.gas_used
    for b in bidders:
        ex.place_order(True, 206_000, 100, 0, 0, sender=b)
    tx = ex.place_order(False, 206_000, 1_000, 0, 0, sender=sellers[4])
    assert len(tx.decode_logs(ex.Trade)) == TAKE_TEN
    report["exchange.sell_ten.per_extra_maker"] = take_ten_figures(tx.gas_used, one)["take_ten.per_extra_maker"]
    for i in range(TAKE_TEN):
        ex.place_order(False, 230_000 + i * 1_000, 100, 0, 0, sender=sellers[5])
    tx = ex.place_order(True, 239_000, 1_000, 0, 0, sender=buyer)
    assert len(tx.decode_logs(ex.Trade)) == TAKE_TEN
    ladder = take_ten_figures(tx.gas_used, report["exchange.take_one"])["take_ten.per_extra_maker"]
    report["exchange.take_ladder.per_extra_level"] = ladder


def measure_exchange_deep(system, operator, relayer, report):
    ex = system.exchange
    measure_exchange(system, operator, relayer, report, ".deep", resting=1_000)
    seller = _member_with_watt(system, operator, relayer, 10_000, "deep-seller")
    buyer = _member_with_watt(system, operator, relayer, 1_000, "deep-buyer")
    ex.deposit_quote(10**8, sender=buyer)  # keeps a balance on the book, as the shallow figure's buyer
    ex.place_order(False, 210_000, 100, 0, 0, sender=seller)  # both have traded before
    ex.place_order(True, 210_000, 100, 0, 0, sender=buyer)
    ex.place_order(False, 211_000, 1_000, 0, 0, sender=seller)
    tx = ex.place_order(True, 211_000, 1_000, 0, 0, sender=buyer)
    assert len(tx.decode_logs(ex.Trade)) == 1
    report["exchange.take_one.deep"] = tx.gas_used


def _member_with_certificate(system, operator, relayer, wh, label):
    """A generated account holding quote (approved to the certificate exchange) and, with `wh`, a fresh
    certificate of `wh` units of solar generation (the exchange approved for its units): (member, id)."""
    registry, cert, cx = system.registry, system.certificate, system.certificate_exchange
    domain = domain_from_contract(registry)
    member = accounts.test_accounts.generate_test_account()
    operator.transfer(member, 10**19)
    system.quote.mint(member, 10**15, sender=operator)
    system.quote.approve(cx.address, 2**256 - 1, sender=member)
    cert.setApprovalForAll(cx.address, True, sender=member)
    if not wh:
        return member, 0
    meter = _meter(int.from_bytes(keccak(("cert-" + label).encode())[:4], "big") + 7000)
    power = registry.MAX_RATED_POWER_W()
    # commissioned in the same calendar month as the reading: a certificate without a profile never spans two
    onboard_meter(registry, operator, member, meter.address, SOLAR, power, "m", commissioning(max(chain.blocks.head.timestamp - 86_400, GAS_EPOCH)))
    t = chain.pending_timestamp
    chain.pending_timestamp = t + 60
    _submit(registry, domain, [Reading(meter.address, t + 60, wh, 0, 0, 0)], {meter.address: meter}, relayer)
    tx = cert.issue(meter.address, sender=member)
    return member, tx.return_value or cert.next_id() - 1


def measure_certificate_exchange(system, operator, relayer, report, suffix="", resting=0):
    """The same named operations as `measure_exchange` on the certificate market (one class: every
    certificate below is solar of one vintage), with `resting` orders on the book for `.deep`."""
    cx = system.certificate_exchange
    sellers = [_member_with_certificate(system, operator, relayer, 200_000, f"cseller{suffix}{i}") for i in range(11)]
    buyer, own_id = _member_with_certificate(system, operator, relayer, 200_000, f"cbuyer{suffix}")
    method, vintage = cx.class_of(sellers[0][1])
    assert cx.class_of(own_id) == (method, vintage)
    flood_bidder, _ = _member_with_certificate(system, operator, relayer, 0, f"cflood{suffix}")
    for i in range(resting):
        s, id = sellers[i % 11]
        if i % 2:
            cx.place_ask(id, 12_000 + (i % 500) * 10, 1_000, 0, 0, sender=s)
        else:
            cx.place_bid(method, vintage, 2_000 + (i % 100) * 10, 1_000, 0, 0, sender=flood_bidder)
    # steady state: every member has traded before: the buyer sold units of its own (its proceeds pay
    # its bids: no token moves), every seller holds proceeds, the buyer holds units of every id, and
    # orders have closed, so an order that rests reuses a closed order's word
    cx.place_ask(own_id, 5_000, 100_000, 0, 0, sender=buyer)
    cx.place_bid(method, vintage, 5_000, 100_000, 0, 0, sender=flood_bidder)
    for s, id in sellers:
        cx.place_ask(id, 5_000, 1_000, 0, 0, sender=s)
    cx.place_bid(method, vintage, 5_000, 1_000 * len(sellers), 0, 0, sender=buyer)
    cx.place_bid(method, vintage, 1_000, 1_000, 0, 0, sender=buyer)
    cx.place_bid(method, vintage, 4_900, 1_000, 0, 0, sender=buyer)
    cx.place_ask(sellers[0][1], 9_000, 1_000, 0, 0, sender=sellers[0][0])
    tx = cx.place_bid(method, vintage, 4_950, 1_000, 0, 0, sender=buyer)  # a new level in an active leaf
    report[f"certificate_exchange.place_resting{suffix}"] = tx.gas_used
    # the first level of an empty 256-tick band (5,120..7,669) writes a fresh bitmap word; cancelled
    # at once, so it never meets the asks below
    tx = cx.place_bid(method, vintage, 5_500, 1_000, 0, 0, sender=buyer)
    report[f"certificate_exchange.place_resting.new_leaf{suffix}"] = tx.gas_used
    cx.cancel_order(_placed(cx, tx), sender=buyer)
    s1, id1 = sellers[1]
    cx.place_ask(id1, 6_000, 1_000, 0, 0, sender=s1)
    tx = cx.place_bid(method, vintage, 6_000, 1_000, 0, 0, sender=buyer)  # fully fills one resting ask
    assert len(tx.decode_logs(cx.Trade)) == 1
    report[f"certificate_exchange.take_one{suffix}"] = tx.gas_used
    if suffix:
        return
    for s, id in sellers[1:]:
        cx.place_ask(id, 6_500, 1_000, 0, 0, sender=s)
    tx = cx.place_bid(method, vintage, 6_500, 10_000, 0, 0, sender=buyer)  # fills ten asks of ten ids
    assert len(tx.decode_logs(cx.Trade)) == TAKE_TEN
    for name, gas in take_ten_figures(tx.gas_used, report["certificate_exchange.take_one"]).items():
        report[f"certificate_exchange.{name}"] = gas
    cx.place_ask(id1, 6_600, 1_000, 0, 0, sender=s1)
    oid = _placed(cx, cx.place_bid(method, vintage, 3_000, 1_000, 0, 0, sender=buyer))
    tx = cx.cancel_order(oid, sender=buyer)
    report["certificate_exchange.cancel"] = tx.gas_used
    oid = _placed(cx, cx.place_ask(id1, 15_000, 1_000, 0, 0, sender=s1))
    tx = cx.cancel_order(oid, sender=s1)
    report["certificate_exchange.cancel_ask"] = tx.gas_used
    company = accounts.test_accounts.generate_test_account()
    tx = cx.buy_and_claim(method, vintage, 6_600, 1_000, company, "2030 electricity", sender=buyer)
    report["certificate_exchange.buy_and_claim_one"] = tx.gas_used


# Fixed block times, so every figure that depends on elapsed time (storage rent, index words) is the
# same on every run: the first block at GAS_EPOCH, then one every BLOCK_INTERVAL_S unless a measurement
# sets the next block's time itself (chain.pending_timestamp), which is fixed relative to these.
GAS_EPOCH = 1_893_456_000  # 2030-01-01 00:00 UTC
BLOCK_INTERVAL_S = 12


def _fix_block_times():
    if chain.blocks.head.number > 0:
        print("note: this chain has history (a persistent node?); figures are reproducible on a fresh chain only")
    if chain.blocks.head.timestamp < GAS_EPOCH:
        chain.provider.make_request("evm_setNextBlockTimestamp", [GAS_EPOCH])
    chain.provider.make_request("anvil_setBlockTimestampInterval", [BLOCK_INTERVAL_S])


def main():
    _fix_block_times()
    operator, relayer = accounts.test_accounts[0], accounts.test_accounts[1]
    system = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=100_000_000))
    report: dict[str, int] = {}
    measure_registry(system, operator, relayer, report)
    measure_watt(system, operator, relayer, report)
    measure_certificate(system, operator, relayer, report)
    measure_exchange(system, operator, relayer, report)
    deep = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=100_000_000))
    measure_exchange_deep(deep, operator, relayer, report)
    measure_certificate_exchange(system, operator, relayer, report)
    measure_certificate_exchange(deep, operator, relayer, report, ".deep", resting=1_000)
    # this round's slot parts, each on a fresh system: readings at scale, certificates per slot, the auction
    # tools/ is the project's programs, not an installed package: `ape run` puts only scripts/ on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tools import gas_auction, gas_certificates, gas_readings, gas_storage

    params = SystemParams(capacity_wh=100_000_000)
    gas_readings.measure(deploy_system(ape_deployer(operator), operator, params), operator, report)
    gas_certificates.measure(deploy_system(ape_deployer(operator), operator, params), operator, report, relayer)
    gas_auction.measure(deploy_system(ape_deployer(operator), operator, params), operator, report)
    # the battery's green content: takes, a day's settlement, discharge certificates (moves the clock by days)
    gas_storage.measure(deploy_system(ape_deployer(operator), operator, params), operator, report, relayer)
    # last: a long pending period issued a month at a time moves the chain's clock ~100 days forward
    gas_certificates.measure_parts(deploy_system(ape_deployer(operator), operator, params), operator, report, relayer)
    previous = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    merged = {**previous, **report}
    for name, gas in sorted(report.items()):
        was = previous.get(name)
        change = "" if was in (None, gas) else f"  (was {was:,})"
        print(f"{name:40s} {gas:>10,}{change}")
    if merged == previous:
        print(f"every figure as in {REPORT.name}: not rewritten")
        return
    REPORT.write_text(json.dumps(dict(sorted(merged.items())), indent=2) + "\n")
    print(f"written to {REPORT}")
