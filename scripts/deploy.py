"""`ape run deploy ...`: deploy every contract, wired, and write the deployment record.

The commands live in gridmint/cli/deploy.py (tested in-process); docs/cli.md documents them."""

from gridmint.cli.entry import prepare

prepare()

from gridmint.cli.deploy import cli  # noqa: E402,F401
