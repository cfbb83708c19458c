"""The trader and certificate CLIs as a user runs them: `ape run trade|certificates ...` subprocesses
against the test session's Anvil (127.0.0.1:8545), with bad input refused before anything is sent."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridmint import deployments
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NET = ["--network", "ethereum:local:foundry"]


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "GRIDMINT_DEPLOYMENTS_DIR": str(tmp_path)}
    ape = str(Path(sys.executable).parent / "ape")

    def run(*args, ok=True):
        result = subprocess.run([ape, "run", *args, *NET], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        out = result.stdout + result.stderr
        if ok:
            assert result.returncode == 0, out[-3000:]
        else:
            assert result.returncode != 0, out[-3000:]
        return out

    return run


def test_trade_and_certificate_commands(cli, tmp_path, accounts, chain, project):
    cli("deploy")
    record = deployments.read(deployments.path_for("ethereum:local", tmp_path))
    registry = project.MeterRegistry.at(record.address("MeterRegistry"))
    watt = project.WattToken.at(record.address("WattToken"))
    tsl = project.StorageRentToken.at(record.address("StorageRentToken"))
    quote = project.MockStablecoin.at(record.address("QuoteToken"))
    operator, seller, buyer = accounts[0], accounts[2], accounts[3]

    # a PV meter of the seller exports 6 kWh into the battery; both deposit rent; the buyer has 100 mEUR
    meter = MeterSigner(bytes.fromhex("42" * 32))
    registry.register_meter(meter.address, seller, 1, 50_000, "CLI roof", sender=operator)
    domain = domain_from_contract(registry)
    t0 = chain.pending_timestamp
    r0, r1 = Reading(meter.address, t0, 0, 0, 0, 0), Reading(meter.address, t0 + 1_800, 8_000, 2_000, 6_000, 0)
    chain.pending_timestamp = t0 + 1_800
    registry.submit_readings([r0.as_call_arg(), r1.as_call_arg()], [meter.sign(r0, domain), meter.sign(r1, domain)], sender=operator)
    for who in (seller, buyer):
        tsl.mint(who, 10**19, sender=operator)
        tsl.approve(watt.address, 10**19, sender=who)
        watt.deposit_rent(10**19, sender=who)
    quote.mint(buyer, 100 * 10**6, sender=operator)
    assert watt.balanceOf(seller) == 6_000

    assert "band 0.0800 (feed-in) .. 0.3500 (retail)" in cli("trade", "book")
    out = cli("trade", "place", "sell", "0.2", "5", "--account", "test:2")
    assert "order 1 rests: sell 5.000 kWh at 0.2000" in out

    # bad input: nothing is sent (the seller's nonce does not move)
    nonce = seller.nonce
    assert "outside the band" in cli("trade", "place", "sell", "0.5", "1", "--account", "test:2", ok=False)
    assert "not on the tick" in cli("trade", "place", "sell", "0.20005", "1", "--account", "test:2", ok=False)
    assert "below the minimum" in cli("trade", "place", "sell", "0.2", "0.05", "--account", "test:2", ok=False)
    assert "you hold 1.000 kWh of free WATT" in cli("trade", "place", "sell", "0.2", "2", "--account", "test:2", ok=False)
    assert "no order 99" in cli("trade", "cancel", "99", "--account", "test:2", ok=False)
    assert "belongs to" in cli("trade", "cancel", "1", "--account", "test:3", ok=False)
    assert seller.nonce == nonce

    out = cli("trade", "place", "buy", "0.25", "2", "--ioc", "--account", "test:3")
    assert "traded 2.000 kWh at 0.2000 = 0.4000 mEUR" in out
    assert "2.000 kWh at 0.2000 mEUR/kWh on average" in cli("trade", "trades")
    orders = cli("trade", "orders", "--account", "test:2")
    assert "3.000" in orders and "sell" in orders
    assert "order 1 cancelled" in cli("trade", "cancel", "1", "--account", "test:2")
    assert "already closed" in cli("trade", "cancel", "1", "--account", "test:2", ok=False)
    balances = cli("trade", "balances", "--account", "test:2")
    assert "4.000" in balances and "days of storage left" in balances
    assert "withdrew 0.3996 mEUR" in cli("trade", "withdraw", "--account", "test:2")  # 0.40 minus the 10 bps maker fee
    assert watt.balanceOf(buyer) == 2_000 and quote.balanceOf(seller) == 399_600

    # certificates: issue the meter's 8 kWh, move some, claim, and refuse bad input
    assert "issued certificate #1" in cli("certificates", "issue", meter.address, "--account", "test:2")
    assert "CLI roof" in cli("certificates", "show", "1")
    assert "no certificate #7" in cli("certificates", "show", "7", ok=False)
    cli("certificates", "transfer", "1", buyer.address, "3000", "--account", "test:2")
    assert "you hold 3000 Wh" in cli("certificates", "claim", "1", "5000", "--beneficiary", buyer.address,
                                     "--purpose", "x", "--account", "test:3", ok=False)
    cli("certificates", "claim", "1", "1000", "--beneficiary", buyer.address, "--purpose", "school year", "--account", "test:3")
    certificate = project.EnvironmentalCertificate.at(record.address("EnvironmentalCertificate"))
    assert certificate.claimed_balance_of(buyer, 1) == 1_000 and certificate.balanceOf(buyer, 1) == 2_000
    assert "CLI roof" in cli("certificates", "list")
