"""The recompute core on hand-built event sequences (no chain): state, and invariant findings."""

from __future__ import annotations

import itertools

from gridmint.audit.events import Event
from gridmint.audit.recompute import ZERO, Ledger, bid_escrow, rent_charge
from gridmint.generated.contracts import CLOSE_BELOW_MINIMUM, CLOSE_FILLED, CLOSE_IOC

OWNER, BUYER, METER = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
T0 = 1_781_500_000
RATE = 3_479_000_000_000_000


class Chain:
    """Builds events in chain order: one transaction per `tx()`, one block per transaction."""

    def __init__(self):
        self.events: list[Event] = []
        self.block = 0
        self.ts = T0
        self._log = itertools.count()

    def tx(self, dt: int = 0):
        self.block += 1
        self.ts += dt
        self._log = itertools.count()
        return self

    def ev(self, contract, event, **args):
        self.events.append(Event(contract, event, args, self.block, next(self._log), f"tx{self.block}", self.ts))
        return self


def deployed(maker_fee_bps: int = 10) -> Chain:
    c = Chain().tx()
    c.ev("WattToken", "UpdateCapacity", capacity_wh=10_000).ev("WattToken", "UpdateRentRate", rent_rate=RATE)
    c.tx().ev("EnergyExchange", "UpdatePriceBand", floor_price=80_000, ceiling_price=350_000)
    c.ev("EnergyExchange", "UpdateMinOrder", min_order_wh=100).ev("EnergyExchange", "UpdateFees",
                                                                   maker_fee_bps=maker_fee_bps, taker_fee_bps=20)
    c.tx().ev("MeterRegistry", "MeterRegistered", meter=METER, owner=OWNER, method=1, rated_power_w=10_000, name="a",
              commissioned_at=T0, generated_wh=100, consumed_wh=0, exported_wh=0, imported_wh=0)
    c.tx().ev("MeterRegistry", "MeterAccepted", meter=METER, owner=OWNER)
    return c


def reading(c: Chain, dt: int, gen: int, exp: int, imp: int = 0, minted=None, burned=None):
    c.tx(dt).ev("MeterRegistry", "ReadingAccepted", meter=METER, owner=OWNER, timestamp=c.ts, generated_wh=gen,
                consumed_wh=0, exported_wh=exp, imported_wh=imp)
    minted = exp if minted is None else minted
    if minted:
        c.ev("WattToken", "Transfer", sender=ZERO, receiver=OWNER, value=minted)
    if burned:
        c.ev("WattToken", "Transfer", sender=OWNER, receiver=ZERO, value=burned)
    return c


def checks(ledger: Ledger) -> set[str]:
    return {f.check for f in ledger.findings}


def test_readings__mint_to_owner__registers_and_totals():
    c = reading(deployed(), 1_800, 2_000, 1_500)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert checks(ledger) == set()
    assert ledger.accounts[OWNER].balance == 1_500 and ledger.supply == 1_500
    assert ledger.meters[METER].registers == [2_100, 0, 1_500, 0]
    assert ledger.meters[METER].pending_cert_wh == 2_000
    assert ledger.totals[METER].minted == 1_500


def test_mint_without_export__and_export_not_credited__found():
    c = deployed()
    c.tx().ev("WattToken", "Transfer", sender=ZERO, receiver=OWNER, value=5)  # no reading
    reading(c, 1_800, 2_000, 1_500, minted=1_000)  # 500 Wh neither minted nor GridExport
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert {"inv1.mint-without-export", "inv1.export-not-credited"} <= checks(ledger)


def test_grid_export__covers_what_the_battery_could_not_take():
    c = reading(deployed(), 1_800, 2_000, 1_500, minted=1_000)
    c.ev("MeterRegistry", "GridExport", owner=OWNER, wh=500)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert checks(ledger) == set() and ledger.totals[METER].grid_export == 500


def test_rent__charged_as_the_contract_does__skipped_rent_found():
    c = reading(deployed(), 1_800, 2_000, 1_000)
    owed = rent_charge(1_000, RATE * 86_400)  # a day of 1 kWh
    c.tx().ev("WattToken", "RentDeposited", account=OWNER, amount=10**18, arrears_paid=0)  # same second: nothing due
    c.tx(86_400).ev("WattToken", "RentCharged", account=OWNER, paid=owed, unpaid=0)
    c.ev("WattToken", "RentWithdrawn", account=OWNER, amount=1)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert checks(ledger) == set()
    assert ledger.accounts[OWNER].deposit == 10**18 - owed - 1 and ledger.revenue == owed
    # a day later the account is touched without a charge
    c.tx(86_400).ev("WattToken", "RentWithdrawn", account=OWNER, amount=1)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert "inv2.rent-skipped" in checks(ledger)


def test_rent__wrong_amount_found():
    c = reading(deployed(), 1_800, 2_000, 1_000)
    c.tx().ev("WattToken", "RentDeposited", account=OWNER, amount=10**18, arrears_paid=0)
    c.tx(86_400).ev("WattToken", "RentCharged", account=OWNER, paid=1, unpaid=0)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert {"inv2.rent-charge", "inv2.rent-paid"} <= checks(ledger)


def _in_arrears() -> tuple[Chain, int]:
    """OWNER holds 1 kWh with no deposit; a day later its rent is charged, all of it unpaid."""
    c = reading(deployed(), 1_800, 2_000, 1_000)
    c.tx().ev("WattToken", "RentDeposited", account=OWNER, amount=1, arrears_paid=0)
    c.ev("WattToken", "RentWithdrawn", account=OWNER, amount=1)
    owed = rent_charge(1_000, RATE * 86_400)
    c.tx(86_400).ev("WattToken", "RentCharged", account=OWNER, paid=0, unpaid=owed)
    return c, owed


def test_arrears__a_sale_or_a_send_by_an_account_in_arrears__found_once():
    c, _ = _in_arrears()
    ledger = Ledger().apply_all(c.events)
    assert checks(ledger) == set()
    # a taker ask's sale out of the free balance
    c.ev("WattToken", "Transfer", sender=OWNER, receiver=BUYER, value=100)
    ledger = Ledger().apply_all(c.events)
    assert [f.check for f in ledger.findings] == ["inv2.arrears-sells"]


def test_arrears__escrow_delivered_from_an_account_in_arrears__found_once():
    c, _ = _in_arrears()
    c.ev("WattToken", "EscrowDelivered", seller=OWNER, buyer=BUYER, wh=100)
    c.ev("WattToken", "Transfer", sender=OWNER, receiver=BUYER, value=100)
    ledger = Ledger().apply_all(c.events)
    assert [f.check for f in ledger.findings if f.check.startswith("inv2.arrears")] == ["inv2.arrears-sells"]


def test_arrears__an_import_burn_by_an_account_in_arrears__not_a_sale():
    c, _ = _in_arrears()
    c.ev("WattToken", "Transfer", sender=OWNER, receiver=ZERO, value=100)
    ledger = Ledger().apply_all(c.events)
    assert "inv2.arrears-sells" not in checks(ledger)


def test_trade__proceeds_fees_and_escrow():
    c = reading(deployed(), 1_800, 2_000, 1_000)
    # a resting bid, then an ask that sells into it
    c.tx().ev("EnergyExchange", "OrderPlaced", order_id=1, owner=BUYER, is_buy=True, price=100_000, amount_wh=600,
              expires_at=2**40 - 1)
    c.tx().ev("EnergyExchange", "OrderPlaced", order_id=2, owner=OWNER, is_buy=False, price=100_000, amount_wh=400,
              expires_at=2**40 - 1)
    q = 400 * 100_000 // 1_000
    fee = q * 10 // 10_000 + q * 20 // 10_000
    # the bid maker keeps 200 Wh; the ask taker is filled in full: no OrderClosed
    c.ev("EnergyExchange", "Trade", maker_order_id=1, taker_order_id=2, maker=BUYER, price=100_000,
         amount_wh=400, fee=fee, maker_left=200)
    # a taker ask's WATT is one sale (WATT's `sell`): from its free balance to the bidder, no escrow round trip
    c.ev("WattToken", "Transfer", sender=OWNER, receiver=BUYER, value=400)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert checks(ledger) == set()
    m = ledger.markets["EnergyExchange"]
    assert m.proceeds[OWNER] == q - q * 20 // 10_000
    assert m.orders[1].escrow == bid_escrow(600, 100_000) - q - q * 10 // 10_000
    assert m.orders[1].remaining == 200 and m.fees == fee
    assert set(m.orders) == {1} and m.new_orders == []
    assert ledger.accounts[BUYER].balance == 400 and ledger.accounts[OWNER].balance == 600


def test_trade__fee_outside_rules_and_band__found():
    c = deployed()
    c.tx().ev("EnergyExchange", "OrderPlaced", order_id=1, owner=BUYER, is_buy=True, price=400_000, amount_wh=600,
              expires_at=2**40 - 1)
    c.tx().ev("EnergyExchange", "OrderPlaced", order_id=2, owner=OWNER, is_buy=False, price=400_000, amount_wh=600,
              expires_at=2**40 - 1)
    c.ev("EnergyExchange", "Trade", maker_order_id=1, taker_order_id=2, maker=BUYER, price=400_000,
         amount_wh=600, fee=0, maker_left=0)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert {"inv4.trade-fee", "inv4.trade-outside-band"} <= checks(ledger)


def test_parameter_change__before_notice_or_unannounced__found():
    c = deployed()
    c.tx().ev("EnergyExchange", "UpdateFeesAnnounced", maker_fee_bps=30, taker_fee_bps=30, effective_at=c.ts + 3_600)
    c.tx(60).ev("EnergyExchange", "UpdateFees", maker_fee_bps=30, taker_fee_bps=30)
    c.tx(60).ev("WattToken", "UpdateRentRate", rent_rate=RATE * 2)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert {"inv6.applied-before-notice", "inv6.change-without-notice"} <= checks(ledger)


def test_certificates__issued_outstanding_claimed__and_over_issue_found():
    c = reading(deployed(), 1_800, 2_000, 0)
    c.tx().ev("MeterRegistry", "CertifiableTaken", meter=METER, wh=2_000, period_start=T0, period_end=c.ts)
    c.ev("EnvironmentalCertificate", "CertificateIssued", id=1, meter=METER, generator=OWNER, method=1,
         period_start=T0, period_end=c.ts, amount_wh=2_000)
    c.ev("EnvironmentalCertificate", "TransferSingle", _operator=OWNER, _from=ZERO, _to=OWNER, _id=1, _value=2_000)
    c.tx().ev("EnvironmentalCertificate", "TransferSingle", _operator=OWNER, _from=OWNER, _to=ZERO, _id=1, _value=500)
    c.ev("EnvironmentalCertificate", "Claimed", claimer=OWNER, beneficiary=BUYER, id=1, amount=500, purpose="x")
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert checks(ledger) == set()
    cert = ledger.certificates[1]
    assert (cert.issued, cert.outstanding, cert.claimed) == (2_000, 1_500, 500)
    assert ledger.claimed_by[(BUYER, 1)] == 500 and ledger.units[(OWNER, 1)] == 1_500
    # a second issue of generation never credited
    c.tx().ev("EnvironmentalCertificate", "CertificateIssued", id=2, meter=METER, generator=OWNER, method=1,
              period_start=T0, period_end=c.ts, amount_wh=1_000)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert {"inv3.issued-not-taken", "inv3.certified-above-generation", "inv3.overlapping-period"} <= checks(ledger)


def test_reading_credited_twice__found():
    c = reading(deployed(), 1_800, 100, 0)
    c.events.append(Event("MeterRegistry", "ReadingAccepted", dict(c.events[-1].args), c.block + 1, 0, "again", c.ts))
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert "inv5.credited-twice" in checks(ledger)


def test_recommission__same_key_new_baseline__credits_from_it_after_the_owner_accepts_again():
    c = deployed()  # commissioned with generated 100 Wh; the device then turned out to read 50 000
    not_before = c.ts + 300
    c.tx(60).ev("MeterRegistry", "MeterRecommissioned", meter=METER, owner=OWNER, commissioned_at=c.ts,
                not_before=not_before, generated_wh=50_000, consumed_wh=0, exported_wh=0, imported_wh=0)
    c.tx().ev("MeterRegistry", "MeterAccepted", meter=METER, owner=OWNER)
    reading(c, 1_800, 1_000, 400)  # deltas from the new baseline
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert checks(ledger) == set()
    assert ledger.meters[METER].registers == [51_000, 0, 400, 0]
    assert ledger.meters[METER].last_ts == c.ts and ledger.accounts[OWNER].balance == 400


def test_recommission__reading_credited_before_the_owner_accepts_again__found():
    c = reading(deployed(), 1_800, 2_000, 1_500)
    c.tx(60).ev("MeterRegistry", "MeterRecommissioned", meter=METER, owner=OWNER, commissioned_at=c.ts,
                not_before=c.ts + 300, generated_wh=0, consumed_wh=0, exported_wh=0, imported_wh=0)
    reading(c, 1_800, 1_000, 400)  # no MeterAccepted in between
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert "inv5.inactive-meter" in checks(ledger)


# ---- order books: events say each thing once (order_book.vy). `Trade` carries `maker_left`; a fill that
# closes an order with nothing to give back, and a taker filled in full, log no OrderClosed.

def place(c: Chain, oid: int, owner: str, is_buy: bool, wh: int, price: int = 100_000) -> Chain:
    c.ev("EnergyExchange", "OrderPlaced", order_id=oid, owner=owner, is_buy=is_buy, price=price, amount_wh=wh,
         expires_at=2**40 - 1)
    if not is_buy:
        c.ev("WattToken", "Escrowed", account=owner, wh=wh)
    return c


def fill(c: Chain, maker: int, taker: int, maker_owner: str, wh: int, maker_left: int,
         price: int = 100_000, maker_fee_bps: int = 10) -> int:
    """A Trade as the market logs it (fees 10/20 bps unless told; the taker is its order's OrderPlaced owner,
    which the Trade does not repeat); returns the quote the fill moves."""
    q = wh * price // 1_000
    fee = q * maker_fee_bps // 10_000 + q * 20 // 10_000
    c.ev("EnergyExchange", "Trade", maker_order_id=maker, taker_order_id=taker, maker=maker_owner,
         price=price, amount_wh=wh, fee=fee, maker_left=maker_left)
    return q


def deliver(c: Chain, wh: int, seller: str = OWNER, buyer: str = BUYER) -> Chain:
    c.ev("WattToken", "EscrowDelivered", seller=seller, buyer=buyer, wh=wh)
    return c.ev("WattToken", "Transfer", sender=seller, receiver=buyer, value=wh)


def ask_filled_whole(maker_left: int = 0) -> Chain:
    """A resting ask of 400 Wh, then a bid of 400 Wh that takes it whole: no OrderClosed for either."""
    c = reading(deployed(), 1_800, 2_000, 1_000)
    place(c.tx(), 1, OWNER, False, 400)
    place(c.tx(), 2, BUYER, True, 400)
    fill(c, 1, 2, OWNER, 400, maker_left)
    return deliver(c, 400)


def folded(c: Chain) -> Ledger:
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    return ledger


def test_ask_filled_to_zero__no_order_closed__closed_on_the_trade_without_finding():
    ledger = folded(ask_filled_whole())
    assert checks(ledger) == set()
    m = ledger.markets["EnergyExchange"]
    assert m.orders == {} and m.new_orders == [] and m.escrow_total() == 0
    q = 400 * 100_000 // 1_000
    assert m.proceeds[OWNER] == q - q * 10 // 10_000 and m.trades == 1
    assert ledger.accounts[OWNER].escrow == 0 and ledger.accounts[BUYER].balance == 400


def test_ask_filled_to_zero__an_order_closed_after_it__found():
    # the Trade's maker_left 0 closed the ask: an OrderClosed too says it twice
    c = ask_filled_whole()
    c.ev("EnergyExchange", "OrderClosed", order_id=1, reason=CLOSE_FILLED, refunded=0)
    assert "inv4.close-unknown-order" in checks(folded(c))


def test_trade__maker_left_disagrees__found():
    ledger = folded(ask_filled_whole(maker_left=100))
    found = [f for f in ledger.findings if f.check == "inv4.trade-maker-left"]
    assert [(f.contract, f.account, f.expected, f.actual) for f in found] == [("EnergyExchange", "#1", 0, 100)]
    # a partial fill that says the maker closed
    c = reading(deployed(), 1_800, 2_000, 1_000)
    place(c.tx(), 1, OWNER, False, 600)
    place(c.tx(), 2, BUYER, True, 400)
    fill(c, 1, 2, OWNER, 400, 0)
    deliver(c, 400)
    found = [f for f in folded(c).findings if f.check == "inv4.trade-maker-left"]
    assert [(f.expected, f.actual) for f in found] == [(200, 0)]


def test_trade__maker_left_agrees__no_finding_and_maker_keeps_resting():
    c = reading(deployed(), 1_800, 2_000, 1_000)
    place(c.tx(), 1, OWNER, False, 600)
    place(c.tx(), 2, BUYER, True, 400)
    fill(c, 1, 2, OWNER, 400, 200)
    deliver(c, 400)
    ledger = folded(c)
    assert checks(ledger) == set()
    m = ledger.markets["EnergyExchange"]
    assert set(m.orders) == {1} and m.orders[1].remaining == 200 and m.orders[1].resting
    assert ledger.accounts[OWNER].escrow == 200


def test_taker_filled_in_full__no_order_closed__not_flagged():
    c = reading(deployed(), 1_800, 2_000, 1_000)
    place(c.tx(), 1, OWNER, False, 300)
    place(c.tx(), 2, OWNER, False, 400, price=120_000)
    # a bid of 500 Wh takes ask 1 whole and 200 Wh of ask 2: its Trades add up to its OrderPlaced amount
    place(c.tx(), 3, BUYER, True, 500, price=120_000)
    fill(c, 1, 3, OWNER, 300, 0)
    fill(c, 2, 3, OWNER, 200, 200, price=120_000)
    deliver(c, 500)
    ledger = folded(c)
    assert checks(ledger) == set()
    m = ledger.markets["EnergyExchange"]
    assert set(m.orders) == {2} and m.orders[2].remaining == 200 and m.new_orders == []
    assert m.escrow_total() == 0 and ledger.accounts[OWNER].escrow == 200
    # a taker partly filled that does not rest still logs its OrderClosed (IOC remainder), and needs it
    c.tx()
    place(c, 4, BUYER, True, 500, price=120_000)
    fill(c, 2, 4, OWNER, 200, 0, price=120_000)
    c.ev("EnergyExchange", "OrderClosed", order_id=4, reason=CLOSE_IOC, refunded=0)
    deliver(c, 200)
    ledger = folded(c)
    assert checks(ledger) == set() and ledger.markets["EnergyExchange"].orders == {}


def test_taker_partly_filled_below_minimum__without_order_closed__still_found_resting():
    c = reading(deployed(), 1_800, 2_000, 1_000)
    place(c.tx(), 1, OWNER, False, 200)
    place(c.tx(), 2, BUYER, True, 250)
    fill(c, 1, 2, OWNER, 200, 0)
    deliver(c, 200)  # 50 Wh left on the taker and no OrderClosed(8): it would rest below the minimum
    ledger = folded(c)
    assert "inv4.rests-below-minimum" in checks(ledger)


def bid_filled_whole(maker_fee_bps: int = 10) -> tuple[Chain, int]:
    """A resting bid of 400 Wh, then an ask of 400 Wh that sells into it whole; returns the chain (up to the
    Trade) and the bid's escrow left after the fill."""
    c = reading(deployed(maker_fee_bps), 1_800, 2_000, 1_000)
    place(c.tx(), 1, BUYER, True, 400)
    place(c.tx(), 2, OWNER, False, 400)
    q = fill(c, 1, 2, BUYER, 400, 0, maker_fee_bps=maker_fee_bps)
    return c, bid_escrow(400, 100_000) - q - q * maker_fee_bps // 10_000


def test_bid_maker_filled_with_escrow_left__order_closed_refund__accepted():
    c, left = bid_filled_whole()
    assert left > 0
    c.ev("EnergyExchange", "OrderClosed", order_id=1, reason=CLOSE_FILLED, refunded=left)
    deliver(c, 400, seller=OWNER, buyer=BUYER)
    ledger = folded(c)
    assert checks(ledger) == set()
    m = ledger.markets["EnergyExchange"]
    assert m.orders == {} and m.escrow_total() == 0 and m.proceeds[BUYER] == left


def test_bid_maker_filled_with_escrow_left__without_its_order_closed__found():
    c, left = bid_filled_whole()
    deliver(c, 400)
    ledger = folded(c)
    found = [f for f in ledger.findings if f.check == "inv4.filled-bid-not-closed"]
    assert [(f.account, f.expected) for f in found] == [("#1", left)]
    assert set(ledger.markets["EnergyExchange"].orders) == {1}


def test_bid_maker_filled_with_escrow_left__wrong_refund__found():
    c, left = bid_filled_whole()
    c.ev("EnergyExchange", "OrderClosed", order_id=1, reason=CLOSE_FILLED, refunded=left + 1)
    deliver(c, 400)
    assert checks(folded(c)) == {"inv4.bid-refund"}


def test_bid_maker_filled_with_escrow_used_up__no_order_closed__closed_on_the_trade():
    # a maker fee at the cap (100 bps) uses up the escrow of a bid whose price x amount is whole
    c, left = bid_filled_whole(maker_fee_bps=100)
    assert left == 0
    deliver(c, 400)
    ledger = folded(c)
    assert checks(ledger) == set() and ledger.markets["EnergyExchange"].orders == {}
    c.ev("EnergyExchange", "OrderClosed", order_id=1, reason=CLOSE_FILLED, refunded=0)
    assert "inv4.close-unknown-order" in checks(folded(c))


def test_maker_left_below_minimum_by_a_fill__trade_then_order_closed_8__accepted():
    c = reading(deployed(), 1_800, 2_000, 1_000)
    place(c.tx(), 1, OWNER, False, 450)
    place(c.tx(), 2, BUYER, True, 400)
    fill(c, 1, 2, OWNER, 400, 50)
    c.ev("EnergyExchange", "OrderClosed", order_id=1, reason=CLOSE_BELOW_MINIMUM, refunded=50)
    c.ev("WattToken", "EscrowReleased", account=OWNER, wh=50)
    deliver(c, 400)
    ledger = folded(c)
    assert checks(ledger) == set() and ledger.markets["EnergyExchange"].orders == {}
    assert ledger.accounts[OWNER].escrow == 0 and ledger.accounts[OWNER].balance == 600
