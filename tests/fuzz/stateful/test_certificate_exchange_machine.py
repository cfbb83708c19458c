"""DESIGN.md invariant 4 on the certificate market, plus its own: the shared exchange machine
(tests/fuzz/exchange_machine.py) with CertificateExchange as its market.

Three classes — solar of two vintages (September and October 2026) and wind of September — and
several ids per class: each trader holds two solar September ids, a wind September id and a solar
October id, with different periods and so different expiries. The adapter: an ask escrows units of
one id and rests in its class's book; a bid names a class and fills from any ask of it (the
reference book compares the price-time order across ids); a taker bid's units are delivered in the
call (or claimed for a beneficiary by `buy_and_claim`), and so are a resting bid's (pushed from the
seller when a taker ask meets it: issue 25, no bid holds units it cannot withdraw in time); asks
closed by the book credit their units to `units_of`, a cancel pushes them back unless the
certificate can no longer move; the gate: a revoked or expired certificate's ask closes with
reason 10 when met. One expiry rule: units are live while `now < expires_at` (time steps land on
exactly `expires_at`). Certificate rules: revoke (operator) and expiry (time travel) of
certificates with resting asks, buy_and_claim, withdraw_units. Its invariants: units are conserved
per id across holders, exchange escrow, `units_of` and claims, and `units_of` equals the model for
every holder and id (zero included: a credit after a successful push shows); no trade of a revoked
or expired id after its revocation or expiry (checked on every fill, and in the chain's logs)."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from gridmint.generated.contracts import CLOSE_UNIT_UNUSABLE
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from oracle.eip712 import Reading
from tests.fuzz.exchange_machine import AMOUNTS, PICKS, ExchangeMachine
from tests.utils import book as ref
from tests.utils.meters import domain_of, meter_signer, submit_one

OPERATOR = boa.env.generate_address("cx-operator")
TRADERS = [boa.env.generate_address(f"cx-trader-{i}") for i in range(3)]
COMPANY = boa.env.generate_address("cx-company")  # the beneficiary of buy_and_claim
NOTICE = 3_600
WINDOW = 86_400  # claim window: certificates expire a day after their period
SOLAR, WIND = 1, 2
OCT1 = 1_790_812_800  # 2026-10-01 00:00 UTC
SEP, OCT = 202609, 202610
CLASSES = [(SOLAR, SEP), (WIND, SEP), (SOLAR, OCT)]
# per trader: (method, end of its generation period relative to OCT1)
HOLDINGS = [(SOLAR, -7_200), (SOLAR, -3_600), (WIND, -3_600), (SOLAR, 3_800)]  # no period crosses a month
PARAMS = SystemParams(capacity_wh=10**9, max_rated_power_w=10**15, claim_window_s=WINDOW, notice_s=NOTICE,
                      cert_tick=10, cert_floor_price=2_530, cert_ceiling_price=2_730, cert_min_order_wh=10,
                      cert_max_fills=4, cert_maker_fee_bps=10, cert_taker_fee_bps=20, cert_max_fee_bps=100)
UNITS_EACH = 50_000
CASH_EACH = 10**11


def book_key(method, vintage):
    return method << 24 | vintage


# one deployer for the process: it keeps each contract compiled (the fixture is built again in every
# test run that needs it; compiling it again each time cost ~17 s)
_DEPLOY = boa_deployer(OPERATOR)

class CertificateExchangeMachine(ExchangeMachine):
    OPERATOR, TRADERS, NOTICE = OPERATOR, TRADERS, NOTICE
    # prices across a leaf of the price index (index 256, 2,560, starts one); a few off-band and off-tick
    PRICES = st.sampled_from([2_530 + i * 10 for i in range(6)] * 8 + [2_520, 2_740, 2_535])
    BANDS = st.sampled_from([(2_530, 2_730), (2_580, 2_730), (2_530, 2_620), (2_590, 2_630)])
    STRAND = (2_530, 2_620)
    PARAMS = (2_530, 2_730, 10, 10, 4, 10, 20)
    BOOK_KEYS = tuple(book_key(*c) for c in CLASSES)
    START = OCT1 + 7_200
    TIME_STEPS = st.sampled_from([1, 30, 300, 900] * 6 + [4 * 3_600])

    @classmethod
    def _market_build(cls):
        sys = deploy_system(_DEPLOY, OPERATOR, PARAMS)
        reg, cert, cx = sys.registry, sys.certificate, sys.certificate_exchange
        domain = domain_of(reg)
        ids = {}  # (trader, holding index) -> certificate id
        for i, t in enumerate(TRADERS):
            for h, (method, end) in enumerate(HOLDINGS):
                end = OCT1 + end - 60 * i
                m = meter_signer(f"cx-meter-{i}-{h}")
                boa.env.evm.patch.timestamp = end - 3_600
                onboard_meter(reg, OPERATOR, t, m.address, method, 10**15, "plant", Registers(end - 3_601))
                for ts, gen in ((end - 3_600, 0), (end, UNITS_EACH)):
                    boa.env.evm.patch.timestamp = ts
                    r = Reading(m.address, ts, gen, 0, 0, 0)
                    submit_one(reg, m, r, domain)
                ids[(t, h)] = cert.issue(m.address, sender=t)
            cert.setApprovalForAll(cx.address, True, sender=t)
            sys.quote.mint(t, CASH_EACH, sender=OPERATOR)
            sys.quote.approve(cx.address, 2**256 - 1, sender=t)
        classes = {id: book_key(*tuple(cx.class_of(id))) for id in ids.values()}
        assert sorted(set(classes.values())) == sorted(cls.BOOK_KEYS), "the fixture's vintages"
        expiry = {id: cert.certificate(id).expires_at for id in ids.values()}
        return {"sys": sys, "ex": cx, "cx": cx, "cert": cert, "quote": sys.quote, "ids": ids, "class_of": classes,
                "expiry": expiry}

    def _init_market(self):
        self.all_ids = sorted(self.class_of)
        self.holders = TRADERS + [COMPANY]
        self.units = {(t, id): self.cert.balanceOf(t, id) for t in self.holders for id in self.all_ids}
        self.issued = {id: sum(self.units[(t, id)] for t in self.holders) for id in self.all_ids}
        self.held_for = {}  # (owner, id) -> units_of
        self.claimed = {id: 0 for id in self.all_ids}
        self.revoked = {}  # id -> revoked at (chain time)

    # ------------------------------------------------------------ helpers

    def _unusable(self, id):
        # the one expiry rule: live while now < expires_at
        return id in self.revoked or self.now >= self.expiry[id]

    def _credit(self, owner, id, wh):
        self.held_for[(owner, id)] = self.held_for.get((owner, id), 0) + wh

    # ------------------------------------------------------------ the adapter

    def _ask_target(self, trader, pick):
        id = self.ids[(trader, pick % len(HOLDINGS))]
        return self.class_of[id], id

    def _bid_book(self, pick):
        return self.BOOK_KEYS[pick % len(self.BOOK_KEYS)]

    def _ask_precheck(self, trader, tag):
        if tag in self.revoked:
            return "certificate_exchange: certificate revoked"
        if self.now >= self.expiry[tag]:
            return "certificate_exchange: certificate expired"
        return None

    def _ask_postcheck(self, trader, tag, wh, dropped):
        # only what filled or rests is escrowed
        if wh - dropped > self.units[(trader, tag)]:
            return "erc1155: insufficient balance for transfer"
        return None

    def _send_ask(self, trader, book, tag, price, wh, expires, flags):
        return self.cx.place_ask(tag, price, wh, expires, flags, sender=trader)

    def _send_bid(self, trader, book, price, wh, expires, flags):
        return self.cx.place_bid(book >> 24, book & (2**24 - 1), price, wh, expires, flags, sender=trader)

    def _gate(self):
        return lambda ask: CLOSE_UNIT_UNUSABLE if self._unusable(ask.tag) else 0

    def _check_trade(self, fill, before):
        id = fill.tag
        assert id not in self.revoked, "a revoked unit changed hands"
        assert self.now < self.expiry[id], "an expired unit changed hands"

    def _settle_ask(self, trader, tag, wh, p):
        self.units[(trader, tag)] -= wh - p.dropped
        for f in p.fills:
            # delivered to the resting bidder in the call, straight from the seller
            self.units[(f.buyer, tag)] += f.wh
        if p.fills:
            event(f"ask fills {min(len(p.fills), 3)} bids")

    def _settle_bid(self, trader, p, beneficiary=None):
        for f in p.fills:
            if beneficiary is None:
                self.units[(trader, f.tag)] += f.wh
            else:
                self.claimed[f.tag] += f.wh
        ids = {f.tag for f in p.fills}
        if len(ids) > 1:
            event(f"bid fills from {min(len(ids), 3)} ids")

    def _take_refunds(self, how):
        for owner, wh, id in self.book.refunds:
            if how == "cancelled" and not self._unusable(id):
                self.units[(owner, id)] += wh  # pushed back to the seller
            else:
                self._credit(owner, id, wh)
                if self._unusable(id):
                    event(f"units of an unusable ask credited ({how})")
        self.book.refunds = []

    def _depth(self, book, is_buy):
        return [tuple(level) for level in self.cx.depth(book >> 24, book & (2**24 - 1), is_buy, 32)]

    def _best(self, book, is_buy):
        m, v = book >> 24, book & (2**24 - 1)
        return tuple(self.cx.best_bid(m, v) if is_buy else self.cx.best_ask(m, v))

    def _order_view(self, oid):
        v = self.cx.order(oid)
        return (v.open, str(v.owner), v.is_buy, v.price, v.remaining_wh, v.escrow_quote, v.certificate_id,
                book_key(v.method, v.vintage))

    def _order_want(self, o):
        return (True, o.owner, o.is_buy, o.price, o.remaining, o.escrow, o.tag, o.book)

    # ------------------------------------------------------------ certificate rules

    def _buy_and_claim(self, trader, pick, price, wh):
        book = self._bid_book(pick)
        m, v = book >> 24, book & (2**24 - 1)
        reason = self.book.check(True, price, wh, 0, ref.IOC, self.now, book)
        if reason:
            self._reverts(reason, self.cx.buy_and_claim, m, v, price, wh, COMPANY, "machine", sender=trader)
            return
        before = dict(self.book.orders)
        p = self.book.place(trader, True, price, wh, 0, ref.IOC, self.now, book, 0, self._gate())
        got = self.cx.buy_and_claim(m, v, price, wh, COMPANY, "machine", sender=trader)
        assert got == sum(f.wh for f in p.fills)
        for f in p.fills:
            self._check_trade(f, before)
        logs = self.cx.get_logs(include_child_logs=True)
        claims = [(e.id, e.amount) for e in logs if type(e).__name__ == "Claimed"]
        runs = []  # one claim per run of fills of the same id
        for f in p.fills:
            if runs and runs[-1][0] == f.tag:
                runs[-1] = (f.tag, runs[-1][1] + f.wh)
            else:
                runs.append((f.tag, f.wh))
        assert claims == runs
        self._expect([e for e in logs if type(e).__name__ in ("Trade", "OrderClosed")])
        self.wallet[trader] -= p.pulled
        self._settle_bid(trader, p, beneficiary=COMPANY)
        self._take_refunds("matched")
        event("bought and claimed" if p.fills else "bought nothing")

    @rule(trader=st.sampled_from(range(3)), pick=PICKS, data=st.data(), wh=AMOUNTS)
    def buy_and_claim(self, trader, pick, data, wh):
        self._buy_and_claim(TRADERS[trader], pick, data.draw(self.PRICES), wh)

    @precondition(lambda self: any(self.held_for.values()))
    @rule(data=st.data(), frac=st.sampled_from([0.5, 1, 1, 2]))
    def withdraw_units(self, data, frac):
        owner, id = data.draw(st.sampled_from(sorted(k for k, v in self.held_for.items() if v)))
        held = self.held_for[(owner, id)]
        amount = max(1, int(held * frac)) if frac <= 1 else held + 1
        if amount > held:
            self._reverts("certificate_exchange: amount exceeds units", self.cx.withdraw_units, id, amount, sender=owner)
        elif id in self.revoked:
            self._reverts("certificate: revoked", self.cx.withdraw_units, id, amount, sender=owner)
        elif self.now >= self.expiry[id]:
            self._reverts("certificate: expired", self.cx.withdraw_units, id, amount, sender=owner)
        else:
            self.cx.withdraw_units(id, amount, sender=owner)
            self.held_for[(owner, id)] -= amount
            self.units[(owner, id)] += amount

    def _revoke(self, id):
        self.cert.revoke(id, "machine", sender=OPERATOR)
        self.revoked[id] = self.now

    @precondition(lambda self: len(self.revoked) < 3)
    @rule(trader=st.sampled_from(range(3)), h=st.integers(0, len(HOLDINGS) - 1))
    def revoke(self, trader, h):
        id = self.ids[(TRADERS[trader], h)]
        if id in self.revoked:
            self._reverts("certificate: already revoked", self.cert.revoke, id, "again", sender=OPERATOR)
            return
        self._revoke(id)

    def _asks_of_usable_ids(self):
        return sorted({o.tag for o in self.book.orders.values() if not o.is_buy and not self._unusable(o.tag)})

    @precondition(lambda self: self._asks_of_usable_ids())
    @rule(data=st.data(), buyer=st.sampled_from(range(3)), wh=st.integers(10, 6_000), claim=st.booleans())
    def revoke_a_resting_ask_then_meet_it(self, data, buyer, wh, claim):
        """Fraud found after listing: a bid (or buy_and_claim) of the class meets the revoked ask and
        closes it (10) — its units are credited back, never delivered — and fills from the class's other ids."""
        id = data.draw(st.sampled_from(self._asks_of_usable_ids()))
        self._revoke(id)
        self._meet_class(TRADERS[buyer], self.class_of[id], wh, claim)

    def _front_asks(self):
        """The ask a bid of its class meets first, for each class where it is still usable: (owner, id)."""
        out = []
        for book in self.BOOK_KEYS:
            best = self.book.best(False, book)
            if best is not None:
                o = self.book.orders[self.book.side(book, False)[best][0]]
                if not self._unusable(o.tag):
                    out.append((o.owner, o.tag))
        return sorted(out)

    @precondition(lambda self: self._asks_of_usable_ids())
    @rule(data=st.data(), buyer=st.sampled_from(range(3)), wh=st.integers(10, 6_000), claim=st.booleans(),
          late=st.sampled_from([0, 0, 1, 60]), front=st.booleans())
    def let_a_resting_ask_expire_then_meet_it(self, data, buyer, wh, claim, late, front):
        """The claim window ends while an ask rests: the first bid from its very second `expires_at` on
        closes the ask (10). With `front`, the ask is the first its class's bids meet (and the bidder is
        not its owner), so the boundary second is always tested on it."""
        if front and self._front_asks():
            owner, id = data.draw(st.sampled_from(self._front_asks()))
            buyer = next(i for i, t in enumerate(TRADERS) if t != owner)
            event("front ask met at its expiry" if late == 0 else "front ask met after its expiry")
        else:
            id = data.draw(st.sampled_from(self._asks_of_usable_ids()))
        boa.env.evm.patch.timestamp = self.expiry[id] + late
        self._meet_class(TRADERS[buyer], self.class_of[id], wh, claim)

    def _resting_bid_classes(self):
        return sorted({o.book for o in self.book.orders.values() if o.is_buy})

    @precondition(lambda self: self._resting_bid_classes())
    @rule(data=st.data(), seller=st.sampled_from(range(3)), early=st.sampled_from([1, 0]))
    def dump_expiring_units_into_a_resting_bid(self, data, seller, early):
        """Issue 25's attack: units sold into a resting bid in their last second (`early` 1) reach the
        bidder in the call; in the second they expire (`early` 0) they cannot be listed at all."""
        book = data.draw(st.sampled_from(self._resting_bid_classes()))
        trader = TRADERS[seller]
        picks = [h for h in range(len(HOLDINGS)) if self.class_of[self.ids[(trader, h)]] == book]
        if not picks:
            return
        h = data.draw(st.sampled_from(picks))
        id = self.ids[(trader, h)]
        if id in self.revoked or self.expiry[id] - early < self.now:
            return
        boa.env.evm.patch.timestamp = self.expiry[id] - early
        bid = max((o for o in self.book.orders.values() if o.is_buy and o.book == book), key=lambda o: o.price)
        self.place(trader, False, h, bid.price, max(bid.remaining, self.book.min_wh), 0, ref.IOC)
        event(f"dumped at expires_at - {early}")

    def _meet_class(self, buyer, book, wh, claim):
        pick = self.BOOK_KEYS.index(book)
        if claim:
            self._buy_and_claim(buyer, pick, self.book.ceiling, wh)
        else:
            self.place(buyer, True, pick, self.book.ceiling, wh, 0, ref.IOC)

    # ------------------------------------------------------------ invariants: units

    @invariant()
    def units_are_conserved(self):
        owners = [a for a in self.holders + [self.cx.address] for _ in self.all_ids]
        balances = self.cert.balanceOfBatch(owners, self.all_ids * (len(self.holders) + 1))
        n = len(self.all_ids)
        escrow = {id: 0 for id in self.all_ids}
        for o in self.book.orders.values():
            if not o.is_buy:
                escrow[o.tag] += o.remaining
        # `units_of` everywhere, expected zero included: the whole map as stored (boa lists every non-zero
        # entry by its owner's alias), one read instead of a view call per owner and id (40% of this
        # machine's time went to those calls)
        owner_of = {_alias(t): t for t in self.holders}
        stored = {(owner_of.get(o, o), id): v for o, per_id in self.cx._storage.units_of.get().items()
                  for id, v in per_id.items()}
        assert stored == {k: v for k, v in self.held_for.items() if v}, stored
        for j, id in enumerate(self.all_ids):
            held = [balances[k * n + j] for k in range(len(self.holders))]
            assert held == [self.units[(t, id)] for t in self.holders], id
            credited = sum(v for (_, i), v in self.held_for.items() if i == id)
            assert balances[len(self.holders) * n + j] == escrow[id] + credited, id
            assert sum(held) + escrow[id] + credited + self.claimed[id] == self.issued[id], id
        for id, c in self.claimed.items():
            if c:
                assert self.cert.claimed_balance_of(COMPANY, id) == c


def _alias(address):
    """How boa's storage dump names an address: its alias when it has one."""
    try:
        return boa.env.lookup_alias(address)
    except KeyError:
        return str(address)


TestCertificateExchangeMachine = CertificateExchangeMachine.TestCase
