"""`make demo`: a small community on a local Anvil — deploy, register meters, relay signed readings, print balances.

    ape run demo --network ethereum:local:foundry
"""

from __future__ import annotations

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from eth_hash.auto import keccak
from rich.console import Console
from rich.table import Table

from oracle.community import COMMUNITY, SLOT_S

COMMUNITY_KINDS = [m.kind for m in COMMUNITY]
from oracle.eip712 import MeterSigner, Reading, domain_from_contract
from oracle.metadata import certificate_metadata
from oracle.system import SystemParams, ape_deployer, deploy_system

def _days_left(paid_until: int, now: int) -> str:
    if paid_until == 2**256 - 1:
        return "nothing stored"
    return f"{max(paid_until - now, 0) / 86_400:.1f}"


@click.command(cls=ConnectedProviderCommand)
def cli():
    console = Console(width=140)
    operator, relayer = accounts.test_accounts[0], accounts.test_accounts[1]
    system = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=500_000))
    registry, watt = system.registry, system.watt
    domain = domain_from_contract(registry)
    console.print(f"deployed WATT {watt.address} and MeterRegistry {registry.address} on chain {chain.chain_id}")

    owners = [accounts.test_accounts[2 + i] for i in range(len(COMMUNITY))]
    meters = [MeterSigner(keccak(f"demo-meter:{m.name}".encode())) for m in COMMUNITY]
    for member, meter, owner in zip(COMMUNITY, meters, owners):
        registry.register_meter(meter.address, owner, member.method, member.rated_power_w, member.name, sender=operator)
    console.print(f"registered {len(COMMUNITY)} meters")
    # every member buys 40 TSL of storage rent from the operator and deposits it
    tsl = system.tsl
    for owner in owners:
        tsl.mint(owner, 40 * 10**18, sender=operator)
        tsl.approve(watt.address, 40 * 10**18, sender=owner)
        watt.deposit_rent(40 * 10**18, sender=owner)
    console.print(f"members deposited 40 TSL each for storage rent ({watt.rent_rate() / 1e18:.6f} TSL per kWh per day)")

    registers = [[0, 0, 0, 0] for _ in COMMUNITY]
    t = chain.pending_timestamp
    accepted = 0
    for slot in range(len(COMMUNITY[0].slots) + 1):  # slot 0 is every meter's baseline
        readings = []
        for i, (member, meter) in enumerate(zip(COMMUNITY, meters)):
            if slot:
                registers[i] = [a + b for a, b in zip(registers[i], member.slots[slot - 1])]
            readings.append(Reading(meter.address, t, *registers[i]))
        sep = domain.separator
        sigs = [meters[i].sign(r, domain, sep) for i, r in enumerate(readings)]
        tx = registry.submit_readings([r.as_call_arg() for r in readings], sigs, sender=relayer)
        accepted += len(tx.decode_logs(registry.ReadingAccepted))
        t += SLOT_S
        chain.pending_timestamp = t
    console.print(f"relayed {accepted} signed readings in {len(COMMUNITY[0].slots) + 1} batches")

    table = Table(title="Community after 10:00–14:00")
    columns = (
        "member", "kind", "generated kWh", "exported kWh", "imported kWh",
        "WATT (kWh stored)", "TSL deposit", "storage days left", "certifiable kWh",
    )
    for col in columns:
        table.add_column(col, justify="left" if col in ("member", "kind") else "right")
    now = chain.blocks.head.timestamp
    for member, meter, owner, regs in zip(COMMUNITY, meters, owners, registers):
        table.add_row(
            member.name,
            member.kind,
            f"{regs[0] / 1000:.2f}",
            f"{regs[2] / 1000:.2f}",
            f"{regs[3] / 1000:.2f}",
            f"{watt.balanceOf(owner) / 1000:.3f}",
            f"{watt.rent_deposit(owner) / 1e18:.4f}",
            _days_left(watt.storage_paid_until(owner), now),
            f"{registry.certifiable(meter.address)[0] / 1000:.2f}",
        )
    console.print(table)
    console.print(
        f"battery: {watt.totalSupply() / 1000:.3f} of {watt.capacity_wh() / 1000:.0f} kWh stored"
    )

    # trading: members with stored energy offer half of it below the utility's retail price;
    # the company and the flat without PV bid above the feed-in tariff
    ex, quote = system.exchange, system.quote
    floor, ceiling = ex.floor_price(), ex.ceiling_price()
    tick = ex.TICK()
    for i, (member, owner) in enumerate(zip(COMMUNITY, owners)):
        stored = watt.balanceOf(owner)
        if stored >= 2 * ex.min_order_wh():
            price = (floor + (ceiling - floor) * (55 + 5 * i) // 100) // tick * tick
            ex.place_order(False, price, stored // 2, 0, 0, sender=owner)
    buyers = [(owners[k], kwh) for k, kwh in ((COMMUNITY_KINDS.index("company"), 120), (COMMUNITY_KINDS.index("home without PV"), 8))]
    trades = []
    for owner, kwh in buyers:
        quote.mint(owner, 100 * 10**6, sender=operator)  # 100 mock EUR (local chain only)
        quote.approve(ex.address, 2**256 - 1, sender=owner)
        bid = (floor + (ceiling - floor) * 85 // 100) // tick * tick
        tx = ex.place_order(True, bid, kwh * 1000, 0, 0, sender=owner)
        trades += tx.decode_logs(ex.Trade)
    names = {str(o): m.name for m, o in zip(COMMUNITY, owners)}
    ttable = Table(title="Trades (price in EUR per kWh)")
    for col in ("seller", "buyer", "kWh", "price", "EUR"):
        ttable.add_column(col, justify="left" if col in ("seller", "buyer") else "right")
    for t in trades:
        ttable.add_row(names[str(t.maker)], names[str(t.taker)], f"{t.amount_wh / 1000:.3f}", f"{t.price / 1e6:.4f}", f"{t.quote_amount / 1e6:.4f}")
    console.print(ttable)
    traded_wh = sum(t.amount_wh for t in trades)
    if traded_wh:
        avg = sum(t.quote_amount for t in trades) / traded_wh * 1000 / 1e6
        console.print(
            f"traded {traded_wh / 1000:.3f} kWh at {avg:.4f} EUR/kWh on average "
            f"(utility retail {ceiling / 1e6:.4f}, feed-in {floor / 1e6:.4f})"
        )
    book = [(f"{l.price / 1e6:.4f}", f"{l.amount_wh / 1000:.3f}") for l in ex.depth(False, 5)]
    console.print(f"asks left on the book (EUR/kWh, kWh): {book}")

    # end of the day: generators certify their renewable generation, the company buys and claims some
    cert = system.certificate
    issued = []
    for member, meter, owner in zip(COMMUNITY, meters, owners):
        if member.method and registry.certifiable(meter.address)[0]:
            tx = cert.issue(meter.address, sender=owner)
            issued.append(tx.decode_logs(cert.CertificateIssued)[0].id)
    company = owners[[m.kind for m in COMMUNITY].index("company")]
    plant = owners[[m.kind for m in COMMUNITY].index("small PV plant")]
    plant_id = issued[-1]
    cert.safeTransferFrom(plant, company, plant_id, 150_000, b"", sender=plant)  # sold with the energy, off book
    cert.claim(plant_id, 120_000, company, "Hofmann Tools GmbH, 10:00-14:00 consumption", sender=company)
    ctable = Table(title="Environmental-value certificates")
    for col in ("id", "generator", "period (UTC)", "kWh issued", "kWh claimed", "company holds kWh"):
        ctable.add_column(col, justify="left" if col in ("generator", "period (UTC)") else "right")
    for id in issued:
        c = cert.certificate(id)
        meta = certificate_metadata(id, c, chain.blocks.head.timestamp)["properties"]
        ctable.add_row(
            str(id), c.generator_name, f"{meta['period_start'][:16]} → {meta['period_end'][11:16]}",
            f"{c.amount_wh / 1000:.3f}", f"{c.claimed_wh / 1000:.3f}", f"{cert.balanceOf(company, id) / 1000:.3f}",
        )
    console.print(ctable)
    console.print(f"the company claimed 120.000 kWh of certificate #{plant_id} as zero-carbon consumption")
