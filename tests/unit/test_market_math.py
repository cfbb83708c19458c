"""gridmint/market.py against the reference book (tests/utils/book.py): the preview of an order
says what the book then does — fills, fees, escrow, what rests, and the member's own resting
orders met on the way (closed, not traded)."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gridmint.generated.contracts import CLOSE_REASONS, FEE_BPS_CAP, FLAG_IOC, FLAG_POST_ONLY
from gridmint.market import Level, bid_escrow, from_wallet, order_flags, preview
from gridmint.units import DAYS_SHOWN_MAX, SECONDS_PER_DAY, UnitError, days_left, storage_days, storage_days_left
from tests.utils import book as ref
from tests.utils.app_module import run_app_module

TICK, FLOOR, CEILING = 10, 100_000, 400_000
ME, OTHERS = "member", ("seller", "buyer", "neighbour")
SELF_TRADE = next(r.code for r in CLOSE_REASONS.values() if r.name == "self_trade")


def _book(min_wh: int, maker_bps: int, taker_bps: int) -> ref.Book:
    return ref.Book(floor=FLOOR, ceiling=CEILING, tick=TICK, min_wh=min_wh, max_fills=64,
                    maker_bps=maker_bps, taker_bps=taker_bps)


_price = st.integers(FLOOR // TICK, CEILING // TICK).map(lambda i: i * TICK)
_resting = st.tuples(st.sampled_from((ME,) + OTHERS), st.booleans(), _price, st.integers(1_000, 20_000))


@st.composite
def _scenario(draw, one_other_per_level: bool):
    min_wh = draw(st.integers(1, 1_000))
    maker_bps, taker_bps = draw(st.integers(0, FEE_BPS_CAP)), draw(st.integers(0, FEE_BPS_CAP))
    orders = draw(st.lists(_resting, max_size=16))
    taker = (draw(st.booleans()), draw(_price), draw(st.integers(min_wh, 40_000)),
             draw(st.sampled_from((0, FLAG_IOC, FLAG_POST_ONLY))))
    bk = _book(min_wh, maker_bps, taker_bps)
    taken: set[tuple[bool, int]] = set()
    for owner, is_buy, price, wh in orders:
        # each other member's order on a level of its own (when asked): the book's per-fill rounding
        # then equals the preview's per-level rounding
        if one_other_per_level and owner != ME and (is_buy, price) in taken:
            continue
        if bk.check(is_buy, price, wh, 0, 0, now=0) is None:
            bk.place(owner, is_buy, price, wh, 0, 0, now=0)
            if owner != ME:
                taken.add((is_buy, price))
    return bk, taker


def _run(bk: ref.Book, taker):
    is_buy, price, wh, flags = taker
    opposite = [Level(p, w) for p, w in bk.depth(not is_buy)]
    own: dict[int, int] = {}
    own_ids = {}
    for o in bk.orders.values():
        if o.owner == ME and o.is_buy != is_buy:
            own[o.price] = own.get(o.price, 0) + o.remaining
            own_ids[o.id] = o.remaining
    pv = preview(is_buy, price, wh, flags, opposite, own, bk.taker_bps, bk.min_wh)
    refusal = bk.check(is_buy, price, wh, 0, flags, now=0)
    return pv, refusal, own_ids


def _placed(bk: ref.Book, taker, own_ids):
    is_buy, price, wh, flags = taker
    bk.log.clear()
    placed = bk.place(ME, is_buy, price, wh, 0, flags, now=0)
    trades = bk.trades()
    quotes = [ref.quote_of(t.amount_wh, t.price) for t in trades]
    quote = sum(quotes)
    taker_fee = sum(q * bk.taker_bps // 10_000 for q in quotes)
    self_closed = sum(own_ids[e[1]] for e in bk.log if e[0] == "OrderClosed" and e[2] == SELF_TRADE)
    rest = bk.orders[placed.order_id].remaining if placed.order_id else 0
    escrow = bk.orders[placed.order_id].escrow if placed.order_id and is_buy else 0
    return placed, trades, quote, taker_fee, self_closed, rest, escrow


@settings(max_examples=300, deadline=None)
@given(_scenario(one_other_per_level=True))
def test_preview__one_order_per_level__is_what_the_book_does(case):
    bk, taker = case
    is_buy, _price, wh, flags = taker
    pv, refusal, own_ids = _run(bk, taker)
    if flags == FLAG_POST_ONLY:
        assert pv.post_only_crosses == (refusal == "exchange: post-only would cross")
    if refusal is not None:
        return
    assert not pv.post_only_crosses
    placed, trades, quote, taker_fee, self_closed, rest, escrow = _placed(bk, taker, own_ids)
    assert pv.fill_wh == sum(t.amount_wh for t in trades)
    assert (pv.quote, pv.taker_fee) == (quote, taker_fee)
    assert (pv.rest_wh, pv.escrow) == (rest, escrow)
    assert pv.dropped_wh == wh - pv.fill_wh - pv.rest_wh
    if is_buy:
        assert pv.pay == placed.paid
    else:
        assert pv.receive == quote - taker_fee
        assert placed.dropped == pv.dropped_wh
    # own orders met are closed (self-trade), never traded; those at the last level only if queued first
    assert all(t.maker != ME for t in trades)
    assert pv.own_closed_wh <= self_closed <= pv.own_closed_wh + pv.own_maybe_wh


@settings(max_examples=200, deadline=None)
@given(_scenario(one_other_per_level=False))
def test_preview__several_orders_per_level__fills_exact_and_cost_an_upper_bound(case):
    bk, taker = case
    pv, refusal, own_ids = _run(bk, taker)
    if refusal is not None:
        return
    placed, trades, quote, taker_fee, self_closed, rest, _escrow = _placed(bk, taker, own_ids)
    assert pv.fill_wh == sum(t.amount_wh for t in trades)
    assert pv.rest_wh == rest
    # per-fill rounding: the book rounds each fill down; the preview rounds each level
    assert 0 <= pv.quote - quote <= len(trades)
    assert 0 <= pv.taker_fee - taker_fee <= len(trades)
    if taker[0]:
        assert pv.pay >= placed.paid
    assert pv.own_closed_wh <= self_closed <= pv.own_closed_wh + pv.own_maybe_wh


def test_preview__own_ask_in_the_way__is_closed_not_bought():
    bk = _book(min_wh=100, maker_bps=10, taker_bps=20)
    bk.place(ME, False, 200_000, 5_000, 0, 0, now=0)  # the member's own ask, best price
    bk.place("seller", False, 210_000, 5_000, 0, 0, now=0)
    taker = (True, 210_000, 3_000, 0)
    pv, refusal, own_ids = _run(bk, taker)
    assert refusal is None
    assert (pv.fill_wh, pv.quote, pv.own_closed_wh, pv.own_maybe_wh) == (3_000, 630_000, 5_000, 0)
    assert pv.taker_fee == 1_260 and pv.rest_wh == 0 and pv.pay == 631_260
    _placed_, trades, quote, _fee, self_closed, _rest, _esc = _placed(bk, taker, own_ids)
    assert [(t.maker, t.price, t.amount_wh) for t in trades] == [("seller", 210_000, 3_000)] and quote == 630_000
    assert self_closed == 5_000


def test_bid_escrow__rounds_up_price_and_fee_cap():
    assert bid_escrow(1, 1) == 2  # ceil(0.001) = 1, plus ceil(1% of 1) = 1
    assert bid_escrow(1_000, 200_000) == 200_000 + 2_000
    assert bid_escrow(1_500, 200_001) == 300_002 + 3_001
    assert all(bid_escrow(w, p) == ref.bid_escrow(w, p) for w in (1, 7, 999, 1_001, 56_789) for p in (10, 123_450))


def test_order_flags__from_the_contract_constants():
    assert (FLAG_IOC, FLAG_POST_ONLY) == (1, 2)
    assert order_flags(False, False) == 0 and order_flags(True, False) == FLAG_IOC
    assert order_flags(False, True) == FLAG_POST_ONLY
    try:
        order_flags(True, True)
    except UnitError as exc:
        assert "exclude" in str(exc)
    else:
        raise AssertionError("ioc and post-only together must be refused")


# ---------------------------------------------------------------- app/src/market.ts agrees, case by case

_NODE_RUNNER = """
const m = await import(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const wallet = [];
const out = cases.map((c) => {
  const p = m.preview(c.is_buy, BigInt(c.limit), BigInt(c.wh), c.flags, c.opposite.map(([p, w]) => ({ price: BigInt(p), amount_wh: BigInt(w) })),
    new Map(c.own.map(([p, w]) => [BigInt(p), BigInt(w)])), BigInt(c.taker_bps), BigInt(c.min_wh));
  wallet.push(m.fromWallet(p.pay, BigInt(c.balance)).toString());
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
});
console.log(JSON.stringify({ out, wallet, escrow: cases.map((c) => m.bidEscrow(BigInt(c.wh), BigInt(c.limit)).toString()) }));
"""


def _cases(n: int = 400) -> list[dict]:
    rnd = random.Random(20)
    cases = []
    for _ in range(n):
        is_buy = rnd.random() < 0.5
        prices = sorted({rnd.randrange(FLOOR // TICK, CEILING // TICK + 1) * TICK for _ in range(rnd.randrange(0, 8))},
                        reverse=not is_buy)  # the opposite side, best first
        opposite = [(p, rnd.randrange(1, 30_000)) for p in prices]
        own = [(p, rnd.randrange(0, w + 1)) for p, w in opposite if rnd.random() < 0.4]
        cases.append({"is_buy": is_buy, "limit": rnd.randrange(FLOOR // TICK, CEILING // TICK + 1) * TICK,
                      "wh": rnd.randrange(1, 60_000), "flags": rnd.choice((0, FLAG_IOC, FLAG_POST_ONLY)),
                      "opposite": opposite, "own": own, "taker_bps": rnd.randrange(0, FEE_BPS_CAP + 1),
                      "min_wh": rnd.randrange(1, 2_000), "balance": rnd.choice((0, rnd.randrange(1, 2 * 10**7)))})
    return cases


def test_market_ts__previews_what_gridmint_market_previews(tmp_path):
    """The member app's module (app/src/market.ts, bundled by the app's own rolldown, run by node)
    gives the same preview, escrow and part paid from the wallet (the balance on the book paying first) as
    gridmint/market.py on 400 books with the member's own orders."""
    cases = _cases()
    got = run_app_module(tmp_path, "market", _NODE_RUNNER, cases)
    for case, ts, escrow, wallet in zip(cases, got["out"], got["escrow"], got["wallet"], strict=True):
        pv = preview(case["is_buy"], case["limit"], case["wh"], case["flags"], [Level(p, w) for p, w in case["opposite"]],
                     dict(case["own"]), case["taker_bps"], case["min_wh"])
        py = {"fillWh": pv.fill_wh, "quote": pv.quote, "takerFee": pv.taker_fee, "restWh": pv.rest_wh,
              "droppedWh": pv.dropped_wh, "escrow": pv.escrow, "ownClosedWh": pv.own_closed_wh,
              "ownMaybeWh": pv.own_maybe_wh, "postOnlyCrosses": pv.post_only_crosses, "isBuy": pv.is_buy,
              "pay": pv.pay, "receive": pv.receive}
        assert {k: v if isinstance(v, bool) else int(v) for k, v in ts.items()} == py, case
        assert int(escrow) == bid_escrow(case["wh"], case["limit"])
        assert int(wallet) == from_wallet(pv.pay, case["balance"])
    assert any(c["own"] for c in cases) and any(json.loads(json.dumps(t))["ownClosedWh"] != "0" for t in got["out"])


# ---------------------------------------------------------------- storage left (gridmint/units.py, app/src/units.ts)
# (here beside the other Python/TypeScript agreement test until units get a test module of their own)

_DAYS_RUNNER = """
const u = await import(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map((s) => u.daysLeft(BigInt(s), 1800000000n).text)));
"""


def test_storage_days__in_days_up_to_a_year__then_more_than_a_year():
    day = SECONDS_PER_DAY
    assert days_left(12 * day + day // 2) == "12.5 days"
    assert days_left(-5) == "0.0 days"
    assert days_left(DAYS_SHOWN_MAX * day) == "365.0 days"
    assert days_left(DAYS_SHOWN_MAX * day + 1) == "more than a year"
    # the case of issue 19: a deposit lasting until 2214 read "68,437.8 days"
    assert storage_days_left(1_800_000_000 + 68_437 * day, 1_800_000_000) == "more than a year"
    assert storage_days_left(2**256 - 1, 1_800_000_000) == "nothing stored"
    assert storage_days(10**18, 1_000, 10**18 // 88) == "88.0 days"
    assert storage_days(10**24, 1_000, 10**18 // 88) == "more than a year"
    assert storage_days(10**18, 0, 10**18) == "nothing stored"


def test_units_ts__days_left_as_gridmint_units(tmp_path):
    seconds = [0, 3_600, 12 * SECONDS_PER_DAY + 43_200, 365 * SECONDS_PER_DAY, 365 * SECONDS_PER_DAY + 1, 68_437 * SECONDS_PER_DAY]
    shown = run_app_module(tmp_path, "units", _DAYS_RUNNER, [str(s) for s in seconds])
    # the app adds the date the deposit runs out: "12.5 days (until …)"
    assert [t.split(" (until ")[0] for t in shown] == [days_left(s) for s in seconds]
    assert shown[-1] == "more than a year" and "(until " in shown[2]
