"""`ape run trade amend`, in-process against the test session's node (the `cli` fixture of conftest.py):
an ask amended down and up the queue, a bid amended down with its refund, and bad input refused before
anything is sent: exit status 2, one line, no transaction."""


import pytest

from gridmint import deployments
from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]


def test_amend_cli_smoke(cli, tmp_path, accounts, chain, project, local_network):
    cli("deploy")
    record = deployments.read(deployments.path_for(deployments.record_key(*local_network.split(":")), chain.chain_id, tmp_path))
    registry = project.MeterRegistry.at(record.address("MeterRegistry"))
    watt = project.WattToken.at(record.address("WattToken"))
    tsl = project.StorageRentToken.at(record.address("StorageRentToken"))
    quote = project.MockStablecoin.at(record.address("QuoteToken"))
    operator, seller, buyer = accounts[0], accounts[2], accounts[3]

    # a PV meter of the seller exports 6 kWh into the battery; both deposit rent; the buyer has 100 TEUR
    meter = MeterSigner(bytes.fromhex("42" * 32))
    onboard_meter(registry, operator, seller, meter.address, 1, 50_000, "CLI roof", commissioning(chain.pending_timestamp - 1))
    domain = domain_from_contract(registry)
    t0 = chain.pending_timestamp
    r1 = Reading(meter.address, t0 + 1_800, 8_000, 2_000, 6_000, 0)
    chain.pending_timestamp = t0 + 1_800
    registry.submit_readings([r1.as_call_arg()], [meter.sign(r1, domain)], sender=operator)
    for who in (seller, buyer):
        tsl.mint(who, 10**19, sender=operator)
        tsl.approve(watt.address, 10**19, sender=who)
        watt.deposit_rent(10**19, sender=who)
    quote.mint(buyer, 100 * 10**6, sender=operator)
    assert watt.balanceOf(seller) == 6_000

    out = cli("trade", "place", "sell", "0.2", "5", "--account", "test:2")
    assert "order 1 rests: sell 5.000 kWh" in out
    out = cli("trade", "amend", "1", "0.21", "4", "--account", "test:2")
    assert "order 1 now rests: sell 4.000 kWh at 0.2100 TEUR/kWh (at the back of the queue)" in out, out
    assert watt.balanceOf(seller) == 2_000
    out = cli("trade", "amend", "1", "0.21", "3", "--account", "test:2")
    assert "(kept its place)" in out, out
    assert watt.balanceOf(seller) == 3_000
    nonce = seller.nonce
    for text, args in {
        "nothing to change": ("trade", "amend", "1", "0.21", "3", "--account", "test:2"),
        "outside the band": ("trade", "amend", "1", "0.5", "3", "--account", "test:2"),
        "belongs to": ("trade", "amend", "1", "0.21", "2", "--account", "test:3"),
        "of free WATT": ("trade", "amend", "1", "0.21", "7", "--account", "test:2"),
    }.items():
        out = cli(*args, code=2)
        assert text in out, out
    assert seller.nonce == nonce
    out = cli("trade", "place", "buy", "0.1", "2", "--account", "test:3")
    assert "order 2 rests" in out, out
    out = cli("trade", "amend", "2", "0.1", "1", "--account", "test:3")
    assert "kept its place" in out and "refunded" in out, out
    assert "would cross" in cli("trade", "amend", "2", "0.21", "1", "--account", "test:3", code=2)
    out = cli("trade", "amend", "2", "0.2", "1", "--account", "test:3")
    assert "at the back of the queue" in out, out
