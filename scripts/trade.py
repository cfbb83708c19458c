"""`ape run trade ...`: the member's commands: the WATT order book, storage rent, accepting one's meters.

The commands live in gridmint/cli/trade.py (tested in-process); docs/cli.md documents them."""

from gridmint.cli.entry import prepare

prepare()

from gridmint.cli.trade import cli  # noqa: E402,F401
