"""Fixtures shared by WATT's unit tests."""

import pytest


@pytest.fixture
def rate(watt):
    """The rent rate in force, TSL base units per kWh per day."""
    return watt.rent_rate()
