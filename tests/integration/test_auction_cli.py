"""The auction CLI against the test session's node: orders placed in two slots and none in between,
then one `ape run auction clear` clears every ended slot in one transaction (`clear(k)` catches up),
and `ape run auction claim` finds each member's open orders from its OrderPlaced events (order ids are
not consecutive: settled order words are reused)."""

import pytest

from gridmint import deployments
from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]
SLOT = 1_800


@pytest.fixture
def auction_cli(cli):
    """The `cli` fixture: `ape run auction ...` in-process."""
    return cli


def test_one_clear_catches_up_and_claims_find_the_orders(auction_cli, tmp_path, accounts, chain, project, local_network):
    cli = auction_cli
    cli("deploy")
    record = deployments.read(deployments.path_for(deployments.record_key(*local_network.split(":")), chain.chain_id, tmp_path))
    registry = project.MeterRegistry.at(record.address("MeterRegistry"))
    watt = project.WattToken.at(record.address("WattToken"))
    tsl = project.StorageRentToken.at(record.address("StorageRentToken"))
    quote = project.MockStablecoin.at(record.address("QuoteToken"))
    auction = project.EnergyAuction.at(record.address("EnergyAuction"))
    operator, seller, buyer = accounts[0], accounts[2], accounts[3]
    meter = MeterSigner(bytes.fromhex("61" * 32))
    onboard_meter(registry, operator, seller, meter.address, 1, 50_000, "Auction roof", commissioning(chain.pending_timestamp - 1))
    domain = domain_from_contract(registry)
    t0 = chain.pending_timestamp
    r1 = Reading(meter.address, t0 + 600, 8_000, 0, 8_000, 0)
    chain.pending_timestamp = t0 + 600
    registry.submit_readings([r1.as_call_arg()], [meter.sign(r1, domain)], sender=operator)
    for who in (seller, buyer):
        tsl.mint(who, 10**19, sender=operator)
        tsl.approve(watt.address, 10**19, sender=who)
        watt.deposit_rent(10**19, sender=who)
    quote.mint(buyer, 100 * 10**6, sender=operator)
    assert watt.balanceOf(seller) == 8_000
    cli("auction", "clear")  # whatever ended since the deploy

    def to_next_slot(slots=1):
        t = chain.pending_timestamp
        chain.mine(1, timestamp=t - t % SLOT + slots * SLOT)

    to_next_slot()
    first = int(auction.current_slot())
    cli("auction", "place", "sell", "0.18", "2", "--account", "test:2")
    cli("auction", "place", "buy", "0.2", "1.5", "--account", "test:3")
    to_next_slot(2)  # slot first + 1 has no orders
    cli("auction", "place", "sell", "0.18", "1", "--account", "test:2")
    cli("auction", "place", "buy", "0.21", "1", "--account", "test:3")
    to_next_slot()
    nxt = int(auction.next_to_clear())
    assert nxt < first  # the slot before `first` ended uncleared too
    before = chain.blocks.head.number
    out = cli("auction", "clear")
    # every ended slot (those before `first` too), one transaction, a line each
    assert chain.blocks.head.number == before + 1
    assert out.count("slot ") == first + 3 - nxt
    assert int(auction.next_to_clear()) == first + 3
    assert out.count(f"slot {first}") == 1 and "1.500 kWh at 0.1800" in out
    assert "no trade" in out and "1.000 kWh at 0.1800" in out
    assert "nothing to clear" in cli("auction", "clear")

    # both slots cleared at 0.18 (volume 1.5 then 1 kWh; in the second the lowest price of two ties)
    out = cli("auction", "claim", "--account", "test:3")
    assert out.count("filled") == 2 and "2.500 kWh of WATT bought waits for its sellers' claims" in out
    out = cli("auction", "claim", "--account", "test:2")
    assert out.count("filled") == 2
    assert int(auction.watt_of(buyer)) == 2_500 and watt.balanceOf(seller) == 8_000 - 2_500
    # settled: nothing left to claim; the words are reused by the next orders, under new ids
    assert "no open auction orders" in cli("auction", "claim", "--account", "test:2", code=2)
    out = cli("auction", "place", "sell", "0.18", "1", "--account", "test:2")
    assert "order " in out
