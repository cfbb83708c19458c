"""Options every command shares, and ape kept quiet (no INFO line per transaction unless -v)."""

from __future__ import annotations

import warnings

import click

verbose_option = click.option("-v", "--verbose", is_flag=True, help="print each transaction's hash and gas")
account_option = click.option("--account", "account_spec", default=None, help="ape account alias, or test:N on a local chain")


def order_options(f):
    """The options every order command takes (both markets): --ioc, --post-only, --expires-in."""
    f = click.option("--expires-in", default=None, help="time until the order expires (e.g. 3600, 90min, 2h, 7d)")(f)
    f = click.option("--post-only", is_flag=True, help="only rest; refuse to take")(f)
    return click.option("--ioc", is_flag=True, help="immediate-or-cancel: never rests")(f)


def quiet(verbose: bool = False) -> None:
    """No ape INFO line per transaction (and no library warnings) unless -v."""
    from ape.logging import logger

    logger.set_level("INFO" if verbose else "ERROR")
    if not verbose:
        warnings.filterwarnings("ignore")
