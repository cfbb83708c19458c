"""MeterRegistry.take_stored: the generation that went into the battery leaves the meter's certifiable
Wh; what is not yet credited (or was issued first) is owed and comes off the next credited generation,
so no Wh is ever certified both as generation and as discharge."""

from __future__ import annotations

import boa
import pytest

from gridmint.onboarding import Registers
from tests.conftest import NONE, SOLAR, events
from tests.utils.meters import TestMeter, meter_signer

SLOT = 1_800
T0 = 1_790_000_000 // SLOT * SLOT


def _read(submit, m, t, gen):
    t += SLOT
    boa.env.evm.patch.timestamp = t
    assert submit([(m, m.reading(t, gen=gen))])[0] == 1
    return t


@pytest.fixture
def pv(register, meter_owner):
    boa.env.evm.patch.timestamp = T0
    return register("store-pv", meter_owner, SOLAR, 10_000, commissioning=Registers(T0))


@pytest.fixture
def as_ledger(system):
    return system.storage_ledger.address


def test_only_the_ledger_takes_and_only_from_renewable_meters(registry, register, pv, as_ledger, stranger, system):
    with boa.reverts("registry: caller is not the storage ledger"):
        registry.take_stored(pv.address, 10, sender=stranger)
    with boa.reverts("registry: caller is not the storage ledger"):
        registry.take_stored(pv.address, 10, sender=system.certificate.address)
    consumer = register("store-consumer", stranger, NONE, 10_000, commissioning=Registers(T0))
    with boa.reverts("registry: not a renewable meter"):
        registry.take_stored(consumer.address, 10, sender=as_ledger)
    with boa.reverts("registry: not a renewable meter"):
        registry.take_stored("0x" + "12" * 20, 10, sender=as_ledger)


def test_the_ledger_is_wired_once(registry, system, operator):
    assert registry.storage_ledger() == system.storage_ledger.address
    with boa.reverts("registry: storage ledger already set"):
        registry.set_storage_ledger(operator, sender=operator)
    with boa.reverts("certificate: storage ledger already set"):
        system.certificate.set_storage_ledger(operator, sender=operator)


def test_take_after_credit_reduces_certifiable_at_once(registry, submit, pv, as_ledger, system, meter_owner):
    end = _read(submit, pv, T0, 1_000)
    assert registry.take_stored(pv.address, 400, sender=as_ledger) == 0
    (ev,) = events(registry.get_logs(), "StoredTaken")
    assert (ev.meter, ev.wh, ev.owed_wh) == (pv.address, 400, 0)
    assert registry.certifiable(pv.address) == (600, T0, end)
    assert registry.owed_wh(pv.address) == 0
    # the generator issues only what it did not store
    assert tuple(registry.take_certifiable(pv.address, sender=system.certificate.address))[:3] == (600, T0, end)
    end2 = _read(submit, pv, end, 50)
    assert registry.certifiable(pv.address) == (50, end, end2)


def test_take_before_credit_is_owed_and_the_next_credit_pays_it_first(registry, submit, pv, as_ledger, system):
    t = _read(submit, pv, T0, 100)
    assert registry.take_stored(pv.address, 300, sender=as_ledger) == 200
    (ev,) = events(registry.get_logs(), "StoredTaken")
    assert (ev.wh, ev.owed_wh) == (300, 200)
    assert registry.certifiable(pv.address) == (0, 0, 0)
    assert registry.owed_wh(pv.address) == 200
    with boa.reverts("certificate: nothing to issue"):
        system.certificate.issue(pv.address, sender=pv.owner)
    t = _read(submit, pv, t, 150)  # pays 150 of the 200 owed
    assert registry.certifiable(pv.address) == (0, 0, 0) and registry.owed_wh(pv.address) == 50
    t = _read(submit, pv, t, 80)  # pays the last 50; 30 certifiable
    assert registry.certifiable(pv.address) == (30, T0, t) and registry.owed_wh(pv.address) == 0
    assert tuple(registry.take_certifiable(pv.address, sender=system.certificate.address))[0] == 30
    # issued + stored = credited
    assert 30 + 300 == 100 + 150 + 80


def test_take_after_issue_is_owed_by_later_generation(registry, submit, pv, as_ledger, system):
    """The generator issued before the settler's take: the stored Wh come off its next generation, so
    over time issued + stored never exceeds generated."""
    cert = system.certificate.address
    t = _read(submit, pv, T0, 1_000)
    assert tuple(registry.take_certifiable(pv.address, sender=cert))[0] == 1_000
    assert registry.take_stored(pv.address, 400, sender=as_ledger) == 400
    t = _read(submit, pv, t, 300)
    assert registry.certifiable(pv.address) == (0, 0, 0) and registry.owed_wh(pv.address) == 100
    t = _read(submit, pv, t, 500)
    assert registry.certifiable(pv.address)[0] == 400
    issued = 1_000 + tuple(registry.take_certifiable(pv.address, sender=cert))[0]
    assert issued + 400 == 1_000 + 300 + 500


def test_part_issue_nets_the_owed_wh(registry, submit, pv, as_ledger, system):
    cert = system.certificate.address
    t = _read(submit, pv, T0, 500)
    t = _read(submit, pv, t, 500)
    registry.take_stored(pv.address, 300, sender=as_ledger)
    assert registry.certifiable(pv.address) == (700, T0, t)
    with boa.reverts("registry: part exceeds the certifiable Wh"):
        registry.take_certifiable_part(pv.address, 701, t - SLOT, sender=cert)
    registry.take_certifiable_part(pv.address, 200, t - SLOT, sender=cert)
    assert registry.certifiable(pv.address) == (500, t - SLOT, t) and registry.owed_wh(pv.address) == 0


def test_owed_wh_survive_a_key_rotation_and_a_recommission(registry, submit, pv, as_ledger, operator, meter_owner):
    t = _read(submit, pv, T0, 100)
    registry.take_stored(pv.address, 350, sender=as_ledger)
    assert registry.owed_wh(pv.address) == 250
    new = TestMeter(meter_signer("store-pv-new"), meter_owner, SOLAR, 10_000, pv.name)
    registry.rotate_meter_key(pv.address, new.address, Registers(t), sender=operator)
    registry.accept_meter(new.address, sender=meter_owner)
    assert registry.owed_wh(new.address) == 250 and registry.certifiable(new.address) == (0, 0, 0)
    t = _read(submit, new, t, 200)
    assert registry.owed_wh(new.address) == 50
    registry.recommission_meter(new.address, Registers(t, generatedWh=10), sender=operator)
    registry.accept_meter(new.address, sender=meter_owner)
    assert registry.owed_wh(new.address) == 50
    # readings after a recommission count from its not-before time (now + the clock skew)
    t = boa.env.evm.patch.timestamp + 400
    boa.env.evm.patch.timestamp = t
    new.generated_wh = 10
    assert submit([(new, new.reading(t, gen=80))])[0] == 1
    assert registry.owed_wh(new.address) == 0 and registry.certifiable(new.address)[0] == 30
