"""`take_certifiable_part`: the registry hands the certificate contract the first part of a pending
period and keeps the rest certifiable, across new readings and a key rotation; the total never
changes (invariant 3)."""

import boa

from gridmint.onboarding import Registers
from tests.conftest import SOLAR, events
from tests.utils.meters import TestMeter, meter_signer

SLOT = 1_800


def _read(submit, m, t0, wh_per_slot):
    """Readings at the end of each slot from t0; returns the last reading's time."""
    t = t0
    for wh in wh_per_slot:
        t += SLOT
        boa.env.evm.patch.timestamp = t
        assert submit([(m, m.reading(t, gen=wh))])[0] == 1
    return t


def test_part__splits_pending_and_the_rest_stays_with_later_readings_and_a_rotation(
    system, registry, register, submit, operator, meter_owner
):
    cert = system.certificate.address
    t0 = 1_790_000_000 // SLOT * SLOT
    boa.env.evm.patch.timestamp = t0
    m = register("part-pv", meter_owner, SOLAR, 10_000, commissioning=Registers(t0))
    end = _read(submit, m, t0, [100, 200, 300, 400])
    assert registry.certifiable(m.address) == (1_000, t0, end)

    taken = registry.take_certifiable_part(m.address, 300, t0 + 2 * SLOT, sender=cert)
    assert tuple(taken) == (300, t0, t0 + 2 * SLOT, meter_owner, SOLAR)
    (ev,) = events(registry.get_logs(), "CertifiableTaken")
    assert (ev.wh, ev.period_start, ev.period_end) == (300, t0, t0 + 2 * SLOT)
    assert registry.certifiable(m.address) == (700, t0 + 2 * SLOT, end)

    end = _read(submit, m, end, [50])
    assert registry.certifiable(m.address) == (750, t0 + 2 * SLOT, end)

    # a rotation carries what the part left; the new key's readings add to it
    new = TestMeter(meter_signer("part-pv-new"), meter_owner, SOLAR, 10_000, m.name)
    registry.rotate_meter_key(m.address, new.address, Registers(end), sender=operator)
    registry.accept_meter(new.address, sender=meter_owner)
    assert registry.certifiable(new.address) == (750, t0 + 2 * SLOT, end)
    end = _read(submit, new, end, [25])
    taken = registry.take_certifiable_part(new.address, 750, end - SLOT, sender=cert)
    assert tuple(taken)[:3] == (750, t0 + 2 * SLOT, end - SLOT)
    assert registry.certifiable(new.address) == (25, end - SLOT, end)
    assert tuple(registry.take_certifiable(new.address, sender=cert))[:3] == (25, end - SLOT, end)
    assert registry.certifiable(new.address) == (0, 0, 0)
    # nothing pending: zeros, nothing taken, no event
    assert tuple(registry.take_certifiable_part(new.address, 0, end, sender=cert)) == (0, 0, 0, meter_owner, SOLAR)
    assert events(registry.get_logs(), "CertifiableTaken") == []


def test_part__rejections(system, registry, register, submit, meter_owner):
    cert = system.certificate.address
    t0 = 1_790_100_000 // SLOT * SLOT
    boa.env.evm.patch.timestamp = t0
    m = register("part-pv-2", meter_owner, SOLAR, 10_000, commissioning=Registers(t0))
    end = _read(submit, m, t0, [100, 200])
    with boa.reverts("registry: caller is not the certificate"):
        registry.take_certifiable_part(m.address, 100, t0 + SLOT, sender=meter_owner)
    for until in (t0, end, end + SLOT):
        with boa.reverts("registry: part outside the pending period"):
            registry.take_certifiable_part(m.address, 100, until, sender=cert)
    with boa.reverts("registry: part exceeds the certifiable Wh"):
        registry.take_certifiable_part(m.address, 301, t0 + SLOT, sender=cert)
    assert registry.certifiable(m.address) == (300, t0, end)
