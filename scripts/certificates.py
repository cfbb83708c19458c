"""Environmental-value certificates from the command line.

    ape run certificates list [--holder ADDR]        --network ethereum:local:foundry
    ape run certificates show ID
    ape run certificates issue METER --account ALIAS
    ape run certificates transfer ID TO KWH --account ALIAS
    ape run certificates claim ID KWH --beneficiary ADDR --purpose TEXT --account ALIAS
    ape run certificates metadata --out DIR           (ERC-1155 metadata JSON files for uri(id))

Amounts are kWh (1 certificate unit = 1 Wh; "250 Wh" with a suffix). Bad input (an unknown id, a
name where an address belongs, more than held, a revoked or expired id) is one line on stderr and
exit status 2 with nothing sent; `issue` and the rest are simulated first and refused with the
contract's reason (e.g. an account that is neither the meter's owner nor the operator).
"""

import json
from pathlib import Path

import click
from ape import chain
from ape.cli import ConnectedProviderCommand
from rich.console import Console
from rich.table import Table

from gridmint.ape_support import (
    Group, Refused, Sender, account_option, address_or_account, load_contracts, parse_address, quiet, resolve_account,
    verbose_option,
)
from gridmint.metadata import certificate_metadata, id_hex, status
from gridmint.units import kwh, parse_energy_wh, when

# quiet before ape connects: a provider's INFO lines ("Connecting to existing 'Hardhat node' process.")
# are noise to a user; the command's -v turns ape's INFO lines back on
quiet()

console = Console(width=150)


def _cert(network, verbose=False):
    quiet(verbose)
    (cert,) = load_contracts(network, ["EnvironmentalCertificate"])
    return cert


def _id(text) -> int:
    if not str(text).isdigit():
        raise Refused(f"not a certificate id: {text!r}")
    return int(text)


def _get(cert, id):
    if not 1 <= id < cert.next_id():
        ids = f"ids run 1..{cert.next_id() - 1}" if cert.next_id() > 1 else "none issued yet"
        raise Refused(f"no certificate #{id} ({ids})")
    return cert.certificate(id)


def _check_usable(c, id):
    now = chain.blocks.head.timestamp
    if c.revoked:
        raise Refused(f"certificate #{id} is revoked")
    if now > c.expires_at:
        raise Refused(f"certificate #{id} expired on {when(int(c.expires_at))}")


def _holder_of(cert, account_spec, id, wh, verbose):
    """The sending account, if it holds at least `wh` Wh of `id`; a clear error otherwise."""
    c = _get(cert, id)
    _check_usable(c, id)
    sender = Sender(resolve_account(account_spec), verbose)
    held = cert.balanceOf(sender.address, id)
    if wh > held:
        raise Refused(f"you hold {kwh(held)} of certificate #{id}, not {kwh(wh)}")
    return sender


@click.group(cls=Group)
def cli():
    """Issue, move, claim and inspect certificates."""


@cli.command("list", cls=ConnectedProviderCommand)
@click.option("--holder", default=None, help="also show this address's balance of each id")
@verbose_option
def list_(network, holder, verbose):
    """Every certificate: generator, method, period, issued, outstanding, claimed, status."""
    cert = _cert(network, verbose)
    holder = parse_address(holder, "--holder") if holder else None
    now = chain.blocks.head.timestamp
    table = Table(title="certificates")
    cols = ["id", "generator", "method", "period (UTC)", "kWh issued", "kWh outstanding", "kWh claimed", "status"]
    if holder:
        cols.append("held kWh")
    for col in cols:
        table.add_column(col, justify="right" if "kWh" in col or col == "id" else "left")
    for id in range(1, cert.next_id()):
        c = cert.certificate(id)
        meta = certificate_metadata(id, c, now)["properties"]
        row = [
            str(id),
            c.generator_name,
            meta["method"],
            f"{meta['period_start'][:16]} → {meta['period_end'][11:16]}",
            f"{c.amount_wh / 1000:.3f}",
            f"{c.outstanding_wh / 1000:.3f}",
            f"{c.claimed_wh / 1000:.3f}",
            status(c, now),
        ]
        if holder:
            row.append(f"{cert.balanceOf(holder, id) / 1000:.3f}")
        table.add_row(*row)
    console.print(table)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id")
@verbose_option
def show(network, id, verbose):
    """One certificate's data (its ERC-1155 metadata JSON)."""
    cert = _cert(network, verbose)
    id = _id(id)
    c = _get(cert, id)
    console.print_json(json.dumps(certificate_metadata(id, c, chain.blocks.head.timestamp)))


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter")
@account_option
@verbose_option
def issue(network, meter, account_spec, verbose):
    """Certify a meter's renewable generation since its last issuance (the meter's owner or the operator)."""
    cert = _cert(network, verbose)
    (registry,) = load_contracts(network, ["MeterRegistry"])
    meter = parse_address(meter, "meter")
    if str(registry.meters(meter).owner) == "0x0000000000000000000000000000000000000000":
        raise Refused(f"no meter {meter} is registered")
    sender = Sender(resolve_account(account_spec), verbose)
    wh, start, end = registry.certifiable(meter)
    if wh == 0:
        raise Refused(f"meter {meter} has no certifiable generation to issue")
    tx = sender.send(cert.issue, meter, what="issue")
    (ev,) = tx.decode_logs(cert.CertificateIssued)
    click.echo(f"issued certificate #{ev.id}: {kwh(ev.amount_wh)} generated {when(int(ev.period_start))} .. "
               f"{when(int(ev.period_end))}, to {ev.generator}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id")
@click.argument("to")
@click.argument("amount", metavar="KWH")
@account_option
@verbose_option
def transfer(network, id, to, amount, account_spec, verbose):
    """Move KWH of certificate ID to another address."""
    cert = _cert(network, verbose)
    id, to, wh = _id(id), address_or_account(to, "recipient"), parse_energy_wh(amount)
    sender = _holder_of(cert, account_spec, id, wh, verbose)
    sender.send(cert.safeTransferFrom, sender.address, to, id, wh, b"", what="safeTransferFrom")
    click.echo(f"moved {kwh(wh)} of certificate #{id} to {to}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id")
@click.argument("amount", metavar="KWH")
@click.option("--beneficiary", required=True, help="the address of the consumer the zero-carbon claim is for")
@click.option("--purpose", required=True, help="what the claim covers (up to 128 bytes)")
@account_option
@verbose_option
def claim(network, id, amount, beneficiary, purpose, account_spec, verbose):
    """Retire KWH of certificate ID for a beneficiary: the proof of zero-carbon consumption."""
    if len(purpose.encode()) > 128:
        raise Refused("the purpose is limited to 128 bytes")
    cert = _cert(network, verbose)
    id, wh = _id(id), parse_energy_wh(amount)
    beneficiary = address_or_account(beneficiary, "beneficiary")
    sender = _holder_of(cert, account_spec, id, wh, verbose)
    sender.send(cert.claim, id, wh, beneficiary, purpose, what="claim")
    click.echo(f"claimed {kwh(wh)} of certificate #{id} for {beneficiary}: {purpose}")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/metadata"), show_default=True)
@verbose_option
def metadata(network, out, verbose):
    """Write the ERC-1155 metadata JSON file of every certificate (serve them at the uri() template)."""
    cert = _cert(network, verbose)
    out.mkdir(parents=True, exist_ok=True)
    now = chain.blocks.head.timestamp
    for id in range(1, cert.next_id()):
        (out / f"{id_hex(id)}.json").write_text(json.dumps(certificate_metadata(id, cert.certificate(id), now), indent=2))
    console.print(f"wrote {cert.next_id() - 1} metadata files to {out} (serve them at the uri() template)")
