"""`ape run storage ...`: the shared battery's green content: settle, claim, status.

The commands live in gridmint/cli/storage.py; docs/cli.md documents them."""

from gridmint.cli.entry import prepare

prepare()

from gridmint.cli.storage import cli  # noqa: E402,F401
