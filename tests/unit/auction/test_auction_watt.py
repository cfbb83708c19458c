"""EnergyAuction on the real WattToken (deploy_system): rent-bearing escrow, the arrears rule
through `release_unpaid`, and the auction's own rent deposit for the WATT it holds in flight."""

from __future__ import annotations

import boa

from gridmint.system import wire_auction

SLOT_S = 1_800
PRICE = 200_000


def _next_slot(auction):
    boa.env.time_travel(seconds=SLOT_S - boa.env.evm.patch.timestamp % SLOT_S)
    while auction.next_to_clear() < auction.current_slot():
        auction.clear(auction.next_to_clear())


def _member(system, operator, give_watt, fund_rent, label, wh=0):
    who = boa.env.generate_address(label)
    if wh:
        give_watt(who, wh)
    fund_rent(who, 10**21)
    system.quote.mint(who, 10**12, sender=operator)
    system.quote.approve(system.auction.address, 2**256 - 1, sender=who)
    return who


def test_trade_through_real_watt(system, operator, give_watt, fund_rent, tsl):
    auction, watt = system.auction, system.watt
    wire_auction(system, operator)
    assert watt.auction() == auction.address
    tsl.mint(operator, 10**21, sender=operator)
    tsl.approve(auction.address, 10**21, sender=operator)
    auction.fund_rent(10**21, sender=operator)
    s = _member(system, operator, give_watt, fund_rent, "auction-seller", wh=5_000)
    b = _member(system, operator, give_watt, fund_rent, "auction-buyer")
    _next_slot(auction)
    ask = auction.place_order(False, PRICE, 2_000, sender=s)
    assert watt.escrowed_of(s) == 2_000  # WATT's per-account escrow: still the seller's, rent-bearing
    bid = auction.place_order(True, PRICE, 1_500, sender=b)
    _next_slot(auction)
    auction.claim([ask, bid])
    assert watt.escrowed_of(s) == 0 and watt.balanceOf(s) == 5_000 - 1_500
    boa.env.time_travel(seconds=3_600)  # the auction's in-flight WATT pays its rent from its deposit
    auction.withdraw_watt(1_500, sender=b)
    assert watt.balanceOf(b) == 1_500 and not watt.in_arrears(auction.address)


def test_release_unpaid_takes_open_asks_out(system, operator, give_watt, fund_rent):
    auction, watt = system.auction, system.watt
    wire_auction(system, operator)
    s = boa.env.generate_address("auction-debtor")
    give_watt(s, 3_000)
    fund_rent(s, 10**15)  # about two hours of rent for 3 kWh: then it falls into arrears
    _next_slot(auction)
    ask = auction.place_order(False, PRICE, 3_000, sender=s)
    slot = auction.current_slot()
    boa.env.time_travel(seconds=86_400)
    watt.settle_rent(s)  # arrears counted from here
    assert watt.in_arrears(s)
    boa.env.time_travel(seconds=watt.rent_grace_period())
    watt.release_unpaid(s)
    assert not auction.order(ask).open and watt.escrowed_of(s) == 0
    while auction.next_to_clear() < auction.current_slot():
        auction.clear(auction.next_to_clear())
    assert auction.result(slot).matched_wh == 0
