"""Deploys and wires every gridmint contract, then writes deployments/<network>.json.

    ape run deploy --network ethereum:local:foundry
    ape run deploy --network ethereum:sepolia:node --account operator --capacity-wh 2000000

On a local network the first test account deploys unless --account names an
ape account (keystore); the deploying account becomes the operator.
"""

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand

from gridmint import deployments
from gridmint.system import SystemParams, ape_deployer, deploy_system


def resolve_account(alias: str | None, network_name: str):
    if alias:
        return accounts.load(alias)
    if network_name in ("local", "mainnet-fork") or chain.provider.network.is_local:
        return accounts.test_accounts[0]
    raise click.UsageError("name the operator with --account on a live network")


@click.command(cls=ConnectedProviderCommand)
@click.option("--account", "alias", default=None, help="ape account alias of the operator")
@click.option("--capacity-wh", type=click.IntRange(min=0), default=SystemParams.capacity_wh, show_default=True)
@click.option("--max-clock-skew", type=click.IntRange(0, 2**64 - 1), default=SystemParams.max_clock_skew_s, show_default=True)
def cli(network, alias, capacity_wh, max_clock_skew):
    operator = resolve_account(alias, network.name)
    params = SystemParams(capacity_wh=capacity_wh, max_clock_skew_s=max_clock_skew)
    system = deploy_system(ape_deployer(operator), operator, params)
    record = deployments.from_ape_system(system, f"{network.ecosystem.name}:{network.name}", chain.chain_id)
    path = deployments.write(record)
    for name, address in system.addresses().items():
        click.echo(f"{name:16s} {address}")
    click.echo(f"operator         {operator.address}")
    click.echo(f"written to {path}")
