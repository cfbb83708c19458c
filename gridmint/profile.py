"""A certificate's per-slot generation profile: the Python mirror of EnvironmentalCertificate.vy.

Units: Wh per slot; a slot is ``slot_s`` seconds of chain time (gridmint/slots.py), slot k =
[k * slot_s, (k + 1) * slot_s). A reading at time t credits the generated Wh of (t_prev, t];
they belong to the slot of its last second, ``(t - 1) // slot_s`` (a reading stamped exactly at
a slot's end closes that slot).

Packing (as the contract reads it): 8 slots per 32-byte word, 32-bit lanes with the top bit
clear (a slot carries at most ``MAX_SLOT_WH``), word k of the chain holding absolute slots
8k..8k+7, lane j = bits 32j..32j+31. A certificate's words start at word ``first_slot // 8``.

Commitment: h = id as bytes32; h = keccak256(h ++ word) for every unclaimed word; the contract
keeps the top 200 bits (``profile_commitment(id)``, low 56 bits zero).

Months: ``month_of`` mirrors contracts/modules/cert_months.vy with Python's calendar.

Parts: a pending period too long for one profile (over ``MAX_PROFILE_WORDS`` words: 66 days of
30-minute slots) is issued a part at a time, ``issue(meter, profile, until)``: ``next_part_end``
gives the ``until`` of the next call (0 when the rest fits one profile and is issued whole), the end
of the month holding the period's first slot otherwise; ``months_touched`` counts the calls left
for a progress line.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from eth_utils import keccak

SLOTS_PER_WORD = 8
LANE_BITS = 32
MAX_SLOT_WH = 2**31 - 1
MAX_PROFILE_WORDS = 400
CLAIMED_BITS = 56
DAY_S = 86_400


def slot_of_reading(timestamp_s: int, slot_s: int) -> int:
    """The slot a reading's generated Wh belong to: the slot of the interval's last second."""
    return (timestamp_s - 1) // slot_s


def slot_range(period_start_s: int, period_end_s: int, slot_s: int) -> tuple[int, int]:
    """First and last slot of the half-open period (start, end] in seconds."""
    return period_start_s // slot_s, (period_end_s - 1) // slot_s


def first_word_slot(first_slot: int) -> int:
    """The absolute slot held by lane 0 of a profile's first word."""
    return (first_slot // SLOTS_PER_WORD) * SLOTS_PER_WORD


def pack(first_slot: int, last_slot: int, slot_wh: Mapping[int, int]) -> list[int]:
    """Words covering slots first_slot..last_slot (Wh per slot from ``slot_wh``, missing = 0)."""
    for slot, wh in slot_wh.items():
        if not first_slot <= slot <= last_slot and wh:
            raise ValueError(f"slot {slot} lies outside {first_slot}..{last_slot}")
        if not 0 <= wh <= MAX_SLOT_WH:
            raise ValueError(f"slot {slot}: {wh} Wh is outside 0..{MAX_SLOT_WH}")
    base = first_word_slot(first_slot)
    words = []
    for w in range(first_slot // SLOTS_PER_WORD, last_slot // SLOTS_PER_WORD + 1):
        word = 0
        for lane in range(SLOTS_PER_WORD):
            word |= slot_wh.get(w * SLOTS_PER_WORD + lane, 0) << (LANE_BITS * lane)
        words.append(word)
    assert base == (first_slot // SLOTS_PER_WORD) * SLOTS_PER_WORD
    return words


def unpack(first_slot: int, words: Iterable[int]) -> dict[int, int]:
    """Wh per absolute slot of words whose lane 0 of word 0 is slot ``first_slot`` (non-zero slots only)."""
    out: dict[int, int] = {}
    for i, word in enumerate(words):
        for lane in range(SLOTS_PER_WORD):
            wh = (word >> (LANE_BITS * lane)) & (2**LANE_BITS - 1)
            if wh:
                out[first_slot + i * SLOTS_PER_WORD + lane] = wh
    return out


def commitment(certificate_id: int, words: Iterable[int]) -> int:
    """What ``profile_commitment(id)`` holds for these unclaimed words."""
    link = certificate_id.to_bytes(32, "big")
    for word in words:
        link = keccak(link + word.to_bytes(32, "big"))
    return (int.from_bytes(link, "big") >> CLAIMED_BITS) << CLAIMED_BITS


def profile_from_readings(readings: Iterable[tuple[int, int]], slot_s: int) -> dict[int, int]:
    """Wh per slot from (timestamp_s, generated_wh_delta) pairs of a meter's accepted readings."""
    out: dict[int, int] = {}
    for timestamp_s, wh in readings:
        if wh:
            slot = slot_of_reading(timestamp_s, slot_s)
            out[slot] = out.get(slot, 0) + wh
    return out


def issue_words(period_start_s: int, period_end_s: int, slot_wh: Mapping[int, int], slot_s: int) -> list[int]:
    """The ``profile`` argument of ``issue(meter, profile)`` for the registry's pending period."""
    first, last = slot_range(period_start_s, period_end_s, slot_s)
    inside = {s: wh for s, wh in slot_wh.items() if first <= s <= last}
    return pack(first, last, inside)


def subtract(words: list[int], first_word: int, claim_words: list[int]) -> list[int]:
    """Unclaimed words after a time-matched claim of ``claim_words`` starting at ``first_word``."""
    out = list(words)
    for i, x in enumerate(claim_words):
        before = unpack(0, [out[first_word + i]])
        taken = unpack(0, [x])
        for lane, wh in taken.items():
            if wh > before.get(lane, 0):
                raise ValueError(f"slot lane {lane} of word {first_word + i}: claim {wh} Wh > {before.get(lane, 0)} Wh left")
        out[first_word + i] -= x
    return out


def month_of(timestamp_s: int) -> tuple[int, int, int]:
    """(YYYYMM, first second, first second of the next month) of the UTC month holding ``timestamp_s``."""
    d = datetime.fromtimestamp(timestamp_s, tz=timezone.utc)
    start = int(datetime(d.year, d.month, 1, tzinfo=timezone.utc).timestamp())
    days = calendar.monthrange(d.year, d.month)[1]
    return d.year * 100 + d.month, start, start + days * DAY_S


def vintage_of_period(period_end_s: int) -> int:
    """The vintage (YYYYMM) of a certificate whose period ends at ``period_end_s``: its last second's month."""
    return month_of(period_end_s - 1)[0]


def next_part_end(period_start_s: int, period_end_s: int, slot_s: int) -> int:
    """The ``until`` of the next issuance of the pending period (start, end]: 0 when its profile fits
    ``MAX_PROFILE_WORDS`` words (issue it whole), else midnight of the 1st after its first slot's
    month (issue the oldest month, with the profile of (start, until])."""
    first, last = slot_range(period_start_s, period_end_s, slot_s)
    if last // SLOTS_PER_WORD - first // SLOTS_PER_WORD + 1 <= MAX_PROFILE_WORDS:
        return 0
    return month_of(first * slot_s)[2]


def months_touched(period_start_s: int, period_end_s: int, slot_s: int) -> int:
    """How many UTC calendar months the slots of (start, end] touch (certificates a full issue mints at most)."""
    first, last = slot_range(period_start_s, period_end_s, slot_s)
    a, b = month_of(first * slot_s)[0], month_of(last * slot_s)[0]
    return (b // 100 - a // 100) * 12 + b % 100 - a % 100 + 1
