"""MeterRegistry: registration, activation, key rotation, parameters and their rejections."""

import boa
import pytest

from oracle.eip712 import Reading
from tests.conftest import NONE, SOLAR, WIND, events
from tests.utils.meters import meter_signer

ZERO = "0x" + "00" * 20


def test_register__records_meter_and_emits(registry, operator, meter_owner):
    m = meter_signer("school")
    registry.register_meter(m.address, meter_owner, WIND, 30_000, "School wind turbine", sender=operator)
    logs = registry.get_logs()
    info = registry.meters(m.address)
    assert (str(info.owner), info.method, info.active, info.rated_power_w, info.name) == (
        meter_owner, WIND, True, 30_000, "School wind turbine"
    )
    (ev,) = events(logs, "MeterRegistered")
    assert (str(ev.meter), str(ev.owner), ev.method, ev.rated_power_w, ev.name) == (
        m.address, meter_owner, WIND, 30_000, "School wind turbine"
    )


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        (dict(meter=ZERO), "registry: zero meter"),
        (dict(owner=ZERO), "registry: zero owner"),
        (dict(method=6), "registry: unknown method"),
        (dict(rated_power_w=0), "registry: zero rated power"),
        (dict(rated_power_w=2**64), "registry: rated power too large"),
    ],
)
def test_register__bad_input__reverts(registry, operator, meter_owner, kwargs, reason):
    args = dict(meter=meter_signer("x").address, owner=meter_owner, method=SOLAR, rated_power_w=5_000, name="x")
    args.update(kwargs)
    with boa.reverts(reason):
        registry.register_meter(*args.values(), sender=operator)


def test_register__by_stranger__reverts(registry, stranger, meter_owner):
    with boa.reverts("ownable: caller is not the owner"):
        registry.register_meter(meter_signer("x").address, meter_owner, SOLAR, 1, "x", sender=stranger)


def test_register__twice__reverts(registry, register, operator, meter_owner):
    m = register("pv", meter_owner)
    with boa.reverts("registry: meter already registered"):
        registry.register_meter(m.address, meter_owner, NONE, 1, "again", sender=operator)


def test_set_meter_active__toggles_and_emits(registry, register, operator, meter_owner):
    m = register("pv", meter_owner)
    registry.set_meter_active(m.address, False, sender=operator)
    assert [(str(e.meter), e.active) for e in events(registry.get_logs(), "MeterActiveChanged")] == [(m.address, False)]
    assert registry.meters(m.address).active is False
    registry.set_meter_active(m.address, True, sender=operator)
    info = registry.meters(m.address)
    assert (info.active, str(info.owner), info.method, info.rated_power_w) == (True, meter_owner, SOLAR, 10_000)


def test_set_meter_active__unknown_or_stranger__reverts(registry, register, operator, stranger, meter_owner):
    with boa.reverts("registry: unknown meter"):
        registry.set_meter_active(meter_signer("nope").address, False, sender=operator)
    m = register("pv", meter_owner)
    with boa.reverts("ownable: caller is not the owner"):
        registry.set_meter_active(m.address, False, sender=stranger)


def test_rotate__moves_record_new_baseline_old_key_retired(registry, watt, register, operator, submit, now, meter_owner):
    old = register("old", meter_owner, SOLAR, 10_000)
    submit([(old, old.reading(now(), gen=100_000, exp=50_000))])
    boa.env.time_travel(seconds=900)
    r1 = old.reading(now(), gen=1_000, exp=1_000)
    submit([(old, r1)])
    before_cert = registry.certifiable(old.address)

    new = type(old)(meter_signer("new"), meter_owner, SOLAR, 10_000, old.name)
    registry.rotate_meter_key(old.address, new.address, sender=operator)
    assert [(str(e.old_meter), str(e.new_meter)) for e in events(registry.get_logs(), "MeterKeyRotated")] == [
        (old.address, new.address)
    ]
    assert str(registry.meters(new.address).owner) == meter_owner
    assert registry.meters(new.address).name == old.name
    assert str(registry.meters(old.address).owner) == ZERO
    assert registry.certifiable(new.address) == before_cert
    assert registry.retired(old.address)
    last = registry.last_reading(new.address)
    assert (last.timestamp, last.has_baseline) == (r1.timestamp, False)

    # the new hardware's registers restart at zero: first reading is its baseline
    boa.env.time_travel(seconds=900)
    assert submit([(new, new.reading(now(), gen=10, exp=10))])[0] == 1
    assert watt.balanceOf(meter_owner) == 1_000
    boa.env.time_travel(seconds=900)
    t_new = now()
    assert submit([(new, new.reading(t_new, gen=500, exp=400))])[0] == 1
    assert watt.balanceOf(meter_owner) == 1_400
    # certifiable generation carries over the rotation and keeps its period start
    assert registry.certifiable(new.address) == (before_cert[0] + 500, before_cert[1], t_new)

    # the old key's signed readings are dead, and the old key can never come back
    assert submit([(old, old.reading(now(), exp=1))])[1][0].reason == 1
    with boa.reverts("registry: meter key retired"):
        registry.register_meter(old.address, meter_owner, SOLAR, 1, "x", sender=operator)


def test_rotate__readings_older_than_last_stay_stale(registry, register, operator, submit, now, meter_owner):
    old = register("old", meter_owner)
    t = now()
    submit([(old, old.reading(t))])
    new = type(old)(meter_signer("new"), meter_owner, SOLAR, 10_000, "n")
    registry.rotate_meter_key(old.address, new.address, sender=operator)
    assert submit([(new, Reading(new.address, t, 0, 0, 0, 0))])[1][0].reason == 4


@pytest.mark.parametrize(
    "case, reason",
    [("unknown", "registry: unknown meter"), ("zero", "registry: zero meter"), ("taken", "registry: meter already registered")],
)
def test_rotate__bad_input__reverts(registry, register, operator, meter_owner, case, reason):
    a = register("a", meter_owner)
    b = register("b", meter_owner)
    old, new = {
        "unknown": (meter_signer("zz").address, meter_signer("yy").address),
        "zero": (a.address, ZERO),
        "taken": (a.address, b.address),
    }[case]
    with boa.reverts(reason):
        registry.rotate_meter_key(old, new, sender=operator)


def test_set_max_clock_skew__operator_only_and_emits(registry, operator, stranger):
    registry.set_max_clock_skew(60, sender=operator)
    assert [e.max_clock_skew for e in events(registry.get_logs(), "UpdateMaxClockSkew")] == [60]
    assert registry.max_clock_skew() == 60
    with boa.reverts("ownable: caller is not the owner"):
        registry.set_max_clock_skew(1, sender=stranger)


def test_set_certificate__wired_once_and_only_taker(registry, system, operator, stranger):
    assert str(registry.certificate()) == str(system.certificate.address)
    with boa.reverts("registry: certificate already set"):
        registry.set_certificate(stranger, sender=operator)
    with boa.reverts("ownable: caller is not the owner"):
        registry.set_certificate(stranger, sender=stranger)
    for who in (stranger, operator):
        with boa.reverts("registry: caller is not the certificate"):
            registry.take_certifiable(meter_signer("x").address, sender=who)


def test_eip712_domain__is_gridmint_v1(registry):
    fields, name, version, chain_id, contract, salt, ext = registry.eip712Domain()
    assert (fields, name, version, str(contract), ext) == (b"\x0f", "gridmint", "1", str(registry.address), [])
    assert chain_id == boa.env.evm.patch.chain_id
