"""How the simulated members trade (gridmint.community): the one rule the demo and `make app`'s seed follow."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gridmint import community

FLOOR, CEILING, TICK = 80_000, 350_000, 1_000  # the local deploy's band: 0.08 .. 0.35 TEUR/kWh


def test_ask__too_little_stored__none():
    assert community.ask(community.ASK_MIN_STORED_WH - 1, 0, FLOOR, CEILING, TICK) is None


def test_ask__half_of_what_is_stored__between_40_and_56_percent_of_the_band():
    prices = {community.ask(10_000, i, FLOOR, CEILING, TICK)[0] for i in range(5)}
    assert community.ask(10_000, 0, FLOOR, CEILING, TICK) == (188_000, 5_000)  # 80,000 + 40 % of 270,000
    assert len(prices) == 5 and max(prices) == 231_000  # 56 %, on the tick


def test_bid__imports_in_whole_steps_at_70_percent():
    assert community.bid(community.BID_MIN_IMPORT_WH - 1, FLOOR, CEILING, TICK) is None
    assert community.bid(1_234, FLOOR, CEILING, TICK) == (269_000, 1_200)


@given(st.integers(0, 10**9), st.integers(0, 100), st.integers(0, 10**9))
def test_orders__always_on_the_tick_inside_the_band(stored, i, imported):
    for order in (community.ask(stored, i, FLOOR, CEILING, TICK), community.bid(imported, FLOOR, CEILING, TICK)):
        if order:
            price, wh = order
            assert FLOOR <= price <= CEILING and price % TICK == 0 and wh > 0
