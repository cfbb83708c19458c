"""MeterRegistry: registration with commissioning values, the owner's acceptance, activation, key
rotation, operator bounds (rated power, clock skew with notice) and their rejections."""

import boa
import pytest

from gridmint.generated.contracts import REJECT_UNKNOWN_METER
from gridmint.onboarding import Registers
from oracle.eip712 import Reading
from tests.conftest import NONE, SOLAR, WIND, events
from tests.utils.meters import TestMeter, meter_signer

ZERO = "0x" + "00" * 20
INACTIVE, STALE = 2, 4
MAX_POWER_W = 2_000_000  # SystemParams.max_rated_power_w
SKEW_LIMIT_S = 3_600  # SystemParams.max_clock_skew_limit_s
NOTICE_S = 7 * 86_400  # SystemParams.notice_s
MAX_TIMESTAMP = 2**40 - 1 - 2**32


def test_register__records_meter_commissioning_and_emits(registry, operator, meter_owner, now):
    m = meter_signer("school")
    c = Registers(now() - 600, 3_000_000, 1_200, 800, 400)
    registry.register_meter(m.address, meter_owner, WIND, 30_000, "School wind turbine", c, sender=operator)
    logs = registry.get_logs()
    info = registry.meters(m.address)
    assert (str(info.owner), info.method, info.active, info.accepted, info.rated_power_w, info.name) == (
        meter_owner, WIND, True, False, 30_000, "School wind turbine"
    )
    last = registry.last_reading(m.address)
    assert tuple(last) == (c.timestamp, True, 3_000_000, 1_200, 800, 400)
    (ev,) = events(logs, "MeterRegistered")
    assert (str(ev.meter), str(ev.owner), ev.method, ev.rated_power_w, ev.name) == (
        m.address, meter_owner, WIND, 30_000, "School wind turbine"
    )
    assert (ev.commissioned_at, ev.generated_wh, ev.consumed_wh, ev.exported_wh, ev.imported_wh) == tuple(c)
    assert registry.certifiable(m.address) == (0, 0, 0)


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        (dict(meter=ZERO), "registry: zero meter"),
        (dict(owner=ZERO), "registry: zero owner"),
        (dict(method=6), "registry: unknown method"),
        (dict(rated_power_w=0), "registry: zero rated power"),
        (dict(rated_power_w=MAX_POWER_W + 1), "registry: rated power too large"),
        (dict(timestamp=0), "registry: zero commissioning time"),
        (dict(timestamp="skew+1"), "registry: commissioning time in the future"),
        (dict(timestamp=MAX_TIMESTAMP + 1), "registry: commissioning time beyond max timestamp"),
        (dict(generated=2**48), "registry: commissioning register too large"),
        (dict(imported=2**48), "registry: commissioning register too large"),
    ],
)
def test_register__bad_input__reverts(registry, operator, meter_owner, now, system, kwargs, reason):
    args = dict(meter=meter_signer("x").address, owner=meter_owner, method=SOLAR, rated_power_w=5_000, name="x")
    regs = dict(timestamp=now(), generated=0, consumed=0, exported=0, imported=0)
    for k, v in kwargs.items():
        (regs if k in regs else args)[k] = v
    if regs["timestamp"] == "skew+1":
        regs["timestamp"] = now() + system.params.max_clock_skew_s + 1
    with boa.reverts(reason):
        registry.register_meter(*args.values(), tuple(regs.values()), sender=operator)


def test_register__at_the_bounds__accepted(registry, operator, meter_owner, now, system):
    m = meter_signer("edge")
    c = Registers(now() + system.params.max_clock_skew_s, 2**48 - 1, 2**48 - 1, 2**48 - 1, 2**48 - 1)
    registry.register_meter(m.address, meter_owner, SOLAR, MAX_POWER_W, "edge", c, sender=operator)
    assert registry.meters(m.address).rated_power_w == registry.MAX_RATED_POWER_W() == MAX_POWER_W
    assert tuple(registry.last_reading(m.address))[2:] == (2**48 - 1,) * 4


def test_register__by_stranger__reverts(registry, stranger, meter_owner, now):
    with boa.reverts("ownable: caller is not the owner"):
        registry.register_meter(meter_signer("x").address, meter_owner, SOLAR, 1, "x", Registers(now()), sender=stranger)


def test_register__twice__reverts(registry, register, operator, meter_owner, now):
    m = register("pv", meter_owner)
    with boa.reverts("registry: meter already registered"):
        registry.register_meter(m.address, meter_owner, NONE, 1, "again", Registers(now()), sender=operator)


# ---------------------------------------------------------------- acceptance


def test_accept__by_owner__sets_accepted_and_emits(registry, register, meter_owner):
    m = register("pv", meter_owner, accept=False)
    registry.accept_meter(m.address, sender=meter_owner)
    assert [(str(e.meter), str(e.owner)) for e in events(registry.get_logs(), "MeterAccepted")] == [
        (m.address, meter_owner)
    ]
    assert registry.meters(m.address).accepted is True
    with boa.reverts("registry: meter already accepted"):
        registry.accept_meter(m.address, sender=meter_owner)


@pytest.mark.parametrize("who", ["stranger", "operator", "other_owner"])
def test_accept__by_anyone_but_the_owner__reverts(registry, register, meter_owner, stranger, operator, other_owner, who):
    m = register("pv", meter_owner, accept=False)
    sender = {"stranger": stranger, "operator": operator, "other_owner": other_owner}[who]
    with boa.reverts("registry: caller is not the meter owner"):
        registry.accept_meter(m.address, sender=sender)
    assert registry.meters(m.address).accepted is False


def test_accept__unknown_meter__reverts(registry, meter_owner):
    with boa.reverts("registry: unknown meter"):
        registry.accept_meter(meter_signer("nope").address, sender=meter_owner)


def test_operator_signed_import__before_owner_accepts__rejected_inactive_balance_unchanged(
    registry, watt, register, give_watt, submit, now, meter_owner
):
    # the member holds WATT; the operator registers a meter whose key it holds, naming the member
    give_watt(meter_owner, 5_000)
    rogue = register("operator-held", meter_owner, NONE, MAX_POWER_W, accept=False)
    boa.env.time_travel(seconds=3_600)
    accepted, logs = submit([(rogue, rogue.reading(now(), imp=5_000))])
    assert accepted == 0
    assert [(str(e.meter), e.reason) for e in events(logs, "ReadingRejected")] == [(rogue.address, INACTIVE)]
    assert watt.balanceOf(meter_owner) == 5_000
    assert registry.last_reading(rogue.address).imported_wh == 0
    # nothing accrues in the member's name either: once accepted, the same reading burns
    registry.accept_meter(rogue.address, sender=meter_owner)
    assert submit([(rogue, Reading(rogue.address, now(), 0, 0, 0, 5_000))])[0] == 1
    assert watt.balanceOf(meter_owner) == 0


def test_unaccepted_renewable_meter__certifies_nothing(registry, system, register, submit, now, meter_owner, operator):
    pv = register("pv", meter_owner, SOLAR, 10_000, accept=False)
    boa.env.time_travel(seconds=900)
    assert submit([(pv, pv.reading(now(), gen=2_000))])[0] == 0
    assert registry.certifiable(pv.address) == (0, 0, 0)
    with boa.reverts("certificate: nothing to issue"):
        system.certificate.issue(pv.address, sender=operator)


# ---------------------------------------------------------------- activation


def test_set_meter_active__toggles_and_emits_and_keeps_acceptance(registry, register, operator, meter_owner):
    m = register("pv", meter_owner)
    registry.set_meter_active(m.address, False, sender=operator)
    assert [(str(e.meter), e.active) for e in events(registry.get_logs(), "MeterActiveChanged")] == [(m.address, False)]
    assert registry.meters(m.address).active is False
    registry.set_meter_active(m.address, True, sender=operator)
    info = registry.meters(m.address)
    assert (info.active, info.accepted, str(info.owner), info.method, info.rated_power_w) == (
        True, True, meter_owner, SOLAR, 10_000
    )


def test_set_meter_active__does_not_stand_in_for_acceptance(registry, register, operator, submit, now, meter_owner):
    m = register("pv", meter_owner, accept=False)
    registry.set_meter_active(m.address, True, sender=operator)
    assert registry.meters(m.address).accepted is False
    assert submit([(m, m.reading(now(), exp=1))])[1][0].reason == INACTIVE


def test_set_meter_active__unknown_or_stranger__reverts(registry, register, operator, stranger, meter_owner):
    with boa.reverts("registry: unknown meter"):
        registry.set_meter_active(meter_signer("nope").address, False, sender=operator)
    m = register("pv", meter_owner)
    with boa.reverts("ownable: caller is not the owner"):
        registry.set_meter_active(m.address, False, sender=stranger)


# ---------------------------------------------------------------- rotation


def test_rotate__moves_record_new_key_counts_from_its_commissioning_old_key_retired(
    registry, watt, register, operator, submit, now, meter_owner
):
    old = register("old", meter_owner, SOLAR, 10_000)
    boa.env.time_travel(seconds=900)
    r1 = old.reading(now(), gen=1_000, exp=1_000)
    submit([(old, r1)])
    before_cert = registry.certifiable(old.address)
    assert before_cert[0] == 1_000

    new = TestMeter(meter_signer("new"), meter_owner, SOLAR, 10_000, old.name, 40, 0, 10, 0)
    c = Registers(now() + 5, 40, 0, 10, 0)  # the new hardware's registers at installation
    registry.rotate_meter_key(old.address, new.address, c, sender=operator)
    (ev,) = events(registry.get_logs(), "MeterKeyRotated")
    assert (str(ev.old_meter), str(ev.new_meter), ev.commissioned_at, ev.generated_wh, ev.exported_wh) == (
        old.address, new.address, c.timestamp, 40, 10
    )
    info = registry.meters(new.address)
    assert (str(info.owner), info.name, info.active, info.accepted) == (meter_owner, old.name, True, False)
    assert str(registry.meters(old.address).owner) == ZERO
    assert registry.retired(old.address)
    assert tuple(registry.last_reading(new.address)) == (c.timestamp, True, 40, 0, 10, 0)
    assert registry.certifiable(new.address) == (1_000, before_cert[1], c.timestamp)

    boa.env.time_travel(seconds=900)
    registry.accept_meter(new.address, sender=meter_owner)
    t_new = now()
    assert submit([(new, new.reading(t_new, gen=500, exp=400))])[0] == 1
    assert watt.balanceOf(meter_owner) == 1_400
    # certifiable generation carries over the rotation and keeps its period start
    assert registry.certifiable(new.address) == (1_500, before_cert[1], t_new)

    # the old key's signed readings are dead, and the old key can never come back
    assert submit([(old, old.reading(now(), exp=1))])[1][0].reason == REJECT_UNKNOWN_METER
    with boa.reverts("registry: meter key retired"):
        registry.register_meter(old.address, meter_owner, SOLAR, 1, "x", Registers(now()), sender=operator)


def test_rotate__operator_swapped_key__credits_nothing_until_owner_reaccepts(
    registry, watt, register, give_watt, operator, submit, now, meter_owner
):
    give_watt(meter_owner, 3_000)
    home = register("home", meter_owner, NONE, MAX_POWER_W)
    # the operator swaps in a key it controls and signs an import with it
    swapped = TestMeter(meter_signer("operator-key"), meter_owner, NONE, MAX_POWER_W, "home")
    registry.rotate_meter_key(home.address, swapped.address, Registers(now()), sender=operator)
    boa.env.time_travel(seconds=3_600)
    accepted, logs = submit([(swapped, swapped.reading(now(), imp=3_000))])
    assert accepted == 0 and events(logs, "ReadingRejected")[0].reason == INACTIVE
    assert watt.balanceOf(meter_owner) == 3_000
    with boa.reverts("registry: caller is not the meter owner"):
        registry.accept_meter(swapped.address, sender=operator)


def test_rotate__readings_not_after_the_new_commissioning_are_stale(registry, register, operator, submit, now, meter_owner):
    old = register("old", meter_owner)
    t = now()
    submit([(old, old.reading(t))])
    new = TestMeter(meter_signer("new"), meter_owner, SOLAR, 10_000, "n")
    registry.rotate_meter_key(old.address, new.address, Registers(t + 10), sender=operator)
    registry.accept_meter(new.address, sender=meter_owner)
    boa.env.time_travel(seconds=60)
    for ts in (t, t + 10):
        assert submit([(new, Reading(new.address, ts, 0, 0, 0, 0))])[1][0].reason == STALE
    assert submit([(new, Reading(new.address, t + 11, 0, 0, 0, 0))])[0] == 1


def test_rotate__commissioning_before_last_reading__reverts(registry, register, operator, submit, now, meter_owner):
    old = register("old", meter_owner)
    t = now()
    submit([(old, old.reading(t))])
    new = meter_signer("new").address
    with boa.reverts("registry: commissioning before last reading"):
        registry.rotate_meter_key(old.address, new, Registers(t - 1), sender=operator)
    with boa.reverts("registry: commissioning register too large"):
        registry.rotate_meter_key(old.address, new, Registers(t, 2**48), sender=operator)
    registry.rotate_meter_key(old.address, new, Registers(t), sender=operator)  # at the last reading: fine


@pytest.mark.parametrize(
    "case, reason",
    [
        ("unknown", "registry: unknown meter"),
        ("zero", "registry: zero meter"),
        ("taken", "registry: meter already registered"),
        ("stranger", "ownable: caller is not the owner"),
    ],
)
def test_rotate__bad_input__reverts(registry, register, operator, stranger, meter_owner, now, case, reason):
    a = register("a", meter_owner)
    b = register("b", meter_owner)
    old, new = {
        "unknown": (meter_signer("zz").address, meter_signer("yy").address),
        "zero": (a.address, ZERO),
        "taken": (a.address, b.address),
        "stranger": (a.address, meter_signer("yy").address),
    }[case]
    with boa.reverts(reason):
        registry.rotate_meter_key(old, new, Registers(now()), sender=stranger if case == "stranger" else operator)


# ---------------------------------------------------------------- operator bounds


def test_bounds__immutables_from_system_params(registry, system):
    assert registry.MAX_RATED_POWER_W() == system.params.max_rated_power_w == MAX_POWER_W
    assert registry.MAX_CLOCK_SKEW_LIMIT_S() == system.params.max_clock_skew_limit_s == SKEW_LIMIT_S
    assert registry.NOTICE_S() == system.params.notice_s == NOTICE_S
    assert registry.MAX_TIMESTAMP() == MAX_TIMESTAMP
    assert not hasattr(registry, "set_max_clock_skew")


def test_announce_max_clock_skew__applies_only_after_notice(registry, operator, now):
    registry.announce_max_clock_skew(900, sender=operator)
    effective_at = now() + NOTICE_S
    (ev,) = events(registry.get_logs(), "UpdateMaxClockSkewAnnounced")
    assert (ev.max_clock_skew, ev.effective_at) == (900, effective_at)
    assert registry.pending_change(registry.PARAM_MAX_CLOCK_SKEW()) == (900, effective_at)
    boa.env.time_travel(seconds=NOTICE_S - 1)
    with boa.reverts("notice: not yet effective"):
        registry.apply_max_clock_skew(sender=operator)
    assert registry.max_clock_skew() == 300
    boa.env.time_travel(seconds=1)
    registry.apply_max_clock_skew(sender=operator)
    assert [e.max_clock_skew for e in events(registry.get_logs(), "UpdateMaxClockSkew")] == [900]
    assert registry.max_clock_skew() == 900
    assert registry.pending_change(registry.PARAM_MAX_CLOCK_SKEW()) == (0, 0)
    with boa.reverts("notice: nothing announced"):
        registry.apply_max_clock_skew(sender=operator)


def test_announce_max_clock_skew__above_limit__reverts(registry, operator):
    with boa.reverts("registry: clock skew above limit"):
        registry.announce_max_clock_skew(SKEW_LIMIT_S + 1, sender=operator)
    registry.announce_max_clock_skew(SKEW_LIMIT_S, sender=operator)  # at the limit: fine


def test_clock_skew__stranger_can_neither_announce_nor_apply(registry, operator, stranger):
    with boa.reverts("ownable: caller is not the owner"):
        registry.announce_max_clock_skew(60, sender=stranger)
    registry.announce_max_clock_skew(60, sender=operator)
    boa.env.time_travel(seconds=NOTICE_S)
    with boa.reverts("ownable: caller is not the owner"):
        registry.apply_max_clock_skew(sender=stranger)


@pytest.mark.parametrize(
    "args, reason",
    [
        ((301, 300, MAX_POWER_W, NOTICE_S, 86_400), "registry: clock skew above limit"),
        ((300, 3_600, 0, NOTICE_S, 86_400), "registry: bad max rated power"),
        ((300, 3_600, 2**64, NOTICE_S, 86_400), "registry: bad max rated power"),
        ((300, 3_600, MAX_POWER_W, NOTICE_S, 1_799), "registry: credit lag below one slot"),
    ],
)
def test_deploy__bad_bounds__reverts(watt, args, reason):
    from gridmint.system import CONTRACTS_DIR

    with boa.reverts(reason):
        boa.load(str(CONTRACTS_DIR / "MeterRegistry.vy"), watt.address, *args)


def test_set_certificate__wired_once_and_only_taker(registry, system, operator, stranger):
    assert str(registry.certificate()) == str(system.certificate.address)
    with boa.reverts("registry: certificate already set"):
        registry.set_certificate(stranger, sender=operator)
    with boa.reverts("ownable: caller is not the owner"):
        registry.set_certificate(stranger, sender=stranger)
    for who in (stranger, operator):
        with boa.reverts("registry: caller is not the certificate"):
            registry.take_certifiable(meter_signer("x").address, sender=who)


def test_pause__stops_readings_only(registry, system, register, operator, submit, now, meter_owner, other_owner):
    pv = register("pv", meter_owner)
    boa.env.time_travel(seconds=900)
    submit([(pv, pv.reading(now(), gen=1_000))])
    registry.pause(sender=operator)
    with boa.reverts("pausable: contract is paused"):
        submit([(pv, pv.reading(now() + 1, gen=1))])
    # registration, acceptance, rotation, issuance and claims go on
    late = register("late", other_owner)
    assert registry.meters(late.address).accepted is True
    registry.rotate_meter_key(late.address, meter_signer("late-2").address, Registers(now()), sender=operator)
    id = system.certificate.issue(pv.address, sender=meter_owner)
    system.certificate.claim(id, 1_000, other_owner, "paused registry", sender=meter_owner)
    assert system.certificate.claimed_balance_of(other_owner, id) == 1_000


def test_eip712_domain__is_gridmint_v1(registry):
    fields, name, version, chain_id, contract, salt, ext = registry.eip712Domain()
    assert (fields, name, version, str(contract), ext) == (b"\x0f", "gridmint", "1", str(registry.address), [])
    assert chain_id == boa.env.evm.patch.chain_id
