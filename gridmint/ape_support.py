"""Helpers shared by the ape scripts: find the deployment, resolve accounts, fail clearly."""

from __future__ import annotations

import click

from . import deployments


def network_key(network) -> str:
    return f"{network.ecosystem.name}:{network.name}"


def load_contracts(network, names):
    """Contract instances from deployments/<network>.json (run `ape run deploy` first)."""
    from ape import project

    path = deployments.path_for(network_key(network))
    if not path.exists():
        raise click.ClickException(f"no deployment for {network_key(network)}: run `ape run deploy --network ...` first")
    record = deployments.read(path)
    # the quote token is any ERC-20; the mock's ABI is a superset of ERC-20's
    artefact = {"QuoteToken": "MockStablecoin"}
    return [getattr(project, artefact.get(name, name)).at(record.address(name)) for name in names]


def resolve_account(spec: str | None):
    """`test:N` picks local test account N; anything else is an ape account alias."""
    from ape import accounts

    if not spec:
        raise click.UsageError("name the sending account with --account (an ape alias, or test:N locally)")
    if spec.startswith("test:"):
        try:
            return accounts.test_accounts[int(spec[5:])]
        except (ValueError, IndexError):
            raise click.BadParameter(f"no local test account {spec!r}") from None
    try:
        return accounts.load(spec)
    except Exception:
        raise click.BadParameter(f"no ape account named {spec!r} (see `ape accounts list`)") from None


account_option = click.option("--account", "account_spec", default=None, help="ape account alias, or test:N locally")

