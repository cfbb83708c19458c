"""WATT operator bounds (DESIGN.md "Operator bounds", invariant 6): every parameter that can cost
members value changes only within deploy-time limits, after an announcement and NOTICE_S seconds;
members can leave during the notice. Also `deposit_rent_with_permit`."""

import boa
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from gridmint.system import SystemParams, boa_deployer
from gridmint.permit import permit_typed_data
from tests.conftest import TEST_PARAMS, events

PARAM_IDS = {"rent_rate": 1, "rent_grace_period": 2, "release_price": 3, "capacity_wh": 4}

DAY = 86_400
DENOM = 86_400_000

# (thing, revert, the value an operator out to take members' value would pick)
DRAINS = [
    ("rent_rate", "watt: rent rate above limit", lambda w: w.MAX_RENT_RATE() + 1),
    ("rent_grace_period", "watt: grace period below limit", lambda w: w.MIN_RENT_GRACE_PERIOD_S() - 1),
    ("release_price", "watt: release price below limit", lambda w: w.MIN_RELEASE_PRICE() - 1),
    ("capacity_wh", "watt: capacity below limit", lambda w: w.MIN_CAPACITY_WH() - 1),
    ("capacity_wh", "watt: capacity above limit", lambda w: w.MAX_CAPACITY_WH() + 1),
]

# (thing, announce event, apply event, field, a value within the limits)
CHANGES = [
    ("rent_rate", "UpdateRentRateAnnounced", "UpdateRentRate", "rent_rate", 5),
    ("rent_grace_period", "UpdateRentGracePeriodAnnounced", "UpdateRentGracePeriod", "rent_grace_period", 30 * DAY),
    ("release_price", "UpdateReleasePriceAnnounced", "UpdateReleasePrice", "release_price", 10**17),
    ("capacity_wh", "UpdateCapacityAnnounced", "UpdateCapacity", "capacity_wh", 60_000),
]


def ceil_div(a, b):
    return -(-a // b)


def test_param_ids__match_the_contract(watt):
    assert [watt.PARAM_RENT_RATE(), watt.PARAM_RENT_GRACE_PERIOD(), watt.PARAM_RELEASE_PRICE(), watt.PARAM_CAPACITY()] == [
        PARAM_IDS[t] for t in ("rent_rate", "rent_grace_period", "release_price", "capacity_wh")
    ]


def test_limits__deployed_from_system_params(watt):
    p = TEST_PARAMS
    assert (watt.MAX_RENT_RATE(), watt.MIN_RENT_GRACE_PERIOD_S(), watt.MIN_RELEASE_PRICE()) == (
        p.max_rent_rate, p.min_rent_grace_period_s, p.min_release_price
    )
    assert (watt.MIN_CAPACITY_WH(), watt.MAX_CAPACITY_WH(), watt.NOTICE_S()) == (
        p.min_capacity_wh, p.max_capacity_wh, p.notice_s
    )


@pytest.mark.parametrize("thing, reason, value", DRAINS)
def test_announce__outside_deploy_limit__reverts(watt, operator, thing, reason, value):
    with boa.reverts(reason):
        getattr(watt, f"announce_{thing}")(value(watt), sender=operator)
    assert tuple(watt.pending_change(PARAM_IDS[thing])) == (0, 0)


@pytest.mark.parametrize("thing, announced, applied, field, value", CHANGES)
def test_announce_then_apply__after_notice__logs_both_and_applies(watt, operator, thing, announced, applied, field, value):
    before = getattr(watt, field)()
    getattr(watt, f"announce_{thing}")(value, sender=operator)
    start = boa.env.evm.patch.timestamp
    (ev,) = events(watt.get_logs(), announced)
    assert (getattr(ev, field), ev.effective_at) == (value, start + watt.NOTICE_S())
    assert getattr(watt, field)() == before  # nothing changes at announcement
    boa.env.time_travel(seconds=watt.NOTICE_S() - 1)
    with boa.reverts("notice: not yet effective"):
        getattr(watt, f"apply_{thing}")(sender=operator)
    boa.env.time_travel(seconds=1)
    getattr(watt, f"apply_{thing}")(sender=operator)
    assert [getattr(e, field) for e in events(watt.get_logs(), applied)] == [value]
    assert getattr(watt, field)() == value
    with boa.reverts("notice: nothing announced"):
        getattr(watt, f"apply_{thing}")(sender=operator)


@pytest.mark.parametrize("thing, announced, applied, field, value", CHANGES)
def test_announce_and_apply__stranger__reverts(watt, operator, stranger, thing, announced, applied, field, value):
    with boa.reverts("ownable: caller is not the owner"):
        getattr(watt, f"announce_{thing}")(value, sender=stranger)
    getattr(watt, f"announce_{thing}")(value, sender=operator)
    boa.env.time_travel(seconds=watt.NOTICE_S())
    with boa.reverts("ownable: caller is not the owner"):
        getattr(watt, f"apply_{thing}")(sender=stranger)


def test_old_setters__removed(watt):
    for fn in ("set_rent_rate", "set_rent_grace_period", "set_release_price", "set_capacity_wh"):
        assert not hasattr(watt, fn), f"{fn} must be replaced by announce/apply"


def test_attack_drain__max_rate_no_grace_price_1__cannot_take_deposits_or_burn_within_a_day(
    watt, tsl, operator, give_watt, fund_rent, meter_owner, stranger
):
    give_watt(meter_owner, 10_000)
    fund_rent(meter_owner, 10**18)
    for thing, reason, value in DRAINS[:3]:
        with boa.reverts(reason):
            getattr(watt, f"announce_{thing}")(value(watt), sender=operator)
    with boa.reverts("watt: rent rate above limit"):
        watt.announce_rent_rate(2**64 - 1, sender=operator)
    # the worst it can announce, all at once
    watt.announce_rent_rate(watt.MAX_RENT_RATE(), sender=operator)
    watt.announce_rent_grace_period(watt.MIN_RENT_GRACE_PERIOD_S(), sender=operator)
    watt.announce_release_price(watt.MIN_RELEASE_PRICE(), sender=operator)
    boa.env.time_travel(seconds=DAY)
    for thing in ("rent_rate", "rent_grace_period", "release_price"):
        with boa.reverts("notice: not yet effective"):
            getattr(watt, f"apply_{thing}")(sender=operator)
    # the member saw it coming: rent so far is at the old rate, and the deposit comes back
    unspent = watt.rent_deposit(meter_owner)
    assert unspent == 10**18 - ceil_div(10_000 * TEST_PARAMS.rent_rate * DAY, DENOM)
    watt.withdraw_rent(unspent, sender=meter_owner)
    assert tsl.balanceOf(meter_owner) == unspent
    assert watt.balanceOf(meter_owner) == 10_000


def test_apply_rent_rate__checkpoints_index__rent_before_apply_at_old_rate(watt, operator, give_watt, fund_rent, meter_owner):
    give_watt(meter_owner, 2_000)
    fund_rent(meter_owner, 10**18)
    watt.settle_rent(meter_owner)
    old = watt.rent_rate()
    watt.announce_rent_rate(old * 2, sender=operator)
    boa.env.time_travel(seconds=watt.NOTICE_S())
    watt.apply_rent_rate(sender=operator)  # nobody touched the account during the notice
    boa.env.time_travel(seconds=DAY)
    assert watt.rent_accrued(meter_owner) == ceil_div(2_000 * (old * watt.NOTICE_S() + old * 2 * DAY), DENOM)


def test_announce__again__replaces_pending_and_restarts_notice(watt, operator):
    watt.announce_rent_rate(7, sender=operator)
    boa.env.time_travel(seconds=DAY)
    watt.announce_rent_rate(9, sender=operator)
    assert tuple(watt.pending_change(watt.PARAM_RENT_RATE())) == (9, boa.env.evm.patch.timestamp + watt.NOTICE_S())
    boa.env.time_travel(seconds=watt.NOTICE_S() - DAY)
    with boa.reverts("notice: not yet effective"):
        watt.apply_rent_rate(sender=operator)
    boa.env.time_travel(seconds=DAY)
    watt.apply_rent_rate(sender=operator)
    assert watt.rent_rate() == 9 and tuple(watt.pending_change(watt.PARAM_RENT_RATE())) == (0, 0)


@pytest.mark.parametrize(
    "override, reason",
    [
        ({"rent_rate": 10**17}, "watt: rent rate above limit"),
        ({"rent_grace_period_s": 86_400}, "watt: grace period below limit"),
        ({"release_price": 10**15}, "watt: release price below limit"),
        ({"capacity_wh": 5_000}, "watt: capacity below limit"),
        ({"max_rent_rate": 2**64}, "watt: max rent rate too large"),
        ({"min_release_price": 0, "release_price": 1}, "watt: zero min release price"),
        ({"min_capacity_wh": 10**6, "max_capacity_wh": 10**5, "capacity_wh": 10**5}, "watt: bad capacity limits"),
        ({"max_capacity_wh": 2**56}, "watt: bad capacity limits"),
    ],
)
def test_deploy__value_outside_its_limits__reverts(tsl, operator, override, reason):
    p = SystemParams(**{**TEST_PARAMS.as_dict(), **override})
    with boa.reverts(reason):
        boa_deployer(operator)(
            "WattToken", p.capacity_wh, tsl.address, p.rent_rate, p.rent_grace_period_s, p.release_price,
            p.max_rent_rate, p.min_rent_grace_period_s, p.min_release_price, p.min_capacity_wh, p.max_capacity_wh,
            p.notice_s,
        )


# ------------------------------------------------------------------ deposit with permit

def _permit_sig(tsl, holder, spender, value, deadline, nonce=0):
    msg = encode_typed_data(full_message=permit_typed_data(tsl.eip712Domain(), holder.address, spender, value, nonce, deadline))
    sig = holder.sign_message(msg)
    return sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")


@pytest.fixture
def member_key(tsl, operator):
    holder = Account.from_key(b"\x22" * 32)
    tsl.mint(holder.address, 10**18, sender=operator)
    return holder


def test_deposit_rent_with_permit__no_approve_tx__deposits(watt, tsl, member_key):
    deadline = boa.env.evm.patch.timestamp + 3_600
    v, r, s = _permit_sig(tsl, member_key, watt.address, 4 * 10**17, deadline)
    assert tsl.allowance(member_key.address, watt.address) == 0
    watt.deposit_rent_with_permit(4 * 10**17, deadline, v, r, s, sender=member_key.address)
    (ev,) = events(watt.get_logs(), "RentDeposited")
    assert (str(ev.account), ev.amount) == (member_key.address, 4 * 10**17)
    assert watt.rent_deposit(member_key.address) == 4 * 10**17
    assert tsl.balanceOf(member_key.address) == 6 * 10**17 and tsl.nonces(member_key.address) == 1


def test_deposit_rent_with_permit__permit_front_run__still_deposits(watt, tsl, member_key, stranger):
    deadline = boa.env.evm.patch.timestamp + 3_600
    v, r, s = _permit_sig(tsl, member_key, watt.address, 10**17, deadline)
    tsl.permit(member_key.address, watt.address, 10**17, deadline, v, r, s, sender=stranger)  # seen in the mempool
    watt.deposit_rent_with_permit(10**17, deadline, v, r, s, sender=member_key.address)
    assert watt.rent_deposit(member_key.address) == 10**17


def test_deposit_rent_with_permit__signature_of_someone_else__reverts(watt, tsl, member_key, stranger):
    deadline = boa.env.evm.patch.timestamp + 3_600
    v, r, s = _permit_sig(tsl, member_key, watt.address, 10**17, deadline)
    with boa.reverts("watt: permit failed"):
        watt.deposit_rent_with_permit(10**17, deadline, v, r, s, sender=stranger)
    boa.env.time_travel(seconds=3_601)
    with boa.reverts("watt: permit failed"):  # expired
        watt.deposit_rent_with_permit(10**17, deadline, v, r, s, sender=member_key.address)
    assert watt.rent_deposit(member_key.address) == 0
