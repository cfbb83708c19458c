"""The oracle's signing core: digest equals the contract's and eth-account's; signatures recover."""

import json

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle import keys
from oracle.eip712 import Domain, MeterSigner, Reading, digest, malleate, split_signature, SECP256K1_N
from tests.utils.meters import domain_of

U64 = st.integers(0, 2**64 - 1)
U256 = st.integers(0, 2**256 - 1)
ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
READINGS = st.builds(Reading, ADDRESSES, U64, U256, U256, U256, U256)


def eth_account_digest(r: Reading, d: Domain) -> bytes:
    msg = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Reading": [
                    {"name": "meter", "type": "address"},
                    {"name": "timestamp", "type": "uint64"},
                    {"name": "generatedWh", "type": "uint256"},
                    {"name": "consumedWh", "type": "uint256"},
                    {"name": "exportedWh", "type": "uint256"},
                    {"name": "importedWh", "type": "uint256"},
                ],
            },
            "primaryType": "Reading",
            "domain": {"name": d.name, "version": d.version, "chainId": d.chain_id, "verifyingContract": d.verifying_contract},
            "message": {
                "meter": r.as_call_arg()[0],
                "timestamp": r.timestamp,
                "generatedWh": r.generated_wh,
                "consumedWh": r.consumed_wh,
                "exportedWh": r.exported_wh,
                "importedWh": r.imported_wh,
            },
        }
    )
    from eth_account.messages import _hash_eip191_message

    return _hash_eip191_message(msg)


@settings(max_examples=300)
@given(READINGS)
def test_digest__equals_contract(registry, r):
    assert digest(r, domain_of(registry)) == registry.reading_digest(r.as_call_arg())


@settings(max_examples=100)
@given(READINGS, st.integers(1, 2**64), ADDRESSES)
def test_digest__equals_eth_account(r, chain_id, contract):
    d = Domain(chain_id=chain_id, verifying_contract=contract)
    assert digest(r, d) == eth_account_digest(r, d)


@settings(max_examples=50)
@given(st.binary(min_size=32, max_size=32).filter(lambda k: 0 < int.from_bytes(k, "big") < SECP256K1_N), READINGS)
def test_sign__recovers_to_meter_and_is_low_s(key, r):
    signer = MeterSigner(key)
    r = r._replace(meter=signer.address)
    d = Domain(chain_id=1, verifying_contract="0x" + "11" * 20)
    sig = signer.sign(r, d)
    _r, s, v = split_signature(sig)
    assert v in (27, 28) and s <= SECP256K1_N // 2
    assert Account._recover_hash(digest(r, d), signature=sig) == signer.address
    high = malleate(sig)
    assert high != sig and split_signature(high)[1] > SECP256K1_N // 2


def test_sign__refuses_other_meters_reading():
    signer = MeterSigner(b"\x01" * 32)
    with pytest.raises(ValueError, match="not this signer"):
        signer.sign(Reading("0x" + "22" * 20, 1, 0, 0, 0, 0), Domain(1, "0x" + "11" * 20))


@pytest.mark.parametrize(
    "field, value", [("timestamp", 2**64), ("generated_wh", -1), ("exported_wh", 2**256), ("imported_wh", 1.5)]
)
def test_struct__out_of_range_fields__rejected(field, value):
    r = Reading("0x" + "22" * 20, 1, 0, 0, 0, 0)._replace(**{field: value})
    with pytest.raises((ValueError, TypeError)):
        digest(r, Domain(1, "0x" + "11" * 20))


def test_signer__repr_hides_key():
    key = bytes(range(1, 33))
    signer = MeterSigner(key)
    assert key.hex() not in repr(signer) and signer.address in repr(signer)


def test_keystore__roundtrip_encrypted_and_private(tmp_path):
    address = keys.new_key(tmp_path, "correct horse", kdf="pbkdf2")
    path = tmp_path / f"{address}.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    blob = json.loads(path.read_text())
    assert "crypto" in blob and "ciphertext" in blob["crypto"]
    assert keys.list_keys(tmp_path) == [address]
    signer = keys.load_signer(tmp_path, address, "correct horse")
    assert signer.address == address
    with pytest.raises(keys.KeystoreError, match="wrong password"):
        keys.load_signer(tmp_path, address, "wrong")


def test_keystore__import_existing_key(tmp_path):
    key = b"\x07" * 32
    address = keys.import_key(tmp_path, key, "pw", kdf="pbkdf2")
    assert address == Account.from_key(key).address == keys.load_signer(tmp_path, address, "pw").address
    assert key.hex() not in (tmp_path / f"{address}.json").read_text()
