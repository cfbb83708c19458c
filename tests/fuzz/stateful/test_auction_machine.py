"""DESIGN.md invariant 7: the slot auction against the Python reference, under random actions.

Every clearing is compared with `gridmint.auction.clear_slot` (brute force over the orders the
model says joined that slot): the price, the matched Wh, the rationing, and each order's fill.
A model predicts every claim (quote credited, WATT owed, escrow released or delivered, fees)
and the machine checks after every step: quote held by the auction == proceeds + bid escrow +
fees + rounding surplus (>= 0, exactly the model's); WATT conserved; per cleared slot matched
buys == matched sells up to the long side's rounding (< 1 Wh per order at the price, never in
the buyers' favour); no fill beyond its order's amount or limit; pro rata within 1 Wh; claims
idempotent; a standing order never fills more per slot than its amount. Attack moves: orders in
a slot's last second, members on both sides, sellers in arrears and `release_unpaid`'s close,
`clear` early, twice, with junk, or late over skipped slots (one call, one event per slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boa
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from gridmint import auction as ref
from gridmint.generated.contracts import MAX_CATCH_UP
from gridmint.system import CONTRACTS_DIR, SystemParams
from tests.utils.machine import AnchoredMachine

P = SystemParams()
SLOT_S = 1_800
FEE_BPS = 20
OPERATOR = boa.env.generate_address("auction-operator")
MEMBERS = [boa.env.generate_address(f"auction-member-{i}") for i in range(4)]
PRICES = [150_000, 180_000, 200_000, 220_000, 250_000]
WATT0 = 10**7
CASH0 = 10**14
STUB = Path(__file__).resolve().parents[2] / "unit" / "auction" / "StubWatt.vy"
with boa.env.prank(OPERATOR):
    _WATT = boa.load_partial(str(STUB))
    _QUOTE = boa.load_partial(str(CONTRACTS_DIR / "MockStablecoin.vy"))
    _AUCTION = boa.load_partial(str(CONTRACTS_DIR / "EnergyAuction.vy"))


@dataclass
class MOrder:
    oid: int
    owner: str
    is_buy: bool
    idx: int
    amount: int
    first: int
    last: int
    standing: bool
    cursor: int
    open: bool = True


class AuctionMachine(AnchoredMachine):
    @classmethod
    def _fixture_build(cls):
        """The auction over a stub WATT, every member holding WATT0 Wh and CASH0 quote (approved)."""
        with boa.env.prank(OPERATOR):
            watt = _WATT.deploy()
            quote = _QUOTE.deploy()
            a = _AUCTION.deploy(
                watt.address, quote.address, SLOT_S, P.tick, P.floor_price, P.ceiling_price,
                P.min_order_wh, FEE_BPS, P.max_fee_bps, P.min_floor_price, P.max_ceiling_price,
                P.max_min_order_wh, P.notice_s,
            )
        for m in MEMBERS:
            watt.mint(m, WATT0)
            quote.mint(m, CASH0, sender=OPERATOR)
            quote.approve(a.address, 2**256 - 1, sender=m)
        return {"a": a, "watt": watt, "quote": quote}

    def __init__(self):
        super().__init__()
        fx = self._fixture()
        self.a, self.watt, self.quote = fx["a"], fx["watt"], fx["quote"]
        self.orders: dict[int, MOrder] = {}
        self.clearings: dict[int, ref.Clearing] = {}
        self.proceeds = {m: 0 for m in MEMBERS}
        self.watt_of = {m: 0 for m in MEMBERS}
        self.escrow_wh = {m: 0 for m in MEMBERS}
        self.free_wh = {m: WATT0 for m in MEMBERS}
        self.arrears = {m: False for m in MEMBERS}
        self.bid_escrow = 0
        self.fees = 0
        self.pot = 0  # WATT delivered to the auction by sellers' claims, less withdrawals
        self.quote_in = 0  # quote pulled from bidders, less withdrawals and fees sent out
        self.burned = 0
        self.lo, self.hi = P.floor_price // P.tick, P.ceiling_price // P.tick

    # ------------------------------------------------------------ helpers

    def _slot(self):
        return self.now // SLOT_S

    def _joined(self, k):
        return [o for o in self.orders.values() if o.first <= k <= o.last and (o.standing or o.open or k < self.a.next_to_clear())]

    def _clear(self, upto):
        """Clears every slot not yet cleared through `upto` in one call; checks each slot's clearing."""
        first = self.a.next_to_clear()
        expected = {}
        for k in range(first, upto + 1):
            members = [o for o in self.orders.values() if o.first <= k <= o.last]
            c = ref.clear_slot([ref.Order(o.oid, o.is_buy, o.idx, o.amount) for o in members], self.lo, self.hi, FEE_BPS)
            expected[k] = (members, c)
        self.a.clear(upto)
        # one AuctionCleared per slot, in order
        logged = [e for e in self.a.get_logs() if type(e).__name__ == "AuctionCleared"]
        assert self.a.next_to_clear() == upto + 1
        assert [e.slot for e in logged] == list(range(first, upto + 1))
        for k, (members, c) in expected.items():
            self._check_cleared(k, members, c)

    def _check_cleared(self, k, members, c):
        r = self.a.result(k)
        assert r.cleared
        assert (r.price, r.matched_wh, r.long_side, r.shared_wh, r.level_wh) == (
            c.idx * P.tick, c.matched_wh, c.long_side, c.shared_wh, c.level_wh,
        ), (k, r, c)
        self.clearings[k] = c
        bought = sold = n_bids_at = n_asks_at = 0
        for o in members:
            wh, q = ref.fill(c, o.is_buy, o.idx, o.amount, P.tick)
            if o.open:
                assert tuple(self.a.fill_of(o.oid, k)) == (wh, q)
            assert wh <= o.amount  # per slot, for standing orders too
            if wh:
                assert (o.idx >= c.idx) if o.is_buy else (o.idx <= c.idx)  # never worse than its limit
            on_long_side = c.long_side == (ref.LONG_BIDS if o.is_buy else ref.LONG_ASKS)
            if o.idx == c.idx and on_long_side:
                exact = o.amount * c.shared_wh / c.level_wh
                assert abs(wh - exact) < 1  # pro rata within 1 Wh
            if o.is_buy:
                bought += wh
                n_bids_at += o.idx == c.idx
            else:
                sold += wh
                n_asks_at += o.idx == c.idx
        if c.long_side == ref.LONG_BIDS:
            assert sold == c.matched_wh and c.matched_wh - n_bids_at < bought <= c.matched_wh
        elif c.long_side == ref.LONG_ASKS:
            assert bought == c.matched_wh and c.matched_wh <= sold < c.matched_wh + max(n_asks_at, 1)
        else:
            assert bought == sold == c.matched_wh

    def _catch_up(self):
        while self.a.next_to_clear() < self._slot():
            self._clear(min(self._slot() - 1, self.a.next_to_clear() + MAX_CATCH_UP - 1))

    def _expect_claim(self, o: MOrder):
        """The model's claim of one order; returns the seller's WATT delivered (for the pot)."""
        cleared_to = self.a.next_to_clear()
        stop = min(o.last + 1, cleared_to, o.cursor + 96)
        if o.cursor >= stop and not (o.standing and o.cursor > o.last):
            return
        filled = paid = credit = fees = release = 0
        for k in range(o.cursor, max(stop, o.cursor)):
            c = self.clearings[k]
            wh, q = ref.fill(c, o.is_buy, o.idx, o.amount, P.tick)
            fee = ref.fee_of(q, c.fee_bps)
            filled += wh
            fees += fee
            if o.is_buy:
                paid += q + fee
            else:
                credit += q - fee
                release += o.amount - wh
        if filled and not o.is_buy and self.arrears[o.owner]:
            return
        n = max(stop, o.cursor) - o.cursor
        if o.is_buy:
            escrow = ref.bid_escrow(o.amount, o.idx * P.tick) * n
            self.bid_escrow -= escrow
            credit = escrow - paid
            self.watt_of[o.owner] += filled
        else:
            self.escrow_wh[o.owner] -= filled + release
            self.free_wh[o.owner] += release
            self.pot += filled
        self.proceeds[o.owner] += credit
        self.fees += fees
        if o.standing and stop <= o.last:
            o.cursor = stop
        else:
            o.open = False

    def _escrow_bid(self, m, e):
        """A bid's escrow: out of the member's balance in the auction first, the rest pulled."""
        use = min(self.proceeds[m], e)
        self.proceeds[m] -= use
        self.bid_escrow += e
        self.quote_in += e - use

    # ------------------------------------------------------------ rules

    @rule(m=st.sampled_from(MEMBERS), amount=st.integers(1, 10**9))
    def deposit_quote(self, m, amount):
        self.a.deposit_quote(amount, sender=m)
        self.proceeds[m] += amount
        self.quote_in += amount

    @rule(m=st.sampled_from(MEMBERS), is_buy=st.booleans(), price=st.sampled_from(PRICES),
          amount=st.integers(P.min_order_wh, 3_000))
    def place(self, m, is_buy, price, amount):
        if not ref.may_place(self.a.next_to_clear(), self._slot()):
            with boa.reverts("auction: clear the ended slots first"):
                self.a.place_order(is_buy, price, amount, sender=m)
            return
        if not is_buy and self.arrears[m]:
            with boa.reverts("watt: account in arrears"):
                self.a.place_order(is_buy, price, amount, sender=m)
            return
        if not is_buy and len(self.a.open_asks(m)) >= 16:
            return
        oid = self.a.place_order(is_buy, price, amount, sender=m)
        k = self._slot()
        self.orders[oid] = MOrder(oid, m, is_buy, price // P.tick, amount, k, k, False, k)
        if is_buy:
            self._escrow_bid(m, ref.bid_escrow(amount, price))
        else:
            self.escrow_wh[m] += amount
            self.free_wh[m] -= amount

    @rule(m=st.sampled_from(MEMBERS), is_buy=st.booleans(), price=st.sampled_from(PRICES),
          amount=st.integers(P.min_order_wh, 2_000), n=st.integers(1, 4))
    def place_standing(self, m, is_buy, price, amount, n):
        self._catch_up()
        if (not is_buy and self.arrears[m]) or (not is_buy and len(self.a.open_asks(m)) >= 16):
            return
        k = self._slot()
        until = (k + n) * SLOT_S
        oid = self.a.place_standing(is_buy, price, amount, until, sender=m)
        self.orders[oid] = MOrder(oid, m, is_buy, price // P.tick, amount, k, k + n - 1, True, k)
        if is_buy:
            self._escrow_bid(m, ref.bid_escrow(amount, price) * n)
        else:
            self.escrow_wh[m] += amount * n
            self.free_wh[m] -= amount * n

    @precondition(lambda self: any(o.open for o in self.orders.values()))
    @rule(data=st.data())
    def cancel(self, data):
        o = data.draw(st.sampled_from(sorted((o for o in self.orders.values() if o.open), key=lambda o: o.oid)))
        k = self._slot()
        if o.standing:
            self._catch_up()
            if o.last < k:
                with boa.reverts("auction: standing order already ended"):
                    self.a.cancel_order(o.oid, sender=o.owner)
                return
            dropped = o.last - k + 1
            o.last = k - 1
        else:
            if k > o.first:
                with boa.reverts("auction: slot ended, claim after clearing"):
                    self.a.cancel_order(o.oid, sender=o.owner)
                return
            dropped = 1
            o.open = False
            o.last = o.first - 1  # never joins
        self.a.cancel_order(o.oid, sender=o.owner)
        if o.is_buy:
            e = ref.bid_escrow(o.amount, o.idx * P.tick) * dropped
            self.bid_escrow -= e
            self.proceeds[o.owner] += e
        else:
            self.escrow_wh[o.owner] -= o.amount * dropped
            self.free_wh[o.owner] += o.amount * dropped

    @rule(seconds=st.sampled_from([1, 60, 600, SLOT_S - 1, SLOT_S, 2 * SLOT_S, 5 * SLOT_S]), to_edge=st.booleans())
    def advance(self, seconds, to_edge):
        if to_edge:  # the slot's last second: orders placed now still join this slot
            seconds = SLOT_S - 1 - self.now % SLOT_S or SLOT_S
        boa.env.time_travel(seconds=seconds)

    @rule()
    def clear_next(self):
        k = self.a.next_to_clear()
        if k >= self._slot():
            with boa.reverts("auction: slot not ended"):
                self.a.clear(k)
            return
        self._clear(k)

    @rule(data=st.data())
    def clear_late(self, data):
        """Slots skipped and cleared late: one call clears every ended slot up to the one named
        (at most MAX_CATCH_UP); naming one further reverts and changes nothing."""
        first, now = self.a.next_to_clear(), self._slot()
        if first >= now:
            return
        if now - first > MAX_CATCH_UP:
            with boa.reverts("auction: too many slots to catch up"):
                self.a.clear(first + MAX_CATCH_UP)
        k = data.draw(st.integers(first, min(now - 1, first + MAX_CATCH_UP - 1)))
        self._clear(k)

    @precondition(lambda self: len(self.clearings) > 0)
    @rule(data=st.data())
    def clear_junk(self, data):
        k = data.draw(st.sampled_from(sorted(self.clearings)))
        with boa.reverts("auction: slot already cleared"):
            self.a.clear(k)

    @precondition(lambda self: len(self.orders) > 0)
    @rule(data=st.data(), twice=st.booleans())
    def claim(self, data, twice):
        ids = data.draw(st.lists(st.sampled_from(sorted(self.orders)), min_size=1, max_size=4, unique=True))
        for oid in ids:
            if self.orders[oid].open:
                self._expect_claim(self.orders[oid])
        self.a.claim(ids)
        if twice:
            # idempotent once settled: a second claim of what is settled changes nothing
            before = [self.a.proceeds_of(m) for m in MEMBERS]
            settled = [oid for oid in ids if not self.orders[oid].open]
            self.a.claim(settled)
            assert before == [self.a.proceeds_of(m) for m in MEMBERS]

    @rule(m=st.sampled_from(MEMBERS))
    def withdraw_watt(self, m):
        wh = min(self.watt_of[m], self.watt.balanceOf(self.a.address))
        self.a.withdraw_watt(wh, sender=m)
        self.watt_of[m] -= wh
        self.pot -= wh
        self.free_wh[m] += wh

    @rule(m=st.sampled_from(MEMBERS), flag=st.booleans())
    def set_arrears(self, m, flag):
        self.watt.set_arrears(m, flag)
        self.arrears[m] = flag

    @precondition(lambda self: any(self.arrears.values()))
    @rule(data=st.data())
    def release_unpaid(self, data):
        """WATT's release_unpaid: the auction takes the account's asks out of uncleared auctions."""
        m = data.draw(st.sampled_from([m for m in MEMBERS if self.arrears[m]]))
        nxt = self.a.next_to_clear()
        expected = 0
        for o in self.orders.values():
            if o.owner != m or o.is_buy or not o.open:
                continue
            if o.standing and o.last >= nxt:
                expected += o.amount * (o.last - nxt + 1)
                o.last = nxt - 1
            elif not o.standing and o.first >= nxt:
                expected += o.amount
                o.open = False
                o.last = o.first - 1
        closed = self.a.close_asks_of(m, sender=self.watt.address)
        assert closed == expected
        self.watt.burn_escrow(m, closed)
        self.escrow_wh[m] -= closed
        self.burned += closed

    @rule()
    def claim_fees(self):
        self.a.claim_fees(sender=OPERATOR)
        self.quote_in -= self.fees
        self.fees = 0

    @rule(m=st.sampled_from(MEMBERS))
    def withdraw_proceeds(self, m):
        amount = self.proceeds[m]
        self.a.withdraw_proceeds(amount, sender=m)
        self.proceeds[m] = 0
        self.quote_in -= amount

    # ------------------------------------------------------------ invariants

    @invariant()
    def ledgers_match_the_model(self):
        for m in MEMBERS:
            assert self.a.proceeds_of(m) == self.proceeds[m]
            assert self.a.watt_of(m) == self.watt_of[m]
            assert self.watt.escrowed_of(m) == self.escrow_wh[m]
            assert self.watt.balanceOf(m) == self.free_wh[m]
        assert self.a.bid_escrow_total() == self.bid_escrow
        assert self.a.fees_accrued() == self.fees

    def _pending_quote(self):
        """Sellers' quote minus buyers' quote (before fees) of cleared slots not yet claimed."""
        cleared_to = self.a.next_to_clear()
        net = 0
        for o in self.orders.values():
            if not o.open:
                continue
            for k in range(o.cursor, min(o.last + 1, cleared_to)):
                q = ref.fill(self.clearings[k], o.is_buy, o.idx, o.amount, P.tick)[1]
                net += -q if o.is_buy else q
        return net

    @invariant()
    def quote_conserved(self):
        held = self.quote.balanceOf(self.a.address)
        assert held == self.quote_in
        # once every cleared slot is claimed the auction owes proceeds + bid escrow + fees (each side's
        # fee moves from its quote to `fees_accrued`): what it holds covers that, the surplus being
        # rounding in its favour, never negative
        assert held >= sum(self.proceeds.values()) + self.bid_escrow + self.fees + self._pending_quote()

    @invariant()
    def watt_owed_is_covered(self):
        """The auction's WATT plus what sellers still deliver for cleared slots covers what buyers are
        owed and still claim: matched sells >= matched buys, per slot and in total."""
        cleared_to = self.a.next_to_clear()
        to_come = owed = 0
        for o in self.orders.values():
            if not o.open:
                continue
            for k in range(o.cursor, min(o.last + 1, cleared_to)):
                wh = ref.fill(self.clearings[k], o.is_buy, o.idx, o.amount, P.tick)[0]
                if o.is_buy:
                    owed += wh
                else:
                    to_come += wh
        assert self.watt.balanceOf(self.a.address) + to_come >= sum(self.watt_of.values()) + owed

    @invariant()
    def watt_conserved(self):
        total = sum(self.watt.balanceOf(m) + self.watt.escrowed_of(m) for m in MEMBERS)
        assert total + self.watt.balanceOf(self.a.address) == WATT0 * len(MEMBERS) - self.burned
        assert self.watt.balanceOf(self.a.address) == self.pot


TestAuctionMachine = AuctionMachine.TestCase
