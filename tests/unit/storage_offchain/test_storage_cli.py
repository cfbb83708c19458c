"""`ape run storage ...` without a node: a day given as a date or a number (its loading, help and usage
errors are checked with every command group's in tests/unit/cli/test_cli_in_process.py)."""

import pytest

from gridmint.cli.errors import Refused
from gridmint.cli.storage import parse_day


def test_parse_day__date_or_number():
    assert parse_day("2026-06-15") == 20_619
    assert parse_day("20619") == 20_619
    with pytest.raises(Refused, match="not a day"):
        parse_day("15 June")
