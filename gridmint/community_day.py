"""One community day on chain: the engine `make demo` (scripts/demo.py) and `make app`'s seed
(tools/app_seed.py) both run.

    community = onboard(system, members, owners, meters, operator, commissioned_at, registers, spend)
    day = run_day(community, w3, t0, slots, sim, readings, market="auction"|"book"|None, spend=spend)
    issued, profiles = issue_certificates(community, day, spend, profile=True)
    matched, consumed = claim_matching(community, day, issued, profiles, spend, DAY_LABEL)
    figures = certificate_market(community, issued, consumed, spend)

Contract handles have ape's call shape (`c.fn(*args)` reads, `c.fn(*args, sender=account)` sends and
returns a receipt with `gas_used` and `decode_logs(c.EventName)`): ape's own, or tools/app_seed.py's
web3 handles. The meters' registers come from `sim` (`counters()`, `advance(datetime)`: the oracle's
simulator) and reach the chain through `readings` (the `Readings` protocol: the oracle's gateway or
central pipeline, or the seed's relayer); this module imports nothing from `oracle/`.

`spend(kind, receipt)` records a transaction's gas under `kind`; `on_slot(k)` is called after each
slot (the demo's progress bar). Amounts in Wh, prices in quote base units per kWh, times in s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol, Sequence

from gridmint import community as rules
from gridmint.community import BERLIN, SLOT_S, Member
from gridmint.market import quote_for, takers_of
from gridmint.onboarding import commissioning, onboard_meter
from gridmint.storage_ledger import less_stored

Spend = Callable[[str, Any], None]
Counters = dict[str, tuple[int, int, int, int]]  # meter address -> (generated, consumed, exported, imported) Wh

RENT_TSL = 40 * 10**18  # each member's first storage-rent deposit (TSL base units, 18 decimals)
QUOTE_EUR = 200 * 10**6  # each member's mock EUR (6 decimals; local chains only)


def no_spend(kind: str, receipt: Any) -> None:
    """A `spend` that records nothing."""


def spender(gas: dict[str, list[int]]) -> Spend:
    """`spend(kind, receipt)`: records a transaction's gas under `kind` in `gas`."""

    def spend(kind: str, receipt: Any) -> None:
        gas.setdefault(kind, []).append(int(receipt.gas_used))

    return spend


class Readings(Protocol):
    """How a slot's registers reach the chain."""

    def relay(self, ts: int, counters: Counters, credit: bool) -> None:
        """Puts every meter's reading at `ts` (s) on chain; `credit`: the meters' WATT credited now."""

    def finish(self) -> None:
        """After the day: every meter credited up to its last reading."""


@dataclass
class Community:
    """The onboarded community: `owners[i]` owns `meters[i]` (an object with `.address`) of `members[i]`."""

    system: Any
    members: list[Member]
    owners: list
    meters: list
    operator: Any


def onboard(system, members: Sequence[Member], owners: Sequence, meters: Sequence, operator, commissioned_at: int,
            registers: Counters, spend: Spend = no_spend, rent_tsl: int = RENT_TSL, quote_eur: int = QUOTE_EUR,
            spare_tsl: int = 0) -> Community:
    """Registers and accepts every member's meter with its commissioning `registers` at `commissioned_at`
    (s), mints each owner `rent_tsl` + `spare_tsl` TSL and deposits `rent_tsl` of it as storage rent,
    mints `quote_eur` mock EUR and approves the exchange to spend it."""
    tsl, watt, quote, ex = system.tsl, system.watt, system.quote, system.exchange
    for member, meter, owner in zip(members, meters, owners):
        registered, accepted = onboard_meter(
            system.registry, operator, owner, meter.address, member.method, member.rated_power_w, member.name,
            commissioning(commissioned_at, registers[meter.address]))
        spend("registry.register_meter", registered)
        spend("registry.accept_meter", accepted)
        tsl.mint(owner, rent_tsl + spare_tsl, sender=operator)
        tsl.approve(watt.address, rent_tsl, sender=owner)
        spend("watt.deposit_rent", watt.deposit_rent(rent_tsl, sender=owner))
        quote.mint(owner, quote_eur, sender=operator)  # mock EUR: local chains only
        quote.approve(ex.address, 2**256 - 1, sender=owner)
    return Community(system, list(members), list(owners), list(meters), operator)


@dataclass
class Day:
    """What a day's slots left behind."""

    market: str | None
    baselines: Counters  # the registers at the day's start
    last: Counters = field(default_factory=dict)  # the registers at the last slot's end
    gen_by_slot: dict[str, dict[int, int]] = field(default_factory=dict)  # meter -> slot -> Wh generated
    use_by_slot: dict[str, dict[int, int]] = field(default_factory=dict)  # meter -> slot -> Wh consumed
    trades: list = field(default_factory=list)  # the book's Trade events
    takers: dict[int, str] = field(default_factory=dict)  # order id -> owner of the book's taker orders
    open_asks: dict[int, int] = field(default_factory=dict)  # member index -> resting ask id (the book)
    auction: Any = None  # gridmint.auction_day.AuctionMarket on the slot auction
    # per slot: (slot end s, generated Wh, consumed Wh, traded Wh, average price or None, WATT supply Wh)
    series: list[tuple] = field(default_factory=list)
    trade_count: int = 0  # the book's Trade events, also when not kept

    def consumed_wh(self, meter: str) -> int:
        return self.last[meter][1] - self.baselines[meter][1]


def run_day(c: Community, w3, t0: int, slots: int, sim, readings: Readings, market: str | None = "auction",
            spend: Spend = no_spend, credit_every_slots: int = 1, on_slot: Callable[[int], None] | None = None,
            close: bool = True) -> Day:
    """`slots` 30-minute slots from `t0` (s), chain time following the simulated clock: each slot's
    registers relayed (credited every `credit_every_slots` slots), then every member trades on `market`
    by gridmint.community's rules ("auction": one-shot orders in the slot auction, cleared and claimed
    as slots end; "book": one resting ask at a time and immediate-or-cancel bids; None: no trading).
    With `close`, after the last slot the auction's slots are cleared and claimed, the book's resting
    asks cancelled and `readings.finish()` credits every meter. Chain time is at `t0` before the first
    relay (the caller mines there)."""
    system, owners, meters = c.system, c.owners, c.meters
    watt, ex = system.watt, system.exchange
    floor, ceiling, tick = ex.floor_price(), ex.ceiling_price(), ex.TICK()
    auction = None
    if market == "auction":
        from gridmint.auction_day import AuctionMarket

        auction = AuctionMarket(system.auction, watt, system.quote, owners, c.operator, spend)
        auction.prepare(system.tsl)
    elif market not in ("book", None):
        raise ValueError(f"market is auction, book or None, not {market!r}")

    baselines = sim.counters()
    readings.relay(t0, baselines, credit=True)
    day = Day(market, baselines, baselines, {m.address: {} for m in meters}, {m.address: {} for m in meters},
              auction=auction)
    prev = baselines
    for k in range(1, slots + 1):
        ts = t0 + k * SLOT_S
        w3.provider.make_request("evm_setNextBlockTimestamp", [ts])
        counters = sim.advance(datetime.fromtimestamp(ts, BERLIN))
        readings.relay(ts, counters, credit=k % credit_every_slots == 0)
        slot = (ts - 1) // SLOT_S  # a reading's Wh belong to the slot of its last second
        for m in meters:
            d = [a - b for a, b in zip(counters[m.address], prev[m.address])]
            day.gen_by_slot[m.address][slot] = day.gen_by_slot[m.address].get(slot, 0) + d[0]
            day.use_by_slot[m.address][slot] = day.use_by_slot[m.address].get(slot, 0) + d[1]
        slot_trades = []
        cleared = auction.settle() if auction else []
        if market is not None:
            for i, (meter, owner) in enumerate(zip(meters, owners)):
                flows = [a - b for a, b in zip(counters[meter.address], prev[meter.address])]
                offer = rules.ask(watt.balanceOf(owner), i, floor, ceiling, tick)
                want = rules.bid(flows[3], floor, ceiling, tick)
                if auction:
                    auction.place(i, offer=offer, want=want)
                else:
                    slot_trades += _book_orders(ex, watt, owner, i, offer, want, day.open_asks, day.takers,
                                                spend)
        day.trades += slot_trades
        day.trade_count += len(slot_trades)
        gen = sum(counters[m.address][0] - prev[m.address][0] for m in meters)
        load = sum(counters[m.address][1] - prev[m.address][1] for m in meters)
        if auction:
            traded = sum(v for _, _, v in cleared)
            value = sum(v * p // 1000 for _, p, v in cleared)
        else:
            traded = sum(t.amount_wh for t in slot_trades)
            value = sum(quote_for(t.amount_wh, t.price) for t in slot_trades)
        day.series.append((ts, gen, load, traded, value / traded * 1000 if traded else None, watt.totalSupply()))
        prev = day.last = counters
        if on_slot:
            on_slot(k)
    if close:
        close_day(c, day, w3, readings, spend)
    return day


def _book_orders(ex, watt, owner, i: int, offer, want, open_asks: dict[int, int], takers: dict[int, str],
                 spend: Spend) -> list:
    """Member i on the continuous book: an ask for `offer` (price, Wh) when it has none resting and no rent
    arrears; an immediate-or-cancel bid for `want` when there is an ask. Returns the Trade events and
    adds the taker orders' owners to `takers` (a `Trade` names its taker by order id)."""
    from gridmint.generated.contracts import FLAG_IOC

    trades = []
    # sellers: offer half of what they store, below the utility's price, one ask at a time
    if i in open_asks and not ex.order(open_asks[i]).open:
        del open_asks[i]
    if i not in open_asks and offer and watt.arrears_of(owner)[0] == 0:
        tx = ex.place_order(False, *offer, 0, 0, sender=owner)
        spend("exchange.place_order", tx)
        trades += tx.decode_logs(ex.Trade)
        placed = tx.decode_logs(ex.OrderPlaced)
        takers.update(takers_of(placed))
        if placed and ex.order(placed[0].order_id).open:
            open_asks[i] = placed[0].order_id
    # buyers: what they imported last slot, bid above the feed-in price (IOC)
    if want and ex.best_ask()[1] > 0:
        tx = ex.place_order(True, *want, 0, FLAG_IOC, sender=owner)
        spend("exchange.place_order", tx)
        trades += tx.decode_logs(ex.Trade)
        takers.update(takers_of(tx.decode_logs(ex.OrderPlaced)))
    return trades


def close_day(c: Community, day: Day, w3, readings: Readings, spend: Spend = no_spend) -> None:
    """After the last slot: the auction clears and claims what is left (chain time moved past the last
    slot), the book's resting asks are cancelled, and every meter is credited up to its last reading."""

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    if day.auction:
        day.auction.finish(advance)
    ex = c.system.exchange
    for i, order_id in list(day.open_asks.items()):
        if ex.order(order_id).open:
            spend("exchange.cancel_order", ex.cancel_order(order_id, sender=c.owners[i]))
    day.open_asks.clear()
    readings.finish()


def market_figures(c: Community, day: Day, gas: dict[str, list[int]]) -> dict:
    """The day's market in gridmint.auction_day.compare's terms."""
    from gridmint.auction_day import book_summary

    return day.auction.summary(gas) if day.auction else book_summary(day.trades, day.takers, c.owners, gas)


# ---------------------------------------------------------------- certificates and claims

def issue_certificates(c: Community, day: Day | None, spend: Spend = no_spend,
                       profile: bool = True, stored: dict[str, dict[int, int]] | None = None) -> tuple[dict[int, int], list]:
    """Every member with a renewable method whose meter is certifiable issues its certificate: with the
    day's half-hour generation profile (`profile`; its CertificateProfile events returned) or by volume.
    `stored` (meter -> slot -> Wh, gridmint.storage_day.CommunityStorage.stored_by_slot): the green charge
    the battery's settlement took from each meter's generation, left out of its profile (those Wh are
    certified as discharge, to whoever drew them). Returns ({member index: certificate id}, the profile events)."""
    from gridmint import matching

    cert, registry = c.system.certificate, c.system.registry
    issued: dict[int, int] = {}
    profiles: list = []
    for i, (member, meter, owner) in enumerate(zip(c.members, c.meters, c.owners)):
        if not (member.method and registry.certifiable(meter.address)[0]):
            continue
        if profile:
            taken = {k.lower(): v for k, v in (stored or {}).items()}.get(str(meter.address).lower(), {})
            slot_wh = less_stored(day.gen_by_slot[meter.address], taken)
            tx = matching.issue_with_profile(cert, registry, meter.address, owner, slot_wh)
            spend("certificate.issue (48-slot profile)", tx)
            profiles += tx.decode_logs(cert.CertificateProfile)
        else:
            tx = cert.issue(meter.address, sender=owner)
            spend("certificate.issue", tx)
        issued[i] = int(tx.decode_logs(cert.CertificateIssued)[0].id)
    return issued, profiles


def claim_matching(c: Community, day: Day, issued: dict[int, int], profiles: list, spend: Spend,
                   label: str) -> tuple[dict[str, Any], dict[int, int]]:
    """Each company that issued a certificate claims it half-hour by half-hour against its consumption
    (its 24/7 score). Returns ({company name: gridmint.matching.Matching}, {member index: Wh consumed
    over the day not yet claimed})."""
    from gridmint import matching

    cert = c.system.certificate
    consumed = {i: day.consumed_wh(m.address) for i, m in enumerate(c.meters)}
    unclaimed = matching.unclaimed_from_events(profiles, [])
    matched = {}
    for i, member in enumerate(c.members):
        if member.kind != "company" or i not in issued:
            continue
        owner = c.owners[i]
        m, sent = matching.claim_matching(cert, owner, getattr(owner, "address", owner),
                                          day.use_by_slot[c.meters[i].address],
                                          {issued[i]: unclaimed.get(issued[i], {})}, f"{member.name}: 24/7, {label}")
        for tx in sent:
            spend("certificate.claim_slots", tx)
        matched[member.name] = m
        consumed[i] -= m.green_wh
    return matched, consumed


ASK_PRICES = (3_000, 4_000, 3_500, 5_000, 4_500)  # certificate asks, quote base units per kWh: 0.0030 .. 0.0050


def certificate_market(c: Community, issued: dict[int, int], consumed: dict[int, int], spend: Spend,
                       label: str) -> dict:
    """Certificates change hands on CertificateExchange. Every generator that is not a buyer offers its
    whole certificate (an ask at 3.0-5.0 TEUR/MWh); each company first claims its own certificate, if it
    has one, for its consumption, then buys environmental value for the rest of the day's consumption
    with `buy_and_claim` (one transaction: buy across the class's asks, cheapest first, and claim),
    the care home up to 4.0 TEUR/MWh, the others up to 6.0. Returns the market's part of the summary."""
    from gridmint.market import bid_escrow
    from gridmint.units import certificate_class

    members, owners = c.members, c.owners
    cert, cx, quote = c.system.certificate, c.system.certificate_exchange, c.system.quote
    floor, tick, minimum = int(cx.floor_price()), int(cx.TICK()), int(cx.min_order_wh())
    buyers = [i for i, m in enumerate(members) if m.kind == "company"]
    trades, asks = [], []
    for n, (i, id) in enumerate(issued.items()):
        wh = int(cert.certificate(id).amount_wh)
        if i in buyers or wh < minimum:
            continue
        spend("certificate.setApprovalForAll", cert.setApprovalForAll(cx.address, True, sender=owners[i]))
        p = max(ASK_PRICES[n % len(ASK_PRICES)] // tick * tick, floor)
        tx = cx.place_ask(id, p, wh, 0, 0, sender=owners[i])
        spend("certificate_exchange.place_ask", tx)
        trades += tx.decode_logs(cx.Trade)
        asks.append(wh)
    method = vintage = None
    if issued:
        method, vintage = cx.class_of(max(issued.values(), key=lambda id: cert.certificate(id).amount_wh))
    claimed_own = claimed_market = 0
    # the company without a generator of its own pays less and buys first
    for i in sorted(buyers, key=lambda i: i in issued):
        need = consumed[i]
        purpose = f"{members[i].name}: electricity consumed on {label}"
        if i in issued:
            # what is left of its own certificate after its half-hour claims, for the rest of its use
            own = min(int(cert.balanceOf(owners[i], issued[i])), need)
            if own:
                spend("certificate.claim", cert.claim(issued[i], own, owners[i], purpose, sender=owners[i]))
                claimed_own += own
                need -= own
        max_price = 4_000 if i not in issued else 6_000
        if method is None or need < minimum or not cx.best_ask(method, vintage)[1]:
            continue
        spend("quote.approve", quote.approve(cx.address, bid_escrow(need, max_price), sender=owners[i]))
        tx = cx.buy_and_claim(method, vintage, max_price, need, owners[i], purpose, sender=owners[i])
        spend("certificate_exchange.buy_and_claim", tx)
        bought = tx.decode_logs(cx.Trade)
        trades += bought
        claimed_market += sum(int(t.amount_wh) for t in bought)
    sold = sum(int(t.amount_wh) for t in trades)
    value = sum(quote_for(int(t.amount_wh), int(t.price)) for t in trades)
    return {
        "certificate_class": certificate_class(method, vintage) if method is not None else None,
        "certificate_asks": len(asks),
        "certificates_offered_kwh": sum(asks) / 1000,
        "certificates_sold_kwh": sold / 1000,
        "certificate_trades": len(trades),
        "certificate_avg_price_eur_kwh": value / sold * 1000 / 1e6 if sold else None,
        "certificates_claimed_own_kwh": claimed_own / 1000,
        "certificates_claimed_market_kwh": claimed_market / 1000,
    }


def chain_figures(registry_events, watt, cert, issued: Sequence[int], trades: list, floor: int, ceiling: int,
                  gas: dict[str, list[int]]) -> dict:
    """The day in numbers, read back from the chain: `registry_events` is a web3 contract of the
    MeterRegistry (its ReadingAccepted, GridImport and GridExport logs), `issued` the certificate ids."""
    accepted = registry_events.events.ReadingAccepted().get_logs(from_block=0)
    registers = ("generated_wh", "consumed_wh", "exported_wh", "imported_wh")
    totals = {r: sum(int(e["args"][r]) for e in accepted) for r in registers}
    grid_import = sum(int(e["args"]["wh"]) for e in registry_events.events.GridImport().get_logs(from_block=0))
    grid_export = sum(int(e["args"]["wh"]) for e in registry_events.events.GridExport().get_logs(from_block=0))
    traded = sum(t.amount_wh for t in trades)
    value = sum(quote_for(t.amount_wh, t.price) for t in trades)
    return {
        "readings_accepted": len(accepted),
        "generated_kwh": totals["generated_wh"] / 1000,
        "consumed_kwh": totals["consumed_wh"] / 1000,
        "exported_kwh": totals["exported_wh"] / 1000,
        "imported_kwh": totals["imported_wh"] / 1000,
        "grid_import_kwh": grid_import / 1000,
        "grid_export_kwh": grid_export / 1000,
        "stored_kwh": watt.totalSupply() / 1000,
        "traded_kwh": traded / 1000,
        "trades": len(trades),
        "avg_price_eur_kwh": (value / traded * 1000 / 1e6) if traded else None,
        "utility_price_eur_kwh": ceiling / 1e6,
        "feed_in_price_eur_kwh": floor / 1e6,
        "self_sufficiency": 1 - grid_import / totals["consumed_wh"] if totals["consumed_wh"] else None,
        "certificates_issued": len(issued),
        "certificates_issued_kwh": sum(cert.certificate(i).amount_wh for i in issued) / 1000,
        "certificates_claimed_kwh": sum(cert.certificate(i).claimed_wh for i in issued) / 1000,
        "gas": {k: {"count": len(v), "avg": sum(v) // len(v)} for k, v in sorted(gas.items()) if v},
    }
