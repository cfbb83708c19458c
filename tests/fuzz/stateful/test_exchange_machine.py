"""DESIGN.md invariants 4, 2 (sales in arrears) and 6 (announced changes) on the energy market: the
shared exchange machine (tests/fuzz/exchange_machine.py) with EnergyExchange as its market.

The adapter: one book (0); an ask escrows WATT of its seller inside the WATT token (all of it first,
then what did not fill or rest is released); fills are delivered from escrow to the buyer; asks
closed by the book go back to their owners' free balance; the gate is storage-rent arrears (an ask
of an account in arrears closes with reason 7 when met). Energy-only rules: a debtor whose deposit
runs dry, `release_unpaid` reaching escrowed WATT, rent paid back. Its invariant: WATT is conserved
across free balances, escrow and released storage, and every escrow equals the seller's open asks."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from gridmint.generated.contracts import CLOSE_ARREARS
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from oracle.eip712 import Reading
from tests.fuzz.exchange_machine import ExchangeMachine
from tests.utils.machine import T0
from tests.utils.meters import domain_of, meter_signer, submit_one

OPERATOR = boa.env.generate_address("ex-operator")
TRADERS = [boa.env.generate_address(f"ex-trader-{i}") for i in range(3)]
DEBTOR = TRADERS[2]  # its small rent deposit runs dry within hours: then it cannot sell
NOTICE = 3_600
GRACE = 3 * 86_400
PARAMS = SystemParams(capacity_wh=10**9, max_rated_power_w=10**15, tick=100, floor_price=101_700, ceiling_price=121_700,
                      min_order_wh=10, max_fills=4, maker_fee_bps=10, taker_fee_bps=20, max_fee_bps=100,
                      notice_s=NOTICE, rent_grace_period_s=GRACE)
WATT_EACH = 200_000
CASH_EACH = 10**11


# one deployer for the process: it keeps each contract compiled (the fixture is built again in every
# test run that needs it; compiling it again each time cost ~17 s)
_DEPLOY = boa_deployer(OPERATOR)

class EnergyExchangeMachine(ExchangeMachine):
    OPERATOR, TRADERS, NOTICE = OPERATOR, TRADERS, NOTICE
    # prices on a narrow band so orders cross often, across a leaf of the price index (index 1,024,
    # 102,400, starts one: the crossing check decides from the root word when the other side's best leaf
    # lies beyond an order's); a few off-band and off-tick ones
    PRICES = st.sampled_from([i * 100 for i in range(1_017, 1_032)] * 8 + [101_600, 121_800, 106_750])
    BANDS = st.sampled_from([(101_700, 121_700), (102_200, 121_700), (101_700, 102_600), (102_300, 102_700)])
    STRAND = (101_700, 102_600)
    PARAMS = (101_700, 121_700, 100, 10, 4, 10, 20)
    BOOK_KEYS = (0,)
    START = T0 + 1  # the fixture's last reading and the rent deposits

    @classmethod
    def _market_build(cls):
        sys = deploy_system(_DEPLOY, OPERATOR, PARAMS)
        reg = sys.registry
        domain = domain_of(reg)
        for i, t in enumerate(TRADERS):
            m = meter_signer(f"ex-meter-{i}")
            onboard_meter(reg, OPERATOR, t, m.address, 1, 10**15, "m", Registers(T0 - 1))
            for ts, exp in ((T0, 0), (T0 + 1, WATT_EACH)):
                boa.env.evm.patch.timestamp = ts
                r = Reading(m.address, ts, 0, 0, exp, 0)
                submit_one(reg, m, r, domain)
            sys.quote.mint(t, CASH_EACH, sender=OPERATOR)
            sys.quote.approve(sys.exchange.address, 2**256 - 1, sender=t)
        for t in TRADERS:  # rent: two traders for good, the debtor for about three and a half hours
            sys.tsl.mint(t, 10**23, sender=OPERATOR)
            sys.tsl.approve(sys.watt.address, 2**256 - 1, sender=t)
            sys.watt.deposit_rent(10**17 if t == DEBTOR else 10**22, sender=t)
        return {"sys": sys, "ex": sys.exchange, "watt": sys.watt, "quote": sys.quote}

    def _init_market(self):
        self.free = {t: self.watt.balanceOf(t) for t in TRADERS}
        self.minted = sum(self.free.values())
        self.released = 0  # WATT burned by release_unpaid

    # ------------------------------------------------------------ the adapter

    def _ask_target(self, trader, pick):
        return 0, 0

    def _bid_book(self, pick):
        return 0

    def _ask_precheck(self, trader, tag):
        return None

    def _ask_postcheck(self, trader, tag, wh, dropped):
        # WATT escrows the whole ask first, then releases what neither filled nor rested
        if self.watt.in_arrears(trader):
            return "watt: account in arrears"
        if wh > self.free[trader]:
            return "watt: escrow exceeds balance"
        return None

    def _send_ask(self, trader, book, tag, price, wh, expires, flags):
        return self.ex.place_order(False, price, wh, expires, flags, sender=trader)

    def _send_bid(self, trader, book, price, wh, expires, flags):
        return self.ex.place_order(True, price, wh, expires, flags, sender=trader)

    AMENDS = True

    @rule(trader=st.sampled_from(range(3)), amount=st.sampled_from([1, 10**5, 10**6, 10**7]))
    def deposit_quote(self, trader, amount):
        """A balance on the book (energy market): the trader's bids pay out of it before its wallet."""
        t = self.TRADERS[trader]
        if self.wallet[t] < amount:
            return
        self.ex.deposit_quote(amount, sender=t)
        self.book.proceeds[t] = self.book.proceeds.get(t, 0) + amount
        self.wallet[t] -= amount

    def _send_amend(self, who, oid, price, wh):
        return self.ex.amend_order(oid, price, wh, sender=who)

    def _amend_postcheck(self, o, delta_wh):
        # an increase escrows the difference through WATT
        if delta_wh > 0 and self.watt.in_arrears(o.owner):
            return "watt: account in arrears"
        if delta_wh > self.free[o.owner]:
            return "watt: escrow exceeds balance"
        return None

    def _settle_amend(self, o, delta_wh):
        self.free[o.owner] -= delta_wh

    def _gate(self):
        self._debtors = debtors = frozenset(t for t in TRADERS if self.watt.in_arrears(t))
        return lambda ask: CLOSE_ARREARS if ask.owner in debtors else 0

    def _check_trade(self, fill, before):
        assert fill.seller not in self._debtors, "an account in arrears sold"

    def _settle_ask(self, trader, tag, wh, p):
        self.free[trader] -= wh - p.dropped
        for f in p.fills:
            self.free[f.buyer] += f.wh

    def _settle_bid(self, trader, p):
        for f in p.fills:
            self.free[trader] += f.wh

    def _take_refunds(self, how):
        for owner, wh, _ in self.book.refunds:
            self.free[owner] += wh
        self.book.refunds = []

    def _depth(self, book, is_buy):
        return [tuple(level) for level in self.ex.depth(is_buy, 32)]

    def _best(self, book, is_buy):
        return tuple(self.ex.best_bid() if is_buy else self.ex.best_ask())

    def _order_view(self, oid):
        v = self.ex.order(oid)
        return (v.open, str(v.owner), v.is_buy, v.price, v.remaining_wh, v.escrow_quote)

    def _order_want(self, o):
        return (True, o.owner, o.is_buy, o.price, o.remaining, o.escrow)

    # ------------------------------------------------------------ energy-only rules: rent arrears

    @rule(buyer=st.sampled_from(range(2)), data=st.data(), wh=st.integers(10, 5_000))
    def debtor_sells_then_runs_dry(self, buyer, data, wh):
        """The shelter attack: an ask placed while paid up never fills once the seller is in arrears;
        the buyer that meets it closes it (7) and goes on."""
        stored_kwh = -(-self.watt.stored_of(DEBTOR) // 1000)
        ten_minutes = stored_kwh * self.watt.rent_rate() * 600 // 86_400 + 1
        self.watt.deposit_rent(self.watt.rent_due(DEBTOR) + ten_minutes, sender=DEBTOR)
        self.place(DEBTOR, False, 0, data.draw(self.PRICES), wh, 0, 0)
        boa.env.time_travel(seconds=3_600)
        self.place(TRADERS[buyer], True, 0, self.book.ceiling, wh, 0, 1)

    @rule(amount=st.integers(1, 10**18))
    def debtor_pays_rent(self, amount):
        self.watt.deposit_rent(amount, sender=DEBTOR)

    @rule(trader=st.sampled_from(range(3)))
    def release_after_grace(self, trader):
        """`release_unpaid` reaches escrowed WATT: when the free balance is short, every ask closes (7)."""
        trader = TRADERS[trader]
        self.watt.settle_rent(trader)  # arrears are recorded when touched; the grace period counts from then
        boa.env.time_travel(seconds=GRACE)
        due = self.watt.rent_due(trader)
        recorded, since = self.watt.arrears_of(trader)
        if due == 0:
            self._reverts("watt: no arrears", self.watt.release_unpaid, trader, sender=OPERATOR)
            return
        if recorded == 0 or self.now < since + GRACE:  # ran dry during the wait: recorded only now
            self._reverts("watt: grace period not over", self.watt.release_unpaid, trader, sender=OPERATOR)
            return
        needed = -(-due * 1000 // self.watt.release_price())
        closed_wh = 0
        if needed > self.free[trader]:
            closed_wh = self.book.close_asks_of(trader)
        wh = min(needed, self.free[trader] + closed_wh)
        if wh == 0:
            self.book.log = []
            self._reverts("watt: nothing to release", self.watt.release_unpaid, trader, sender=OPERATOR)
            return
        assert self.watt.release_unpaid(trader, sender=OPERATOR) == wh
        closes = self.book.log
        self._expect(self.watt.get_logs(include_child_logs=True))
        assert all(e[2] == CLOSE_ARREARS for e in closes)
        self.free[trader] += closed_wh - wh
        self.released += wh
        event("released" + (" with asks closed" if closes else ""))

    # ------------------------------------------------------------ invariant 4: WATT conserved

    @invariant()
    def watt_is_conserved(self):
        free = [self.watt.balanceOf(t) for t in TRADERS]
        escrowed = [self.watt.escrowed_of(t) for t in TRADERS]
        assert free == [self.free[t] for t in TRADERS]
        for t, e in zip(TRADERS, escrowed):
            assert e == sum(o.remaining for o in self.book.orders.values() if o.owner == t and not o.is_buy)
        assert sum(free) + sum(escrowed) + self.released == self.minted
        assert sum(free) + sum(escrowed) == self.watt.totalSupply()


TestEnergyExchangeMachine = EnergyExchangeMachine.TestCase
