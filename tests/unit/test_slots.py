"""contracts/modules/slots.vy and gridmint/slots.py: one slot boundary, and the two agree."""

import boa
import pytest
from hypothesis import given, settings, strategies as st

from gridmint import slots

_HARNESS = """
# pragma version ~=0.4.3
from contracts.modules import slots
initializes: slots

@deploy
def __init__(slot_s: uint256):
    slots.__init__(slot_s)

@external
@view
def slot_of(t: uint256) -> uint256:
    return slots._slot_of(t)

@external
@view
def start_of(k: uint256) -> uint256:
    return slots._start_of(k)

@external
@view
def end_of(k: uint256) -> uint256:
    return slots._end_of(k)

@external
@view
def has_ended(k: uint256) -> bool:
    return slots._has_ended(k)

@external
@view
def current() -> uint256:
    return slots._current()
"""


@pytest.fixture(scope="module", params=[1_800, 900])
def harness(request):
    return boa.loads(_HARNESS, request.param, name="SlotsHarness"), request.param


def test_rejects_other_lengths():
    for bad in (0, 60, 1_799, 3_600):
        with boa.reverts("slots: length must be 1800 or 900 s"):
            boa.loads(_HARNESS, bad)
        with pytest.raises(ValueError, match="1800 or 900"):
            slots.check_slot_s(bad)


def test_slot_ends_at_the_first_second_of_the_next(harness):
    h, slot_s = harness
    k = 1_000_000
    with boa.env.anchor():
        boa.env.evm.patch.timestamp = (k + 1) * slot_s - 1
        assert not h.has_ended(k) and h.current() == k
        boa.env.evm.patch.timestamp = (k + 1) * slot_s
        assert h.has_ended(k) and h.current() == k + 1
        assert not slots.has_ended(k, (k + 1) * slot_s - 1, slot_s)
        assert slots.has_ended(k, (k + 1) * slot_s, slot_s)


@settings(max_examples=60, deadline=None)
@given(t=st.integers(min_value=0, max_value=2**40))
def test_python_mirror_agrees(harness, t):
    h, slot_s = harness
    k = slots.slot_of(t, slot_s)
    assert h.slot_of(t) == k
    assert h.start_of(k) == slots.start_of(k, slot_s) <= t < h.end_of(k) == slots.end_of(k, slot_s)
