"""Sender.sign_permit returns a permit the token accepts, even when ape hands back a short r or s."""

from ape import accounts
from eth_abi import decode, encode
from eth_account import Account
from eth_account.messages import encode_typed_data

from gridmint.cli.sender import Sender
from gridmint.permit import permit_typed_data

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
SPENDER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
DOMAIN = (b"\x0f", "Storage Rent Token", "1", 31337, TOKEN, b"\0" * 32, [])


class FakeToken:
    """The two views sign_permit reads (no node needed)."""

    def eip712Domain(self):  # noqa: N802 (the token's ABI name)
        return DOMAIN

    def nonces(self, _owner):
        return 0


def _short_deadline(owner_key: bytes) -> int:
    """A deadline whose permit signature has r or s below 2**248 (about one in 128)."""
    owner = Account.from_key(owner_key)
    for deadline in range(1_800_000_000, 1_800_010_000):
        msg = encode_typed_data(full_message=permit_typed_data(DOMAIN, owner.address, SPENDER, 10**18, 0, deadline))
        sig = owner.sign_message(msg)
        if sig.r < 2**248 or sig.s < 2**248:
            return deadline
    raise AssertionError("no short signature in 10,000 deadlines")


def test_sign_permit__short_r_or_s__padded_to_32_bytes_and_recovers_the_owner():
    member = accounts.test_accounts[2]
    deadline = _short_deadline(member.private_key)
    v, r, s = Sender(member).sign_permit(FakeToken(), SPENDER, 10**18, deadline)
    assert len(r) == 32 and len(s) == 32
    # as the contract sees them: bytes32 arguments, read back as numbers
    r_int, s_int = decode(["uint256", "uint256"], encode(["bytes32", "bytes32"], [r, s]))
    assert (r_int, s_int) == (int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    msg = encode_typed_data(full_message=permit_typed_data(DOMAIN, member.address, SPENDER, 10**18, 0, deadline))
    assert Account.recover_message(msg, vrs=(v, r, s)) == member.address
