"""`ape run operator ...`: the operator's commands: meters, parameters with notice, TSL, collections, pauses; a local chain's accounts and time.

The commands live in gridmint/cli/operator.py (tested in-process); docs/cli.md documents them."""

from gridmint.cli.entry import prepare

prepare()

from gridmint.cli.operator import cli  # noqa: E402,F401
