"""A meter's accepted readings across its key rotations: one reading history per physical meter.

`MeterRegistry.rotate_meter_key(old, new, commissioning)` moves a meter's record to a new key,
its certifiable generation included, and retires the old key for good (a retired key is never
registered again, so every key has at most one predecessor and one successor). The Wh pending at
the rotation were credited by the old key's `ReadingAccepted` events, so whatever rebuilds a pending
period from readings must read those of every key the meter had, the retired ones riding along to
the current one, as the registry carries their Wh:

- the owner's tools building an issuance's per-slot profile (gridmint/cli/certificates.py, the
  demo's gridmint/matching.py callers; the app's mirror is app/src/matching.ts `readingsOf`);
- the auditor checking that a take carries the generation of the readings stamped in its period,
  and that no slot is certified above what the meter generated (gridmint/audit/claims.py).

Units: timestamps in seconds (chain time); Wh are the per-reading deltas the events carry.

Use, from decoded registry events in chain order (any order of rotations works)::

    h = MeterHistory()
    for name, args in events:
        h.apply(name, args)
    h.generated(meter, start_s, end_s)   # [(timestamp_s, generated Wh)] of (start, end], every key

or, against a node, `lineage_keys(meter, rotated_from)` gives the keys whose readings to fetch.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import NamedTuple

# a chain of rotations longer than this is refused as a cycle (the registry forbids re-registering a key)
MAX_ROTATIONS = 1_024


class Reading(NamedTuple):
    timestamp_s: int
    generated_wh: int
    consumed_wh: int


def _key(meter) -> str:
    return str(meter).lower()


class MeterHistory:
    """Accepted readings per physical meter, following `MeterKeyRotated` from each retired key to its successor."""

    def __init__(self) -> None:
        self._previous: dict[str, str] = {}  # key -> the key it replaced (lower case)
        self._spelling: dict[str, str] = {}  # lower case -> the address as first seen
        self._readings: dict[str, list[Reading]] = {}  # lineage root (lower case) -> readings, sorted when read
        self._unsorted: set[str] = set()  # roots whose list got a reading out of time order

    def apply(self, name: str, args: Mapping) -> None:
        """Folds one decoded MeterRegistry event (argument mapping); events other than these two are ignored."""
        if name == "MeterKeyRotated":
            self.rotated(args["old_meter"], args["new_meter"])
        elif name == "ReadingAccepted":
            self.reading(args["meter"], int(args["timestamp"]), int(args["generated_wh"]), int(args.get("consumed_wh", 0)))

    def rotated(self, old: str, new: str) -> None:
        """`new` replaced `old`: the readings of both belong to one meter."""
        self._seen(old)
        self._seen(new)
        old_root, new_root = self._root(_key(old)), self._root(_key(new))
        self._previous[_key(new)] = _key(old)
        if new_root != old_root and new_root in self._readings:  # readings folded before their rotation
            self._readings.setdefault(old_root, []).extend(self._readings.pop(new_root))
            self._unsorted.add(old_root)

    def reading(self, meter: str, timestamp_s: int, generated_wh: int, consumed_wh: int = 0) -> None:
        self._seen(meter)
        root = self._root(_key(meter))
        got = self._readings.setdefault(root, [])
        if got and got[-1].timestamp_s > timestamp_s:
            self._unsorted.add(root)
        got.append(Reading(timestamp_s, generated_wh, consumed_wh))

    def root(self, meter: str) -> str:
        """The meter's first key (as first seen): one name for the meter whatever key it has now."""
        r = self._root(_key(meter))
        return self._spelling.get(r, str(meter))

    def keys(self, meter: str) -> list[str]:
        """The keys up to and including ``meter``, oldest first."""
        out, k = [_key(meter)], _key(meter)
        while k in self._previous:
            k = self._previous[k]
            out.append(k)
        return [self._spelling.get(k, k) for k in reversed(out)]

    def readings(self, meter: str, after_s: int | None = None, until_s: int | None = None) -> list[Reading]:
        """The meter's readings under every key, in time order, stamped in (after_s, until_s] where given."""
        root = self._root(_key(meter))
        got = self._readings.get(root, [])
        if root in self._unsorted:  # readings arrive in time order (a new key commissions after the old
            got.sort()              # one's last reading), unless folded out of order
            self._unsorted.discard(root)
        lo = 0 if after_s is None else bisect_right(got, after_s, key=lambda r: r.timestamp_s)
        hi = len(got) if until_s is None else bisect_right(got, until_s, key=lambda r: r.timestamp_s)
        return got[lo:hi]

    def generated(self, meter: str, after_s: int | None = None, until_s: int | None = None) -> list[tuple[int, int]]:
        """(timestamp_s, generated Wh) of every reading of the meter (all its keys) stamped in (after_s, until_s]:
        the input of ``gridmint.profile.profile_from_readings``."""
        return [(r.timestamp_s, r.generated_wh) for r in self.readings(meter, after_s, until_s)]

    def consumed(self, meter: str) -> list[tuple[int, int]]:
        """(timestamp_s, consumed Wh) of every reading of the meter under all its keys."""
        return [(r.timestamp_s, r.consumed_wh) for r in self.readings(meter)]

    def _seen(self, meter: str) -> None:
        self._spelling.setdefault(_key(meter), str(meter))

    def _root(self, k: str) -> str:
        for _ in range(MAX_ROTATIONS):
            if k not in self._previous:
                return k
            k = self._previous[k]
        raise ValueError(f"meter key rotations of {k} form a cycle or exceed {MAX_ROTATIONS}")


def lineage_keys(meter: str, rotated_from: Callable[[str], str | None]) -> list[str]:
    """The keys whose readings make up ``meter``'s history, oldest first, ending with ``meter``.

    ``rotated_from(key)`` returns the key ``key`` replaced (the ``old_meter`` of the MeterKeyRotated
    event whose ``new_meter`` is ``key``), or None for a key registered as new."""
    out = [meter]
    for _ in range(MAX_ROTATIONS):
        old = rotated_from(out[-1])
        if old is None:
            return list(reversed(out))
        out.append(old)
    raise ValueError(f"meter key rotations of {meter} form a cycle or exceed {MAX_ROTATIONS}")
