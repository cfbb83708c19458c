"""The shared battery's green content: the relay's daily settlement, members' discharge certificates, status.

    ape run storage settle DAY [--first-day DAY] --account RELAY        --network ethereum:local:foundry
    ape run storage claim METER [DAY] --account OWNER                   (default: every unclaimed settled day)
    ape run storage status [--member ADDR] [--day DAY]

DAY is a UTC date (2026-06-15) or a day number (seconds since the epoch // 86,400). `settle` settles every
unsettled day up to DAY, in order, once the day is final (every active meter has reported past its end, or
MeterRegistry's MAX_CREDIT_LAG_S has passed): a progress line per day. `claim` mints the member's discharge
certificates (one per day with green Wh drawn from the battery; method "storage", a class of its own on the
certificate market): a progress line per day. `status` shows the battery's green content in kWh, the oldest
lot of its first-in-first-out queue and, with --member (a meter, or an owner: each of its meters), what the
member drew from the battery on the last settled day (or --day) and its green share, "x % solar from the
community battery". Bad input or a refusal is one line on stderr and exit status 2, with nothing sent; every
transaction is simulated first.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import click
from ape.cli import ConnectedProviderCommand

from gridmint.storage_ledger import day_of
from gridmint.units import kwh, when

from . import tables
from .addresses import ZERO_ADDRESS, parse_address
from .context import CliContext
from .errors import Group, Refused
from .options import account_option, verbose_option

STORAGE_CONTRACTS = ("StorageLedger", "MeterRegistry", "WattToken", "EnvironmentalCertificate")


def parse_day(text: str) -> int:
    """ "2026-06-15" (UTC) or a day number -> the day number."""
    text = text.strip()
    if re.fullmatch(r"\d{1,6}", text):
        return int(text)
    try:
        d = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise Refused(f"{text!r} is not a day: give a UTC date (2026-06-15) or a day number") from None
    return day_of(int(d.timestamp()))


def storage_chain(ctx: CliContext):
    """The deployment's StorageLedger and what it reads, as a gridmint.storage_day.StorageChain (any
    command's context: `ape run certificates issue` needs it too, for the stored Wh of a generator)."""
    if "_storage" not in ctx.__dict__:
        from ape import chain

        from gridmint.storage_day import StorageChain

        if not ctx.has("StorageLedger"):
            raise Refused("this deployment has no StorageLedger: deploy again (`ape run deploy`)")
        handles = {name: ctx.contract(name) for name in STORAGE_CONTRACTS}
        contracts = {name: ctx.record.contracts[name] for name in STORAGE_CONTRACTS}
        ctx.__dict__["_storage"] = StorageChain(chain.provider.web3, handles, contracts,
                                                int(ctx.record.params.get("deploy_block", 0)))
    return ctx.__dict__["_storage"]


class Storage(CliContext):
    """The storage commands' context."""

    def storage(self):
        return storage_chain(self)


def _refusing(call):
    """gridmint.storage_day's refusals (StorageRefused) as the CLI's one-line errors."""
    from gridmint.storage_day import StorageRefused

    try:
        return call()
    except StorageRefused as err:
        raise Refused(str(err)) from None


@click.group(cls=Group)
def cli():
    """The shared battery's green content: settle days, claim discharge certificates, status."""


@cli.command(cls=ConnectedProviderCommand)
@click.argument("day_text", metavar="DAY")
@click.option("--first-day", "first_text", default=None, help="where to start when no day is settled yet (default: DAY)")
@account_option
@verbose_option
def settle(network, day_text, first_text, account_spec, verbose):
    """Settle every unsettled day up to DAY (the relay's daily job; an appointed settler sends it). On a
    local chain the sender defaults to the deployer (test:0)."""
    from gridmint.storage_day import settle_through

    c = Storage.open(network, verbose, account_spec, operator=True)
    day = parse_day(day_text)
    first = parse_day(first_text) if first_text else None
    st = c.storage()
    if not st.ledger.settler(c.sender.address):
        raise Refused(f"{c.sender.address} is not an appointed settler of the StorageLedger "
                      f"(the operator appoints one with set_settler)")
    done = _refusing(lambda: settle_through(st, day, c.sender, first, on_day=lambda d: click.echo(d.line())))
    if not done:
        click.echo(f"nothing to settle: no flow through the battery up to day {day}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter_text", metavar="METER")
@click.argument("day_text", metavar="[DAY]", required=False)
@account_option
@verbose_option
def claim(network, meter_text, day_text, account_spec, verbose):
    """Claim METER's discharge certificates: of DAY, or of every settled day not claimed yet."""
    from gridmint.storage_day import claim_discharges

    c = Storage.open(network, verbose, account_spec)
    meter = parse_address(meter_text, "METER")
    days = [parse_day(day_text)] if day_text else None
    st = c.storage()
    rows = _refusing(lambda: claim_discharges(st, meter, c.sender, days, on_day=lambda r: click.echo(r.line())))
    if not rows:
        click.echo(f"nothing to claim: every settled day of {meter} is claimed")
        return
    certified = [r for r in rows if r.certificate_id is not None]
    ids = {r.certificate_id for r in certified}  # consecutive days of one month share a certificate
    click.echo(f"{len(ids)} discharge certificate(s) for {len(certified)} day(s), "
               f"{kwh(sum(r.green_wh for r in certified))} green "
               f"(method storage; `ape run certificates show ID` opens one)")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--member", "member_text", default=None, help="a meter, or an owner (each of its meters)")
@click.option("--day", "day_text", default=None, help="the day to show (default: the last settled day)")
@verbose_option
def status(network, member_text, day_text, verbose):
    """The battery's green content, its oldest lot and, with --member, the member's draws and green share."""
    from gridmint.storage_day import battery_status, day_claims_of, day_label, member_days

    c = Storage.open(network, verbose)
    st = c.storage()
    b = battery_status(st)
    click.echo(f"green content: {kwh(b.content_wh)} of solar charge in {len(b.lots)} lot(s); "
               f"round-trip efficiency {b.eta_ppm / 10_000:.1f} %")
    if b.lots:
        first, last, wh = b.lots[0]
        click.echo(f"oldest lot (served first): {kwh(wh)} charged {when(first * b.slot_s)} .. {when((last + 1) * b.slot_s)}")
    click.echo(f"settled through {day_label(b.settled_through - 1)}" if b.settled_through else "no day settled yet")
    if member_text is None:
        return
    member = parse_address(member_text, "--member")
    meters = _meters_of(st, member)
    if not meters:
        raise Refused(f"{member} is neither a meter nor the owner of one")
    roots = _refusing(st.settled_days)
    day = parse_day(day_text) if day_text else (max(roots) if roots else None)
    if day is None:
        click.echo(f"{member}: no day settled yet")
        return
    if day not in roots:
        raise Refused(f"{day_label(day)} is not settled")
    claims = _refusing(lambda: day_claims_of(st, [day], roots=roots))
    table = tables.table(f"drawn from the community battery on {day_label(day)}", "meter", "drawn kWh", "green kWh",
                         "solar from the battery", "night drawn kWh", "night solar", "certificate",
                         right=("drawn kWh", "green kWh", "solar from the battery", "night drawn kWh", "night solar"))
    for meter in meters:
        for row in member_days(claims, meter, lambda d, m=meter: bool(st.ledger.claimed(m, d))):
            table.add_row(meter, f"{row.drawn_wh / 1000:,.3f}", f"{row.green_wh / 1000:,.3f}",
                          f"{row.green_percent:.1f} %" if row.green_percent is not None else "-",
                          f"{row.night_drawn_wh / 1000:,.3f}",
                          f"{row.night_green_percent:.1f} %" if row.night_green_percent is not None else "-",
                          "claimed" if row.claimed else ("to claim" if row.green_wh else "-"))
    tables.show(table)


def _meters_of(st, address: str) -> list[str]:
    """`address` itself when it is a registered meter, else the meters it owns (MeterRegistered events)."""
    registry = st.registry
    if str(registry.meters(address).owner) != ZERO_ADDRESS:
        return [address]
    log = st.events({"MeterRegistry": ("MeterRegistered", "MeterKeyRotated")}, st.start_block)
    keys = [str(ev.args.get("meter") or ev.args.get("new_meter")) for ev in log]
    return [m for m in dict.fromkeys(keys) if str(registry.meters(m).owner).lower() == address.lower()]
