"""WATT escrow has two markets (issue 23): the continuous book (`set_exchange`) and the slot auction
(`set_auction`). Either may escrow, release and deliver; no one else may; `release_unpaid` reaches the
escrow held by both, through each market's `close_asks_of`, and keeps the arrears rule for both."""

import boa
import pytest

from tests.conftest import events

DAY = 86_400
ARREARS = 7

# A stand-in auction: escrows through WATT as the real one will, and hands back on `close_asks_of`
# exactly what it escrowed for the account (or a wrong figure, when told to).
_MOCK_AUCTION = """
# pragma version ~=0.4.3
interface IWatt:
    def escrow(account: address, wh: uint256): nonpayable

watt: public(address)
held_wh: public(HashMap[address, uint256])
close_calls: public(uint256)
skew_wh: public(uint256)

@deploy
def __init__(watt_: address):
    self.watt = watt_

@external
def place_ask(wh: uint256):
    extcall IWatt(self.watt).escrow(msg.sender, wh)
    self.held_wh[msg.sender] += wh

@external
def set_skew(wh: uint256):
    self.skew_wh = wh

@external
def close_asks_of(account: address) -> uint256:
    assert msg.sender == self.watt, "mock: caller is not watt"
    self.close_calls += 1
    wh: uint256 = self.held_wh[account]
    self.held_wh[account] = 0
    return wh + self.skew_wh
"""


@pytest.fixture
def auction(watt, operator):
    mock = boa.loads(_MOCK_AUCTION, watt.address)
    watt.set_auction(mock.address, sender=operator)
    return mock


@pytest.fixture
def debtor(give_watt):
    """A member with 5 kWh and no TSL deposit: in arrears from the next second on."""
    who = boa.env.generate_address("market-debtor")
    give_watt(who, 5_000)
    return who


def past_grace(watt, account):
    watt.settle_rent(account)
    boa.env.time_travel(seconds=watt.rent_grace_period())


def test_set_auction__operator_once_nonzero_and_logged(watt, operator, stranger):
    assert watt.auction() == "0x" + "00" * 20
    with boa.reverts("ownable: caller is not the owner"):
        watt.set_auction(stranger, sender=stranger)
    with boa.reverts("watt: zero auction"):
        watt.set_auction("0x" + "00" * 20, sender=operator)
    watt.set_auction(stranger, sender=operator)
    (ev,) = events(watt.get_logs(), "UpdateAuction")
    assert ev.auction == stranger and watt.auction() == stranger
    with boa.reverts("watt: auction already set"):
        watt.set_auction(operator, sender=operator)


def test_unwired_auction__admits_no_caller(watt, stranger, give_watt, fund_rent, meter_owner):
    give_watt(meter_owner, 1_000)
    fund_rent(meter_owner, 10**18)
    with boa.reverts("watt: caller is not a market"):
        watt.escrow(meter_owner, 1, sender=stranger)
    with boa.reverts("watt: caller is not a market"):
        watt.settle_escrow(stranger, [int(meter_owner, 16) | (1 << 160)], sender=stranger)


@pytest.mark.parametrize("fn", ["escrow", "release_escrow", "sell", "settle_escrow"])
def test_wired_auction__others_still_refused(watt, auction, stranger, operator, meter_owner, fn):
    args = {
        "escrow": (meter_owner, 1),
        "release_escrow": (meter_owner, 1),
        "sell": (meter_owner, 1, 0, [int(stranger, 16) | (1 << 160)]),
        "settle_escrow": (stranger, [int(meter_owner, 16) | (1 << 160)]),
    }[fn]
    for who in (stranger, operator):
        with boa.reverts("watt: caller is not a market"):
            getattr(watt, fn)(*args, sender=who)


def test_auction__escrows_releases_delivers_like_the_exchange(
    watt, auction, give_watt, fund_rent, meter_owner, other_owner
):
    as_auction = str(auction.address)
    give_watt(meter_owner, 10_000)
    fund_rent(meter_owner, 10**18)
    watt.escrow(meter_owner, 4_000, sender=as_auction)
    (ev,) = events(watt.get_logs(), "Escrowed")
    assert (ev.account, ev.wh) == (meter_owner, 4_000)
    assert (watt.balanceOf(meter_owner), watt.escrowed_of(meter_owner), watt.stored_of(meter_owner)) == (6_000, 4_000, 10_000)
    watt.release_escrow(meter_owner, 1_000, sender=as_auction)
    assert (watt.balanceOf(meter_owner), watt.escrowed_of(meter_owner)) == (7_000, 3_000)
    with boa.reverts("watt: move exceeds escrow"):
        watt.settle_escrow(other_owner, [int(meter_owner, 16) | (3_001 << 160)], sender=as_auction)
    watt.settle_escrow(other_owner, [int(meter_owner, 16) | (2_500 << 160)], sender=as_auction)
    assert (watt.escrowed_of(meter_owner), watt.balanceOf(other_owner)) == (500, 2_500)
    watt.settle_escrow(other_owner, [int(meter_owner, 16) | (500 << 160)], sender=as_auction)
    assert (watt.escrowed_of(meter_owner), watt.balanceOf(other_owner)) == (0, 3_000)
    assert watt.stored_of(meter_owner) == 7_000


def test_auction__seller_in_arrears_is_never_delivered(watt, auction, debtor, stranger):
    auction.place_ask(1_000, sender=debtor)
    boa.env.time_travel(seconds=60)
    assert watt.in_arrears(debtor)
    as_auction = str(auction.address)
    with boa.reverts("watt: account in arrears"):
        watt.sell(debtor, 1_000, 0, [int(stranger, 16) | (1_000 << 160)], sender=as_auction)
    with boa.reverts("watt: seller in arrears"):
        watt.settle_escrow(stranger, [int(debtor, 16) | (1_000 << 160)], sender=as_auction)
    with boa.reverts("watt: account in arrears"):
        auction.place_ask(1_000, sender=debtor)
    watt.release_escrow(debtor, 1_000, sender=as_auction)  # a release is not a sale
    assert (watt.balanceOf(debtor), watt.escrowed_of(debtor)) == (5_000, 0)


def test_release_unpaid__escrow_on_both_markets__closes_both_and_burns_it_all(
    watt, exchange, auction, debtor, stranger
):
    ask = exchange.place_order(False, 150_000, 1_000, 0, 0, sender=debtor)
    auction.place_ask(2_500, sender=debtor)
    assert watt.escrowed_of(debtor) == 3_500 and watt.balanceOf(debtor) == 1_500
    boa.env.time_travel(seconds=3_000 * DAY)  # arrears worth more than everything it stores
    past_grace(watt, debtor)
    supply = watt.totalSupply()
    assert watt.release_unpaid(debtor, sender=stranger) == 5_000
    logs = watt.get_logs(include_child_logs=True)
    assert [(e.order_id, e.reason, e.refunded) for e in events(logs, "OrderClosed")] == [(ask, ARREARS, 1_000)]
    assert auction.close_calls() == 1 and auction.held_wh(debtor) == 0
    (rel,) = events(logs, "EscrowReleased")
    assert rel.wh == 3_500
    assert watt.stored_of(debtor) == 0 and watt.totalSupply() == supply - 5_000
    assert not exchange.order(ask).open


def test_release_unpaid__escrow_only_on_the_auction__reached_too(watt, exchange, auction, debtor, stranger):
    auction.place_ask(5_000, sender=debtor)
    boa.env.time_travel(seconds=3_000 * DAY)
    past_grace(watt, debtor)
    assert watt.release_unpaid(debtor, sender=stranger) == 5_000
    assert auction.close_calls() == 1 and watt.stored_of(debtor) == 0


def test_release_unpaid__free_balance_exactly_covers__auction_asks_untouched(
    watt, auction, debtor, trader, stranger
):
    auction.place_ask(1_000, sender=debtor)
    donor = trader("market-donor", wh=10_000)
    boa.env.time_travel(seconds=10 * DAY)
    past_grace(watt, debtor)
    watt.settle_rent(debtor)  # every Wh-day owed is recorded; nothing more accrues in this second
    arrears, _ = watt.arrears_of(debtor)
    price = watt.release_price()
    needed_wh = (arrears * 1_000 + price - 1) // price
    free = watt.balanceOf(debtor)
    assert free < needed_wh <= 10_000, (free, needed_wh)
    watt.transfer(debtor, needed_wh - free, sender=donor)  # same second: no rent accrues on the way
    assert watt.release_unpaid(debtor, sender=stranger) == needed_wh
    assert auction.close_calls() == 0 and auction.held_wh(debtor) == 1_000
    assert watt.escrowed_of(debtor) == 1_000 and not watt.in_arrears(debtor)


def test_release_unpaid__a_market_reporting_the_wrong_escrow__reverts(watt, exchange, auction, debtor, stranger):
    exchange.place_order(False, 150_000, 1_000, 0, 0, sender=debtor)
    auction.place_ask(1_000, sender=debtor)
    auction.set_skew(1)
    boa.env.time_travel(seconds=3_000 * DAY)
    past_grace(watt, debtor)
    with boa.reverts("watt: escrow out of sync with asks"):
        watt.release_unpaid(debtor, sender=stranger)
