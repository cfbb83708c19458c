"""Helpers shared by the `ape run` scripts: the deployment, accounts, one-line errors, quiet sends.

Conventions every CLI follows (docs/cli.md):
- a user error is one line on stderr and exit status 2, with nothing sent (`Refused`);
- every transaction is simulated first (`eth_call` from the sender) and refused with the contract's
  reason in words if it would revert (`Sender.check` / `Sender.send`);
- quiet by default: no line per transaction from ape; `-v` prints each transaction's hash and gas;
- an ape keystore account asks for its passphrase once per command (then signs that command's
  transactions), never once per transaction.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from . import deployments
from .units import UnitError, revert_reason

# `.venv/bin/ape run ...` without an activated venv: ape-vyper finds the pinned compiler (the pip
# package `vyper`) through PATH, so the interpreter's own bin directory goes first; ape-foundry finds
# Anvil (npm `@foundry-rs/anvil`, installed by `make setup`) the same way
for _bin in (str(deployments.ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent)):
    if Path(_bin).is_dir() and _bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class Refused(click.ClickException):
    """A user error or a call the chain would refuse: one line on stderr, exit status 2, nothing sent."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class Failed(click.ClickException):
    """Something failed after input was accepted (node unreachable, a sent transaction failed): one line, exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed"


class Group(click.Group):
    """A click group whose subcommands fail in one line: usage errors and unit errors exit 2 with
    the message alone (no usage block), ape errors exit 1 with their first line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        return _guarded(lambda: super(Group, self).invoke(ctx))


def guarded_command(command: click.Command) -> click.Command:
    """The same one-line errors for a script whose `cli` is a single command (deploy)."""
    invoke = command.invoke

    def _invoke(ctx):
        return _guarded(lambda: invoke(ctx))

    command.invoke = _invoke  # type: ignore[method-assign]
    return command


def _guarded(call):
    from ape.exceptions import ApeException, ContractLogicError

    try:
        return call()
    except (Refused, Failed, click.exceptions.Exit, click.Abort):
        raise
    except click.UsageError as err:  # BadParameter, MissingParameter, NoSuchOption ...
        raise Refused(_one_line(err.format_message())) from None
    except click.ClickException as err:
        raise Refused(_one_line(err.format_message())) from None
    except UnitError as err:
        raise Refused(str(err)) from None
    except ContractLogicError as err:
        raise Failed(f"the transaction was refused by the contract: {revert_reason(err.revert_message)}") from None
    except ApeException as err:
        raise Failed(_one_line(str(err))) from None
    except ConnectionError as err:
        raise Failed(f"the node did not answer: {_one_line(str(err))}") from None
    except Exception as err:  # never a traceback for a user; GRIDMINT_DEBUG=1 shows it
        if os.environ.get("GRIDMINT_DEBUG"):
            raise
        if "Compilation failed" in str(err):
            raise Failed("the contracts do not compile: `. .venv/bin/activate && ape compile` shows the compiler's errors") from None
        raise Failed(f"{type(err).__name__}: {_one_line(str(err))} (GRIDMINT_DEBUG=1 shows where)") from None


def quiet(verbose: bool = False) -> None:
    """No ape INFO line per transaction (and no library warnings) unless -v."""
    from ape.logging import logger

    logger.set_level("INFO" if verbose else "ERROR")
    if not verbose:
        warnings.filterwarnings("ignore")


verbose_option = click.option("-v", "--verbose", is_flag=True, help="print each transaction's hash and gas")
account_option = click.option("--account", "account_spec", default=None, help="ape account alias, or test:N on a local chain")


def order_options(f):
    """The options every order command takes (both markets): --ioc, --post-only, --expires-in."""
    f = click.option("--expires-in", default=None, help="time until the order expires (e.g. 3600, 90min, 2h, 7d)")(f)
    f = click.option("--post-only", is_flag=True, help="only rest; refuse to take")(f)
    return click.option("--ioc", is_flag=True, help="immediate-or-cancel: never rests")(f)


def network_key(network) -> str:
    """The deployment record's network key for the connected provider (see deployments.record_key)."""
    from ape import chain

    return deployments.record_key(network.ecosystem.name, network.name, chain.provider.name)


def deployment_path(network):
    from ape import chain

    return deployments.path_for(network_key(network), chain.chain_id)


def load_record(network) -> deployments.Deployment:
    path = deployment_path(network)
    if not path.exists():
        raise Refused(
            f"no deployment at {path.relative_to(deployments.ROOT) if path.is_relative_to(deployments.ROOT) else path}: "
            f"run `make deploy` (or `ape run deploy --network {network_key(network)}:...`) first"
        )
    return deployments.read(path)


def load_contracts(network, names):
    """Contract instances from deployments/<ecosystem>-<network>-<chain id>.json."""
    from ape import project

    record = load_record(network)
    # the quote token is any ERC-20; the mock's ABI is a superset of ERC-20's
    artefact = {"QuoteToken": "MockStablecoin"}
    try:
        return [getattr(project, artefact.get(name, name)).at(record.address(name)) for name in names]
    except Exception as err:  # a record of another chain (the node was restarted without its state)
        raise Refused(f"the deployment record does not match this chain ({_one_line(str(err))}): deploy again") from None


def is_local(network) -> bool:
    return network.name in ("local",) or bool(getattr(network, "is_local", False))


def resolve_account(spec: str | None, *, required: bool = True):
    """`test:N` picks local test account N; anything else is an ape account alias."""
    from ape import accounts

    if not spec:
        if not required:
            return None
        raise Refused("name the sending account with --account (an ape alias, or test:N on a local chain)")
    if spec.startswith("test:"):
        try:
            return accounts.test_accounts[int(spec[5:])]
        except (ValueError, IndexError):
            raise Refused(f"no local test account {spec!r}") from None
    try:
        return accounts.load(spec)
    except Exception:
        raise Refused(f"no ape account named {spec!r} (see `ape accounts list`)") from None


def parse_address(text: str, what: str = "address") -> str:
    """An address as typed: 0x + 40 hex digits (a mixed-case one must carry a valid checksum)."""
    from eth_utils import is_checksum_address, to_checksum_address

    s = str(text).strip()
    if not _ADDRESS.match(s):
        raise Refused(f"{what} must be an address (0x followed by 40 hex digits), not {text!r}")
    if s[2:] != s[2:].lower() and s[2:] != s[2:].upper() and not is_checksum_address(s):
        raise Refused(f"{what} {s} has a wrong checksum (a typo?)")
    if int(s, 16) == 0:
        raise Refused(f"{what} cannot be the zero address")
    return to_checksum_address(s)


def address_or_account(text: str, what: str = "address") -> str:
    """An address, or `test:N` on a local chain (the CLIs' and the README's shorthand)."""
    if str(text).startswith("test:"):
        return str(resolve_account(text).address)
    return parse_address(text, what)


class Sender:
    """Simulates, then sends, a command's transactions from one account, quietly.

    `check(...)` only simulates (for a plan of several calls, checked before any is sent);
    `send(...)` simulates and sends; `-v` prints the hash and gas of each."""

    def __init__(self, account, verbose: bool = False, out=None):
        self.account = account
        self.verbose = verbose
        self.out = out or sys.stdout
        self.receipts: list = []
        self._unlocked = False

    @property
    def address(self) -> str:
        return str(self.account.address)

    def check(self, method, *args, what: str, **kw) -> Any:
        from ape.exceptions import ContractLogicError, VirtualMachineError

        try:
            return method.call(*args, sender=self.account, **kw)
        except ContractLogicError as err:
            raise Refused(f"{what} would be refused: {revert_reason(err.revert_message)}") from None
        except VirtualMachineError as err:
            raise Refused(f"{what} would be refused: {revert_reason(str(err))}") from None

    def send(self, method, *args, what: str, **kw):
        from ape.exceptions import ContractLogicError

        self.check(method, *args, what=what, **kw)
        self._unlock()
        try:
            receipt = method(*args, sender=self.account, **kw)
        except ContractLogicError as err:
            raise Failed(f"{what} failed: {revert_reason(err.revert_message)}") from None
        self.receipts.append(receipt)
        if self.verbose:
            click.echo(f"  tx {receipt.txn_hash} {what}: {int(receipt.gas_used):,} gas", file=self.out)
        return receipt

    def _unlock(self) -> None:
        """One passphrase prompt per command for a keystore account (or APE_ACCOUNTS_<alias>_PASSPHRASE)."""
        if self._unlocked:
            return
        self._unlocked = True
        if hasattr(self.account, "set_autosign") and hasattr(self.account, "keyfile_path"):
            self.account.set_autosign(True)

    def sign_permit(self, token, spender: str, value: int, deadline: int) -> tuple[int, bytes, bytes]:
        """An EIP-2612 permit of `value` base units of `token` to `spender`, signed by this account
        (v, r, s), so a deposit needs no separate approve transaction."""
        from eth_account.messages import encode_typed_data

        from .permit import permit_typed_data

        data = permit_typed_data(
            token.eip712Domain(), self.address, spender, value, token.nonces(self.address), deadline
        )
        self._unlock()
        sig = self.account.sign_message(encode_typed_data(full_message=data))
        if sig is None:
            raise Refused("the permit was not signed")
        # ape's accounts return r and s as minimal big-endian bytes (eth_utils.to_bytes of the integer): one
        # signature in 256 has r (or s) below 2**248, i.e. 31 bytes, which ABI-encodes as a bytes32 padded on the
        # right, a different number: the permit then fails. Left-pad both to 32 bytes.
        return int(sig.v), bytes(sig.r).rjust(32, b"\0"), bytes(sig.s).rjust(32, b"\0")


def has_function(contract, name: str) -> bool:
    return any(getattr(item, "name", None) == name for item in contract.contract_type.abi)


def head():
    from ape import chain

    return chain.blocks.head
