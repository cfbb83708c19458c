"""Deploys and wires every gridmint contract, then writes deployments/<ecosystem>-<network>-<chain id>.json.

    make deploy                                                   (a local chain: compile + deploy)
    ape run deploy --network ethereum:local:foundry
    ape run deploy --network ethereum:sepolia:node --account operator --capacity-kwh 2000

On a local network the first test account deploys unless --account names an ape account
(keystore); the deploying account becomes the operator. With no node listening, ape starts a
throwaway Anvil that stops when the command ends: the command says so and writes no record.
"""

from __future__ import annotations

import click
from ape.cli import ConnectedProviderCommand

from gridmint import deployments
from gridmint.units import kwh, parse_duration_s, parse_energy_wh

from .addresses import parse_address, resolve_account
from .context import deployment_path, is_local, network_key
from .errors import Refused, guarded_command
from .options import quiet, verbose_option


def _throwaway() -> bool:
    """True when ape started the node for this command (nothing was listening): it dies with the
    command — unless an outer context holds the same connection (a test session, a console)."""
    from ape import chain
    from ape.api.networks import ProviderContextManager

    if getattr(chain.provider, "process", None) is None:
        return False
    return len(ProviderContextManager.provider_stack) <= 1


@click.command(cls=ConnectedProviderCommand)
@click.option("--account", "alias", default=None, help="ape account alias of the operator (test:0 locally)")
@click.option("--capacity-kwh", "capacity", default=None, help="the shared battery's usable size, kWh (1000)")
@click.option("--max-clock-skew", "skew", default=None, help="how far a reading may lie ahead of block time (300s)")
@click.option("--settler", default=None,
              help="the relay that settles the battery's days on the StorageLedger (a local chain: the operator)")
@verbose_option
def cli(network, alias, capacity, skew, settler, verbose):
    """Deploy every contract, wired together; the deploying account is the operator."""
    from ape import chain

    from gridmint.system import SystemParams, ape_deployer, deploy_system

    quiet(verbose)
    capacity_wh = parse_energy_wh(capacity) if capacity else SystemParams.capacity_wh
    skew_s = parse_duration_s(skew) if skew else SystemParams.max_clock_skew_s
    if alias:
        operator = resolve_account(alias)
    elif is_local(network):
        operator = resolve_account("test:0")
    else:
        raise Refused("name the operator with --account on a live network")
    if not is_local(network) and operator.balance == 0:
        raise Refused(f"the operator {operator.address} has no {network.ecosystem.name} gas money on {network.name}")
    if hasattr(operator, "set_autosign") and hasattr(operator, "keyfile_path"):
        operator.set_autosign(True)  # one passphrase prompt for the whole deploy
    if settler:
        settler = parse_address(settler, "--settler")
    elif is_local(network):
        settler = operator.address  # one account runs the whole local community; a live one appoints its relay
    params = SystemParams(capacity_wh=capacity_wh, max_clock_skew_s=skew_s, storage_settler=settler)
    click.echo(f"deploying to {network_key(network)} (chain id {chain.chain_id}) from {operator.address} ...", err=True)
    first_block = chain.blocks.head.number + 1  # the deployment's first block: the auditor reads events from it
    system = deploy_system(ape_deployer(operator), operator, params)
    for name, address in system.addresses().items():
        click.echo(f"{name:25s} {address}")
    click.echo(f"{'operator':25s} {operator.address}")
    click.echo(f"battery capacity {kwh(capacity_wh)}, reading clock skew {skew_s} s"
               + (f", battery days settled by {settler}" if settler else ", no battery settler appointed yet"))
    if _throwaway():
        click.echo(
            f"no node was listening at {chain.provider.uri}: ape started a throwaway Anvil for this command "
            "and it stops now, taking these contracts with it; no deployment record was written. "
            "Start a persistent chain first (`make chain &` or `tools/bin/anvil &`), then deploy again.",
            err=True,
        )
        return
    record = deployments.from_ape_system(system, network_key(network), chain.chain_id, first_block)
    path = deployments.write(record)
    assert path == deployment_path(network)
    click.echo(f"written to {path.relative_to(deployments.ROOT) if path.is_relative_to(deployments.ROOT) else path}")


guarded_command(cli)
