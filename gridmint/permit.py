"""EIP-2612 permits: the typed data a member signs instead of sending an `approve` transaction."""

from __future__ import annotations


def permit_typed_data(domain: tuple, owner: str, spender: str, value: int, nonce: int, deadline: int) -> dict:
    """The EIP-712 message of an EIP-2612 `permit` (WATT, TSL and the mock stablecoin support it).

    `domain` is the token's `eip712Domain()` (EIP-5267): (fields, name, version, chainId,
    verifyingContract, salt, extensions). Sign it with eth-account's `encode_typed_data(full_message=…)`."""
    _fields, name, version, chain_id, verifying_contract, _salt, _extensions = domain
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": name, "version": version, "chainId": int(chain_id), "verifyingContract": str(verifying_contract)},
        "message": {
            "owner": str(owner),
            "spender": str(spender),
            "value": int(value),
            "nonce": int(nonce),
            "deadline": int(deadline),
        },
    }
