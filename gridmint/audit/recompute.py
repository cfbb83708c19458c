"""The recompute core: folds decoded events into the state the contracts hold, calling no contract.

Pure and source-agnostic: `Ledger.apply(event)` for each `Event` in chain order (block, log index),
then `Ledger.finish(block, timestamp)`. It keeps, per account, WATT balance, escrow, TSL deposit,
arrears and rent snapshot; per meter the registers, credited generation, mints and burns; per
certificate issued / outstanding / claimed Wh and every holder's units; per market (EnergyExchange,
CertificateExchange) the open orders, bid escrow, proceeds, fees and the certificate market's units.

While folding it checks what events alone can show of invariants 1-6 (docs/rules.md); each break is
an `invariant` finding naming contract, account and block. The rules mirrored here are the
contracts' own (rounding included) and are cited beside each: if a contract changes, the auditor
changes in the same commit (DESIGN.md, "The public auditor").

The order books' events say each thing once (order_book.vy): `Trade` carries the Wh left on the
maker order (`maker_left`, 0 when the fill closed it), so a maker closed by a fill with nothing to
give back (an ask; a bid whose escrow is used up) and a taker filled in full log no `OrderClosed`;
the fold closes them on the `Trade` and at the end of the transaction. A filled bid with escrow
left, and every other close, still logs `OrderClosed` with what it gives back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from gridmint.generated.contracts import METHOD_STORAGE  # a discharge certificate of the shared battery
from gridmint.market import bid_escrow  # noqa: F401  (the one bid-escrow rule; tests import it from here)
from gridmint.market import bps, quote_for

from .events import Event
from .findings import INVARIANT, Finding

ZERO = "0x0000000000000000000000000000000000000000"
# WattToken: rent_rate is TSL base units per kWh per day -> per Wh per second
RENT_DENOMINATOR = 86_400_000
MASK96 = 2**96 - 1
MASK128 = 2**128 - 1
# OrderClosed reasons of order_book.vy
CLOSE_FILLED = 1

WATT, TSL, REGISTRY, CERTIFICATE = "WattToken", "StorageRentToken", "MeterRegistry", "EnvironmentalCertificate"
MARKETS = ("EnergyExchange", "CertificateExchange")
# the record's quote token is any stablecoin: its logs are not fetched (an L2's USDC has millions);
# the markets' quote holdings are read with `balanceOf` in the compare step instead
NOT_FETCHED = ("QuoteToken",)


def rent_charge(stored_wh: int, index_delta: int) -> int:
    """WattToken._charge: TSL base units owed for `stored_wh` over an index delta, rounded up."""
    return (stored_wh * (index_delta & MASK96) + RENT_DENOMINATOR - 1) // RENT_DENOMINATOR


@dataclass(slots=True)
class Account:
    """One account in the WATT ledger (all in the contracts' units)."""

    balance: int = 0  # free WATT, Wh
    escrow: int = 0  # WATT escrowed in open asks, Wh
    deposit: int = 0  # TSL deposit as last charged, TSL base units
    arrears: int = 0  # recorded arrears, TSL base units
    snapshot: int = 0  # rent index at the last charge, mod 2**96


@dataclass(slots=True)
class Meter:
    """A meter key's record, as the registry's events tell it."""

    address: str
    owner: str
    method: int  # 0 none, 1 solar, ...
    rated_power_w: int
    name: str
    root: str  # the first key of this meter (rotations keep it): per-meter totals are kept under it
    last_ts: int  # last accepted reading (or commissioning) time, s
    registers: list[int]  # generated, consumed, exported, imported, Wh
    accepted: bool = False
    active: bool = True
    retired: bool = False
    pending_cert_wh: int = 0  # credited renewable generation not yet taken for a certificate
    stored_wh: int = 0  # Wh the StorageLedger took since the last take (StoredTaken; the registry's owed field)

    @property
    def certifiable_wh(self) -> int:
        """MeterRegistry.certifiable: credited generation not yet taken, less what went into storage."""
        return max(self.pending_cert_wh - self.stored_wh, 0)


@dataclass(slots=True)
class MeterTotals:
    """Per meter (all its keys), Wh."""

    generated: int = 0
    consumed: int = 0
    exported: int = 0
    imported: int = 0
    renewable_credited: int = 0  # generation of a renewable meter credited by accepted readings
    minted: int = 0  # WATT minted for its exports
    burned: int = 0  # WATT burned for its imports
    grid_export: int = 0  # exports the battery could not take (GridExport)
    grid_import: int = 0  # imports the owner's WATT could not cover (GridImport)
    certified: int = 0  # Wh issued as certificates
    last_period_end: int = 0
    readings: int = 0


@dataclass(slots=True)
class Certificate:
    id: int
    meter: str
    generator: str
    method: int
    period_start: int
    period_end: int
    issued: int  # Wh
    outstanding: int = 0  # Wh minted and not burned (claimed)
    claimed: int = 0  # Wh claimed
    revoked: bool = False


@dataclass(slots=True)
class Order:
    owner: str
    is_buy: bool
    price: int  # quote base units per kWh
    remaining: int  # Wh
    escrow: int = 0  # a resting bid's quote escrow, base units
    tag: int = 0  # an ask's certificate id on the certificate market
    book: tuple = ()  # (method, vintage) of a certificate bid or of the ask's certificate
    resting: bool = False


@dataclass
class Market:
    """One order book (EnergyExchange or CertificateExchange), from its own events."""

    name: str
    orders: dict[int, Order] = field(default_factory=dict)
    proceeds: dict[str, int] = field(default_factory=dict)
    fees: int = 0
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0
    floor_price: int = 0
    ceiling_price: int = 2**256 - 1
    min_order_wh: int = 0
    units_of: dict[tuple[str, int], int] = field(default_factory=dict)  # certificate market only
    trades: int = 0
    volume_wh: int = 0
    new_orders: list[int] = field(default_factory=list)  # placed in the current transaction
    # bid makers a fill left at 0 Wh with escrow to give back: their OrderClosed(1, refunded) is due
    # in the same transaction
    refund_due: list[int] = field(default_factory=list)

    def escrow_total(self) -> int:
        return sum(o.escrow for o in self.orders.values() if o.is_buy)


class Ledger:
    """Folds events into state and checks invariants; `findings` collects what it found."""

    def __init__(self, addresses: dict[str, str] | None = None, on_reading: Callable | None = None):
        """`addresses`: contract name -> address (lets it tell the exchanges' and WATT's own
        accounts apart); `on_reading(meter, event, deltas)` receives every accepted reading
        (the plausibility checks subscribe here)."""
        self.addresses = {k: v for k, v in (addresses or {}).items()}
        self.on_reading = on_reading
        self.findings: list[Finding] = []
        self.events = 0
        self.last_block = 0
        self.last_timestamp = 0
        # WATT
        self.accounts: dict[str, Account] = {}
        self.supply = 0
        self.capacity_wh = 0
        self.minted = 0
        self.burned = 0
        self.released_wh = 0
        self.revenue = 0  # TSL collected, not claimed
        self.rent_charged = 0
        self.rent_rate = 0
        self.rate_updated_at = 0
        self.rent_index = 0
        self._rate_seen = False
        # TSL
        self.tsl: dict[str, int] = {}
        self.tsl_supply = 0
        # registry
        self.meters: dict[str, Meter] = {}
        self.totals: dict[str, MeterTotals] = {}
        self.owner_meters: dict[str, list[str]] = {}
        self.rejected: dict[int, int] = {}
        # certificates
        self.certificates: dict[int, Certificate] = {}
        self.units: dict[tuple[str, int], int] = {}  # (holder, id) -> units
        self.claimed_by: dict[tuple[str, int], int] = {}  # (beneficiary, id) -> Wh
        self._taken: dict[str, tuple[int, int, int]] = {}  # meter -> (wh, start, end) in this tx
        self._cert_burned: dict[int, int] = {}  # id -> units burned in this tx, not yet matched by a claim
        # markets
        self.markets = {name: Market(name) for name in MARKETS}
        # announced parameter changes: (contract, thing) -> (values, effective_at)
        self._announced: dict[tuple[str, str], tuple[tuple, int]] = {}
        self._first_tx: dict[str, str] = {}
        # per-transaction state
        self._tx: str | None = None
        self._ts = 0
        self._block = 0
        self._pre: dict[str, tuple[int, int]] = {}  # account -> (stored Wh, snapshot) at its first touch
        self._charged: set[str] = set()
        self._reading: list | None = None  # the reading whose flows WATT is applying
        self._burns: list[list] = []  # burns not (yet) explained: [account, wh]
        self._dispatch = self._handlers()

    # ------------------------------------------------------------------ driving

    def apply_all(self, events: Iterable[Event]) -> "Ledger":
        for ev in events:
            self.apply(ev)
        return self

    def apply(self, ev: Event) -> None:
        if ev.tx != self._tx:
            if self._tx is not None:
                self._end_tx()
            self._tx = ev.tx
            self._ts = ev.timestamp
            self._block = ev.block
        if ev.contract not in self._first_tx:
            # the contract's first transaction: its constructor's initial parameters need no notice
            self._first_tx[ev.contract] = ev.tx
        self.events += 1
        handler = self._dispatch.get((ev.contract, ev.name))
        if handler is not None:
            handler(ev.args)
        elif ev.name.endswith("Announced"):
            self._on_announced(ev)
        elif ev.name.startswith("Update"):
            self._on_update(ev)

    def finish(self, block: int | None = None, timestamp: int | None = None) -> list[Finding]:
        """Closes the last transaction and checks what holds at the end; returns all findings."""
        if self._tx is not None:
            self._end_tx()
            self._tx = None
        self.last_block = block if block is not None else self._block
        self.last_timestamp = timestamp if timestamp is not None else self._ts
        self._check_final()
        return self.findings

    def _find(self, check: str, contract: str, account, expected, actual, unit: str, detail: str = "") -> None:
        self.findings.append(Finding(INVARIANT, check, contract, account, self._block, expected, actual, unit, detail))

    # ------------------------------------------------------------------ rent clock (WattToken)

    def index_at(self, ts: int) -> int:
        """WattToken._index_now at block time `ts`."""
        return (self.rent_index + self.rent_rate * (ts - self.rate_updated_at)) & MASK128

    def _acct(self, a: str) -> Account:
        acct = self.accounts.get(a)
        if acct is None:
            acct = self.accounts[a] = Account()
        return acct

    def _touch(self, a: str) -> Account:
        """An event that settles `a`'s rent (WattToken._settled): remember its state at the start
        of this transaction, so the charge can be checked against it."""
        acct = self.accounts.get(a)
        if acct is None:
            acct = self.accounts[a] = Account()
        if a not in self._pre:
            self._pre[a] = (acct.balance + acct.escrow, acct.snapshot)
        return acct

    def _end_tx(self) -> None:
        self._close_reading()
        for account, wh in self._burns:
            if wh:
                self._find("inv1.unexplained-burn", WATT, account, 0, wh, "Wh",
                           "WATT burned neither for an import nor for released storage")
        self._burns = []
        if self._pre:
            index = self.index_at(self._ts) & MASK96
            for a, (stored, snap) in self._pre.items():
                if a not in self._charged and stored and (index - snap) & MASK96:
                    owed = rent_charge(stored, index - snap)
                    self._find("inv2.rent-skipped", WATT, a, owed, 0, "TSL base units",
                               "the account was touched without its accrued rent being charged")
                self.accounts[a].snapshot = index
            self._pre = {}
            self._charged = set()
        self._taken = {}
        for cid, n in self._cert_burned.items():
            if n:
                self._find("inv3.burn-without-claim", CERTIFICATE, f"#{cid}", 0, n, "Wh",
                           "certificate units burned without a claim")
        self._cert_burned = {}
        for market in self.markets.values():
            if market.refund_due:
                self._check_refunds_due(market)
            if market.new_orders:
                self._rest_new_orders(market)

    # ------------------------------------------------------------------ dispatch

    def _handlers(self) -> dict:
        h = {
            (WATT, "Transfer"): self._watt_transfer,
            (WATT, "RentCharged"): self._rent_charged,
            (WATT, "RentDeposited"): self._rent_deposited,
            (WATT, "RentWithdrawn"): self._rent_withdrawn,
            (WATT, "StorageReleased"): self._storage_released,
            (WATT, "RentRevenueClaimed"): self._revenue_claimed,
            (WATT, "Escrowed"): self._escrowed,
            (WATT, "EscrowReleased"): self._escrow_released,
            (WATT, "EscrowDelivered"): self._escrow_delivered,
            (WATT, "UpdateRentRate"): self._update_rent_rate,
            (WATT, "UpdateCapacity"): self._update_capacity,
            (TSL, "Transfer"): self._tsl_transfer,
            (REGISTRY, "MeterRegistered"): self._meter_registered,
            (REGISTRY, "MeterAccepted"): self._meter_accepted,
            (REGISTRY, "MeterActiveChanged"): self._meter_active,
            (REGISTRY, "MeterKeyRotated"): self._meter_rotated,
            (REGISTRY, "MeterRecommissioned"): self._meter_recommissioned,
            (REGISTRY, "ReadingAccepted"): self._reading_accepted,
            (REGISTRY, "ReadingRejected"): self._reading_rejected,
            (REGISTRY, "GridExport"): self._grid_export,
            (REGISTRY, "GridImport"): self._grid_import,
            (REGISTRY, "CertifiableTaken"): self._certifiable_taken,
            (REGISTRY, "StoredTaken"): self._stored_taken,
            (CERTIFICATE, "CertificateIssued"): self._certificate_issued,
            (CERTIFICATE, "TransferSingle"): self._cert_transfer_single,
            (CERTIFICATE, "TransferBatch"): self._cert_transfer_batch,
            (CERTIFICATE, "Claimed"): self._claimed,
            # a time-matched claim burns and claims like a plain one; its slots: gridmint/audit/claims.py
            (CERTIFICATE, "ClaimedSlots"): self._claimed,
            (CERTIFICATE, "Revoked"): self._revoked,
        }
        for name, market in self.markets.items():
            h[(name, "OrderPlaced")] = lambda a, m=market: self._order_placed(m, a)
            h[(name, "Trade")] = lambda a, m=market: self._trade(m, a)
            h[(name, "OrderClosed")] = lambda a, m=market: self._order_closed(m, a)
            h[(name, "OrderAmended")] = lambda a, m=market: self._order_amended(m, a)
            h[(name, "ProceedsWithdrawn")] = lambda a, m=market: self._proceeds_withdrawn(m, a)
            h[(name, "QuoteDeposited")] = lambda a, m=market: self._credit(m, a["owner"], a["amount"])
            h[(name, "FeesClaimed")] = lambda a, m=market: self._fees_claimed(m, a)
            h[(name, "UpdateFees")] = lambda a, m=market, n=name: self._market_update(m, n, "Fees", a)
            h[(name, "UpdatePriceBand")] = lambda a, m=market, n=name: self._market_update(m, n, "PriceBand", a)
            h[(name, "UpdateMinOrder")] = lambda a, m=market, n=name: self._market_update(m, n, "MinOrder", a)
            h[(name, "UnitsCredited")] = lambda a, m=market: self._units(m, a, +1)
            h[(name, "UnitsWithdrawn")] = lambda a, m=market: self._units(m, a, -1)
        return h

    # ------------------------------------------------------------------ WATT

    def _watt_transfer(self, a: dict) -> None:
        sender, receiver, value = a["sender"], a["receiver"], a["value"]
        if sender == ZERO:
            # a mint: only for the export of the reading being credited (invariant 1)
            acct = self._touch(receiver)
            acct.balance += value
            self.supply += value
            self.minted += value
            r = self._reading
            if r is None or r[1] != receiver or r[5] + value > r[2]:
                self._find("inv1.mint-without-export", WATT, receiver, 0, value, "Wh",
                           "WATT minted without a credited export to cover it")
            else:
                r[5] += value
            if self.capacity_wh and self.supply > self.capacity_wh:
                self._find("inv1.supply-above-capacity", WATT, None, self.capacity_wh, self.supply, "Wh")
            return
        src = self._touch(sender)
        if receiver != ZERO and src.arrears:
            # every sale ends in a Transfer from the seller: a taker ask's from its free balance, a resting
            # ask's after its escrow was delivered (imports and releases burn, to the zero address)
            self._find("inv2.arrears-sells", WATT, sender, 0, src.arrears, "TSL base units",
                       "WATT of an account in arrears was sold or sent")
        if src.balance < value:
            self._find("inv1.negative-balance", WATT, sender, value, src.balance, "Wh",
                       "an account sent or burned more free WATT than events gave it")
        src.balance -= value
        if receiver == ZERO:
            self.supply -= value
            self.burned += value
            r = self._reading
            if r is not None and r[1] == sender and r[6] + value <= r[3]:
                r[6] += value
            else:
                self._burns.append([sender, value])
            return
        self._touch(receiver).balance += value

    def _rent_charged(self, a: dict) -> None:
        account, paid, unpaid = a["account"], a["paid"], a["unpaid"]
        acct = self._touch(account)
        stored, snap = self._pre[account]
        owed = rent_charge(stored, self.index_at(self._ts) - snap) if account not in self._charged else 0
        self._charged.add(account)
        if paid + unpaid != owed:
            self._find("inv2.rent-charge", WATT, account, owed, paid + unpaid, "TSL base units",
                       "rent charged differs from rent_rate x stored Wh x time since the last charge")
        if paid != min(owed, acct.deposit):
            self._find("inv2.rent-paid", WATT, account, min(owed, acct.deposit), paid, "TSL base units",
                       "rent paid from the deposit is not what the deposit covers")
        acct.deposit -= paid
        acct.arrears += unpaid
        self.revenue += paid
        self.rent_charged += paid + unpaid

    def _rent_deposited(self, a: dict) -> None:
        acct = self._touch(a["account"])
        paid = a["arrears_paid"]
        if paid != min(a["amount"], acct.arrears):
            self._find("inv2.arrears-paid", WATT, a["account"], min(a["amount"], acct.arrears), paid, "TSL base units")
        acct.arrears -= paid
        acct.deposit += a["amount"] - paid
        self.revenue += paid

    def _rent_withdrawn(self, a: dict) -> None:
        acct = self._touch(a["account"])
        if a["amount"] > acct.deposit:
            self._find("inv2.withdraw-above-deposit", WATT, a["account"], acct.deposit, a["amount"], "TSL base units")
        acct.deposit -= a["amount"]

    def _storage_released(self, a: dict) -> None:
        account, wh, tsl = a["account"], a["wh"], a["tsl"]
        acct = self._touch(account)
        for burn in self._burns:
            if burn[0] == account and burn[1] == wh:
                burn[1] = 0
                break
        else:
            self._find("inv1.release-without-burn", WATT, account, wh, 0, "Wh")
        if tsl > acct.arrears:
            self._find("inv2.release-above-arrears", WATT, account, acct.arrears, tsl, "TSL base units")
        acct.arrears -= tsl
        self.released_wh += wh

    def _revenue_claimed(self, a: dict) -> None:
        if a["amount"] != self.revenue:
            self._find("inv2.revenue-claimed", WATT, a["treasury"], self.revenue, a["amount"], "TSL base units")
        self.revenue -= a["amount"]

    def _escrowed(self, a: dict) -> None:
        acct = self._touch(a["account"])
        if acct.arrears:
            self._find("inv2.arrears-sells", WATT, a["account"], 0, acct.arrears, "TSL base units",
                       "WATT escrowed for sale by an account in arrears")
        acct.balance -= a["wh"]
        acct.escrow += a["wh"]
        if acct.balance < 0:
            self._find("inv1.escrow-above-balance", WATT, a["account"], 0, acct.balance, "Wh")

    def _escrow_released(self, a: dict) -> None:
        acct = self._touch(a["account"])
        acct.escrow -= a["wh"]
        acct.balance += a["wh"]
        if acct.escrow < 0:
            self._find("inv1.release-above-escrow", WATT, a["account"], 0, acct.escrow, "Wh")

    def _escrow_delivered(self, a: dict) -> None:
        # the seller's escrow becomes free for the Transfer(seller -> buyer) that follows it
        # (a seller in arrears is found at the Transfer that follows)
        seller = self._touch(a["seller"])
        self._touch(a["buyer"])
        seller.escrow -= a["wh"]
        seller.balance += a["wh"]
        if seller.escrow < 0:
            self._find("inv1.delivery-above-escrow", WATT, a["seller"], 0, seller.escrow, "Wh")

    def _update_rent_rate(self, a: dict) -> None:
        if self._rate_seen:
            self.rent_index = self.index_at(self._ts)
        self._rate_seen = True
        self.rent_rate = a["rent_rate"]
        self.rate_updated_at = self._ts
        self._check_notice(WATT, "RentRate", (a["rent_rate"],))

    def _update_capacity(self, a: dict) -> None:
        self.capacity_wh = a["capacity_wh"]
        self._check_notice(WATT, "Capacity", (a["capacity_wh"],))

    def _tsl_transfer(self, a: dict) -> None:
        sender, receiver, value = a["sender"], a["receiver"], a["value"]
        if sender == ZERO:
            self.tsl_supply += value
        else:
            self.tsl[sender] = self.tsl.get(sender, 0) - value
        if receiver == ZERO:
            self.tsl_supply -= value
        else:
            self.tsl[receiver] = self.tsl.get(receiver, 0) + value

    # ------------------------------------------------------------------ registry

    def _meter_registered(self, a: dict) -> None:
        m = a["meter"]
        regs = [a["generated_wh"], a["consumed_wh"], a["exported_wh"], a["imported_wh"]]
        self.meters[m] = Meter(m, a["owner"], a["method"], a["rated_power_w"], a["name"], m, a["commissioned_at"], regs)
        self.totals[m] = MeterTotals()
        self.owner_meters.setdefault(a["owner"], []).append(m)

    def _meter_accepted(self, a: dict) -> None:
        meter = self.meters.get(a["meter"])
        if meter is None:
            self._find("inv5.unknown-meter", REGISTRY, a["meter"], None, None, "", "accepted before it was registered")
            return
        meter.accepted = True

    def _meter_active(self, a: dict) -> None:
        meter = self.meters.get(a["meter"])
        if meter is not None:
            meter.active = a["active"]

    def _meter_rotated(self, a: dict) -> None:
        old = self.meters.get(a["old_meter"])
        if old is None:
            self._find("inv5.unknown-meter", REGISTRY, a["old_meter"], None, None, "", "rotated before it was registered")
            return
        regs = [a["generated_wh"], a["consumed_wh"], a["exported_wh"], a["imported_wh"]]
        new = Meter(a["new_meter"], old.owner, old.method, old.rated_power_w, old.name, old.root,
                    a["commissioned_at"], regs, accepted=False, active=old.active,
                    pending_cert_wh=old.pending_cert_wh, stored_wh=old.stored_wh)
        old.retired, old.pending_cert_wh = True, 0
        self.meters[new.address] = new
        self.owner_meters.setdefault(new.owner, []).append(new.address)

    def _meter_recommissioned(self, a: dict) -> None:
        """Same key, new commissioning values (a device reset, a typo that reached the chain): the
        baseline is the declared registers, no reading at or before `not_before` counts, and the owner
        must accept again; certifiable generation accrued so far stays the meter's."""
        meter = self.meters.get(a["meter"])
        if meter is None or meter.retired:
            self._find("inv5.unknown-meter", REGISTRY, a["meter"], None, None, "", "re-commissioned before it was registered")
            return
        meter.registers = [a["generated_wh"], a["consumed_wh"], a["exported_wh"], a["imported_wh"]]
        meter.last_ts = a["not_before"]
        meter.accepted = False

    def _reading_accepted(self, a: dict) -> None:
        self._close_reading()
        m = a["meter"]
        meter = self.meters.get(m)
        ts = a["timestamp"]
        dg, dc, de, di = a["generated_wh"], a["consumed_wh"], a["exported_wh"], a["imported_wh"]
        if meter is None or meter.retired:
            self._find("inv5.unknown-meter", REGISTRY, m, None, None, "", "reading credited for an unknown meter")
            return
        if not (meter.accepted and meter.active) or a["owner"] != meter.owner:
            self._find("inv5.inactive-meter", REGISTRY, m, meter.owner, a["owner"], "",
                       "reading credited for a meter its owner has not accepted, or inactive, or to another owner")
        if ts <= meter.last_ts:
            self._find("inv5.credited-twice", REGISTRY, m, meter.last_ts, ts, "s",
                       "a reading not after the last accepted one was credited")
        dt = ts - meter.last_ts
        budget = meter.rated_power_w * dt
        if max(dg, dc, de, di) * 3600 > budget:
            self._find("inv5.above-rated-power", REGISTRY, m, budget // 3600, max(dg, dc, de, di), "Wh")
        regs = meter.registers
        regs[0] += dg
        regs[1] += dc
        regs[2] += de
        regs[3] += di
        prev_ts = meter.last_ts
        meter.last_ts = ts
        t = self.totals[meter.root]
        t.generated += dg
        t.consumed += dc
        t.exported += de
        t.imported += di
        t.readings += 1
        if meter.method:
            t.renewable_credited += dg
            meter.pending_cert_wh += dg
        # [meter, owner, exported, imported, totals, minted, burned, grid_export, grid_import]
        self._reading = [m, meter.owner, de, di, t, 0, 0, 0, 0]
        if self.on_reading is not None:
            self.on_reading(meter, prev_ts, ts, self._ts, dg, dc, de, di)

    def _close_reading(self) -> None:
        r = self._reading
        if r is None:
            return
        self._reading = None
        m, owner, de, di, t, minted, burned, gexp, gimp = r
        t.minted += minted
        t.burned += burned
        t.grid_export += gexp
        t.grid_import += gimp
        if minted + gexp != de:
            self._find("inv1.export-not-credited", WATT, m, de, minted + gexp, "Wh",
                       "an accepted export was neither minted nor reported as GridExport")
        if burned + gimp != di:
            self._find("inv1.import-not-covered", WATT, m, di, burned + gimp, "Wh",
                       "an accepted import was neither burned nor reported as GridImport")

    def _reading_rejected(self, a: dict) -> None:
        self.rejected[a["reason"]] = self.rejected.get(a["reason"], 0) + 1

    def _grid_export(self, a: dict) -> None:
        r = self._reading
        if r is None or r[1] != a["owner"]:
            self._find("inv1.grid-export-without-reading", REGISTRY, a["owner"], 0, a["wh"], "Wh")
            return
        r[7] += a["wh"]

    def _grid_import(self, a: dict) -> None:
        r = self._reading
        if r is None or r[1] != a["owner"]:
            self._find("inv1.grid-import-without-reading", REGISTRY, a["owner"], 0, a["wh"], "Wh")
            return
        r[8] += a["wh"]

    def _certifiable_taken(self, a: dict) -> None:
        meter = self.meters.get(a["meter"])
        if meter is None:
            self._find("inv3.unknown-meter", REGISTRY, a["meter"], None, None, "")
            return
        # a take whose period ends before the meter's last reading is a part (issue(meter, profile, until):
        # a long pending period one month at a time): at most what is pending; its exact Wh, the readings
        # stamped in its period, is checked by gridmint/audit/claims.py. A whole take takes all that is pending.
        part = a["period_end"] < meter.last_ts
        certifiable = meter.certifiable_wh
        wrong = (a["wh"] > certifiable) if part else (a["wh"] != certifiable)
        if wrong:
            self._find("inv3.taken-not-pending", REGISTRY, a["meter"], certifiable, a["wh"], "Wh",
                       "certifiable generation taken differs from what accepted readings credited, less what was stored")
        # a take settles what storage was owed (the registry's new boundary holds no owed Wh)
        meter.pending_cert_wh, meter.stored_wh = max(certifiable - a["wh"], 0), 0
        self._taken[a["meter"]] = (a["wh"], a["period_start"], a["period_end"])

    def _stored_taken(self, a: dict) -> None:
        """MeterRegistry.take_stored: the StorageLedger took `wh` stored Wh; what certifiable generation did
        not cover is owed (`owed_wh`) and comes off later generation (gridmint/audit/storage.py checks `wh`)."""
        meter = self.meters.get(a["meter"])
        if meter is None or meter.retired or not meter.method:
            self._find("inv3.stored-not-renewable", REGISTRY, a["meter"], None, a["wh"], "Wh",
                       "stored Wh taken from an unknown, retired or non-renewable meter")
            return
        owed = a["wh"] - min(a["wh"], meter.certifiable_wh)
        if owed != a["owed_wh"]:
            self._find("inv3.stored-owed", REGISTRY, a["meter"], owed, a["owed_wh"], "Wh",
                       "the owed part of a storage take differs from what was certifiable")
        meter.stored_wh += a["wh"]

    # ------------------------------------------------------------------ certificates

    def _certificate_issued(self, a: dict) -> None:
        cid, m = a["id"], a["meter"]
        if cid in self.certificates:
            self._find("inv3.id-issued-twice", CERTIFICATE, f"#{cid}", None, None, "")
        cert = Certificate(cid, m, a["generator"], a["method"], a["period_start"], a["period_end"], a["amount_wh"])
        self.certificates[cid] = cert
        if a["method"] == METHOD_STORAGE:
            return  # a discharge certificate (StorageLedger.claim_discharge): gridmint/audit/storage.py checks it
        # one take may be issued as one certificate per calendar month along its period
        # (EnvironmentalCertificate.issue; a month with no Wh gets none): each piece lies within what
        # is left of the take
        taken = self._taken.get(m)
        if (
            taken is None
            or a["amount_wh"] > taken[0]
            or a["period_start"] < taken[1]
            or a["period_end"] > taken[2]
            or (a["amount_wh"] < taken[0] and a["period_end"] == taken[2])  # the last piece takes the rest
        ):
            self._find("inv3.issued-not-taken", CERTIFICATE, f"#{cid}", taken, a["amount_wh"], "Wh",
                       "issued without the registry handing over that certifiable generation")
            self._taken.pop(m, None)
        elif a["amount_wh"] == taken[0]:
            self._taken.pop(m)
        else:
            self._taken[m] = (taken[0] - a["amount_wh"], a["period_end"], taken[2])
        meter = self.meters.get(m)
        if meter is None:
            return
        t = self.totals[meter.root]
        t.certified += a["amount_wh"]
        if t.certified > t.renewable_credited:
            self._find("inv3.certified-above-generation", CERTIFICATE, m, t.renewable_credited, t.certified, "Wh",
                       "more Wh certified than accepted readings credited as renewable generation")
        if a["period_start"] < t.last_period_end:
            self._find("inv3.overlapping-period", CERTIFICATE, f"#{cid}", t.last_period_end, a["period_start"], "s")
        t.last_period_end = max(t.last_period_end, a["period_end"])

    def _cert_move(self, sender: str, receiver: str, cid: int, value: int) -> None:
        cert = self.certificates.get(cid)
        if cert is None:
            self._find("inv3.unknown-id", CERTIFICATE, f"#{cid}", None, value, "Wh", "units of an id never issued")
            return
        if sender == ZERO:
            cert.outstanding += value
            if cert.outstanding > cert.issued:
                self._find("inv3.minted-above-issued", CERTIFICATE, f"#{cid}", cert.issued, cert.outstanding, "Wh")
        else:
            key = (sender, cid)
            held = self.units.get(key, 0) - value
            if held < 0:
                self._find("inv3.negative-units", CERTIFICATE, sender, 0, held, "Wh", f"certificate #{cid}")
            self.units[key] = held
        if receiver == ZERO:
            cert.outstanding -= value
            self._cert_burned[cid] = self._cert_burned.get(cid, 0) + value
        else:
            key = (receiver, cid)
            self.units[key] = self.units.get(key, 0) + value

    def _cert_transfer_single(self, a: dict) -> None:
        args = list(a.values())  # _operator, _from, _to, _id, _value
        self._cert_move(args[1], args[2], args[3], args[4])

    def _cert_transfer_batch(self, a: dict) -> None:
        args = list(a.values())  # _operator, _from, _to, _ids, _values
        for cid, value in zip(args[3], args[4]):
            self._cert_move(args[1], args[2], cid, value)

    def _claimed(self, a: dict) -> None:
        cid = a["id"]
        cert = self.certificates.get(cid)
        if cert is None:
            self._find("inv3.unknown-id", CERTIFICATE, f"#{cid}", None, a["amount"], "Wh")
            return
        burned = self._cert_burned.get(cid, 0)
        if burned < a["amount"]:
            self._find("inv3.claim-without-burn", CERTIFICATE, f"#{cid}", a["amount"], burned, "Wh",
                       "claimed units were not retired (burned)")
        self._cert_burned[cid] = burned - min(burned, a["amount"])
        if cert.revoked:
            self._find("inv3.claim-of-revoked", CERTIFICATE, f"#{cid}", 0, a["amount"], "Wh")
        cert.claimed += a["amount"]
        key = (a["beneficiary"], cid)
        self.claimed_by[key] = self.claimed_by.get(key, 0) + a["amount"]

    def _revoked(self, a: dict) -> None:
        cert = self.certificates.get(a["id"])
        if cert is not None:
            cert.revoked = True

    # ------------------------------------------------------------------ markets (order_book.vy)

    def _order_placed(self, m: Market, a: dict) -> None:
        oid = a["order_id"]
        if oid in m.orders:
            self._find("inv4.order-id-reused", m.name, f"#{oid}", None, None, "")
        book = (a.get("method", 0), a.get("vintage", 0))
        tag = a.get("certificate_id", 0)
        m.orders[oid] = Order(a["owner"], a["is_buy"], a["price"], a["amount_wh"], tag=tag, book=book)
        m.new_orders.append(oid)

    def _trade(self, m: Market, a: dict) -> None:
        price, w, fee = a["price"], a["amount_wh"], a["fee"]
        # the quote a fill moves is the book's rule, not a field of `Trade` (order_book.vy says it once)
        q = quote_for(w, price)
        maker_fee, taker_fee = bps(q, m.maker_fee_bps), bps(q, m.taker_fee_bps)
        who = f"#{a['maker_order_id']}"
        if fee != maker_fee + taker_fee:
            self._find("inv4.trade-fee", m.name, who, maker_fee + taker_fee, fee, "quote base units",
                       "fee differs from the maker and taker fees in force")
        if not m.floor_price <= price <= m.ceiling_price:
            self._find("inv4.trade-outside-band", m.name, who, (m.floor_price, m.ceiling_price), price,
                       "quote base units per kWh")
        maker = m.orders.get(a["maker_order_id"])
        taker = m.orders.get(a["taker_order_id"])
        if maker is None or taker is None or maker.is_buy == taker.is_buy or maker.owner != a["maker"]:
            self._find("inv4.trade-unknown-order", m.name, who, None, None, "",
                       "a trade names an order that is not open, or two orders on one side")
            return
        if maker.owner == taker.owner:
            self._find("inv4.self-trade", m.name, who, None, maker.owner, "")
        if w > maker.remaining or w > taker.remaining:
            self._find("inv4.fill-above-order", m.name, who, min(maker.remaining, taker.remaining), w, "Wh")
        maker.remaining -= w
        taker.remaining -= w
        if taker.is_buy:
            # the taker pays q + its fee, out of its proceeds first; the seller earns q - its fee
            self._pay_in(m, taker.owner, q + taker_fee)
            self._credit(m, maker.owner, q - maker_fee)
        else:
            maker.escrow -= q + maker_fee
            if maker.escrow < 0:
                self._find("inv4.bid-escrow-short", m.name, who, 0, maker.escrow, "quote base units")
            self._credit(m, taker.owner, q - taker_fee)
        m.fees += fee
        m.trades += 1
        m.volume_wh += w
        # the Wh left on the maker order after this fill (order_book._place: `maker_left`)
        maker_left = a.get("maker_left")
        if maker_left is None:
            self._find("inv4.trade-maker-left", m.name, who, maker.remaining, None, "Wh",
                       "the Trade does not say what is left on the maker order")
            return
        if maker_left != maker.remaining:
            self._find("inv4.trade-maker-left", m.name, who, maker.remaining, maker_left, "Wh",
                       "the Wh the Trade says are left on the maker order differ from the recomputed")
        if maker_left == 0:
            # the fill closed the maker (the chain says so: order_book._release, CLOSE_FILLED). Nothing to
            # give back (an ask; a bid whose escrow is used up): no OrderClosed follows, it closes here.
            # A bid with escrow left gets OrderClosed(1, refunded) next, in this transaction.
            if maker.is_buy and maker.escrow > 0:
                m.refund_due.append(a["maker_order_id"])
            else:
                self._close(m, a["maker_order_id"])

    @staticmethod
    def _close(m: Market, oid: int) -> Order | None:
        """Takes order `oid` off the market's open orders (and off this transaction's new orders)."""
        order = m.orders.pop(oid, None)
        if order is not None and not order.resting:
            m.new_orders.remove(oid)
        return order

    def _order_closed(self, m: Market, a: dict) -> None:
        oid, refunded = a["order_id"], a["refunded"]
        order = self._close(m, oid)
        if order is None:
            self._find("inv4.close-unknown-order", m.name, f"#{oid}", None, None, "")
            return
        if oid in m.refund_due:
            m.refund_due.remove(oid)
        if not order.resting:
            if refunded:
                self._find("inv4.refund-of-new-order", m.name, f"#{oid}", 0, refunded, "")
            return
        if order.is_buy:
            if refunded != order.escrow:
                self._find("inv4.bid-refund", m.name, f"#{oid}", order.escrow, refunded, "quote base units")
            self._credit(m, order.owner, refunded)
        elif refunded != order.remaining:
            self._find("inv4.ask-refund", m.name, f"#{oid}", order.remaining, refunded, "Wh")

    def _order_amended(self, m: Market, a: dict) -> None:
        """`amend_order`: a resting order's new price and remaining Wh, id kept. A bid's escrow becomes
        that of a new bid on the new terms; what it held above that goes to its owner's proceeds."""
        oid, price, wh = a["order_id"], a["price"], a["amount_wh"]
        order = m.orders.get(oid)
        if order is None or not order.resting:
            self._find("inv4.amend-unknown-order", m.name, f"#{oid}", None, None, "")
            return
        if not m.floor_price <= price <= m.ceiling_price:
            self._find("inv4.amend-outside-band", m.name, f"#{oid}", (m.floor_price, m.ceiling_price), price,
                       "quote base units per kWh")
        if wh < m.min_order_wh:
            self._find("inv4.rests-below-minimum", m.name, f"#{oid}", m.min_order_wh, wh, "Wh")
        order.price, order.remaining = price, wh
        if order.is_buy:
            escrow = bid_escrow(wh, price)
            if escrow < order.escrow:
                self._credit(m, order.owner, order.escrow - escrow)
            else:
                self._pay_in(m, order.owner, escrow - order.escrow)
            order.escrow = escrow

    def _check_refunds_due(self, m: Market) -> None:
        """A bid maker filled in full with escrow left is closed with OrderClosed(1, refunded) right after
        its Trade (order_book._release): one still open at the end of the transaction kept its escrow."""
        for oid in m.refund_due:
            order = m.orders.get(oid)
            if order is not None:
                self._find("inv4.filled-bid-not-closed", m.name, f"#{oid}", order.escrow, None, "quote base units",
                           "a bid filled in full with escrow left was not closed with its refund")
        m.refund_due = []

    def _rest_new_orders(self, m: Market) -> None:
        for oid in m.new_orders:
            order = m.orders[oid]
            if order.remaining <= 0:
                # a taker filled in full: closed without an OrderClosed (its Trades add up to its
                # OrderPlaced amount; more than that is `inv4.fill-above-order`)
                del m.orders[oid]
                continue
            order.resting = True
            if order.remaining < m.min_order_wh:
                self._find("inv4.rests-below-minimum", m.name, f"#{oid}", m.min_order_wh, order.remaining, "Wh")
            if order.is_buy:
                order.escrow = bid_escrow(order.remaining, order.price)
                self._pay_in(m, order.owner, order.escrow)
        m.new_orders = []

    @staticmethod
    def _pay_in(m: Market, owner: str, amount: int) -> None:
        """A bidder pays `amount` (fills, fees, escrow) out of its proceeds first (proceeds._pay_in); the
        rest comes from its wallet, which the chain's quote transfers show."""
        m.proceeds[owner] = m.proceeds.get(owner, 0) - min(m.proceeds.get(owner, 0), amount)

    @staticmethod
    def _credit(m: Market, owner: str, amount: int) -> None:
        """Quote put into the owner's balance on the market: proceeds, refunds, `deposit_quote` (energy market)."""
        m.proceeds[owner] = m.proceeds.get(owner, 0) + amount

    def _proceeds_withdrawn(self, m: Market, a: dict) -> None:
        owner = a["owner"]
        left = m.proceeds.get(owner, 0) - a["amount"]
        if left < 0:
            self._find("inv4.withdraw-above-proceeds", m.name, owner, m.proceeds.get(owner, 0), a["amount"],
                       "quote base units")
        m.proceeds[owner] = left

    def _fees_claimed(self, m: Market, a: dict) -> None:
        if a["amount"] != m.fees:
            self._find("inv4.fees-claimed", m.name, a["treasury"], m.fees, a["amount"], "quote base units")
        m.fees -= a["amount"]

    def _units(self, m: Market, a: dict, sign: int) -> None:
        key = (a["owner"], a["certificate_id"])
        m.units_of[key] = m.units_of.get(key, 0) + sign * a["amount_wh"]
        if m.units_of[key] < 0:
            self._find("inv4.units-withdrawn-above-held", m.name, a["owner"], 0, m.units_of[key], "Wh")

    def _market_update(self, m: Market, contract: str, thing: str, a: dict) -> None:
        values = tuple(a.values())
        if thing == "Fees":
            m.maker_fee_bps, m.taker_fee_bps = values
        elif thing == "PriceBand":
            m.floor_price, m.ceiling_price = values
        elif thing == "MinOrder":
            m.min_order_wh = values[0]
        self._check_notice(contract, thing, values)

    # ------------------------------------------------------------------ invariant 6: notice

    def _on_announced(self, ev: Event) -> None:
        thing = ev.name[len("Update"):-len("Announced")]
        values = tuple(v for k, v in ev.args.items() if k != "effective_at")
        self._announced[(ev.contract, thing)] = (values, ev.args["effective_at"])

    def _on_update(self, ev: Event) -> None:
        self._check_notice(ev.contract, ev.name[len("Update"):], tuple(ev.args.values()))

    def _check_notice(self, contract: str, thing: str, values: tuple) -> None:
        """An announced parameter applies only with the announced value, after its notice
        (invariant 6). A parameter without an announcement event is not value-costing (wiring,
        treasury, max fills) or set in the constructor (the contract's first transaction)."""
        announced = self._announced.pop((contract, thing), None)
        if announced is None:
            if self._first_tx.get(contract) != self._tx and thing in _ANNOUNCED_THINGS:
                self._find("inv6.change-without-notice", contract, thing, None, values, "",
                           "a value-costing parameter changed without an announcement")
            return
        want, effective_at = announced
        if want != values:
            self._find("inv6.applied-other-value", contract, thing, want, values, "")
        if self._ts < effective_at:
            self._find("inv6.applied-before-notice", contract, thing, effective_at, self._ts, "s")

    # ------------------------------------------------------------------ at the end

    def _check_final(self) -> None:
        self._block = self.last_block
        total = sum(a.balance + a.escrow for a in self.accounts.values())
        if total != self.supply:
            self._find("inv1.balances-vs-supply", WATT, None, self.supply, total, "Wh",
                       "free balances + escrow differ from the supply minted minus burned")
        if self.minted - self.burned != self.supply:
            self._find("inv1.mint-burn-vs-supply", WATT, None, self.minted - self.burned, self.supply, "Wh")
        watt = self.addresses.get(WATT)
        if watt is not None and self.tsl:
            held = self.tsl.get(watt, 0)
            owed = sum(a.deposit for a in self.accounts.values()) + self.revenue
            if held != owed:
                self._find("inv2.tsl-held", WATT, watt, owed, held, "TSL base units",
                           "TSL the WATT contract holds differs from deposits + uncollected rent")
        for cert in self.certificates.values():
            if cert.issued != cert.outstanding + cert.claimed:
                self._find("inv3.issued-vs-outstanding-claimed", CERTIFICATE, f"#{cert.id}", cert.issued,
                           cert.outstanding + cert.claimed, "Wh")
        energy = self.markets["EnergyExchange"]
        asks: dict[str, int] = {}
        for order in energy.orders.values():
            if not order.is_buy:
                asks[order.owner] = asks.get(order.owner, 0) + order.remaining
        for account, acct in self.accounts.items():
            if acct.escrow != asks.get(account, 0):
                self._find("inv4.watt-escrow-vs-asks", WATT, account, asks.get(account, 0), acct.escrow, "Wh",
                           "WATT escrowed differs from the open asks on the energy market")
        cert_market = self.markets["CertificateExchange"]
        address = self.addresses.get("CertificateExchange")
        if address is not None:
            held: dict[int, int] = {}
            for (holder, cid), n in self.units.items():
                if holder == address:
                    held[cid] = n
            owed_units: dict[int, int] = {}
            for order in cert_market.orders.values():
                if not order.is_buy:
                    owed_units[order.tag] = owed_units.get(order.tag, 0) + order.remaining
            for (_, cid), n in cert_market.units_of.items():
                owed_units[cid] = owed_units.get(cid, 0) + n
            for cid in set(held) | set(owed_units):
                if held.get(cid, 0) != owed_units.get(cid, 0):
                    self._find("inv4.market-units", "CertificateExchange", f"#{cid}", owed_units.get(cid, 0),
                               held.get(cid, 0), "Wh", "units held by the market differ from open asks + units_of")
        for m in self.markets.values():
            self._check_not_crossed(m)

    def _check_not_crossed(self, m: Market) -> None:
        best: dict[tuple, list] = {}
        for order in m.orders.values():
            if not order.resting:
                continue
            book = order.book if m.name == "CertificateExchange" else ()
            if m.name == "CertificateExchange" and not order.is_buy:
                cert = self.certificates.get(order.tag)
                book = (cert.method, _vintage(cert.period_end)) if cert else book
            level = best.setdefault(book, [0, None])
            if order.is_buy:
                level[0] = max(level[0], order.price)
            elif level[1] is None or order.price < level[1]:
                level[1] = order.price
        for book, (bid, ask) in best.items():
            if ask is not None and bid >= ask:
                self._find("inv4.book-crossed", m.name, str(book) if book else None, f"< {ask}", bid,
                           "quote base units per kWh", "best bid >= best ask")


_ANNOUNCED_THINGS = {"RentRate", "RentGracePeriod", "ReleasePrice", "Capacity", "Fees", "PriceBand", "MinOrder",
                     "MaxClockSkew"}


def _vintage(period_end: int) -> int:
    """CertificateExchange._vintage: the UTC month (YYYYMM) of a certificate's period end."""
    import datetime as _dt

    d = _dt.datetime.fromtimestamp(period_end, _dt.timezone.utc)
    return d.year * 100 + d.month
