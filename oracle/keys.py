"""Meter keys in encrypted keystore files (eth-account / Web3 Secret Storage v3).

A key is decrypted into a `MeterSigner` and never printed, logged or
written in clear. Files are named `<address>.json` and created 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_utils import to_checksum_address

from .eip712 import MeterSigner


class KeystoreError(Exception):
    """A keystore file is missing, unreadable or the password is wrong."""


def new_key(directory: Path, password: str, *, kdf: str = "scrypt") -> str:
    """Creates a fresh meter key in `directory`; returns its address only."""
    directory.mkdir(parents=True, exist_ok=True)
    private_key = secrets.token_bytes(32)
    keystore = Account.encrypt(private_key, password, kdf=kdf)
    address = to_checksum_address("0x" + keystore["address"])
    path = directory / f"{address}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keystore, fh)
    return address


def import_key(
    directory: Path, private_key: bytes, password: str, *, kdf: str = "scrypt", iterations: int | None = None
) -> str:
    """Stores an existing key (e.g. provisioned in a meter's secure element) encrypted.
    `iterations` lowers the KDF cost: for throwaway test keys only."""
    directory.mkdir(parents=True, exist_ok=True)
    keystore = Account.encrypt(private_key, password, kdf=kdf, iterations=iterations)
    address = to_checksum_address("0x" + keystore["address"])
    path = directory / f"{address}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keystore, fh)
    return address


def list_keys(directory: Path) -> list[str]:
    """Addresses of the keystores in `directory` (read from file contents, nothing decrypted)."""
    out = []
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.json")):
        try:
            out.append(to_checksum_address("0x" + json.loads(path.read_text())["address"]))
        except (ValueError, KeyError, json.JSONDecodeError):
            continue
    return out


def _decrypt(directory: Path, address: str, password: str) -> bytes:
    path = Path(directory) / f"{to_checksum_address(address)}.json"
    try:
        keystore = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"cannot read keystore for {address}: {exc.__class__.__name__}") from None
    try:
        private_key = Account.decrypt(keystore, password)
    except ValueError:
        raise KeystoreError(f"wrong password for keystore {address}") from None
    return bytes(private_key)


def load_signer(directory: Path, address: str, password: str) -> MeterSigner:
    """Decrypts the keystore of `address` into a meter signer."""
    return MeterSigner(_decrypt(directory, address, password))


def load_account(directory: Path, address: str, password: str):
    """Decrypts the keystore of `address` into an eth-account account (the gas payer)."""
    return Account.from_key(_decrypt(directory, address, password))
