"""EnergyExchange operator bounds (DESIGN.md "Operator bounds", invariant 6): fees, the price band
and the minimum order change only within deploy-time limits, after an announcement and NOTICE_S;
members withdraw, cancel and take their rent deposit back during a notice and while paused."""

import boa
import pytest

from gridmint.system import SystemParams, boa_deployer
from tests.conftest import TEST_PARAMS, events

DAY = 86_400

# (thing, announce args, announce event, apply event, fields)
CHANGES = [
    ("price_band", (90_000, 300_000), "UpdatePriceBandAnnounced", "UpdatePriceBand", ("floor_price", "ceiling_price")),
    ("fees", (0, 35), "UpdateFeesAnnounced", "UpdateFees", ("maker_fee_bps", "taker_fee_bps")),
    ("min_order_wh", (500,), "UpdateMinOrderAnnounced", "UpdateMinOrder", ("min_order_wh",)),
]

# (thing, args an operator out to take members' value would pick, revert)
DRAINS = [
    ("fees", lambda ex: (ex.MAX_FEE_BPS() + 1, 0), "exchange: fee above limit"),
    ("fees", lambda ex: (0, 100), "exchange: fee above limit"),
    ("price_band", lambda ex: (ex.MIN_FLOOR_PRICE() - 100, 300_000), "exchange: floor below limit"),
    ("price_band", lambda ex: (100_000, ex.MAX_CEILING_PRICE() + 100), "exchange: ceiling above limit"),
    ("price_band", lambda ex: (300_000, 200_000), "exchange: bad price band"),
    ("min_order_wh", lambda ex: (ex.MAX_MIN_ORDER_WH() + 1,), "exchange: minimum above limit"),
    ("min_order_wh", lambda ex: (0,), "exchange: zero minimum"),
]


def current(exchange, fields):
    return tuple(getattr(exchange, f)() for f in fields)


def test_limits__deployed_from_system_params(exchange):
    p = TEST_PARAMS
    assert (exchange.MAX_FEE_BPS(), exchange.MIN_FLOOR_PRICE(), exchange.MAX_CEILING_PRICE()) == (
        p.max_fee_bps, p.min_floor_price, p.max_ceiling_price
    )
    assert (exchange.MAX_MIN_ORDER_WH(), exchange.NOTICE_S()) == (p.max_min_order_wh, p.notice_s)
    assert [exchange.PARAM_PRICE_BAND(), exchange.PARAM_MIN_ORDER(), exchange.PARAM_FEES()] == [1, 2, 3]


@pytest.mark.parametrize("thing, args, reason", DRAINS)
def test_announce__outside_deploy_limit__reverts(exchange, operator, thing, args, reason):
    with boa.reverts(reason):
        getattr(exchange, f"announce_{thing}")(*args(exchange), sender=operator)


@pytest.mark.parametrize("thing, args, announced, applied, fields", CHANGES)
def test_announce_then_apply__after_notice__logs_both_and_applies(exchange, operator, thing, args, announced, applied, fields):
    before = current(exchange, fields)
    getattr(exchange, f"announce_{thing}")(*args, sender=operator)
    (ev,) = events(exchange.get_logs(), announced)
    assert tuple(getattr(ev, f) for f in fields) == args
    assert ev.effective_at == boa.env.evm.patch.timestamp + exchange.NOTICE_S()
    boa.env.time_travel(seconds=exchange.NOTICE_S() - 1)
    with boa.reverts("notice: not yet effective"):
        getattr(exchange, f"apply_{thing}")(sender=operator)
    assert current(exchange, fields) == before
    boa.env.time_travel(seconds=1)
    getattr(exchange, f"apply_{thing}")(sender=operator)
    (ev,) = events(exchange.get_logs(), applied)
    assert tuple(getattr(ev, f) for f in fields) == args == current(exchange, fields)
    with boa.reverts("notice: nothing announced"):
        getattr(exchange, f"apply_{thing}")(sender=operator)


@pytest.mark.parametrize("thing, args, announced, applied, fields", CHANGES)
def test_announce_and_apply__stranger__reverts(exchange, operator, stranger, thing, args, announced, applied, fields):
    with boa.reverts("ownable: caller is not the owner"):
        getattr(exchange, f"announce_{thing}")(*args, sender=stranger)
    getattr(exchange, f"announce_{thing}")(*args, sender=operator)
    boa.env.time_travel(seconds=exchange.NOTICE_S())
    with boa.reverts("ownable: caller is not the owner"):
        getattr(exchange, f"apply_{thing}")(sender=stranger)


def test_old_setters__removed(exchange):
    for fn in ("set_price_band", "set_fees", "set_min_order_wh"):
        assert not hasattr(exchange, fn), f"{fn} must be replaced by announce/apply"


def test_attack_fees__max_fee_at_once__impossible_and_old_fee_holds_through_notice(
    exchange, operator, trader
):
    seller, buyer = trader("seller", wh=10_000), trader("buyer", cash=10**12)
    with boa.reverts("exchange: fee above limit"):
        exchange.announce_fees(100, 100, sender=operator)
    cap = exchange.MAX_FEE_BPS()
    exchange.announce_fees(cap, cap, sender=operator)
    boa.env.time_travel(seconds=DAY)
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
    (t,) = events(exchange.get_logs(), "Trade")
    assert t.fee == 150_000 * (TEST_PARAMS.maker_fee_bps + TEST_PARAMS.taker_fee_bps) // 10_000


def test_members_exit__during_notice_and_paused__withdraw_cancel_and_rent_back(
    exchange, watt, tsl, quote, operator, trader
):
    seller, buyer = trader("seller", wh=10_000), trader("buyer", cash=10**12)
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=seller)
    exchange.place_order(True, 150_000, 1_000, 0, 0, sender=buyer)
    ask = exchange.place_order(False, 160_000, 2_000, 0, 0, sender=seller)
    bid = exchange.place_order(True, 120_000, 2_000, 0, 0, sender=buyer)
    exchange.announce_fees(exchange.MAX_FEE_BPS(), exchange.MAX_FEE_BPS(), sender=operator)
    exchange.announce_price_band(90_000, 110_000, sender=operator)
    watt.announce_rent_rate(watt.MAX_RENT_RATE(), sender=operator)
    exchange.pause(sender=operator)
    boa.env.time_travel(seconds=DAY)
    exchange.cancel_order(ask, sender=seller)
    exchange.cancel_order(bid, sender=buyer)
    for who in (seller, buyer):
        owed = exchange.proceeds_of(who)
        assert owed > 0
        cash = quote.balanceOf(who)
        exchange.withdraw_proceeds(owed, sender=who)
        assert quote.balanceOf(who) == cash + owed
        unspent = watt.rent_deposit(who)
        watt.withdraw_rent(unspent, sender=who)
        assert watt.rent_deposit(who) == 0 and tsl.balanceOf(who) >= unspent
    assert watt.escrowed_of(seller) == 0 and exchange.bid_escrow_total() == 0


def _deploy_exchange(operator, watt, quote, p):
    return boa_deployer(operator)(
        "EnergyExchange", watt.address, quote.address, p.tick, p.floor_price, p.ceiling_price, p.min_order_wh,
        p.max_fills, p.maker_fee_bps, p.taker_fee_bps, p.max_fee_bps, p.min_floor_price, p.max_ceiling_price,
        p.max_min_order_wh, p.notice_s,
    )


@pytest.mark.parametrize(
    "override, reason",
    [
        ({"maker_fee_bps": 60}, "exchange: fee above limit"),
        ({"max_fee_bps": 101}, "exchange: max fee above 100 bps"),
        ({"floor_price": 40_000}, "exchange: floor below limit"),
        ({"ceiling_price": 600_000}, "exchange: ceiling above limit"),
        ({"min_floor_price": 0}, "exchange: bad band limits"),
        ({"max_ceiling_price": 100 * 65_536}, "exchange: ceiling beyond tick range"),
        ({"min_order_wh": 2_000}, "exchange: minimum above limit"),
        ({"max_min_order_wh": 2**56}, "exchange: max minimum too large"),
    ],
)
def test_deploy__value_outside_its_limits__reverts(operator, watt, quote, override, reason):
    p = SystemParams(**{**TEST_PARAMS.as_dict(), **override})
    with boa.reverts(reason):
        _deploy_exchange(operator, watt, quote, p)
