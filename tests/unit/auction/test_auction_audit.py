"""The auditor's auction part (gridmint/audit/auction.py) recomputes clearings, fills and claims from
the auction's events alone and agrees with the chain; a clearing or claim that differs is a finding."""

from __future__ import annotations

import dataclasses

import boa

from gridmint.audit.auction import AuctionLedger
from tests.unit.auction.conftest import P, SLOT_S, next_slot
from tests.unit.audit.boa_capture import BoaLogCapture


def _scenario(auction, member):
    s1, s2, b1, b2 = member("au-s1"), member("au-s2"), member("au-b1"), member("au-b2")
    next_slot(auction)
    first = auction.current_slot()
    ids = [
        auction.place_standing(False, 180_000, 700, (first + 3) * SLOT_S, sender=s1),
        auction.place_order(False, 200_000, 1_300, sender=s2),
        auction.place_order(True, 200_000, 900, sender=b1),
        auction.place_order(True, 250_000, 600, sender=b2),
        auction.place_standing(True, 190_000, 400, (first + 3) * SLOT_S, sender=b2),
    ]
    gone = auction.place_order(True, 210_000, 500, sender=b1)
    auction.cancel_order(gone, sender=b1)
    next_slot(auction)
    ids.append(auction.place_order(True, 220_000, 800, sender=b1))
    next_slot(auction)
    auction.claim(ids)
    auction.withdraw_watt(auction.watt_of(b2) // 2, sender=b2)
    auction.withdraw_proceeds(auction.proceeds_of(s2), sender=s2)
    next_slot(auction)
    auction.claim(ids)
    return ids


def _fold(auction, events, next_to_clear):
    ledger = AuctionLedger(tick=P.tick, slot_s=SLOT_S, band=(auction.floor_price(), auction.ceiling_price()),
                           fee_bps=auction.taker_fee_bps(), next_to_clear=next_to_clear)
    for ev in events:
        ledger.apply(ev)
    return ledger


def test_auditor_recomputes_the_auction_from_events(auction, member):
    contracts = {"EnergyAuction": {"address": str(auction.address), "abi": auction.abi}}
    start = auction.next_to_clear()  # the auction was deployed before the capture
    with BoaLogCapture(boa.env) as cap:
        _scenario(auction, member)
    events = cap.events(contracts)
    ledger = _fold(auction, events, start)
    assert len(ledger.clearings) >= 3 and any(c.matched_wh for c in ledger.clearings.values())
    assert ledger.finish() == []
    assert ledger.compare(auction) == []
    assert any(ledger.proceeds.values()) and any(ledger.watt_owed.values())

    # a clearing whose price differs from the brute-force recomputation is a finding, and so is a
    # claim crediting more than the recomputed fill
    cleared = next(i for i, e in enumerate(events) if e.name == "AuctionCleared" and e.args["matched_wh"])
    bad = dataclasses.replace(events[cleared], args={**events[cleared].args, "price": events[cleared].args["price"] + P.tick})
    claimed = next(i for i, e in enumerate(events) if e.name == "OrderClaimed" and e.args["filled_wh"])
    worse = dataclasses.replace(events[claimed], args={**events[claimed].args, "filled_wh": events[claimed].args["filled_wh"] + 1})
    tampered = _fold(auction, events[:cleared] + [bad] + events[cleared + 1 : claimed] + [worse] + events[claimed + 1 :], start)
    checks = {f.check for f in tampered.findings}
    assert {"inv7.clearing", "inv7.claim"} <= checks
