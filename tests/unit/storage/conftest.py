"""Fixtures of the StorageLedger tests: the system's ledger, an appointed settler, meters."""

from __future__ import annotations

import boa
import pytest

from tests.conftest import NONE, SOLAR

SLOT_S = 1_800
DAY_S = 86_400
# 2026-06-10 00:00 UTC: the first day the tests work on
DAY0 = 1_781_049_600 // DAY_S


@pytest.fixture
def ledger(system):
    return system.storage_ledger


@pytest.fixture(scope="session")
def settler():
    return boa.env.generate_address("storage-settler")


@pytest.fixture
def appointed(ledger, operator, settler):
    ledger.set_settler(settler, True, sender=operator)
    return settler


@pytest.fixture
def at_day():
    """Sets chain time to `day` * 86,400 + `offset_s`."""

    def _at(day, offset_s=0):
        boa.env.evm.patch.timestamp = day * DAY_S + offset_s

    return _at


@pytest.fixture
def meters(register):
    """Factory: `n` fresh meters of `method` (SOLAR by default), each with its own owner."""
    counter = {"n": 0}

    def _meters(n, method=SOLAR, prefix="m"):
        out = []
        for _ in range(n):
            counter["n"] += 1
            owner = boa.env.generate_address(f"{prefix}-owner-{counter['n']}")
            out.append(register(f"{prefix}-{counter['n']}", owner, method, 50_000))
        return out

    return _meters


@pytest.fixture
def scene(meters, at_day):
    """Two solar generators and two consumption-only members, commissioned at DAY0's start."""
    at_day(DAY0, 1)
    gens = meters(2)
    members = meters(2, NONE, prefix="member")
    methods = {m.address: m.method for m in gens + members}
    return gens, members, methods


__all__ = ["SLOT_S", "DAY_S", "DAY0", "NONE", "SOLAR"]
