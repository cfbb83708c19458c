"""The command line's parts that need no node: every command group loads without ape's managers (what
`ape run` pays for at each start), a simulation's revert in words from either node's error shape, the
meter CSV's owner column, tables that fit the terminal, and one-line usage errors."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from gridmint.cli import addresses
from gridmint.cli.errors import Refused
from gridmint.cli.sender import revert_text

# Error(string) "pausable: contract is paused", ABI-encoded, as a node returns it
PAUSED = ("0x08c379a0" + "20".rjust(64, "0") + "1c".rjust(64, "0")
          + b"pausable: contract is paused".hex().ljust(64, "0"))


def test_revert_text__anvil_error_data():
    error = {"code": 3, "message": "execution reverted: pausable: contract is paused", "data": PAUSED}
    assert revert_text(error) == "pausable: contract is paused"


def test_revert_text__hardhat_error_data_nested_or_message_only():
    assert revert_text({"code": -32603, "message": "x", "data": {"message": "x", "data": PAUSED}}) == (
        "pausable: contract is paused")
    message = "Error: VM Exception while processing transaction: reverted with reason string 'watt: account in arrears'"
    assert revert_text({"code": -32603, "message": message}) == "watt: account in arrears"


def test_revert_text__no_reason():
    assert revert_text({"code": 3, "message": "execution reverted", "data": "0x"}) is None
    assert revert_text({"code": 3, "message": "execution reverted", "data": "0x4e487b71" + "11".rjust(64, "0")}) == "panic 0x11"


def test_command_modules__load_without_ape_managers():
    """`ape run` executes every script in scripts/ to find the one asked for: the command modules must not
    import ape's chain manager (pandas, web3: about 1.3 s) at load time, only inside a command."""
    code = ("import sys; import gridmint.cli.operator, gridmint.cli.trade, gridmint.cli.certificates, gridmint.cli.deploy, "
            "gridmint.cli.auction, gridmint.cli.storage; "
            "heavy = [m for m in ('ape.managers.chain', 'pandas', 'rich.table', 'gridmint.system', 'gridmint.storage_day') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"loaded at import: {out}"


@pytest.mark.parametrize("group, commands", [
    ("operator", ("advance-time", "accounts", "register-csv")),
    ("trade", ("place", "amend", "cancel", "deposit", "withdraw")),
    ("certificates", ("issue", "market")),
    ("auction", ("place", "standing", "cancel", "clear", "claim", "book", "results", "deposit")),
    ("storage", ("settle", "claim", "status")),
])
def test_help__every_command_listed__no_node_needed(group, commands):
    import importlib

    cli = importlib.import_module(f"gridmint.cli.{group}").cli
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    for command in commands:
        assert command in result.output


@pytest.mark.parametrize("group, args, word", [
    ("trade", ["place", "hold", "0.2", "1"], "hold"),
    ("auction", ["place", "hold", "0.2", "1"], "hold"),
    ("auction", ["cancel", "first"], "first"),
    ("storage", ["claim"], ""),
])
def test_usage_error__one_line_exit_2(group, args, word):
    import importlib

    cli = importlib.import_module(f"gridmint.cli.{group}").cli
    result = CliRunner(mix_stderr=False).invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("Error: ") and word in result.stderr


def test_meter_csv__owner_column_takes_test_n_and_aliases(tmp_path, monkeypatch):
    from ape import accounts

    from gridmint.cli.operator import CSV_HEADER, read_meter_csv

    monkeypatch.setattr(addresses, "alias_address", lambda alias: "0x" + "ab" * 20 if alias == "berger" else None)
    path = tmp_path / "meters.csv"
    header = ",".join(CSV_HEADER) + "\n"
    path.write_text(header + f"0x{'11' * 20},test:3,solar,9.8,A,0,0,0,0,0\n0x{'22' * 20},berger,none,5,B,0,0,0,0,0\n")
    (_, a), (_, b) = read_meter_csv(path, 0)
    assert a.owner == str(accounts.test_accounts[3].address)
    assert b.owner == "0x" + "ab" * 20
    path.write_text(header + f"0x{'11' * 20},Bob,solar,9.8,A,0,0,0,0,0\n")
    with pytest.raises(Refused, match=r"meters.csv:2: owner must be an address \(0x followed by 40 hex digits\), "
                                      r"test:N or an ape account alias, not 'Bob'"):
        read_meter_csv(path, 0)


def test_tables__fit_columns_and_short_addresses(monkeypatch):
    from gridmint.cli import tables

    monkeypatch.setenv("COLUMNS", "80")
    assert tables.width() == 80
    t = tables.table("t", "meter", "name", "owner", right=())
    t.add_row(addresses.short("0x" + "ab" * 20), "a name long enough to wrap " * 3, addresses.short("0x" + "cd" * 20))
    console = tables.console()
    with console.capture() as captured:
        console.print(t)
    assert max(len(line) for line in captured.get().splitlines()) <= 80
    assert addresses.short("0x" + "ab" * 20) == "0xabab…abab"
