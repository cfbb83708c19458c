"""`ape run auction ...` without a node: the command group loads without ape's managers, lists every
command, and a usage error is one line on stderr with exit status 2."""

import subprocess
import sys

from click.testing import CliRunner


def test_auction_commands__load_without_ape_managers():
    code = ("import sys; import gridmint.cli.auction; "
            "heavy = [m for m in ('ape.managers.chain', 'pandas', 'rich.table', 'gridmint.system') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"loaded at import: {out}"


def test_auction_help__every_command_listed():
    from gridmint.cli.auction import cli

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("place", "standing", "cancel", "clear", "claim", "book", "results", "deposit"):
        assert command in result.output


def test_auction_usage_error__one_line_exit_2():
    from gridmint.cli.auction import cli

    result = CliRunner(mix_stderr=False).invoke(cli, ["place", "hold", "0.2", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("Error: ") and "hold" in result.stderr
    result = CliRunner(mix_stderr=False).invoke(cli, ["cancel", "first"])
    assert result.exit_code == 2 and "first" in result.stderr
