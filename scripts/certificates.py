"""Environmental-value certificates from the command line.

    ape run certificates list [--holder ADDR]        --network ethereum:local:foundry
    ape run certificates show ID
    ape run certificates issue METER --account ALIAS
    ape run certificates transfer ID TO WH --account ALIAS
    ape run certificates claim ID WH --beneficiary ADDR --purpose TEXT --account ALIAS
    ape run certificates metadata --out DIR           (ERC-1155 metadata JSON files for uri(id))

Bad input (unknown id, more Wh than held, a revoked or expired id) is reported
before anything is sent.
"""

import json
from pathlib import Path

import click
from ape import chain
from ape.cli import ConnectedProviderCommand
from rich.console import Console
from rich.table import Table

from gridmint.ape_support import account_option, load_contracts, resolve_account
from gridmint.metadata import certificate_metadata, id_hex, status

console = Console(width=150)


def _cert(network):
    (cert,) = load_contracts(network, ["EnvironmentalCertificate"])
    return cert


def _get(cert, id):
    if not 1 <= id < cert.next_id():
        raise click.ClickException(f"no certificate #{id} (ids run 1..{cert.next_id() - 1})")
    return cert.certificate(id)


def _check_usable(c, id):
    now = chain.blocks.head.timestamp
    if c.revoked:
        raise click.ClickException(f"certificate #{id} is revoked")
    if now > c.expires_at:
        raise click.ClickException(f"certificate #{id} expired")


def _holder_of(cert, account_spec, id, wh):
    """The sending account, if it holds at least `wh` Wh of `id`; a clear error otherwise."""
    c = _get(cert, id)
    _check_usable(c, id)
    sender = resolve_account(account_spec)
    held = cert.balanceOf(sender.address, id)
    if wh > held:
        raise click.ClickException(f"you hold {held} Wh of certificate #{id}, not {wh}")
    return sender


@click.group()
def cli():
    """Issue, move, claim and inspect certificates."""


@cli.command("list", cls=ConnectedProviderCommand)
@click.option("--holder", default=None, help="also show this address's balance of each id")
def list_(network, holder):
    cert = _cert(network)
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
@click.argument("id", type=int)
def show(network, id):
    cert = _cert(network)
    c = _get(cert, id)
    console.print_json(json.dumps(certificate_metadata(id, c, chain.blocks.head.timestamp)))


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter")
@account_option
def issue(network, meter, account_spec):
    cert = _cert(network)
    (registry,) = load_contracts(network, ["MeterRegistry"])
    sender = resolve_account(account_spec)
    wh = registry.certifiable(meter)[0]
    if wh == 0:
        raise click.ClickException(f"meter {meter} has no certifiable generation to issue")
    tx = cert.issue(meter, sender=sender)
    (ev,) = tx.decode_logs(cert.CertificateIssued)
    console.print(f"issued certificate #{ev.id}: {ev.amount_wh / 1000:.3f} kWh to {ev.generator}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id", type=int)
@click.argument("to")
@click.argument("wh", type=click.IntRange(min=1))
@account_option
def transfer(network, id, to, wh, account_spec):
    cert = _cert(network)
    sender = _holder_of(cert, account_spec, id, wh)
    cert.safeTransferFrom(sender.address, to, id, wh, b"", sender=sender)
    console.print(f"moved {wh} Wh of #{id} to {to}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id", type=int)
@click.argument("wh", type=click.IntRange(min=1))
@click.option("--beneficiary", required=True, help="the consumer the zero-carbon claim is for")
@click.option("--purpose", required=True, help="what the claim covers (up to 128 characters)")
@account_option
def claim(network, id, wh, beneficiary, purpose, account_spec):
    if len(purpose) > 128:
        raise click.BadParameter("purpose is limited to 128 characters")
    cert = _cert(network)
    sender = _holder_of(cert, account_spec, id, wh)
    cert.claim(id, wh, beneficiary, purpose, sender=sender)
    console.print(f"claimed {wh} Wh of #{id} for {beneficiary}: {purpose}")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/metadata"), show_default=True)
def metadata(network, out):
    cert = _cert(network)
    out.mkdir(parents=True, exist_ok=True)
    now = chain.blocks.head.timestamp
    for id in range(1, cert.next_id()):
        (out / f"{id_hex(id)}.json").write_text(json.dumps(certificate_metadata(id, cert.certificate(id), now), indent=2))
    console.print(f"wrote {cert.next_id() - 1} metadata files to {out} (serve them at the uri() template)")
