"""`ape run storage ...` without a node: the group loads without ape's managers, lists its commands, parses
days, and a usage error is one line on stderr with exit status 2."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from gridmint.cli.errors import Refused
from gridmint.cli.storage import cli, parse_day


def test_storage_commands__load_without_ape_managers():
    code = ("import sys; import gridmint.cli.storage; "
            "heavy = [m for m in ('ape.managers.chain', 'pandas', 'rich.table', 'gridmint.system', 'gridmint.storage_day') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"loaded at import: {out}"


def test_storage_help__every_command_listed():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("settle", "claim", "status"):
        assert command in result.output


def test_parse_day__date_or_number():
    assert parse_day("2026-06-15") == 20_619
    assert parse_day("20619") == 20_619
    with pytest.raises(Refused, match="not a day"):
        parse_day("15 June")


def test_storage_usage_error__one_line_exit_2():
    result = CliRunner(mix_stderr=False).invoke(cli, ["claim"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("Error: ")
