"""The auditor's part for the slot auction (EnergyAuction): escrow, clearings, fills and claims from
events alone, then compared with the chain's views.

`AuctionLedger.apply(event)` folds the auction's events in chain order (the same `Event` shape as
recompute.Ledger); it keeps every order (side, price index, Wh per slot, slots, claim cursor), the band
and fee in force, and per account the quote balance (`proceeds_of`: credits and deposits, less what
bids escrowed out of it and withdrawals) and the WATT owed (`watt_of`), the bid escrow and the fees.
A bid's escrow comes out of its owner's balance as far as it goes, the rest from its wallet: the
ledger's own balance says how much (`OrderPlaced` carries no split). Invariant 7 (docs/rules.md), checked from events:
- each `AuctionCleared` is recomputed by brute force over the orders that joined the slot
  (`gridmint.auction.clear_slot`): price and matched Wh must agree;
- each `OrderClaimed` is recomputed from those clearings (`gridmint.auction.fill`, the fee in force
  at clearing): Wh filled, quote, fee and refunds must agree; a second claim of a settled order
  never appears (claims are idempotent);
- quote: what the auction took in (bid escrow) covers what it credited, and WATT: what sellers
  delivered covers what buyers were credited, once claims are in (`finish`).
`compare(view)` then checks `proceeds_of`, `watt_of`, `bid_escrow_total` and `fees_accrued` against
the chain. The lead wires it into the audit's fetch/compare (`Ledger` keeps the other contracts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from gridmint import auction as ref

from .events import Event
from .findings import COMPARE, INVARIANT, Finding

CONTRACT = "EnergyAuction"
CLAIM_SLOTS = 96


@dataclass(slots=True)
class AuctionOrder:
    owner: str
    is_buy: bool
    idx: int
    amount_wh: int
    first: int
    last: int
    standing: bool
    cursor: int
    open: bool = True


@dataclass
class AuctionLedger:
    """Folds EnergyAuction's events; `tick` (quote base units per kWh) and `slot_s` (s) are the
    contract's immutables (`TICK()`, `SLOT_S()`), read once from the chain or the record."""

    tick: int
    slot_s: int
    orders: dict[int, AuctionOrder] = field(default_factory=dict)
    clearings: dict[int, ref.Clearing] = field(default_factory=dict)
    proceeds: dict[str, int] = field(default_factory=dict)
    watt_owed: dict[str, int] = field(default_factory=dict)
    bid_escrow: int = 0
    fees: int = 0
    quote_in: int = 0
    quote_out: int = 0
    watt_delivered: int = 0
    watt_withdrawn: int = 0
    band: tuple[int, int] = (0, 0)  # floor, ceiling price (quote base units per kWh)
    fee_bps: int = 0
    next_to_clear: int | None = None
    findings: list[Finding] = field(default_factory=list)
    _block: int = 0
    _ts: int = 0

    # ------------------------------------------------------------------ folding

    def apply(self, ev: Event) -> None:
        if ev.contract != CONTRACT:
            return
        self._block, self._ts = ev.block, ev.timestamp
        handler: Callable | None = getattr(self, f"_on_{ev.name}", None)
        if handler is not None:
            handler(ev.args)

    def _find(self, check: str, account, expected, actual, unit: str, detail: str = "") -> None:
        self.findings.append(Finding(INVARIANT, check, CONTRACT, account, self._block, expected, actual, unit, detail))

    def _on_UpdatePriceBand(self, a: dict) -> None:
        self.band = (int(a["floor_price"]), int(a["ceiling_price"]))

    def _on_UpdateFees(self, a: dict) -> None:
        self.fee_bps = int(a["taker_fee_bps"])

    def _on_OrderPlaced(self, a: dict) -> None:
        is_buy, price, wh = bool(a["is_buy"]), int(a["price"]), int(a["amount_wh"])
        first, last = int(a["first_slot"]), int(a["last_slot"])
        if self.next_to_clear is None:
            self.next_to_clear = first
        self.orders[int(a["order_id"])] = AuctionOrder(
            str(a["owner"]), is_buy, price // self.tick, wh, first, last, bool(a["standing"]), first)
        if is_buy:
            # a bid escrows out of its owner's balance first (docs/rules.md, "Escrow"); the rest came in
            escrow = ref.bid_escrow(wh, price) * (last - first + 1)
            owner = str(a["owner"])
            from_balance = min(self.proceeds.get(owner, 0), escrow)
            self.bid_escrow += escrow
            self._credit(owner, -from_balance)
            self.quote_in += escrow - from_balance

    def _on_QuoteDeposited(self, a: dict) -> None:
        self._credit(str(a["owner"]), int(a["amount"]))
        self.quote_in += int(a["amount"])

    def _on_OrderCancelled(self, a: dict) -> None:
        o = self.orders.get(int(a["order_id"]))
        if o is None:
            self._find("inv7.cancel-unknown", a["owner"], "a placed order", a["order_id"], "id")
            return
        if o.standing:
            now_slot = self._ts // self.slot_s
            dropped = o.last - now_slot + 1
            o.last = now_slot - 1
        else:
            dropped = 1
            o.open = False
            o.last = o.first - 1
        if o.is_buy:
            refund = ref.bid_escrow(o.amount_wh, o.idx * self.tick) * dropped
            if refund != int(a["refund_quote"]):
                self._find("inv7.cancel-refund", o.owner, refund, int(a["refund_quote"]), "quote base units")
            self.bid_escrow -= refund
            self._credit(o.owner, refund)
        elif o.amount_wh * dropped != int(a["refund_wh"]):
            self._find("inv7.cancel-refund", o.owner, o.amount_wh * dropped, int(a["refund_wh"]), "Wh")

    def _on_AsksClosedForArrears(self, a: dict) -> None:
        # one-shot asks of uncleared slots were logged as OrderCancelled (and taken out there, with the
        # block's timestamp: same slot rule); standing asks stop from the next slot to clear
        nxt = self.next_to_clear or 0
        for o in self.orders.values():
            if o.owner == a["account"] and o.standing and not o.is_buy and o.open and o.last >= nxt:
                o.last = nxt - 1

    def _on_AuctionCleared(self, a: dict) -> None:
        slot = int(a["slot"])
        if self.next_to_clear is not None and slot != self.next_to_clear:
            self._find("inv7.clear-order", None, self.next_to_clear, slot, "slot")
        self.next_to_clear = slot + 1
        joined = [ref.Order(i, o.is_buy, o.idx, o.amount_wh) for i, o in self.orders.items() if o.first <= slot <= o.last]
        lo = -(-self.band[0] // self.tick)
        hi = self.band[1] // self.tick
        c = ref.clear_slot(joined, lo, hi, self.fee_bps)
        self.clearings[slot] = c
        if (c.idx * self.tick, c.matched_wh) != (int(a["price"]), int(a["matched_wh"])):
            self._find("inv7.clearing", f"slot {slot}", (c.idx * self.tick, c.matched_wh),
                       (int(a["price"]), int(a["matched_wh"])), "quote base units per kWh, Wh",
                       "the clearing recomputed by brute force over the slot's orders differs")

    def _on_OrderClaimed(self, a: dict) -> None:
        oid = int(a["order_id"])
        o = self.orders.get(oid)
        if o is None or not o.open:
            self._find("inv7.claim-twice", a["owner"], "an open order", oid, "id", "a settled or unknown order was claimed")
            return
        stop = int(a["to_slot"])
        filled = paid = credit = fees = release = 0
        for k in range(o.cursor, max(stop, o.cursor)):
            c = self.clearings[k]
            wh, q = ref.fill(c, o.is_buy, o.idx, o.amount_wh, self.tick)
            fee = ref.fee_of(q, c.fee_bps)
            filled, fees = filled + wh, fees + fee
            if o.is_buy:
                paid += q + fee
            else:
                credit += q - fee
                release += o.amount_wh - wh
        n = max(stop, o.cursor) - o.cursor
        if o.is_buy:
            escrow = ref.bid_escrow(o.amount_wh, o.idx * self.tick) * n
            self.bid_escrow -= escrow
            credit = escrow - paid
            self.watt_owed[o.owner] = self.watt_owed.get(o.owner, 0) + filled
        else:
            self.watt_delivered += filled
        expected = (filled, paid if o.is_buy else credit + fees, fees, release)
        actual = (int(a["filled_wh"]), int(a["quote"]), int(a["fee"]), int(a["refund_wh"]))
        if expected != actual:
            self._find("inv7.claim", o.owner, expected, actual, "Wh, quote base units, quote base units, Wh",
                       f"order {oid}: fill, quote, fee or refund differs from the recomputed clearing")
        self._credit(o.owner, credit)
        self.fees += fees
        if o.standing and stop <= o.last:
            o.cursor = stop
        else:
            o.open = False

    def _on_ProceedsWithdrawn(self, a: dict) -> None:
        self.proceeds[a["owner"]] = self.proceeds.get(a["owner"], 0) - int(a["amount"])
        self.quote_out += int(a["amount"])

    def _on_WattWithdrawn(self, a: dict) -> None:
        self.watt_owed[a["owner"]] = self.watt_owed.get(a["owner"], 0) - int(a["wh"])
        self.watt_withdrawn += int(a["wh"])

    def _on_FeesClaimed(self, a: dict) -> None:
        self.quote_out += int(a["amount"])
        if int(a["amount"]) != self.fees:
            self._find("inv7.fees", a["treasury"], self.fees, int(a["amount"]), "quote base units")
        self.fees = 0

    def _credit(self, owner: str, amount: int) -> None:
        self.proceeds[owner] = self.proceeds.get(owner, 0) + amount

    # ------------------------------------------------------------------ end checks and compare

    def finish(self) -> list[Finding]:
        """Conservation once the history is folded: quote in covers quote owed; WATT delivered
        covers WATT owed to buyers (counting claims still to come for cleared slots)."""
        held = self.quote_in - self.quote_out
        owed = sum(self.proceeds.values()) + self.bid_escrow + self.fees + self._pending(quote=True)
        if held < owed:
            self._find("inv7.quote-conserved", None, owed, held, "quote base units", "the auction owes more quote than it took in")
        watt_have = self.watt_delivered - self.watt_withdrawn + self._pending(quote=False, sellers=True)
        watt_owed = sum(self.watt_owed.values()) + self._pending(quote=False, sellers=False)
        if watt_have < watt_owed:
            self._find("inv7.watt-conserved", None, watt_owed, watt_have, "Wh", "buyers are owed more WATT than sellers deliver")
        return self.findings

    def _pending(self, quote: bool, sellers: bool = True) -> int:
        total = 0
        for o in self.orders.values():
            if not o.open:
                continue
            for k in range(o.cursor, min(o.last + 1, self.next_to_clear or 0)):
                wh, q = ref.fill(self.clearings[k], o.is_buy, o.idx, o.amount_wh, self.tick)
                if quote:
                    total += -q if o.is_buy else q
                elif o.is_buy != sellers:
                    total += wh
        return total

    def compare(self, auction_view, block: int | None = None) -> list[Finding]:
        """Compares with the chain (`auction_view`: the contract or anything with its views)."""
        out = []

        def check(name, account, expected, actual, unit):
            if expected != actual:
                out.append(Finding(COMPARE, f"auction.{name}", CONTRACT, account, block, expected, actual, unit))

        for owner, v in sorted(self.proceeds.items()):
            check("proceeds_of", owner, v, int(auction_view.proceeds_of(owner)), "quote base units")
        for owner, v in sorted(self.watt_owed.items()):
            check("watt_of", owner, v, int(auction_view.watt_of(owner)), "Wh")
        check("bid_escrow_total", None, self.bid_escrow, int(auction_view.bid_escrow_total()), "quote base units")
        check("fees_accrued", None, self.fees, int(auction_view.fees_accrued()), "quote base units")
        self.findings += out
        return out
