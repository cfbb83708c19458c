"""The settlement slot in Python: the mirror of contracts/modules/slots.vy.

A slot is ``slot_s`` seconds of chain time, slot k = [k * slot_s, (k + 1) * slot_s).
Slot k has ended once ``now >= (k + 1) * slot_s``: the same one comparison the
contracts make (tests/unit/test_slots.py checks the two agree).
"""

from __future__ import annotations

SLOT_S = 1_800  # the default: 30 minutes, as smart meters report and markets settle
ALLOWED_SLOT_S = (1_800, 900)


def check_slot_s(slot_s: int) -> int:
    if slot_s not in ALLOWED_SLOT_S:
        raise ValueError(f"slot length must be 1800 or 900 s, not {slot_s}")
    return slot_s


def slot_of(timestamp_s: int, slot_s: int = SLOT_S) -> int:
    """The slot that contains ``timestamp_s``."""
    return timestamp_s // slot_s


def start_of(slot: int, slot_s: int = SLOT_S) -> int:
    """The first second of ``slot``."""
    return slot * slot_s


def end_of(slot: int, slot_s: int = SLOT_S) -> int:
    """The first second after ``slot``: the slot is [start, end)."""
    return (slot + 1) * slot_s


def has_ended(slot: int, now_s: int, slot_s: int = SLOT_S) -> bool:
    """Whether ``slot`` has ended at chain time ``now_s``."""
    return now_s >= end_of(slot, slot_s)
