"""Sends a command's transactions from one account: each is first simulated with `eth_call` from the
sender for the block it will land in (`CliContext.landing_time`: the latest block's time plus a margin,
as an `eth_call` block override where the node takes one), and refused in one line with the contract's
reason in words if it would revert then; nothing is sent. `-v` prints each transaction's hash and gas."""

from __future__ import annotations

import sys
from typing import Any

import click

from .errors import Failed, Refused

_ERROR_SELECTOR = "08c379a0"  # Error(string)
_PANIC_SELECTOR = "4e487b71"  # Panic(uint256)


def revert_text(error: dict) -> str | None:
    """The revert string of a JSON-RPC error (Anvil: `data` is the revert data; Hardhat: `data.data`,
    or only the message), or None when the call reverted without one."""
    import re

    from eth_abi import decode

    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        raw = data[2:]
        if raw.startswith(_ERROR_SELECTOR):
            try:
                return decode(["string"], bytes.fromhex(raw[8:]))[0]
            except Exception:
                return None
        if raw.startswith(_PANIC_SELECTOR):
            return f"panic {int(raw[8:] or '0', 16):#x}"
    message = str(error.get("message", ""))
    m = re.search(r"reverted with reason string '(.*)'", message) or re.search(r"execution reverted: (.*)", message)
    return m.group(1) if m else None


class Sender:
    """Simulates, then sends, a command's transactions from one account, quietly.

    `check(...)` only simulates (for a plan of several calls, checked before any is sent);
    `send(...)` simulates and sends; `-v` prints the hash and gas of each."""

    def __init__(self, account, verbose: bool = False, out=None, ctx=None):
        self.account = account
        self.verbose = verbose
        self.out = out
        self.ctx = ctx
        self.receipts: list = []
        self._unlocked = False

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _call(self, tx: dict, at: int | None) -> dict:
        """eth_call at the latest block, with its time overridden to `at` where the node allows it."""
        if at is not None and self.ctx.block_overrides is not False:
            reply = self.ctx.rpc("eth_call", [tx, "latest", {}, {"time": hex(at)}])
            error = reply.get("error") or {}
            if error.get("code") in (-32602, -32600):  # the node takes no block override (Hardhat 2)
                self.ctx.block_overrides = False
            else:
                self.ctx.block_overrides = True
                return reply
        return self.ctx.rpc("eth_call", [tx, "latest"])

    def check(self, method, *args, what: str, value: int = 0) -> Any:
        """Simulates `method(*args)` from this account for the block it would land in; returns the
        call's decoded result, or refuses in one line (exit 2) with the contract's reason."""
        from gridmint.units import revert_reason

        if self.ctx is None:  # no context (a library caller): ape's own simulation at the latest block
            return self._ape_check(method, *args, what=what, value=value)
        data = method.encode_input(*args)
        tx = {"from": self.address, "to": str(method.contract.address), "data": "0x" + bytes(data).hex()}
        if value:
            tx["value"] = hex(value)
        reply = self._call(tx, self.ctx.landing_time())
        if "error" in reply:
            reason = revert_text(reply["error"])
            if reason is None and "revert" not in str(reply["error"].get("message", "")).lower():
                raise Failed(f"{what}: the node refused the simulation: {reply['error'].get('message', reply['error'])}")
            raise Refused(f"{what} would be refused: {revert_reason(reason)}")
        return self._decode(method, args, reply.get("result") or "0x")

    @staticmethod
    def _decode(method, args: tuple, result: str) -> Any:
        abis = [abi for abi in method.abis if len(abi.inputs) == len(args)]
        if len(abis) != 1 or not abis[0].outputs:
            return None
        values = method.provider.network.ecosystem.decode_returndata(abis[0], bytes.fromhex(result[2:]))
        return values[0] if isinstance(values, (tuple, list)) and len(values) == 1 else values

    def _ape_check(self, method, *args, what: str, value: int = 0) -> Any:
        from ape.exceptions import ContractLogicError, VirtualMachineError

        from gridmint.units import revert_reason

        kw = {"value": value} if value else {}
        try:
            return method.call(*args, sender=self.account, **kw)
        except ContractLogicError as err:
            raise Refused(f"{what} would be refused: {revert_reason(err.revert_message)}") from None
        except VirtualMachineError as err:
            raise Refused(f"{what} would be refused: {revert_reason(str(err))}") from None

    def send(self, method, *args, what: str, value: int = 0):
        """Simulates, then sends and waits for the receipt; a revert after sending fails in one line (exit 1)."""
        from ape.exceptions import ContractLogicError

        from gridmint.units import revert_reason

        self.check(method, *args, what=what, value=value)
        self.unlock()
        kw = {"value": value} if value else {}
        try:
            receipt = method(*args, sender=self.account, **kw)
        except ContractLogicError as err:
            raise Failed(f"{what} failed: {revert_reason(err.revert_message)}") from None
        self.receipts.append(receipt)
        if self.verbose:
            click.echo(f"  tx {receipt.txn_hash} {what}: {int(receipt.gas_used):,} gas", file=self.out or sys.stdout)
        return receipt

    def unlock(self) -> None:
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

        from gridmint.permit import permit_typed_data

        data = permit_typed_data(
            token.eip712Domain(), self.address, spender, value, token.nonces(self.address), deadline
        )
        self.unlock()
        sig = self.account.sign_message(encode_typed_data(full_message=data))
        if sig is None:
            raise Refused("the permit was not signed")
        # ape's accounts return r and s as minimal big-endian bytes (eth_utils.to_bytes of the integer): one
        # signature in 256 has r (or s) below 2**248, i.e. 31 bytes, which ABI-encodes as a bytes32 padded on the
        # right, a different number: the permit then fails. Left-pad both to 32 bytes.
        return int(sig.v), bytes(sig.r).rjust(32, b"\0"), bytes(sig.s).rjust(32, b"\0")
