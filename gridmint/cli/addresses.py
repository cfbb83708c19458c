"""Addresses as people type them: `0x` + 40 hex digits (checksummed if mixed-case), `test:N` (local test
account N), or the alias of an ape account (its address; no passphrase is asked for an address)."""

from __future__ import annotations

import re

from .errors import Refused

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


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


def short(address: str) -> str:
    """0xf39F…2266: an address in a table that must fit the terminal (`--wide` shows it whole)."""
    a = str(address)
    return f"{a[:6]}…{a[-4:]}" if len(a) == 42 else a


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
            raise Refused(f"no local test account {spec!r} (`ape run operator accounts` lists them)") from None
    try:
        return accounts.load(spec)
    except Exception:
        raise Refused(f"no ape account named {spec!r} (see `ape accounts list`)") from None


def alias_address(alias: str) -> str | None:
    """The address of the ape account `alias` (keystore), or None when there is none by that name."""
    from ape import accounts

    try:
        return str(accounts.load(alias).address)
    except Exception:
        return None


def address_or_account(text: str, what: str = "address") -> str:
    """An address, `test:N` (a local test account) or an ape account's alias: what every command that
    takes an address, and the meter CSV's owner column, accept. An unknown name is refused, never guessed."""
    s = str(text).strip()
    if s.startswith("test:"):
        return str(resolve_account(s).address)
    if _ADDRESS.match(s) or s.startswith("0x") or not _ALIAS.match(s):
        return parse_address(s, what)
    address = alias_address(s)
    if address is None:
        raise Refused(f"{what} must be an address (0x followed by 40 hex digits), test:N or an ape account alias, "
                      f"not {text!r}")
    return address
