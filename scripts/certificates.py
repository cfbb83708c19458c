"""`ape run certificates ...`: certificates: issue, move, claim, inspect, and the certificate market.

The commands live in gridmint/cli/certificates.py (tested in-process); docs/cli.md documents them."""

from gridmint.cli.entry import prepare

prepare()

from gridmint.cli.certificates import cli  # noqa: E402,F401
