"""`ape run auction ...`: the slot auction's commands: place, standing, cancel, clear, claim, book, results.

The commands live in gridmint/cli/auction.py (tested in-process); docs/cli.md documents them."""

from gridmint.cli.entry import prepare

prepare()

from gridmint.cli.auction import cli  # noqa: E402,F401
