"""`make demo`: one simulated day of a ~20-member community on a local Anvil.

    ape run demo --network ethereum:local:foundry [--members 20] [--slots 48] [--start-hour 0] [--out out]

Deploys everything, registers the members' meters, and runs the day in
30-minute slots with chain time following the simulated clock: the oracle's
simulator (DWD test reference year through pvlib, BDEW H25/G25 load) produces
each meter's registers, the oracle pipeline (meter-key signatures, durable
outbox, batching submitter) puts them on chain, members sell stored WATT below
the utility price and buy what they would otherwise import, generators issue
certificates at the end of the day and sell them on the certificate market,
where the companies buy environmental value for their consumption and claim
it (`buy_and_claim`). Ends with a summary table and a PNG chart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand

from gridmint.cli.options import quiet
from gridmint import community
from gridmint.community import BERLIN, COMMUNITY, SLOT_S, next_june_day

# Everything else is imported inside the command: `ape run X` loads every script in scripts/ to find X,
# and a top-level `from ape import chain` here cost every other command ~1 s of CPU.

# quiet before ape connects: a provider's INFO lines ("Connecting to existing 'Hardhat node' process.")
# are noise to a user, and so is a line per transaction
quiet()

DAY_LABEL = "15 June"
MARKETS = ("auction", "book")
MARKET_NAMES = {"auction": "slot auction", "book": "continuous book"}
READINGS = ("gateway", "direct")
# gateway mode: the relay credits every meter's newest reading every 2 hours (and before issuing)
CREDIT_EVERY_SLOTS = 4
# today's all-in gas per member per day (every reading credited, the continuous book; the last round's demo)
TODAY_GAS_PER_MEMBER_DAY = 3_700_000
# set up once, not part of a day's running cost
ONE_TIME = ("registry.register_meter", "registry.accept_meter", "watt.deposit_rent", "auction.fund_rent",
            "certificate.setApprovalForAll")
RENT_TSL = 40 * 10**18
QUOTE_EUR = 200 * 10**6



def _spender(gas: dict[str, list[int]]):
    """`spend(kind, receipt)`: records a transaction's gas under `kind` in `gas` (the summary's table)."""

    def spend(kind: str, receipt) -> None:
        gas.setdefault(kind, []).append(int(receipt.gas_used))

    return spend


def run_day(members=COMMUNITY, slots: int = 48, start_hour: int = 0, out_dir: Path = Path("out"),
            console=None, market: str = "auction", readings: str = "gateway", compare: bool = True,
            credit_every_slots: int = CREDIT_EVERY_SLOTS) -> dict:
    """Runs the day; returns the summary (numbers read back from the chain and the outbox).

    `market`: "auction" (one clearing price per slot, EnergyAuction) or "book" (the continuous book).
    `readings`: "gateway" (each meter's key signs at the edge, the relay commits every slot's root and
    credits the meters every `credit_every_slots` slots and before issuing) or "direct" (the central
    oracle credits every reading). `compare`: also run the same day on the other market first, from a
    snapshot of the chain, so the summary compares both markets; the chain keeps `market`'s day."""
    from ape import accounts, chain
    from eth_hash.auto import keccak
    from rich.console import Console
    from web3 import HTTPProvider, Web3

    from gridmint import deployments
    from gridmint.onboarding import commissioning, onboard_meter
    from gridmint.system import SystemParams, ape_deployer, deploy_system, wire_auction
    from oracle.eip712 import MeterSigner

    if market not in MARKETS or readings not in READINGS:
        raise click.UsageError(f"--market is one of {', '.join(MARKETS)} and --readings one of {', '.join(READINGS)}")
    console = console or Console(width=150)
    out_dir.mkdir(parents=True, exist_ok=True)
    operator, payer = accounts.test_accounts[0], accounts.test_accounts[1]
    owners = [accounts.test_accounts[2 + i] for i in range(len(members))]
    gas: dict[str, list[int]] = {}

    spend = _spender(gas)

    # chain time follows the simulated clock, from just before the day: the meters are commissioned and
    # the auction's first slot lies there, so nothing (certificate periods, uncleared slots) reaches back
    day = next_june_day(chain.blocks.head.timestamp) + timedelta(hours=start_hour)
    t0 = int(day.timestamp())
    w3 = Web3(HTTPProvider(chain.provider.uri, request_kwargs={"timeout": 30}))
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0 - 600])
    first_block = chain.blocks.head.number + 1  # where the audit at the end starts reading events
    system = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=5_000_000))
    registry, watt, ex, quote, tsl = system.registry, system.watt, system.exchange, system.quote, system.tsl
    console.print(f"deployed on chain {chain.chain_id}: registry {registry.address}, WATT {watt.address}, "
                  f"exchange {ex.address}, auction {system.auction.address}, reading log {system.reading_log.address}")

    meters = [MeterSigner(keccak(f"demo-meter:{m.name}".encode())) for m in members]
    commissioned_at = chain.blocks.head.timestamp  # the simulated meters' registers at the demo's start
    for member, meter, owner in zip(members, meters, owners):
        registered, accepted = onboard_meter(
            registry, operator, owner, meter.address, member.method, member.rated_power_w, member.name,
            commissioning(commissioned_at, member.site.initial_wh))
        spend("registry.register_meter", registered)
        spend("registry.accept_meter", accepted)
        tsl.mint(owner, RENT_TSL, sender=operator)
        tsl.approve(watt.address, RENT_TSL, sender=owner)
        spend("watt.deposit_rent", watt.deposit_rent(RENT_TSL, sender=owner))
        quote.mint(owner, QUOTE_EUR, sender=operator)  # mock EUR: local chains only
        quote.approve(ex.address, 2**256 - 1, sender=owner)
    wire_auction(system, operator)
    system.reading_log.set_relay(payer.address, True, sender=operator)  # the relay's gas key, appointed once
    console.print(f"registered {len(members)} meters; each member deposited 40 TSL of storage rent and holds 200 TEUR (test euros)")
    record = deployments.from_ape_system(system, "ethereum:local", chain.chain_id, first_block)

    setup = dict(members=members, owners=owners, meters=meters, system=system, w3=w3, day=day, t0=t0,
                 slots=slots, out_dir=out_dir, console=console, operator=operator, payer=payer,
                 record=record, readings=readings, credit_every=credit_every_slots)
    others = {}
    if compare:
        # the other market's day first, from a snapshot; then back, and this market's day stays on chain
        other = "book" if market == "auction" else "auction"
        snapshot = chain.snapshot()
        other_gas: dict[str, list[int]] = {}
        console.print(f"[dim]the same day on the {MARKET_NAMES[other]} first, for the comparison ...[/dim]")
        others[other] = _market_day(**setup, market=other, gas=other_gas, quiet=True)["market"]
        chain.restore(snapshot)
        w3.provider.make_request("evm_setNextBlockTimestamp", [chain.blocks.head.timestamp + 1])
    day_run = _market_day(**setup, market=market, gas=gas, quiet=False)
    summary = day_run["summary"]
    summary["market"] = market
    summary["readings_mode"] = readings
    summary["markets"] = {market: day_run["market"], **others}
    _print(console, members, owners, watt, summary)

    # the public auditor recomputes the day from the chain's events alone (docs/audit.md)
    from gridmint.audit import audit

    record_path = deployments.write(record, out_dir / "deployments")
    store = out_dir / "demo-audit.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    report = audit(record_path, chain.provider.uri, store, html_path=out_dir / "audit.html")
    (out_dir / "audit.json").write_text(report.to_json())
    report.render_summary(console)  # ends with the headline and the report's path
    summary["audit"] = {"headline": report.headline(), "exit_code": report.exit_code()}
    return summary


def _market_day(*, members, owners, meters, system, w3, day, t0, slots, out_dir, console, operator, payer,
                record, readings, credit_every, market, gas, quiet) -> dict:
    """One pass of the day on `market` from the state `run_day` set up: readings, trading, certificates.
    Returns {"summary": the day's numbers, "market": the market's comparison figures}."""
    from ape import chain
    from eth_account import Account
    from rich.progress import Progress

    from gridmint.auction_day import AuctionMarket, book_summary
    from gridmint.generated.contracts import FLAG_IOC
    from oracle.chain import Registry, Submitter
    from oracle.ingest import Ingestor
    from oracle.outbox import Outbox
    from oracle.sources.parsers import REGISTERS
    from oracle.sources.simulator import Simulator

    registry, watt, ex, quote, cert, tsl = (
        system.registry, system.watt, system.exchange, system.quote, system.certificate, system.tsl,
    )
    floor, ceiling, tick = ex.floor_price(), ex.ceiling_price(), ex.TICK()

    spend = _spender(gas)

    pass_dir = out_dir / f"day-{market}"
    pass_dir.mkdir(parents=True, exist_ok=True)
    abi = [item.model_dump(mode="json", by_alias=True) for item in registry.contract_type.abi]
    oracle_registry = Registry(w3, w3.eth.contract(address=registry.address, abi=abi))
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0])
    w3.provider.make_request("evm_mine", [])
    sim = Simulator({m.address: mem.site for m, mem in zip(meters, members)}, day)
    edge = outbox = None
    if readings == "gateway":
        from oracle.gateway import EdgeCommunity

        edge = EdgeCommunity(w3, Account.from_key(payer.private_key), record, meters, pass_dir / "relay")
    else:
        domain = oracle_registry.check_domain(chain.chain_id)
        db = pass_dir / "demo-oracle.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        outbox = Outbox(db)
        ingestor = Ingestor(outbox, domain, {m.address: m for m in meters})
        submitter = Submitter(outbox, oracle_registry, Account.from_key(payer.private_key))

    def relay(ts: int, counters: dict, credit: bool) -> None:
        if edge is not None:
            # the relay refuses readings from the future: the chain's clock reaches the slot's end first
            if ts != t0:
                w3.provider.make_request("evm_mine", [])
            edge.hand(ts, counters)  # each meter's gateway signs its own reading; the relay checks it
            if edge.refused:
                raise RuntimeError(f"the relay refused {len(edge.refused)} readings, e.g. {edge.refused[0]}")
            edge.end_slot()  # the relay commits every ended slot's root
            if credit:
                edge.credit()  # newest reading of every meter, one batch
            return
        for meter, regs in counters.items():
            ingestor.ingest(meter, dict(zip(REGISTERS, regs)), "simulator", ts)
        if not submitter.drain(120):
            raise RuntimeError("the oracle could not settle the slot's readings")

    auction = None
    if market == "auction":
        auction = AuctionMarket(system.auction, watt, quote, owners, operator, spend)
        auction.prepare(tsl)

    baselines = sim.counters()
    relay(t0, baselines, credit=True)
    prev = baselines
    gen_by_slot: dict[str, dict[int, int]] = {m.address: {} for m in meters}
    use_by_slot: dict[str, dict[int, int]] = {m.address: {} for m in meters}
    open_asks: dict[int, int] = {}  # member index -> resting ask id (the book)
    series, trades = [], []
    with Progress(console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"simulating the day ({MARKET_NAMES[market]})", total=slots)
        for k in range(1, slots + 1):
            ts = t0 + k * SLOT_S
            w3.provider.make_request("evm_setNextBlockTimestamp", [ts])
            counters = sim.advance(datetime.fromtimestamp(ts, BERLIN))
            relay(ts, counters, credit=k % credit_every == 0)
            for m in meters:
                d = [a - b for a, b in zip(counters[m.address], prev[m.address])]
                slot = (ts - 1) // SLOT_S  # a reading's Wh belong to the slot of its last second
                gen_by_slot[m.address][slot] = gen_by_slot[m.address].get(slot, 0) + d[0]
                use_by_slot[m.address][slot] = use_by_slot[m.address].get(slot, 0) + d[1]
            slot_trades = []
            cleared = auction.settle() if auction else []
            for i, (member, meter, owner) in enumerate(zip(members, meters, owners)):
                flows = [a - b for a, b in zip(counters[meter.address], prev[meter.address])]
                stored = watt.balanceOf(owner)
                offer = community.ask(stored, i, floor, ceiling, tick)
                want = community.bid(flows[3], floor, ceiling, tick)
                if auction:
                    auction.place(i, offer=offer, want=want)
                    continue
                # sellers: offer half of what they store, below the utility's price, one ask at a time
                if i in open_asks and not ex.order(open_asks[i]).open:
                    del open_asks[i]
                if i not in open_asks and offer and watt.arrears_of(owner)[0] == 0:
                    tx = ex.place_order(False, *offer, 0, 0, sender=owner)
                    spend("exchange.place_order", tx)
                    slot_trades += tx.decode_logs(ex.Trade)
                    placed = tx.decode_logs(ex.OrderPlaced)
                    if placed and ex.order(placed[0].order_id).open:
                        open_asks[i] = placed[0].order_id
                # buyers: what they imported last slot, bid above the feed-in price (IOC)
                if want and ex.best_ask()[1] > 0:
                    tx = ex.place_order(True, *want, 0, FLAG_IOC, sender=owner)
                    spend("exchange.place_order", tx)
                    slot_trades += tx.decode_logs(ex.Trade)
            trades += slot_trades
            gen = sum(counters[m.address][0] - prev[m.address][0] for m in meters)
            load = sum(counters[m.address][1] - prev[m.address][1] for m in meters)
            if auction:
                traded = sum(v for _, _, v in cleared)
                value = sum(v * p // 1000 for _, p, v in cleared)
            else:
                traded = sum(t.amount_wh for t in slot_trades)
                value = sum(t.quote_amount for t in slot_trades)
            series.append((ts, gen, load, traded, value / traded * 1000 if traded else None, watt.totalSupply()))
            prev = counters
            progress.advance(task)

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    if auction:
        auction.finish(advance)
    for i, order_id in list(open_asks.items()):
        if ex.order(order_id).open:
            spend("exchange.cancel_order", ex.cancel_order(order_id, sender=owners[i]))
    if edge is not None:
        edge.end_slot()
        edge.credit()  # every meter up to date before its owner issues ("bring my meters up to date")
    market_figures = auction.summary(gas) if auction else book_summary(trades, owners, gas)
    if quiet:
        if edge is not None:
            edge.close()
        return {"summary": None, "market": market_figures}

    # end of the day: generators certify their renewable generation with its half-hour profile and sell
    # it on the certificate market; the companies claim what they hold half-hour by half-hour against
    # their consumption (their 24/7 score) and buy environmental value for the rest of the day's use
    from gridmint import matching

    issued: dict[int, int] = {}  # member index -> certificate id
    profiles = []
    for i, (member, meter, owner) in enumerate(zip(members, meters, owners)):
        if member.method and registry.certifiable(meter.address)[0]:
            tx = matching.issue_with_profile(cert, registry, meter.address, owner, gen_by_slot[meter.address])
            spend("certificate.issue (48-slot profile)", tx)
            issued[i] = tx.decode_logs(cert.CertificateIssued)[0].id
            profiles += tx.decode_logs(cert.CertificateProfile)
    consumed = {i: prev[m.address][1] - baselines[m.address][1] for i, m in enumerate(meters)}
    unclaimed = matching.unclaimed_from_events(profiles, [])
    matched = {}
    for i, member in enumerate(members):
        if member.kind != "company" or i not in issued:
            continue
        m, sent = matching.claim_matching(cert, owners[i], owners[i].address, use_by_slot[meters[i].address],
                                          {issued[i]: unclaimed.get(issued[i], {})},
                                          f"{member.name}: 24/7, {DAY_LABEL}")
        for tx in sent:
            spend("certificate.claim_slots", tx)
        matched[member.name] = m
        consumed[i] -= m.green_wh
    cmarket = certificate_market(members, owners, cert, system.certificate_exchange, quote, issued, consumed, spend)

    if edge is not None:
        gas["relay.commit (per slot)"] = edge.gas()["commit"]
        gas["relay.credit (per batch)"] = edge.gas()["credit"]
    else:
        gas["registry.submit_readings (per reading)"] = outbox.batch_gas_per_reading()
    summary = _summary(oracle_registry.contract, watt, cert, list(issued.values()), trades, floor, ceiling, gas)
    if auction:
        summary["traded_kwh"] = market_figures["volume_wh"] / 1000
        summary["trades"] = sum(1 for _, _, v in auction.cleared if v)
        summary["avg_price_eur_kwh"] = market_figures["average_price"] / 1e6 if market_figures["average_price"] else None
    summary.update(cmarket)
    summary["certificates_claimed_by_slot_kwh"] = sum(m.green_wh for m in matched.values()) / 1000
    summary["matching"] = {name: {"score": m.score, "consumed_wh": m.consumed_wh, "matched_wh": m.matched_wh}
                           for name, m in matched.items()}
    # everything the day's running cost, per member (onboarding and the one-time wiring apart)
    summary["gas_per_member_day"] = sum(sum(v) for k, v in gas.items() if k not in ONE_TIME) // len(members)
    if edge is not None:
        summary["relay_gas_per_member_day"] = sum(sum(v) for v in edge.gas().values()) // len(members)
        summary["credit_every_h"] = credit_every * SLOT_S / 3600
        summary["readings_committed"] = sum(1 for _ in edge.gas()["commit"])
        edge.close()
    summary["chart"] = str(_chart(series, floor, ceiling, out_dir / "demo-day.png", day))
    return {"summary": summary, "market": market_figures}


def certificate_market(members, owners, cert, cx, quote, issued: dict, consumed: dict, spend) -> dict:
    """Certificates change hands on CertificateExchange. Every generator that is not a buyer offers its
    whole certificate (an ask at 3.0-5.0 TEUR/MWh); each company first claims its own certificate, if it
    has one, for its consumption, then buys environmental value for the rest of the day's consumption
    with `buy_and_claim` (one transaction: buy across the class's asks, cheapest first, and claim),
    the care home up to 4.0 TEUR/MWh, the others up to 6.0. Returns the market's part of the summary."""
    from gridmint.market import bid_escrow
    from gridmint.units import certificate_class

    floor, tick, minimum = int(cx.floor_price()), int(cx.TICK()), int(cx.min_order_wh())
    ask_price = [3_000, 4_000, 3_500, 5_000, 4_500]  # quote base units per kWh (6 decimals): 0.0030 .. 0.0050
    buyers = [i for i, m in enumerate(members) if m.kind == "company"]
    trades, asks = [], []
    for n, (i, id) in enumerate(issued.items()):
        wh = int(cert.certificate(id).amount_wh)
        if i in buyers or wh < minimum:
            continue
        spend("certificate.setApprovalForAll", cert.setApprovalForAll(cx.address, True, sender=owners[i]))
        p = max(ask_price[n % len(ask_price)] // tick * tick, floor)
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
        purpose = f"{members[i].name}: electricity consumed on {DAY_LABEL}"
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
    value = sum(int(t.quote_amount) for t in trades)
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


def _summary(web3_registry, watt, cert, issued, trades, floor, ceiling, gas) -> dict:
    from oracle.sources.parsers import REGISTERS

    accepted = web3_registry.events.ReadingAccepted().get_logs(from_block=0)
    totals = {r: sum(int(e["args"][r]) for e in accepted) for r in REGISTERS}
    grid_import = sum(int(e["args"]["wh"]) for e in web3_registry.events.GridImport().get_logs(from_block=0))
    grid_export = sum(int(e["args"]["wh"]) for e in web3_registry.events.GridExport().get_logs(from_block=0))
    traded = sum(t.amount_wh for t in trades)
    value = sum(t.quote_amount for t in trades)
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


def _chart(series, floor, ceiling, path: Path, day: datetime) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = int(day.timestamp()) - day.hour * 3600
    hours = [(ts - SLOT_S / 2 - start) / 3600 for ts, *_ in series]  # slot end -> the slot's middle
    gen = [g / 1000 * 2 for _, g, *_ in series]  # kWh per 30 min -> average kW
    load = [c / 1000 * 2 for _, _, c, *_ in series]
    traded = [t / 1000 for *_, t, _p, _s in series]
    prices = [p / 1e6 if p is not None else None for *_, p, _s in series]
    stored = [s / 1000 for *_, s in series]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    top.fill_between(hours, gen, step="mid", alpha=0.4, color="#f2a900", label="generation (kW)")
    top.plot(hours, load, drawstyle="steps-mid", color="#333", label="load (kW)")
    top.set_ylabel("community kW")
    twin = top.twinx()
    twin.plot(hours, stored, color="#2a7ab0", linestyle="--", label="stored in the battery (WATT, kWh)")
    twin.set_ylabel("WATT stored (kWh)")
    top.legend(loc="upper left")
    twin.legend(loc="upper right")
    top.set_title(f"gridmint community day, {day:%d %B %Y} (simulated: DWD TRY Essen + BDEW H25/G25)")
    bottom.bar(hours, traded, width=0.45, color="#4caf50", label="traded (kWh)")
    bottom.set_ylabel("kWh traded per slot")
    ptwin = bottom.twinx()
    ptwin.plot([h for h, p in zip(hours, prices) if p is not None], [p for p in prices if p is not None],
               "o", color="#c62828", label="average trade price")
    ptwin.axhline(ceiling / 1e6, color="#c62828", linestyle=":", label="utility retail price")
    ptwin.axhline(floor / 1e6, color="#777", linestyle=":", label="feed-in tariff")
    ptwin.set_ylabel("TEUR per kWh (test euro)")
    ptwin.set_ylim(0, ceiling / 1e6 * 1.15)
    ptwin.legend(loc="upper right")
    bottom.legend(loc="upper left")
    bottom.set_xlabel("hour of the day (Europe/Berlin)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _print(console, members, owners, watt, s) -> None:
    from ape import chain
    from rich.table import Table

    from gridmint.units import storage_days_left

    table = Table(title="Members at the end of the day")
    for col in ("member", "kind", "WATT kWh", "TSL deposit", "storage left"):
        table.add_column(col, justify="left" if col in ("member", "kind") else "right")
    now = chain.blocks.head.timestamp
    for member, owner in zip(members, owners):
        table.add_row(member.name, member.kind, f"{watt.balanceOf(owner) / 1000:.3f}",
                      f"{watt.rent_deposit(owner) / 1e18:.4f}", storage_days_left(watt.storage_paid_until(owner), now))
    console.print(table)
    summary = Table(title="The day in numbers")
    summary.add_column("")
    summary.add_column("value", justify="right")
    avg = f"{s['avg_price_eur_kwh']:.4f}" if s["avg_price_eur_kwh"] is not None else "no trades"
    cavg = f"{s['certificate_avg_price_eur_kwh']:.5f}" if s["certificate_avg_price_eur_kwh"] is not None else None
    rows = [
        ("readings accepted on chain", f"{s['readings_accepted']}"),
        ("energy generated", f"{s['generated_kwh']:.1f} kWh"),
        ("energy consumed", f"{s['consumed_kwh']:.1f} kWh"),
        ("exported into the battery / drawn from it", f"{s['exported_kwh'] - s['grid_export_kwh']:.1f} / "
                                                       f"{s['imported_kwh'] - s['grid_import_kwh']:.1f} kWh"),
        ("sold to / bought from the utility (battery full / empty)",
         f"{s['grid_export_kwh']:.1f} / {s['grid_import_kwh']:.1f} kWh"),
        ("stored at the end (WATT supply)", f"{s['stored_kwh']:.1f} kWh"),
        ("traded between members", f"{s['traded_kwh']:.1f} kWh in {s['trades']} "
                                   + ("cleared slots (slot auction)" if s.get("market") == "auction" else "trades")),
        ("average trade price", f"{avg} (TEUR/kWh; utility {s['utility_price_eur_kwh']:.4f}, "
                                f"feed-in {s['feed_in_price_eur_kwh']:.4f})"),
        ("community self-sufficiency", f"{s['self_sufficiency']:.1%}" if s["self_sufficiency"] is not None else "-"),
        ("certificates issued", f"{s['certificates_issued']} for {s['certificates_issued_kwh']:.1f} kWh"),
        ("certificates offered on the market", f"{s['certificate_asks']} asks for {s['certificates_offered_kwh']:.1f} kWh"
                                               + (f" ({s['certificate_class']})" if s["certificate_class"] else "")),
        ("certificates sold on the market", f"{s['certificates_sold_kwh']:.1f} kWh in {s['certificate_trades']} trades"),
        ("average price of environmental value", f"{cavg} TEUR/kWh ({s['certificate_avg_price_eur_kwh'] * 1000:.2f} TEUR/MWh)"
                                                 if cavg else "no trades"),
        ("certificates claimed", f"{s['certificates_claimed_kwh']:.1f} kWh ({s['certificates_claimed_by_slot_kwh']:.1f} "
                                 f"half-hour by half-hour, {s['certificates_claimed_market_kwh']:.1f} bought on the market, "
                                 f"{s['certificates_claimed_own_kwh']:.1f} own generation by volume)"),
        ("gas per member for the day, onboarding apart", f"{s['gas_per_member_day']:,} (the last round: "
                                       f"~{TODAY_GAS_PER_MEMBER_DAY:,} a day, every reading credited, the continuous book)"),
    ]
    if "relay_gas_per_member_day" in s:
        rows.append(("of which readings (gateway mode: commits + credits)",
                     f"{s['relay_gas_per_member_day']:,} ({s['readings_committed']} slot roots committed, "
                     f"credited every {s['credit_every_h']:g} h)"))
    for row in rows:
        summary.add_row(*row)
    console.print(summary)
    if len(s.get("markets", {})) == 2:
        from gridmint.auction_day import compare

        mtable = Table(title="The same day on both markets")
        for col in ("", "continuous book", "slot auction"):
            mtable.add_column(col, justify="left" if not col else "right")
        for row in compare(s["markets"]["book"], s["markets"]["auction"]):
            mtable.add_row(*row)
        console.print(mtable)
    if s.get("matching"):
        ttable = Table(title="Companies' consumption matched half-hour by half-hour (24/7)")
        for col in ("company", "consumed kWh", "matched kWh", "24/7 score"):
            ttable.add_column(col, justify="left" if col == "company" else "right")
        for name, m in s["matching"].items():
            ttable.add_row(name, f"{m['consumed_wh'] / 1000:.3f}", f"{m['matched_wh'] / 1000:.3f}", f"{m['score']:.1%}")
        console.print(ttable)
    gtable = Table(title="Gas per operation (average)")
    for col in ("operation", "count", "gas"):
        gtable.add_column(col, justify="left" if col == "operation" else "right")
    for kind, g in s["gas"].items():
        # the relayed readings' row counts readings (its average is per reading), not batches
        count = s["readings_accepted"] if kind.endswith("(per reading)") else g["count"]
        gtable.add_row(kind, str(count), f"{g['avg']:,}")
    console.print(gtable)
    console.print(f"chart written to {s['chart']}")


@click.command(cls=ConnectedProviderCommand)
@click.option("--members", type=click.IntRange(1, len(COMMUNITY)), default=len(COMMUNITY), show_default=True)
@click.option("--slots", type=click.IntRange(1, 48), default=48, show_default=True, help="30-minute slots")
@click.option("--start-hour", type=click.IntRange(0, 23), default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out", show_default=True)
@click.option("--market", type=click.Choice(MARKETS), default="auction", show_default=True,
              help="auction: one clearing price per 30-minute slot; book: the continuous order book")
@click.option("--readings", type=click.Choice(READINGS), default="gateway", show_default=True,
              help="gateway: meter keys at the edge, one root per slot, credit on demand; direct: every reading credited")
@click.option("--compare/--no-compare", default=True, show_default=True,
              help="also run the day on the other market (from a chain snapshot) and compare the two")
def cli(members, slots, start_hour, out_dir, market, readings, compare):
    from gridmint.hardhat import skip_console_log_traces

    skip_console_log_traces()  # on Hardhat (make demo CHAIN=hardhat): see gridmint/hardhat.py
    run_day(COMMUNITY[:members], slots, start_hour, Path(out_dir), market=market, readings=readings, compare=compare)
