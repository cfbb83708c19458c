"""gridmint.storage_ledger.less_stored (community_day.issue_certificates' `stored`): a generator's
certificate profile leaves out the green charge the battery's settlement took, slot by slot, also when
readings were credited every few slots."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridmint.storage_ledger import less_stored


def test_less_stored__per_slot_when_every_slot_is_credited():
    assert less_stored({10: 500, 11: 300}, {10: 200, 11: 300}) == {10: 300, 11: 0}


def test_less_stored__a_lumped_charge_comes_off_its_reading_interval_latest_first():
    # credited every 4 slots: the settlement counts slots 8..11's export in slot 11
    gen = {8: 100, 9: 400, 10: 400, 11: 100}
    assert less_stored(gen, {11: 700}) == {8: 100, 9: 200, 10: 0, 11: 0}
    assert sum(less_stored(gen, {11: 700}).values()) == sum(gen.values()) - 700


def test_less_stored__more_than_generated_is_refused():
    with pytest.raises(ValueError, match="slot 3"):
        less_stored({2: 10, 3: 10}, {3: 21})


@given(st.lists(st.tuples(st.lists(st.integers(0, 1_000), min_size=1, max_size=4), st.integers(0, 100)),
                min_size=1, max_size=8))
def test_less_stored__never_negative_and_sums_right(intervals):
    """Disjoint reading intervals, each charge at most its interval's generation, at its last slot."""
    gen, stored, slot = {}, {}, 0
    for per_slot, pct in intervals:
        for wh in per_slot:
            gen[slot] = wh
            slot += 1
        charge = sum(per_slot) * pct // 100
        if charge:
            stored[slot - 1] = charge
    out = less_stored(gen, stored)
    assert min(out.values()) >= 0
    assert sum(out.values()) == sum(gen.values()) - sum(stored.values())
