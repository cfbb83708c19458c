"""Storage rent on WATT: accrual, rounding, arrears, release, deposits, escrow seam, parameters."""

import boa
import pytest

from tests.conftest import events
from tests.utils.machine import announce_and_apply

DAY = 86_400
DENOM = 86_400_000  # Wh/kWh x s/day


def ceil_div(a, b):
    return -(-a // b)


def test_sources_example__617_9_tsl_keeps_2018_23_kwh_for_88_days(watt, operator, give_watt, fund_rent, meter_owner):
    # 617.9 TSL for 2018.23 kWh over 88 days -> 0.003479 TSL per kWh per day
    assert watt.rent_rate() == 3_479_000_000_000_000
    announce_and_apply(watt, "capacity_wh", 3_000_000, sender=operator)
    give_watt(meter_owner, 2_018_230)
    fund_rent(meter_owner, 617_900_000_000_000_000_000)
    now = boa.env.evm.patch.timestamp
    days = (watt.storage_paid_until(meter_owner) - now) / DAY
    assert abs(days - 88) <= 1, days
    boa.env.time_travel(seconds=87 * DAY)
    assert watt.rent_due(meter_owner) == 0
    boa.env.time_travel(seconds=2 * DAY)
    assert watt.rent_due(meter_owner) > 0


def test_rent__accrues_per_kwh_day_and_is_charged_on_touch(watt, give_watt, fund_rent, meter_owner, rate):
    give_watt(meter_owner, 10_000)
    fund_rent(meter_owner, 10**18)
    before = watt.rent_deposit(meter_owner)
    boa.env.time_travel(seconds=DAY)
    expected = ceil_div(10_000 * rate * DAY, DENOM)  # 10 kWh for one day
    assert expected == 10 * rate
    assert watt.rent_accrued(meter_owner) == expected
    assert watt.rent_deposit(meter_owner) == before - expected
    revenue = watt.rent_revenue()
    watt.settle_rent(meter_owner)
    (ev,) = events(watt.get_logs(), "RentCharged")
    assert (ev.paid, ev.unpaid) == (expected, 0)
    assert watt.rent_revenue() == revenue + expected
    assert watt.rent_accrued(meter_owner) == 0


def test_rent__rounds_up_to_next_base_unit(watt, give_watt, fund_rent, meter_owner, rate):
    give_watt(meter_owner, 1)
    fund_rent(meter_owner, 10**18)
    boa.env.time_travel(seconds=1)
    assert watt.rent_accrued(meter_owner) == ceil_div(rate, DENOM)
    assert (rate % DENOM) != 0, "the chosen rate exercises rounding"


def test_rent__splitting_a_balance_never_lowers_rent(watt, give_watt, fund_rent, meter_owner, other_owner, stranger, rate):
    give_watt(meter_owner, 10_001)
    give_watt(other_owner, 5_000)
    give_watt(stranger, 5_001)
    for a in (meter_owner, other_owner, stranger):
        fund_rent(a, 10**18)
        watt.settle_rent(a)
    boa.env.time_travel(seconds=777)
    whole = watt.rent_accrued(meter_owner)
    split = watt.rent_accrued(other_owner) + watt.rent_accrued(stranger)
    assert split >= whole == ceil_div(10_001 * rate * 777, DENOM)


def test_rent__rate_change_is_not_retroactive(watt, operator, give_watt, fund_rent, meter_owner, rate):
    give_watt(meter_owner, 1_000)
    fund_rent(meter_owner, 10**18)
    watt.settle_rent(meter_owner)
    boa.env.time_travel(seconds=DAY)
    watt.announce_rent_rate(rate * 3, sender=operator)
    notice = watt.NOTICE_S()
    boa.env.time_travel(seconds=notice)
    watt.apply_rent_rate(sender=operator)
    assert [e.rent_rate for e in events(watt.get_logs(), "UpdateRentRate")] == [rate * 3]
    boa.env.time_travel(seconds=DAY)
    assert watt.rent_accrued(meter_owner) == ceil_div(1_000 * (rate * (DAY + notice) + rate * 3 * DAY), DENOM)


def test_rent__nothing_stored__paid_until_forever(watt, fund_rent, stranger):
    fund_rent(stranger, 10**18)
    assert watt.storage_paid_until(stranger) == 2**256 - 1
    boa.env.time_travel(seconds=30 * DAY)
    assert watt.rent_accrued(stranger) == 0


def test_arrears__block_transfer_and_escrow_but_not_receipt_or_imports(
    watt, registry, operator, give_watt, fund_rent, meter_owner, other_owner, stranger, submit, now, rate
):
    feeder = give_watt(meter_owner, 5_000)
    give_watt(other_owner, 1_000)
    fund_rent(other_owner, 10**18)
    boa.env.time_travel(seconds=DAY)
    watt.settle_rent(meter_owner)
    arrears, since = watt.arrears_of(meter_owner)
    assert arrears == ceil_div(5_000 * rate * (DAY + 1), DENOM) and since == now()
    assert watt.storage_paid_until(meter_owner) == since
    with boa.reverts("watt: account in arrears"):
        watt.transfer(other_owner, 1, sender=meter_owner)
    watt.approve(stranger, 10, sender=meter_owner)
    with boa.reverts("watt: account in arrears"):
        watt.transferFrom(meter_owner, stranger, 1, sender=stranger)
    with boa.reverts("watt: account in arrears"):
        watt.escrow(meter_owner, 1, sender=str(watt.exchange()))
    # receiving still works, and imports still burn
    watt.transfer(meter_owner, 500, sender=other_owner)
    assert watt.balanceOf(meter_owner) == 5_500
    boa.env.time_travel(seconds=60)
    submit([(feeder, feeder.reading(now(), imp=2_000))])
    assert watt.balanceOf(meter_owner) == 3_500


def test_deposit__pays_arrears_first_then_unblocks(watt, tsl, operator, give_watt, fund_rent, meter_owner, other_owner):
    give_watt(meter_owner, 5_000)
    boa.env.time_travel(seconds=DAY)
    watt.settle_rent(meter_owner)
    arrears, _ = watt.arrears_of(meter_owner)
    revenue = watt.rent_revenue()
    fund_rent(meter_owner, arrears + 1_000)
    (ev,) = events(watt.get_logs(), "RentDeposited")
    assert (ev.amount, ev.arrears_paid) == (arrears + 1_000, arrears)
    assert watt.arrears_of(meter_owner) == (0, 0)
    assert watt.rent_deposit(meter_owner) == 1_000
    assert watt.rent_revenue() == revenue + arrears
    watt.transfer(other_owner, 1, sender=meter_owner)


def test_deposit__zero_or_unfunded__reverts(watt, stranger):
    with boa.reverts("watt: zero amount"):
        watt.deposit_rent(0, sender=stranger)
    with boa.reverts():
        watt.deposit_rent(1, sender=stranger)  # no TSL allowance
    assert watt.rent_deposit(stranger) == 0


def test_withdraw__only_the_unspent_part(watt, tsl, give_watt, fund_rent, meter_owner, rate):
    give_watt(meter_owner, 1_000)
    fund_rent(meter_owner, 10**16)
    boa.env.time_travel(seconds=DAY)
    unspent = watt.rent_deposit(meter_owner)
    assert unspent == 10**16 - ceil_div(1_000 * rate * (DAY + 0), DENOM)
    with boa.reverts("watt: amount exceeds unspent deposit"):
        watt.withdraw_rent(unspent + 1, sender=meter_owner)
    watt.withdraw_rent(unspent, sender=meter_owner)
    assert tsl.balanceOf(meter_owner) == unspent and watt.rent_deposit(meter_owner) == 0


def test_release__before_grace_reverts_after_grace_burns_just_enough(watt, operator, give_watt, meter_owner, stranger, rate):
    give_watt(meter_owner, 40_000)
    boa.env.time_travel(seconds=DAY)
    watt.settle_rent(meter_owner)
    with boa.reverts("watt: grace period not over"):
        watt.release_unpaid(meter_owner, sender=stranger)
    boa.env.time_travel(seconds=watt.rent_grace_period())
    arrears_now = watt.rent_due(meter_owner)
    price = watt.release_price()
    supply = watt.totalSupply()
    wh = watt.release_unpaid(meter_owner, sender=stranger)
    logs = watt.get_logs()
    assert wh == ceil_div(arrears_now * 1000, price)
    (ev,) = events(logs, "StorageReleased")
    assert (str(ev.account), ev.wh, ev.tsl) == (meter_owner, wh, arrears_now)
    assert watt.arrears_of(meter_owner) == (0, 0)
    assert watt.balanceOf(meter_owner) == 40_000 - wh and watt.totalSupply() == supply - wh


def test_release__no_arrears_reverts(watt, give_watt, fund_rent, meter_owner, stranger):
    give_watt(meter_owner, 1_000)
    fund_rent(meter_owner, 10**18)
    with boa.reverts("watt: no arrears"):
        watt.release_unpaid(meter_owner, sender=stranger)


def test_release__not_enough_watt_burns_all_and_keeps_the_rest_as_arrears(watt, operator, give_watt, meter_owner, stranger):
    announce_and_apply(watt, "release_price", watt.MIN_RELEASE_PRICE(), sender=operator)  # the cheapest allowed
    give_watt(meter_owner, 10)
    boa.env.time_travel(seconds=300 * DAY)
    watt.settle_rent(meter_owner)
    boa.env.time_travel(seconds=watt.rent_grace_period())
    assert watt.release_unpaid(meter_owner, sender=stranger) == 10
    assert watt.balanceOf(meter_owner) == 0 and watt.arrears_of(meter_owner)[0] > 0
    with boa.reverts("watt: nothing to release"):
        watt.release_unpaid(meter_owner, sender=stranger)


def test_claim_revenue__operator_to_treasury(watt, tsl, operator, stranger, give_watt, fund_rent, meter_owner):
    give_watt(meter_owner, 10_000)
    fund_rent(meter_owner, 10**18)
    boa.env.time_travel(seconds=DAY)
    watt.settle_rent(meter_owner)
    with boa.reverts("ownable: caller is not the owner"):
        watt.claim_rent_revenue(sender=stranger)
    watt.set_treasury(stranger, sender=operator)
    revenue = watt.rent_revenue()
    assert revenue > 0
    assert watt.claim_rent_revenue(sender=operator) == revenue
    assert tsl.balanceOf(stranger) == revenue and watt.rent_revenue() == 0


@pytest.mark.parametrize("fn", ["escrow", "release_escrow"])
def test_escrow__only_a_market(watt, operator, stranger, meter_owner, fn):
    with boa.reverts("watt: caller is not a market"):
        getattr(watt, fn)(meter_owner, 1, sender=stranger)
    with boa.reverts("watt: caller is not a market"):
        watt.sell(meter_owner, 1, 0, [], sender=operator)


def test_escrow__stays_in_rent_base_and_moves_on_delivery(watt, operator, stranger, give_watt, fund_rent, meter_owner, other_owner, rate):
    exchange = str(watt.exchange())  # the wired EnergyExchange, impersonated here
    with boa.reverts("watt: exchange already set"):
        watt.set_exchange(operator, sender=operator)
    give_watt(meter_owner, 10_000)
    fund_rent(meter_owner, 10**18)
    watt.escrow(meter_owner, 4_000, sender=exchange)
    assert (watt.balanceOf(meter_owner), watt.escrowed_of(meter_owner), watt.stored_of(meter_owner)) == (6_000, 4_000, 10_000)
    with boa.reverts("watt: escrow exceeds balance"):
        watt.escrow(meter_owner, 6_001, sender=exchange)
    with boa.reverts("watt: transfer amount exceeds balance"):
        watt.transfer(other_owner, 6_001, sender=meter_owner)
    boa.env.time_travel(seconds=DAY)
    assert watt.rent_accrued(meter_owner) == 10 * rate  # escrow pays rent too
    supply = watt.totalSupply()
    watt.settle_escrow(other_owner, [int(meter_owner, 16) | (1_500 << 160)], sender=exchange)
    transfers = events(watt.get_logs(), "Transfer")
    assert [(str(t.sender), str(t.receiver), t.value) for t in transfers] == [(meter_owner, other_owner, 1_500)]
    watt.release_escrow(meter_owner, 2_500, sender=exchange)
    assert watt.escrowed_of(meter_owner) == 0 and watt.balanceOf(meter_owner) == 8_500
    assert watt.balanceOf(other_owner) == 1_500 and watt.totalSupply() == supply
    with boa.reverts("watt: release exceeds escrow"):
        watt.release_escrow(meter_owner, 1, sender=exchange)
    with boa.reverts("watt: move exceeds escrow"):
        watt.settle_escrow(other_owner, [int(meter_owner, 16) | (1 << 160)], sender=exchange)


