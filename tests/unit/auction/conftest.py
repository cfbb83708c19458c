"""The auction's unit tests: an EnergyAuction over a stand-in WATT (tests/unit/auction/StubWatt.vy)
and the mock stablecoin, at the system's trading parameters; every test starts in a fresh slot."""

from __future__ import annotations

from pathlib import Path

import boa
import pytest

from gridmint.system import CONTRACTS_DIR, SystemParams

HERE = Path(__file__).parent
P = SystemParams()
SLOT_S = 1_800
FEE_BPS = 20
CASH = 10**15


@pytest.fixture(scope="session")
def auction_env(operator):
    with boa.env.prank(operator):
        watt = boa.load(str(HERE / "StubWatt.vy"))
        quote = boa.load(str(CONTRACTS_DIR / "MockStablecoin.vy"))
        auction = boa.load(
            str(CONTRACTS_DIR / "EnergyAuction.vy"),
            watt.address,
            quote.address,
            SLOT_S,
            P.tick,
            P.floor_price,
            P.ceiling_price,
            P.min_order_wh,
            FEE_BPS,
            P.max_fee_bps,
            P.min_floor_price,
            P.max_ceiling_price,
            P.max_min_order_wh,
            P.notice_s,
        )
    return watt, quote, auction


@pytest.fixture
def stub_watt(auction_env):
    return auction_env[0]


@pytest.fixture
def cash(auction_env):
    return auction_env[1]


@pytest.fixture
def auction(auction_env):
    return auction_env[2]


@pytest.fixture
def member(auction_env, operator):
    """Factory: an account with `wh` WATT and CASH quote approved to the auction."""
    watt, quote, auction = auction_env

    def _member(label, wh=100_000):
        who = boa.env.generate_address(label)
        watt.mint(who, wh)
        quote.mint(who, CASH, sender=operator)
        quote.approve(auction.address, 2**256 - 1, sender=who)
        return who

    return _member


def next_slot(auction):
    """Moves time to the first second of the next slot and clears every ended slot."""
    now = boa.env.evm.patch.timestamp
    boa.env.time_travel(seconds=SLOT_S - now % SLOT_S)
    catch_up(auction)


def catch_up(auction):
    """Clears every ended slot: one call per 48 (`clear(k)` clears the uncleared slots before k too)."""
    from gridmint.auction import catch_up_calls

    for upto in catch_up_calls(auction.next_to_clear(), auction.current_slot()):
        auction.clear(upto)
