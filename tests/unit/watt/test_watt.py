"""WattToken: 1 base unit = 1 Wh, registry-only minting, capacity, standard ERC-20 behaviour."""

import boa
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from gridmint.permit import permit_typed_data

from tests.conftest import SOLAR, events
from tests.utils.machine import announce_and_apply

ZERO = "0x" + "00" * 20


@pytest.fixture
def funded(register, submit, now, meter_owner):
    pv = register("pv", meter_owner, SOLAR, 100_000)
    submit([(pv, pv.reading(now()))])
    boa.env.time_travel(seconds=3_600)
    submit([(pv, pv.reading(now(), exp=10_000))])
    return meter_owner


def test_metadata(watt, registry, operator):
    assert (watt.name(), watt.symbol(), watt.decimals()) == ("Watt-hour storage", "WATT", 3)
    assert str(watt.registry()) == str(registry.address)
    assert str(watt.owner()) == operator


def test_credit_flows__only_registry(watt, operator, stranger):
    for who in (operator, stranger):
        with boa.reverts("watt: caller is not the registry"):
            watt.credit_flows(who, 1, 0, sender=who)


def test_set_registry__only_once(watt, operator, stranger):
    with boa.reverts("watt: registry already set"):
        watt.set_registry(stranger, sender=operator)
    with boa.reverts("ownable: caller is not the owner"):
        watt.set_registry(stranger, sender=stranger)


def test_apply_capacity__below_supply_at_apply__reverts(watt, operator, stranger, funded, give_watt, other_owner):
    assert watt.totalSupply() == 10_000
    watt.announce_capacity_wh(15_000, sender=operator)
    give_watt(other_owner, 6_000)  # the battery fills up during the notice
    boa.env.time_travel(seconds=watt.NOTICE_S())
    with boa.reverts("watt: capacity below supply"):
        watt.apply_capacity_wh(sender=operator)
    with boa.reverts("ownable: caller is not the owner"):
        watt.announce_capacity_wh(20_000, sender=stranger)
    logs = announce_and_apply(watt, "capacity_wh", 16_000, sender=operator)
    assert [e.capacity_wh for e in events(logs, "UpdateCapacity")] == [16_000]
    assert watt.free_capacity_wh() == 0


def test_transfer__moves_wh(watt, funded, other_owner):
    watt.transfer(other_owner, 2_500, sender=funded)
    assert (watt.balanceOf(funded), watt.balanceOf(other_owner)) == (7_500, 2_500)
    with boa.reverts("watt: transfer amount exceeds balance"):
        watt.transfer(other_owner, 7_501, sender=funded)
    with boa.reverts("watt: transfer to the zero address"):
        watt.transfer(ZERO, 1, sender=funded)


def test_transfer_from__needs_allowance(watt, funded, other_owner, stranger):
    with boa.reverts("erc20: insufficient allowance"):
        watt.transferFrom(funded, stranger, 1, sender=stranger)
    watt.approve(stranger, 100, sender=funded)
    watt.transferFrom(funded, other_owner, 100, sender=stranger)
    assert watt.balanceOf(other_owner) == 100 and watt.allowance(funded, stranger) == 0


def test_permit__eip2612_signature_sets_allowance(watt, stranger):
    holder = Account.from_key(b"\x11" * 32)
    deadline = boa.env.evm.patch.timestamp + 3600
    msg = encode_typed_data(full_message=permit_typed_data(watt.eip712Domain(), holder.address, stranger, 77, 0, deadline))
    sig = holder.sign_message(msg)
    watt.permit(holder.address, stranger, 77, deadline, sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big"))
    assert watt.allowance(holder.address, stranger) == 77 and watt.nonces(holder.address) == 1


def test_no_public_mint_or_burn(watt):
    for fn in ("mint", "burn", "burn_from", "set_minter"):
        assert not hasattr(watt, fn), f"{fn} must not be exported"
