# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title The settlement slot: one boundary, written once
@custom:contract-name slots
@license GNU Affero General Public License v3.0 only
@notice A slot is `SLOT_S` seconds of chain time (immutable; 1,800 by
        default, 900 allowed): slot k = [k * SLOT_S, (k + 1) * SLOT_S).
        Every contract that works per slot (the auction, the reading log,
        the certificates) asks this module, so "has slot k ended" is one
        comparison in one place: slot k has ended once
        `block.timestamp >= (k + 1) * SLOT_S`, i.e. at the first second of
        slot k + 1. `gridmint/slots.py` is its Python mirror, checked
        against this module by tests/unit/test_slots.py.
"""

# @dev The slot lengths a deployment may choose, in seconds.
SLOT_S_30_MIN: constant(uint256) = 1_800
SLOT_S_15_MIN: constant(uint256) = 900

# @dev The slot's length in seconds (immutable).
SLOT_S: public(immutable(uint256))


@deploy
def __init__(slot_s_: uint256):
    """
    @param slot_s_ The slot length in seconds: 1,800 or 900.
    """
    assert slot_s_ == SLOT_S_30_MIN or slot_s_ == SLOT_S_15_MIN, "slots: length must be 1800 or 900 s"
    SLOT_S = slot_s_


@internal
@view
def _slot_of(timestamp_s: uint256) -> uint256:
    """
    @notice The slot that contains `timestamp_s` (seconds of chain time).
    """
    return timestamp_s // SLOT_S


@internal
@view
def _current() -> uint256:
    """
    @notice The slot the current block lies in.
    """
    return block.timestamp // SLOT_S


@internal
@view
def _start_of(slot: uint256) -> uint256:
    """
    @notice The first second of `slot` (s).
    """
    return slot * SLOT_S


@internal
@view
def _end_of(slot: uint256) -> uint256:
    """
    @notice The first second after `slot` (s): the slot is [start, end).
    """
    return (slot + 1) * SLOT_S


@internal
@view
def _has_ended(slot: uint256) -> bool:
    """
    @notice Whether `slot` has ended at the current block: the one
            comparison every per-slot rule uses.
    """
    return block.timestamp >= (slot + 1) * SLOT_S
