"""The exchange's unit tests share their two traders: a seller with 40 kWh of WATT and a buyer with cash."""

import pytest


@pytest.fixture
def seller(trader):
    return trader("seller", wh=40_000)


@pytest.fixture
def buyer(trader):
    return trader("buyer", cash=10**12)
