"""A rotated meter's generation stays issuable with its profile (issue 25 follow-up).

`rotate_meter_key` carries the old key's certifiable Wh to the new key, but those Wh sit in the old
key's ReadingAccepted events. A profile built from the new key's readings alone sums to less than
what is pending and the issuance reverts: the member could no longer issue with a profile. The
owner's tools read the meter's history across its keys (gridmint/meter_history.py)."""

import boa
import pytest

from gridmint import matching as M
from gridmint import profile as P
from gridmint.meter_history import MeterHistory, lineage_keys
from gridmint.onboarding import Registers
from tests.conftest import SOLAR, events
from tests.utils.meters import TestMeter, meter_signer

SLOT = 1_800


def _fold(history, logs):
    for e in logs:
        history.apply(type(e).__name__, e._asdict())


def _read(submit, history, m, t, wh_per_slot):
    """A reading at the end of each slot after t; folds the events; returns the last reading's time."""
    for wh in wh_per_slot:
        t += SLOT
        boa.env.evm.patch.timestamp = t
        accepted, logs = submit([(m, m.reading(t, gen=wh))])
        assert accepted == 1
        _fold(history, logs)
    return t


def _rotated_meter(registry, register, submit, operator, meter_owner, label, t0, before, after):
    """A meter generates `before` (Wh per slot), its key is rotated (commissioning values: the new
    hardware's registers at the old key's last reading), it generates `after` under the new key."""
    h = MeterHistory()
    boa.env.evm.patch.timestamp = t0
    old = register(label, meter_owner, SOLAR, 10_000, commissioning=Registers(t0))
    t = _read(submit, h, old, t0, before)
    new = TestMeter(meter_signer(f"{label}-new"), meter_owner, SOLAR, 10_000, old.name)
    new.generated_wh = 5_000_000  # the new hardware's register does not start at 0
    registry.rotate_meter_key(old.address, new.address, Registers(t, new.generated_wh, 0, 0, 0), sender=operator)
    _fold(h, registry.get_logs())
    registry.accept_meter(new.address, sender=meter_owner)
    t = _read(submit, h, new, t, after)
    return old, new, h, t


def test_rotated_meter__issues_with_the_profile_of_both_keys(
    system, registry, register, submit, operator, meter_owner
):
    cert = system.certificate
    t0 = 1_790_200_000 // SLOT * SLOT
    before, after = [100, 200, 300, 400], [50, 60, 70]
    old, new, h, end = _rotated_meter(registry, register, submit, operator, meter_owner, "rot-pv", t0, before, after)
    wh, start, p_end = registry.certifiable(new.address)
    assert (wh, start, p_end) == (sum(before) + sum(after), t0, end)

    # the bug: the new key's readings alone miss the carried Wh, and the issuance is refused
    new_only = P.profile_from_readings(
        [(t, g) for t, g in h.generated(new.address) if t > t0 + len(before) * SLOT], SLOT)
    assert sum(new_only.values()) == sum(after) < wh
    with boa.reverts("certificate: profile does not sum to the certified Wh"):
        M.issue_with_profile(cert, registry, new.address, meter_owner, new_only)

    # the history follows the rotation: both keys' readings, each in its slot
    assert h.keys(new.address) == [old.address, new.address]
    assert h.root(new.address) == old.address
    slot_wh = P.profile_from_readings(h.generated(new.address, start, p_end), SLOT)
    assert slot_wh == {t0 // SLOT + i: w for i, w in enumerate(before + after)}
    first = M.issue_with_profile(cert, registry, new.address, meter_owner, slot_wh)
    (profile,) = events(cert.get_logs(), "CertificateProfile")
    assert P.unpack(profile.first_slot, profile.slot_wh) == slot_wh
    assert registry.certifiable(new.address) == (0, 0, 0)
    c = cert.certificate(first)
    assert (c.amount_wh, c.period_start, c.period_end) == (wh, t0, end)


def test_rotated_twice__issue_month_by_month_reads_all_three_keys(
    system, registry, register, submit, operator, meter_owner
):
    """Rotated twice, issued with `issue_month_by_month` (the demo's and tools' entry): every key's
    readings land in their slots."""
    cert = system.certificate
    t0 = 1_790_300_000 // SLOT * SLOT
    old, mid, h, t = _rotated_meter(registry, register, submit, operator, meter_owner, "rot2-pv", t0, [10, 20], [30])
    last = TestMeter(meter_signer("rot2-pv-last"), meter_owner, SOLAR, 10_000, mid.name)
    registry.rotate_meter_key(mid.address, last.address, Registers(t), sender=operator)
    _fold(h, registry.get_logs())
    registry.accept_meter(last.address, sender=meter_owner)
    end = _read(submit, h, last, t, [40, 50])
    assert h.keys(last.address) == [old.address, mid.address, last.address]
    # what the CLI does against a node: the keys from the rotation events, newest back to the first
    rotations = {r["new_meter"]: r["old_meter"] for r in ({"old_meter": old.address, "new_meter": mid.address},
                                                          {"old_meter": mid.address, "new_meter": last.address})}
    assert lineage_keys(last.address, rotations.get) == [old.address, mid.address, last.address]

    wh, start, p_end = registry.certifiable(last.address)
    assert (start, p_end) == (t0, end)
    slot_wh = P.profile_from_readings(h.generated(last.address, start, p_end), SLOT)
    assert slot_wh == {t0 // SLOT + i: w for i, w in enumerate([10, 20, 30, 40, 50])}
    assert sum(slot_wh.values()) == wh == 150
    calls = M.issue_month_by_month(cert, registry, last.address, meter_owner, slot_wh)
    assert len(calls) == 1 and registry.certifiable(last.address) == (0, 0, 0)
    assert cert.certificate(calls[0][1]).amount_wh == 150


def test_history__folds_in_any_order_and_refuses_a_cycle():
    """Rotations and readings folded out of chain order give the same history; keys compare without
    case; a rotation chain that loops (which the registry forbids) is refused, not followed forever."""
    a, b, c = "0x" + "aa" * 20, "0x" + "bB" * 20, "0x" + "cc" * 20
    h = MeterHistory()
    h.reading(c, 50, 7)
    h.rotated(b, c)  # the later rotation first
    h.reading(b.upper().replace("0X", "0x"), 20, 5)
    h.reading(a, 10, 3)
    h.rotated(a, b)
    assert h.keys(c) == [a, b, c] and h.root(c.upper().replace("0X", "0x")) == a
    assert h.generated(c) == [(10, 3), (20, 5), (50, 7)] == h.generated(a)
    assert h.generated(b, 10, 50) == [(20, 5), (50, 7)]
    assert h.generated(c, 50) == []
    with pytest.raises(ValueError, match="cycle"):
        lineage_keys(a, {a: b, b: a}.get)
