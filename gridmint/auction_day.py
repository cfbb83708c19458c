"""The demo's day by slot auction, and its comparison with the continuous book.

scripts/demo.py (`--market auction`) drives the day; this module holds the market side, on ape
contract objects (receipts with `gas_used` and `decode_logs`):

    market = AuctionMarket(system.auction, system.watt, system.quote, owners, operator, spend)
    market.prepare(system.tsl, budget_quote=B)       # once: approvals, the auction's rent deposit,
                                                     # (optional) each member's budget for its bids
    market.stand(i, offer_wh_per_slot, price, until) # optional: a household's standing ask/bid
    for each slot k (chain time inside slot k):
        rows = market.settle()                      # clears ended slots, claims them, withdraws WATT
        market.place(i, offer=community.ask(...), want=community.bid(...))   # per member
    market.finish()                                  # clears and claims what is left (after the day)
    summary = market.summary()                      # average price, volume, members, gas per member
    rows = compare(book_summary, summary)           # (measure, book, auction) for the demo's table

Every order is a one-shot order in the slot of its placement, except `stand`'s; the members'
energy manager (here the operator, as anyone may) clears the ended slots (one transaction) and claims every order of
it, so nobody sends a transaction per slot for a standing order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from gridmint.auction import catch_up_calls
from gridmint.generated.contracts import MAX_CLAIMS
from gridmint.market import quote_for



@dataclass
class AuctionMarket:
    auction: Any
    watt: Any
    quote: Any
    owners: list
    operator: Any
    spend: Callable[[str, Any], None]
    # order id -> member index, for orders not yet fully claimed
    pending: dict[int, int] = field(default_factory=dict)
    standing: dict[int, int] = field(default_factory=dict)
    cleared: list[tuple[int, int, int]] = field(default_factory=list)  # (slot, price, matched Wh)
    traded_wh: dict[int, int] = field(default_factory=dict)  # member index -> Wh filled (bought + sold)
    volume_wh: int = 0
    value_quote: int = 0

    def prepare(self, tsl: Any, rent_tsl: int = 10**20, budget_quote: int = 0) -> None:
        """WATT names the auction as its second escrow market (the operator, once); members approve the
        quote token to the auction; the operator funds the rent of the WATT the auction holds between a
        seller's claim and the buyer's withdrawal. `budget_quote` (quote base units, 0: none): each
        member deposits that much once (`deposit_quote`, one transaction for the day); its bids then
        escrow from its balance in the auction, as do its proceeds and refunds, with no token transfer
        per bid (docs/rules.md, "Escrow")."""
        if int(str(self.watt.auction()), 16) == 0:
            self.spend("watt.set_auction", self.watt.set_auction(self.auction.address, sender=self.operator))
        for owner in self.owners:
            self.quote.approve(self.auction.address, 2**256 - 1, sender=owner)
            if budget_quote:
                self.spend("auction.deposit_quote", self.auction.deposit_quote(budget_quote, sender=owner))
        if int(self.watt.rent_deposit(self.auction.address)) == 0:  # deploy_system's wire_auction funds it
            tsl.mint(self.operator, rent_tsl, sender=self.operator)
            tsl.approve(self.auction.address, rent_tsl, sender=self.operator)
            self.spend("auction.fund_rent", self.auction.fund_rent(rent_tsl, sender=self.operator))

    def place(self, i: int, offer: tuple[int, int] | None = None, want: tuple[int, int] | None = None) -> None:
        """Member i's orders in the current slot: `offer` (price, Wh) to sell, `want` (price, Wh) to buy."""
        owner = self.owners[i]
        if offer and self.watt.arrears_of(owner)[0] == 0:
            tx = self.auction.place_order(False, *offer, sender=owner)
            self.spend("auction.place_order", tx)
            self.pending[tx.decode_logs(self.auction.OrderPlaced)[0].order_id] = i
        if want:
            tx = self.auction.place_order(True, *want, sender=owner)
            self.spend("auction.place_order", tx)
            self.pending[tx.decode_logs(self.auction.OrderPlaced)[0].order_id] = i

    def stand(self, i: int, is_buy: bool, price: int, wh_per_slot: int, until_s: int) -> int:
        """Member i's standing order for every slot until `until_s`: one transaction for the day."""
        tx = self.auction.place_standing(is_buy, price, wh_per_slot, until_s, sender=self.owners[i])
        self.spend("auction.place_standing", tx)
        order_id = tx.decode_logs(self.auction.OrderPlaced)[0].order_id
        self.pending[order_id] = i
        self.standing[order_id] = i
        return order_id

    def settle(self) -> list[tuple[int, int, int]]:
        """Clears every ended slot in order, claims every pending order and withdraws the WATT bought.
        Returns the slots cleared now: (slot, price in quote base units per kWh, matched Wh)."""
        a = self.auction
        done = []
        # one transaction clears every ended slot (up to 48; clear(k) catches up on those before k)
        for upto in catch_up_calls(int(a.next_to_clear()), int(a.current_slot())):
            first = int(a.next_to_clear())
            self.spend("auction.clear", a.clear(upto, sender=self.operator))
            for slot in range(first, upto + 1):
                r = a.result(slot)
                done.append((slot, int(r.price), int(r.matched_wh)))
                self.volume_wh += int(r.matched_wh)
                self.value_quote += int(r.matched_wh) * int(r.price) // 1000
        self.cleared += done
        if done:
            self._claim_all()
        return done

    def finish(self, advance: Callable[[int], None]) -> None:
        """After the day: `advance(seconds)` moves chain time past the last slot, then settles it and
        cancels the standing orders' remaining slots (their escrow refunded)."""
        a = self.auction
        advance(int(a.SLOT_S()))
        self.settle()
        for order_id, i in list(self.standing.items()):
            if a.order(order_id).open and a.order(order_id).last_slot >= a.current_slot():
                self.spend("auction.cancel_order", a.cancel_order(order_id, sender=self.owners[i]))
        self._claim_all()

    def _claim_all(self) -> None:
        a = self.auction
        ids = sorted(self.pending)
        for k in range(0, len(ids), MAX_CLAIMS):
            tx = a.claim(ids[k : k + MAX_CLAIMS], sender=self.operator)
            self.spend("auction.claim", tx)
            for ev in tx.decode_logs(a.OrderClaimed):
                i = self.pending[ev.order_id]
                if ev.filled_wh:
                    self.traded_wh[i] = self.traded_wh.get(i, 0) + int(ev.filled_wh)
        for order_id in ids:
            if not a.order(order_id).open:
                self.pending.pop(order_id, None)
                self.standing.pop(order_id, None)
        for owner in self.owners:
            owed = int(a.watt_of(owner))
            held = int(self.watt.balanceOf(a.address))
            if owed and held:
                self.spend("auction.withdraw_watt", a.withdraw_watt(min(owed, held), sender=owner))

    def summary(self, gas: dict[str, list[int]]) -> dict:
        """The auction's day in the comparison's terms; `gas` is the demo's spend record."""
        market_gas = sum(sum(v) for k, v in gas.items() if k.startswith("auction."))
        return {
            "average_price": self.value_quote * 1000 // self.volume_wh if self.volume_wh else None,
            "volume_wh": self.volume_wh,
            "members_traded": len(self.traded_wh),
            "gas_per_member_day": market_gas // max(len(self.owners), 1),
            "slots_cleared": len(self.cleared),
            "slots_traded": sum(1 for _, _, v in self.cleared if v),
        }


def book_summary(trades: list, takers: dict[int, str], owners: list, gas: dict[str, list[int]]) -> dict:
    """The continuous book's day in the same terms, from its `Trade` events, the owners of the taker
    orders they name (`takers`: order id -> owner) and the spend record."""
    volume = sum(int(t.amount_wh) for t in trades)
    value = sum(quote_for(int(t.amount_wh), int(t.price)) for t in trades)
    members = {str(t.maker).lower() for t in trades} | {takers[int(t.taker_order_id)].lower() for t in trades}
    market_gas = sum(sum(v) for k, v in gas.items() if k.startswith("exchange."))
    return {
        "average_price": value * 1000 // volume if volume else None,
        "volume_wh": volume,
        "members_traded": len(members & {str(o).lower() for o in owners}) if members else None,
        "gas_per_member_day": market_gas // max(len(owners), 1),
    }


def compare(book: dict, auction: dict) -> list[tuple[str, str, str]]:
    """Rows (measure, book, auction) for the demo's comparison table, units in the measure's name."""

    def price(v):
        return "-" if v is None else f"{v / 1e6:.4f}"

    def n(v):
        return "-" if v is None else f"{v:,}"

    return [
        ("average price (EUR/kWh, volume-weighted)", price(book.get("average_price")), price(auction.get("average_price"))),
        ("volume (kWh)", f"{book.get('volume_wh', 0) / 1000:,.3f}", f"{auction.get('volume_wh', 0) / 1000:,.3f}"),
        ("members who traded", n(book.get("members_traded")), n(auction.get("members_traded"))),
        ("market gas per member per day", n(book.get("gas_per_member_day")), n(auction.get("gas_per_member_day"))),
    ]
