"""The whole reading path on a real node: deploy through ape on the session's local chain (Anvil, and
Hardhat in `make test`'s second pass), sign in Python, relay, read back."""

import pytest

from oracle.eip712 import MeterSigner, Reading, domain_from_contract
from gridmint.onboarding import commissioning, onboard_meter
from gridmint.system import SystemParams, ape_deployer, deploy_system

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]


@pytest.fixture(scope="module")
def system(accounts):
    operator = accounts[0]
    return deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=100_000, reading_log=False, slot_auction=False))


def test_signed_readings__on_a_local_chain__mint_watt_and_decode_events(system, accounts, chain):
    operator, meter_owner, relayer = accounts[0], accounts[1], accounts[2]
    registry, watt = system.registry, system.watt
    meter = MeterSigner(bytes.fromhex("11" * 32))
    installed = commissioning(chain.pending_timestamp - 1, (10_000, 5_000, 2_000, 1_000))
    onboard_meter(registry, operator, meter_owner, meter.address, 1, 8_000, "Roof PV", installed)
    domain = domain_from_contract(registry)
    assert domain.chain_id == chain.chain_id and domain.verifying_contract == registry.address

    t0 = chain.pending_timestamp
    r0 = Reading(meter.address, t0, 10_000, 5_000, 2_000, 1_000)
    r1 = Reading(meter.address, t0 + 1_800, 13_000, 5_500, 4_500, 1_200)
    chain.pending_timestamp = t0 + 1_800
    tx = registry.submit_readings(
        [r0.as_call_arg(), r1.as_call_arg()], [meter.sign(r0, domain), meter.sign(r1, domain)], sender=relayer
    )
    # ape's ContractLog.timestamp is the block's; the event field lives in event_arguments
    accepted = [
        (e.event_arguments["timestamp"], e.exported_wh, e.imported_wh) for e in tx.decode_logs(registry.ReadingAccepted)
    ]
    assert accepted == [(t0, 0, 0), (t0 + 1_800, 2_500, 200)]
    assert watt.balanceOf(meter_owner) == 2_300
    assert registry.certifiable(meter.address) == (3_000, installed.timestamp, t0 + 1_800)

    # relaying the same batch again is idempotent: both rejected as stale, nothing credited
    tx = registry.submit_readings(
        [r0.as_call_arg(), r1.as_call_arg()], [meter.sign(r0, domain), meter.sign(r1, domain)], sender=relayer
    )
    assert [e.reason for e in tx.decode_logs(registry.ReadingRejected)] == [4, 4]
    assert watt.balanceOf(meter_owner) == 2_300
