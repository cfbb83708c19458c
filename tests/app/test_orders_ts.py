"""Which orders are closed, as the app reads it from events (app/src/orders.ts `closedOrderIds`, bundled by the
app's own rolldown, run by node): on hand-made events, then on every order of both books of the seeded chain
plus new fills of each kind, against the book's own `order(id).open`. The books say each thing once: a fill
that closes a maker says it in `Trade.maker_left` (0) and a taker filled in full in its Trades (they add up
to its OrderPlaced amount), with no OrderClosed; every other close logs OrderClosed."""

from __future__ import annotations

import pytest

from gridmint.generated.contracts import CLOSE_CANCELLED, CLOSE_IOC, FLAG_IOC
from tests.utils.app_module import run_app_module
from tests.utils.browser import transact

pytestmark = pytest.mark.integration
BUYER = "Lindqvist flat"
_RUNNER = """
const o = await import(process.argv[1]);
const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
const big = (ls) => ls.map((l) => ({ args: Object.fromEntries(Object.entries(l).map(([k, v]) => [k, BigInt(v)])) }));
console.log(JSON.stringify(c.map((x) => [...o.closedOrderIds(big(x.placed), big(x.closed), big(x.trades))].map(String).sort())));
"""


def _closed(tmp_path, cases: list[dict]) -> list[set[int]]:
    return [set(map(int, ids)) for ids in run_app_module(tmp_path, "orders", _RUNNER, cases)]


def _placed(order_id: int, wh: int) -> dict:
    return {"order_id": order_id, "amount_wh": wh}


def _trade(maker: int, taker: int, wh: int, maker_left: int) -> dict:
    return {"maker_order_id": maker, "taker_order_id": taker, "amount_wh": wh, "maker_left": maker_left}


def test_closed_order_ids__each_way_an_order_closes(tmp_path):
    placed = [_placed(1, 500), _placed(2, 200), _placed(3, 800), _placed(4, 500), _placed(5, 400), _placed(6, 300)]
    trades = [
        _trade(1, 2, 200, 300),  # 2 filled in full as the taker (no OrderClosed); 1 rests with 300 Wh
        _trade(1, 3, 300, 0),  # 1 filled as the maker (no OrderClosed); 3 rests with 500 Wh
        _trade(3, 4, 500, 0),  # 3, the taker that rested, filled as a maker; 4 filled in full
        _trade(6, 5, 100, 200),  # 5 partly filled, its IOC remainder dropped (OrderClosed); 6 rests with 200 Wh
    ]
    closed = [{"order_id": 5, "reason": CLOSE_IOC, "refunded": 0}, {"order_id": 7, "reason": CLOSE_CANCELLED, "refunded": 100}]
    assert _closed(tmp_path, [{"placed": placed, "closed": closed, "trades": trades}]) == [{1, 2, 3, 4, 5, 7}]


def _args(events) -> list[dict]:
    return [{k: int(v) for k, v in e["args"].items() if isinstance(v, int) and not isinstance(v, bool)} for e in events]


def _send(w3, fn, sender: str):
    fn.call({"from": sender})  # a revert says why here
    return transact(w3, fn, sender, 3_000_000)


def test_closed_order_ids__every_order_of_both_books__as_the_books_hold_them(tmp_path, chain, contracts, members):
    w3 = chain[0]
    ex, cx = contracts["EnergyExchange"], contracts["CertificateExchange"]
    watt, buyer = contracts["WattToken"], members[BUYER]["account"]
    # the member holding the most free WATT sells (the seed offered a third of each PV member's store)
    seller = max((m["account"] for m in members.values() if m["account"] != buyer), key=lambda a: watt.functions.balanceOf(a).call())
    tick, u = ex.functions.TICK().call(), max(ex.functions.min_order_wh().call(), 100)
    (bid, _), (ask, ask_wh) = ex.functions.best_bid().call(), ex.functions.best_ask().call()
    p = (bid + ask) // 2 // tick * tick
    assert bid < p < ask and ask_wh >= u, "the seed leaves a spread and asks in the energy book"
    assert watt.functions.balanceOf(seller).call() >= 8 * u and watt.functions.arrears_of(seller).call()[0] == 0

    def place(who: str, is_buy: bool, price: int, wh: int, flags: int = 0) -> int:
        r = _send(w3, ex.functions.place_order(is_buy, price, wh, 0, flags), who)
        return ex.events.OrderPlaced().process_receipt(r)[0]["args"]["order_id"]

    full_taker = place(buyer, True, ask, u)  # fills from the seed's best ask in full
    maker = place(seller, False, p, 3 * u)  # rests
    place(buyer, True, p, u)  # a taker filled in full; the maker keeps 2u
    rested = place(buyer, True, p, 4 * u)  # closes the maker (2u), rests with 2u
    place(seller, False, p, 2 * u)  # fills the rested bid in full as the maker
    place(seller, False, p, u)
    place(buyer, True, p, 2 * u, FLAG_IOC)  # IOC: u filled, the rest dropped (OrderClosed)
    cancelled = place(seller, False, p, u)
    _send(w3, ex.functions.cancel_order(cancelled), seller)
    still_open = place(seller, False, p, 2 * u)
    place(buyer, True, p, u)  # the ask keeps u

    got = {}
    for name, book in (("energy", ex), ("certificates", cx)):
        placed = _args(book.events.OrderPlaced().get_logs(from_block=0))
        closed_logs = _args(book.events.OrderClosed().get_logs(from_block=0))
        trades = _args(book.events.Trade().get_logs(from_block=0))
        (got[name],) = _closed(tmp_path, [{"placed": placed, "closed": closed_logs, "trades": trades}])
        held = {a["order_id"] for a in placed if not book.functions.order(a["order_id"]).call()[-1]}  # OrderView.open
        assert got[name] == held, name
        # closed with no OrderClosed: filled makers, takers filled in full (the seed's buy-and-claim, for certificates)
        assert got[name] - {a["order_id"] for a in closed_logs}, name
    assert {full_taker, maker, rested, cancelled} <= got["energy"] and still_open not in got["energy"]
