"""The reading log needs only the token pair, the registry and itself: deploying just these keeps
its tests independent of the markets and certificates (same parameters as tests/conftest.py)."""

from types import SimpleNamespace

import pytest

from gridmint.system import boa_deployer
from tests.conftest import TEST_PARAMS


@pytest.fixture(scope="session")
def system(operator):
    p = TEST_PARAMS
    deploy = boa_deployer(operator)
    tsl = deploy("StorageRentToken")
    watt = deploy(
        "WattToken", p.capacity_wh, tsl.address, p.rent_rate, p.rent_grace_period_s, p.release_price,
        p.max_rent_rate, p.min_rent_grace_period_s, p.min_release_price, p.min_capacity_wh, p.max_capacity_wh,
        p.notice_s,
    )
    registry = deploy(
        "MeterRegistry", watt.address, p.max_clock_skew_s, p.max_clock_skew_limit_s, p.max_rated_power_w,
        p.notice_s, p.max_credit_lag_s,
    )
    watt.set_registry(registry.address, sender=operator)
    reading_log = deploy("ReadingLog", registry.address, p.slot_s)
    return SimpleNamespace(tsl=tsl, watt=watt, registry=registry, reading_log=reading_log, params=p)
