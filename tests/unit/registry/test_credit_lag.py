"""Credit on demand: a reading older than MAX_CREDIT_LAG_S is too late (reason 8); the newest one
credits the same cumulative total, so a late credit loses no energy but cannot park exports rent-free
for longer than the lag."""

import boa

from gridmint.onboarding import Registers
from gridmint.system import SystemParams
from tests.conftest import TEST_PARAMS, events

REJECT_TOO_LATE = 8


def test_lag__immutable_from_params(registry):
    assert registry.MAX_CREDIT_LAG_S() == TEST_PARAMS.max_credit_lag_s == SystemParams().max_credit_lag_s


def test_reading_older_than_lag__rejected_too_late__newest_credits_all(
    registry, watt, register, submit, meter_owner, now
):
    lag = registry.MAX_CREDIT_LAG_S()
    m = register("laggard", meter_owner, commissioning=Registers(now() - 3_600))
    t0 = now()
    old = m.reading(t0, exp=400)
    boa.env.time_travel(seconds=lag + 1)
    accepted, logs = submit([(m, old)])
    assert accepted == 0
    (rej,) = events(logs, "ReadingRejected")
    assert (rej.meter, rej.timestamp, rej.reason) == (m.address, t0, REJECT_TOO_LATE)
    assert watt.balanceOf(meter_owner) == 0
    # the meter's newest reading carries the same cumulative export: nothing is lost
    newest = m.reading(now(), exp=100)
    accepted, logs = submit([(m, newest)])
    assert accepted == 1 and watt.balanceOf(meter_owner) == 500


def test_reading_exactly_at_the_lag__still_credited(registry, watt, register, submit, meter_owner, now):
    lag = registry.MAX_CREDIT_LAG_S()
    m = register("edge", meter_owner, commissioning=Registers(now() - 3_600))
    r = m.reading(now(), exp=250)
    boa.env.time_travel(seconds=lag)
    accepted, _ = submit([(m, r)])
    assert accepted == 1 and watt.balanceOf(meter_owner) == 250


def test_selling_watt_already_consumed__does_not_pay(registry, exchange, trader, register, submit, now):
    """Imports credited late burn late: a member who sells WATT it has already drawn from the grid is
    billed the import at the retail price (`GridImport`), and the band caps every sale at that price."""
    seller = trader("late-importer")
    buyer = trader("buyer-of-consumed", cash=10**12)
    m = register("late-import", seller, commissioning=Registers(now() - 3_600))
    accepted, _ = submit([(m, m.reading(now(), exp=2_000))])
    assert accepted == 1
    boa.env.time_travel(seconds=1_800)
    late = m.reading(now(), imp=2_000)  # consumed, signed, not yet credited
    ceiling = exchange.ceiling_price()  # the utility's retail price (quote base units per kWh)
    exchange.place_order(False, ceiling, 2_000, 0, 0, sender=seller)
    exchange.place_order(True, ceiling, 2_000, 0, 1, sender=buyer)  # immediate-or-cancel
    proceeds = exchange.proceeds_of(seller)
    assert proceeds > 0
    accepted, logs = submit([(m, late)])
    assert accepted == 1
    (grid,) = events(logs, "GridImport")
    assert grid.wh == 2_000  # nothing left to burn: all of it is billed at the retail price
    assert proceeds <= grid.wh * ceiling // 1_000
