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

The day itself is gridmint/community_day.py's, shared with `make app`'s seed (tools/app_seed.py);
this script holds the options, the two readings pipelines, the tables, the chart and the audit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand

from gridmint.cli.options import quiet
from gridmint import community_day as engine
from gridmint.community import COMMUNITY, SLOT_S, next_june_day

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
    from gridmint.system import SystemParams, ape_deployer, deploy_system, wire_auction
    from oracle.eip712 import MeterSigner

    if market not in MARKETS or readings not in READINGS:
        raise click.UsageError(f"--market is one of {', '.join(MARKETS)} and --readings one of {', '.join(READINGS)}")
    console = console or Console(width=150)
    out_dir.mkdir(parents=True, exist_ok=True)
    operator, payer = accounts.test_accounts[0], accounts.test_accounts[1]
    owners = [accounts.test_accounts[2 + i] for i in range(len(members))]
    gas: dict[str, list[int]] = {}

    # chain time follows the simulated clock, from just before the day: the meters are commissioned and
    # the auction's first slot lies there, so nothing (certificate periods, uncleared slots) reaches back
    day = next_june_day(chain.blocks.head.timestamp) + timedelta(hours=start_hour)
    t0 = int(day.timestamp())
    w3 = Web3(HTTPProvider(chain.provider.uri, request_kwargs={"timeout": 30}))
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0 - 600])
    first_block = chain.blocks.head.number + 1  # where the audit at the end starts reading events
    # the relay's gas key (`payer`) also settles the battery's days on the StorageLedger
    system = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=5_000_000, storage_settler=payer.address))
    console.print(f"deployed on chain {chain.chain_id}: registry {system.registry.address}, WATT {system.watt.address}, "
                  f"exchange {system.exchange.address}, auction {system.auction.address}, "
                  f"reading log {system.reading_log.address}")

    meters = [MeterSigner(keccak(f"demo-meter:{m.name}".encode())) for m in members]
    commissioned_at = chain.blocks.head.timestamp  # the simulated meters' registers at the demo's start
    community = engine.onboard(system, members, owners, meters, operator, commissioned_at,
                               {m.address: mem.site.initial_wh for m, mem in zip(meters, members)},
                               engine.spender(gas))
    wire_auction(system, operator)
    system.reading_log.set_relay(payer.address, True, sender=operator)  # the relay's gas key, appointed once
    console.print(f"registered {len(members)} meters; each member deposited 40 TSL of storage rent and holds 200 TEUR (test euros)")
    record = deployments.from_ape_system(system, "ethereum:local", chain.chain_id, first_block)

    setup = dict(community=community, w3=w3, day=day, t0=t0, slots=slots, out_dir=out_dir, console=console,
                 payer=payer, record=record, readings=readings, credit_every=credit_every_slots)
    others = {}
    if compare:
        # the other market's day first, from a snapshot; then back, and this market's day stays on chain
        other = "book" if market == "auction" else "auction"
        snapshot = chain.snapshot()
        console.print(f"[dim]the same day on the {MARKET_NAMES[other]} first, for the comparison ...[/dim]")
        others[other] = _market_day(**setup, market=other, gas={}, quiet=True)["market"]
        chain.restore(snapshot)
        w3.provider.make_request("evm_setNextBlockTimestamp", [chain.blocks.head.timestamp + 1])
    day_run = _market_day(**setup, market=market, gas=gas, quiet=False)
    summary = day_run["summary"]
    summary["market"] = market
    summary["readings_mode"] = readings
    summary["markets"] = {market: day_run["market"], **others}
    _print(console, members, owners, system.watt, summary)

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


class _GatewayReadings:
    """--readings gateway: each meter's gateway signs its own reading, the relay checks it, commits every
    ended slot's root and credits the meters' newest readings on demand (oracle/gateway.py)."""

    def __init__(self, w3, t0: int, payer, record, meters, work_dir: Path):
        from eth_account import Account

        from oracle.gateway import EdgeCommunity

        self.w3, self.t0 = w3, t0
        self.edge = EdgeCommunity(w3, Account.from_key(payer.private_key), record, meters, work_dir)

    def relay(self, ts: int, counters: dict, credit: bool) -> None:
        # the relay refuses readings from the future: the chain's clock reaches the slot's end first
        if ts != self.t0:
            self.w3.provider.make_request("evm_mine", [])
        self.edge.hand(ts, counters)
        if self.edge.refused:
            raise RuntimeError(f"the relay refused {len(self.edge.refused)} readings, e.g. {self.edge.refused[0]}")
        self.edge.end_slot()  # the relay commits every ended slot's root
        if credit:
            self.edge.credit()  # newest reading of every meter, one batch

    def finish(self) -> None:
        self.edge.end_slot()
        self.edge.credit()  # every meter up to date before its owner issues ("bring my meters up to date")

    def record_gas(self, gas: dict[str, list[int]]) -> None:
        gas["relay.commit (per slot)"] = self.edge.gas()["commit"]
        gas["relay.credit (per batch)"] = self.edge.gas()["credit"]

    def close(self) -> None:
        self.edge.close()


class _DirectReadings:
    """--readings direct: the central oracle (ingestor, durable outbox, batching submitter) credits
    every reading."""

    def __init__(self, oracle_registry, chain_id: int, payer, meters, work_dir: Path):
        from eth_account import Account

        from oracle.chain import Submitter
        from oracle.ingest import Ingestor
        from oracle.outbox import Outbox

        db = work_dir / "demo-oracle.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        self.outbox = Outbox(db)
        self.ingestor = Ingestor(self.outbox, oracle_registry.check_domain(chain_id), {m.address: m for m in meters})
        self.submitter = Submitter(self.outbox, oracle_registry, Account.from_key(payer.private_key))

    def relay(self, ts: int, counters: dict, credit: bool) -> None:
        from oracle.sources.parsers import REGISTERS

        for meter, regs in counters.items():
            self.ingestor.ingest(meter, dict(zip(REGISTERS, regs)), "simulator", ts)
        if not self.submitter.drain(120):
            raise RuntimeError("the oracle could not settle the slot's readings")

    def finish(self) -> None:
        pass

    def record_gas(self, gas: dict[str, list[int]]) -> None:
        gas["registry.submit_readings (per reading)"] = self.outbox.batch_gas_per_reading()

    def close(self) -> None:
        pass


def _market_day(*, community, w3, day, t0, slots, out_dir, console, payer, record, readings, credit_every,
                market, gas, quiet) -> dict:
    """One pass of the day on `market` from the state `run_day` set up: readings, trading, certificates.
    Returns {"summary": the day's numbers, "market": the market's comparison figures}."""
    from ape import chain
    from rich.progress import Progress

    from oracle.chain import Registry
    from oracle.sources.simulator import Simulator

    system, members, meters = community.system, community.members, community.meters
    spend = engine.spender(gas)
    pass_dir = out_dir / f"day-{market}"
    pass_dir.mkdir(parents=True, exist_ok=True)
    abi = [item.model_dump(mode="json", by_alias=True) for item in system.registry.contract_type.abi]
    oracle_registry = Registry(w3, w3.eth.contract(address=system.registry.address, abi=abi))
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0])
    w3.provider.make_request("evm_mine", [])
    sim = Simulator({m.address: mem.site for m, mem in zip(meters, members)}, day)
    if readings == "gateway":
        relay = _GatewayReadings(w3, t0, payer, record, meters, pass_dir / "relay")
    else:
        relay = _DirectReadings(oracle_registry, chain.chain_id, payer, meters, pass_dir)

    with Progress(console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"simulating the day ({MARKET_NAMES[market]})", total=slots)
        the_day = engine.run_day(community, w3, t0, slots, sim, relay, market, spend, credit_every,
                                 on_slot=lambda k: progress.advance(task), close=False)
    engine.close_day(community, the_day, w3, relay, spend)
    market_figures = engine.market_figures(community, the_day, gas)
    if quiet:
        relay.close()
        return {"summary": None, "market": market_figures}

    # end of the day: generators certify their renewable generation with its half-hour profile and sell
    # it on the certificate market; the companies claim what they hold half-hour by half-hour against
    # their consumption (their 24/7 score) and buy environmental value for the rest of the day's use
    # the relay settles the battery's green content once no reading of the day can still arrive (the chain's
    # clock moves there), before the generators issue: what they stored leaves their certificates
    from gridmint import storage_day
    from gridmint.cli.sender import Sender
    from gridmint.community import BERLIN

    storage = storage_day.settle_community_day(community, t0, t0 + slots * SLOT_S, w3, Sender(payer), spend)
    issued, profiles = engine.issue_certificates(community, the_day, spend, profile=True, stored=storage.stored_by_slot)
    matched, consumed = engine.claim_matching(community, the_day, issued, profiles, spend, DAY_LABEL)
    cmarket = engine.certificate_market(community, issued, consumed, spend, DAY_LABEL)
    # members who drew the battery's energy claim its green share: discharge certificates (method "storage")
    battery = storage_day.claim_community_day(community, storage, [Sender(o) for o in community.owners], spend, tz=BERLIN)

    relay.record_gas(gas)
    floor, ceiling = system.exchange.floor_price(), system.exchange.ceiling_price()
    summary = engine.chain_figures(oracle_registry.contract, system.watt, system.certificate, list(issued.values()),
                                   the_day.trades, floor, ceiling, gas)
    if the_day.auction:
        auction = the_day.auction
        summary["traded_kwh"] = market_figures["volume_wh"] / 1000
        summary["trades"] = sum(1 for _, _, v in auction.cleared if v)
        summary["avg_price_eur_kwh"] = market_figures["average_price"] / 1e6 if market_figures["average_price"] else None
    summary.update(cmarket)
    summary.update(battery)
    summary["certificates_claimed_by_slot_kwh"] = sum(m.green_wh for m in matched.values()) / 1000
    summary["matching"] = {name: {"score": m.score, "consumed_wh": m.consumed_wh, "matched_wh": m.matched_wh}
                           for name, m in matched.items()}
    # everything the day's running cost, per member (onboarding and the one-time wiring apart)
    summary["gas_per_member_day"] = sum(sum(v) for k, v in gas.items() if k not in ONE_TIME) // len(members)
    if readings == "gateway":
        edge = relay.edge
        summary["relay_gas_per_member_day"] = sum(sum(v) for v in edge.gas().values()) // len(members)
        summary["credit_every_h"] = credit_every * SLOT_S / 3600
        summary["readings_committed"] = sum(1 for _ in edge.gas()["commit"])
    relay.close()
    summary["chart"] = str(_chart(the_day.series, floor, ceiling, out_dir / "demo-day.png", day))
    return {"summary": summary, "market": market_figures}


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
        ("night consumption served from the community battery",
         f"{s['battery_night_drawn_kwh']:.1f} kWh, " + (f"{s['battery_night_green_share']:.1%} solar from the community battery"
                                                       if s["battery_night_green_share"] is not None else "none drawn")),
        ("discharge certificates claimed", f"{s['discharge_certificates']} for {s['discharge_certificates_kwh']:.1f} kWh "
                                           f"(green: {s['battery_green_kwh']:.1f} of {s['battery_drawn_kwh']:.1f} kWh drawn "
                                           f"from the battery; {s['battery_green_charged_kwh']:.1f} kWh of solar stored)"),
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
