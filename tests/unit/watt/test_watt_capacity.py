"""The battery's capacity bounds the supply in Wh (issue 22, "three rules caught only by a stateful
machine"): each test here fails against the planted bug named in its docstring."""

import boa
import pytest



@pytest.fixture
def as_registry(watt):
    return str(watt.registry())


def test_credit_flows__export_beyond_free_capacity__mints_exactly_up_to_capacity_wh(watt, as_registry, meter_owner, other_owner):
    """Planted bug: the cap read in the wrong unit (`capacity_wh * 1000`, or `// 1000` for kWh): minting
    would run past the battery (or stop short of it)."""
    capacity = watt.capacity_wh()
    assert watt.totalSupply() == 0 and capacity > 2_000
    minted, burned = watt.credit_flows(meter_owner, capacity - 1_000, 0, sender=as_registry)
    assert (minted, burned) == (capacity - 1_000, 0)  # a cap in kWh would have stopped at capacity // 1000
    assert watt.free_capacity_wh() == 1_000
    minted, _ = watt.credit_flows(other_owner, 1_001, 0, sender=as_registry)
    assert minted == 1_000 and watt.totalSupply() == capacity == watt.capacity_wh()
    minted, _ = watt.credit_flows(other_owner, 1, 0, sender=as_registry)
    assert minted == 0 and watt.totalSupply() == capacity and watt.free_capacity_wh() == 0
    assert watt.balanceOf(meter_owner) + watt.balanceOf(other_owner) == capacity


def test_apply_capacity__one_wh_below_the_supply_at_apply__reverts_and_at_it__applies(
    watt, as_registry, operator, meter_owner
):
    """Planted bug: a capacity change applied below the current supply (checked at announcement only)."""
    watt.credit_flows(meter_owner, 30_000, 0, sender=as_registry)
    watt.announce_capacity_wh(29_999, sender=operator)  # within the deploy limits; the supply is checked at apply
    boa.env.time_travel(seconds=watt.NOTICE_S())
    with boa.reverts("watt: capacity below supply"):
        watt.apply_capacity_wh(sender=operator)
    assert watt.capacity_wh() != 29_999
    watt.announce_capacity_wh(30_000, sender=operator)
    boa.env.time_travel(seconds=watt.NOTICE_S())
    watt.apply_capacity_wh(sender=operator)
    assert watt.capacity_wh() == 30_000 == watt.totalSupply() and watt.free_capacity_wh() == 0
