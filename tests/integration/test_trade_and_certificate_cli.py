"""The trader and certificate CLIs as a user runs them: `ape run trade|certificates ...` subprocesses
against the test session's Anvil (127.0.0.1:8545), with bad input refused before anything is sent."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridmint import deployments
from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path, chain, local_network):
    """Runs a command; a refusal (ok=False) must exit 2 with one line on stderr and send nothing."""
    env = {**os.environ, "GRIDMINT_DEPLOYMENTS_DIR": str(tmp_path)}
    ape = str(Path(sys.executable).parent / "ape")

    def run(*args, ok=True):
        before = chain.blocks.head.number
        result = subprocess.run([ape, "run", *args, "--network", local_network], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        out = result.stdout + result.stderr
        assert "Traceback" not in out and "INFO:" not in out, out[-3000:]
        if ok:
            assert result.returncode == 0, out[-3000:]
        else:
            assert result.returncode == 2, out[-3000:]
            assert chain.blocks.head.number == before, f"a refused command sent something: {out}"
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        return out

    return run


def test_trade_and_certificate_commands(cli, tmp_path, accounts, chain, project, local_network):
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

    assert "band 0.0800 TEUR/kWh (feed-in) .. 0.3500 TEUR/kWh (retail)" in cli("trade", "book")
    out = cli("trade", "place", "sell", "0.2", "5", "--account", "test:2")
    assert "order 1 rests: sell 5.000 kWh at 0.2000 TEUR/kWh, expires no expiry" in out

    # bad input: nothing is sent (the seller's nonce does not move)
    nonce = seller.nonce
    assert "outside the band" in cli("trade", "place", "sell", "0.5", "1", "--account", "test:2", ok=False)
    assert "not on the tick" in cli("trade", "place", "sell", "0.20005", "1", "--account", "test:2", ok=False)
    assert "below the minimum" in cli("trade", "place", "sell", "0.2", "0.05", "--account", "test:2", ok=False)
    assert "you hold 1.000 kWh of free WATT" in cli("trade", "place", "sell", "0.2", "2", "--account", "test:2", ok=False)
    assert "not an amount of energy" in cli("trade", "place", "sell", "0.2", "two", "--account", "test:2", ok=False)
    assert "not a duration" in cli("trade", "place", "sell", "0.2", "1", "--expires-in", "soon", "--account", "test:2", ok=False)
    assert "not an order id" in cli("trade", "cancel", "first", "--account", "test:2", ok=False)
    assert "no order 99" in cli("trade", "cancel", "99", "--account", "test:2", ok=False)
    assert "belongs to" in cli("trade", "cancel", "1", "--account", "test:3", ok=False)
    assert seller.nonce == nonce

    out = cli("trade", "place", "buy", "0.25", "2", "--ioc", "--account", "test:3")
    assert "traded 2.000 kWh at 0.2000 TEUR/kWh = 0.4000 TEUR" in out
    assert "2.000 kWh at 0.2000 TEUR/kWh on average" in cli("trade", "trades")
    orders = cli("trade", "orders", "--account", "test:2")
    assert "3.000" in orders and "sell" in orders
    assert "order 1 cancelled; refunded 3.000 kWh of WATT" in cli("trade", "cancel", "1", "--account", "test:2")
    assert "already closed" in cli("trade", "cancel", "1", "--account", "test:2", ok=False)
    balances = cli("trade", "balances", "--account", "test:2")
    assert "4.000 kWh" in balances and "storage left" in balances and "days" in balances
    assert "withdrew 0.3996 TEUR" in cli("trade", "withdraw", "--account", "test:2")  # 0.40 minus the 10 bps maker fee
    assert "no proceeds to withdraw" in cli("trade", "withdraw", "--account", "test:2", ok=False)
    assert watt.balanceOf(buyer) == 2_000 and quote.balanceOf(seller) == 399_600

    # certificates: a stranger's issue is simulated and refused with the contract's reason, nothing sent
    assert "issue would be refused" in cli("certificates", "issue", meter.address, "--account", "test:5", ok=False)
    assert "meter must be an address" in cli("certificates", "issue", "roof", "--account", "test:2", ok=False)
    # issue the meter's 8 kWh, move some, claim, and refuse bad input
    assert "issued certificate #1: 8.000 kWh" in cli("certificates", "issue", meter.address, "--account", "test:2")
    assert "CLI roof" in cli("certificates", "show", "1")
    assert "no certificate #7" in cli("certificates", "show", "7", ok=False)
    assert "moved 3.000 kWh of certificate #1" in cli("certificates", "transfer", "1", buyer.address, "3", "--account", "test:2")
    assert "you hold 3.000 kWh of certificate #1, not 5.000 kWh" in cli(
        "certificates", "claim", "1", "5", "--beneficiary", buyer.address, "--purpose", "x", "--account", "test:3", ok=False)
    assert "beneficiary must be an address" in cli(
        "certificates", "claim", "1", "1", "--beneficiary", "Hofmann Tools", "--purpose", "x", "--account", "test:3", ok=False)
    cli("certificates", "claim", "1", "1000 Wh", "--beneficiary", buyer.address, "--purpose", "school year", "--account", "test:3")
    certificate = project.EnvironmentalCertificate.at(record.address("EnvironmentalCertificate"))
    assert certificate.claimed_balance_of(buyer, 1) == 1_000 and certificate.balanceOf(buyer, 1) == 2_000
    assert "CLI roof" in cli("certificates", "list")
