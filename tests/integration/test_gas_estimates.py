"""Gas estimates hold (issue 11, part 6): a transaction sent with the node's `eth_estimateGas` x 1.25
still succeeds when it is mined an hour later, while storage rent accrues by the second.

Each test estimates a member's call right after its accounts were touched (rent owed: nothing yet)
and just after the operator claimed the rent revenue (the revenue slot at its lowest), moves the
chain an hour on with `evm_increaseTime` + `evm_mine`, then sends the call with gas = estimate x
1.25 and asserts it succeeded. WattToken keeps every slot whose zero/non-zero state could depend
on elapsed time non-zero (the revenue's +1 sentinel; an account's side word is written when it
first stores WATT), so the hour costs at most a rent charge's event and a few warm writes."""

from __future__ import annotations

import pytest
from hexbytes import HexBytes

from gridmint.onboarding import commissioning, onboard_meter
from gridmint.system import SystemParams, ape_deployer, deploy_system
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]

HOUR = 3_600
MARGIN_NUM, MARGIN_DEN = 5, 4  # x 1.25
SOLAR = 1


@pytest.fixture(scope="module")
def system(accounts):
    operator = accounts[0]
    system = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=10_000_000))
    system.operator = operator
    return system


@pytest.fixture(scope="module")
def web3(chain):
    return chain.provider.web3


class Members:
    """Funded members made on demand: WATT through a meter export, TSL deposit, quote approved."""

    def __init__(self, system, accounts, chain):
        self.system, self.accounts, self.chain = system, accounts, chain
        self.operator, self.relayer = accounts[0], accounts[1]
        self.domain = domain_from_contract(system.registry)
        self.n = 0
        self.meter_of = {}  # member address -> its feeder meter
        self.exported = {}  # member address -> the meter's exported register, Wh

    def meter(self, owner, accept=True) -> MeterSigner:
        self.n += 1
        meter = MeterSigner(bytes([0x40, self.n]) + b"\x07" * 30)
        installed = commissioning(self.chain.blocks.head.timestamp - 86_400)
        power = self.system.registry.MAX_RATED_POWER_W()  # a later reading may move 300 Wh a second after the last
        onboard_meter(self.system.registry, self.operator, owner, meter.address, SOLAR, power, "PV", installed, accept=accept)
        return meter

    def submit(self, meters_and_counters, sender=None):
        readings, sigs = [], []
        t = self.chain.blocks.head.timestamp
        for meter, exported in meters_and_counters:
            r = Reading(meter.address, t, 0, 0, exported, 0)
            readings.append(r.as_call_arg())
            sigs.append(meter.sign(r, self.domain))
        return self.system.registry.submit_readings(readings, sigs, sender=sender or self.relayer)

    def new(self, wh=0, deposit=10**21, cash=0):
        s = self.system
        member = self.accounts.generate_test_account()
        self.operator.transfer(member, 10**19)
        if deposit:
            s.tsl.mint(member, deposit, sender=self.operator)
            s.tsl.approve(s.watt.address, 2**256 - 1, sender=member)
            s.watt.deposit_rent(deposit, sender=member)
        if cash:
            s.quote.mint(member, cash, sender=self.operator)
        s.quote.approve(s.exchange.address, 2**256 - 1, sender=member)
        if wh:
            self.meter_of[member.address] = self.meter(member)
            self.exported[member.address] = wh
            self.submit([(self.meter_of[member.address], wh)])
        return member


@pytest.fixture
def members(system, accounts, chain):
    return Members(system, accounts, chain)


def estimate(web3, contract, method, args, sender) -> int:
    data = getattr(contract, method).encode_input(*args)
    return web3.eth.estimate_gas({"from": sender.address, "to": str(contract.address), "data": HexBytes(data)})


def an_hour_later(web3):
    web3.provider.make_request("evm_increaseTime", [HOUR])
    web3.provider.make_request("evm_mine", [])


def send_later(web3, contract, method, args, sender, system):
    """Claim the revenue, estimate now, send an hour later with the estimate x 1.25: must succeed."""
    system.watt.claim_rent_revenue(sender=system.operator)
    gas = estimate(web3, contract, method, args, sender)
    an_hour_later(web3)
    limit = gas * MARGIN_NUM // MARGIN_DEN
    tx = getattr(contract, method)(*args, sender=sender, gas=limit)
    assert not tx.failed and tx.gas_used <= limit, (method, gas, tx.gas_used)
    return gas, tx


def test_transfer__estimate_x1_25__mined_an_hour_later(system, members, web3):
    sender, receiver = members.new(wh=5_000), members.new(wh=1_000, deposit=0)  # the receiver pays no rent
    _, tx = send_later(web3, system.watt, "transfer", (receiver, 1_000), sender, system)
    assert len(tx.decode_logs(system.watt.RentCharged)) == 2
    assert system.watt.in_arrears(receiver)


@pytest.mark.parametrize("is_buy", [True, False])
def test_place__estimate_x1_25__mined_an_hour_later(system, members, web3, is_buy):
    member, other = members.new(wh=5_000, cash=10**12), members.new(wh=5_000, cash=10**12)
    # another member on the other side, away from the price: the order rests at a new level
    system.exchange.place_order(not is_buy, 300_000 if is_buy else 100_000, 1_000, 0, 0, sender=other)
    _, tx = send_later(web3, system.exchange, "place_order", (is_buy, 200_000, 2_000, 0, 0), member, system)
    assert len(tx.decode_logs(system.exchange.OrderPlaced)) == 1


def test_take__estimate_x1_25__mined_an_hour_later(system, members, web3):
    seller, buyer = members.new(wh=5_000), members.new(wh=100, cash=10**12)
    system.exchange.place_order(False, 200_000, 2_000, 0, 0, sender=seller)
    _, tx = send_later(web3, system.exchange, "place_order", (True, 200_000, 2_000, 0, 0), buyer, system)
    assert len(tx.decode_logs(system.exchange.Trade)) == 1


def test_take_ioc__seller_runs_dry_in_the_hour__estimate_x1_25_still_holds(system, members, web3):
    """The estimate may see a fill; an hour later the seller is in arrears and its ask closes
    instead (cheaper than a delivery). A GTC bid would then rest, which costs what placing a
    resting order costs: a client that may rest estimates the resting case (docs/rent-and-exchange.md)."""
    # a deposit for about a quarter of an hour of 5 kWh: paid up when it offers, in arrears an hour later
    seller, buyer = members.new(wh=5_000, deposit=2 * 10**14), members.new(wh=100, cash=10**12)
    system.exchange.place_order(False, 200_000, 2_000, 0, 0, sender=seller)
    _, tx = send_later(web3, system.exchange, "place_order", (True, 200_000, 2_000, 0, 1), buyer, system)
    assert [e.reason for e in tx.decode_logs(system.exchange.OrderClosed)] == [7, 4]


def test_cancel__estimate_x1_25__mined_an_hour_later(system, members, web3):
    seller = members.new(wh=5_000)
    tx = system.exchange.place_order(False, 200_000, 2_000, 0, 0, sender=seller)
    (oid,) = [e.order_id for e in tx.decode_logs(system.exchange.OrderPlaced)]  # ids reuse closed orders' words
    send_later(web3, system.exchange, "cancel_order", (oid,), seller, system)


def test_deposit__estimate_x1_25__mined_an_hour_later(system, members, web3):
    member = members.new(wh=5_000, deposit=10**18)
    system.tsl.mint(member, 10**18, sender=members.operator)
    send_later(web3, system.watt, "deposit_rent", (10**18,), member, system)


def test_deposit__member_in_arrears__estimate_x1_25__mined_an_hour_later(system, members, web3):
    member = members.new(wh=5_000, deposit=0)
    system.tsl.mint(member, 10**18, sender=members.operator)
    system.tsl.approve(system.watt.address, 2**256 - 1, sender=member)
    send_later(web3, system.watt, "deposit_rent", (10**18,), member, system)


def test_withdraw__estimate_x1_25__mined_an_hour_later(system, members, web3):
    member = members.new(wh=5_000, deposit=10**18)
    send_later(web3, system.watt, "withdraw_rent", (10**17,), member, system)


def test_accept__estimate_x1_25__mined_an_hour_later(system, members, web3):
    owner = members.new(wh=1_000)
    meter = members.meter(owner, accept=False)
    send_later(web3, system.registry, "accept_meter", (meter.address,), owner, system)


def test_submit_readings__estimate_x1_25__mined_an_hour_later(system, members, web3, chain):
    # four owners who pay rent and four who never deposited: the hour puts those into arrears
    owners = [members.new(wh=1_000) for _ in range(4)] + [members.new(wh=1_000, deposit=0) for _ in range(4)]
    t = chain.blocks.head.timestamp + 1  # after each meter's last reading (blocks may share a second)
    readings, sigs = [], []
    for o in owners:
        meter = members.meter_of[o.address]
        members.exported[o.address] += 300
        r = Reading(meter.address, t, 0, 0, members.exported[o.address], 0)
        readings.append(r.as_call_arg())
        sigs.append(meter.sign(r, members.domain))
    _, tx = send_later(web3, system.registry, "submit_readings", (readings, sigs), members.relayer, system)
    assert len(tx.decode_logs(system.registry.ReadingAccepted)) == 8
    assert len(tx.decode_logs(system.watt.RentCharged)) == 8
