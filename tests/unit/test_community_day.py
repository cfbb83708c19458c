"""The community-day engine (gridmint.community_day) in-process on titanoboa: a few members, a few slots,
on the slot auction and on the continuous book, then certificates, 24/7 claims and the certificate
market. `make demo` and `make app`'s seed drive the same functions on a node."""

from __future__ import annotations

from types import SimpleNamespace

import boa
import pytest

from gridmint import community_day as engine
from gridmint.community import COMMUNITY, SLOT_S
from tests.utils.meters import domain_of, meter_signer, signed


class _Receipt:
    """ape's receipt shape over boa's last computation: `decode_logs(event name)`, `gas_used`."""

    def __init__(self, logs):
        self.logs, self.gas_used = logs, 1

    def decode_logs(self, event: str) -> list:
        return [e for e in self.logs if type(e).__name__ == event]


class _Handle:
    """ape's call shape over a boa contract: `c.fn(*args, sender=x)` returns a `_Receipt`; `c.EventName`
    is the event's name."""

    def __init__(self, contract):
        self.contract, self.address = contract, contract.address
        self._events = {item["name"] for item in contract.abi if item["type"] == "event"}

    def __getattr__(self, name: str):
        if name in self._events:
            return name
        function = getattr(self.contract, name)

        def invoke(*args, sender=None):
            if sender is None:
                return function(*args)
            function(*args, sender=sender)
            return _Receipt(self.contract.get_logs())

        return invoke


class _Clock:
    """The node calls the engine makes (`w3.provider.make_request`), on boa's clock."""

    def __init__(self):
        self.provider = SimpleNamespace(make_request=self.request)

    def request(self, method: str, params: list):
        if method == "evm_setNextBlockTimestamp":
            boa.env.evm.patch.timestamp = int(params[0])
        elif method == "evm_increaseTime":
            boa.env.time_travel(seconds=int(params[0]))
        elif method != "evm_mine":
            raise AssertionError(method)


class _Sim:
    """Registers that move by a fixed (generated, consumed, exported, imported) Wh per slot and meter."""

    def __init__(self, per_slot: dict[str, tuple[int, int, int, int]]):
        self.per_slot = per_slot
        self.regs = {m: (0, 0, 0, 0) for m in per_slot}

    def counters(self):
        return dict(self.regs)

    def advance(self, when):
        self.regs = {m: tuple(a + b for a, b in zip(self.regs[m], self.per_slot[m])) for m in self.regs}
        return dict(self.regs)


class _Readings:
    """Every slot's readings signed by the meters' keys and submitted at once (every reading credits)."""

    def __init__(self, registry, signers, relayer):
        self.registry, self.signers, self.relayer = registry, {s.address: s for s in signers}, relayer
        self.domain = domain_of(registry.contract)
        self.finished = 0

    def relay(self, ts, counters, credit):
        from oracle.eip712 import Reading

        args, sigs = signed([Reading(m, ts, *regs) for m, regs in counters.items()], self.signers, self.domain)
        self.registry.submit_readings(args, sigs, sender=self.relayer)

    def finish(self):
        self.finished += 1


# a PV-only home, a home without PV, the company with PV and the care home (a company without PV)
MEMBERS = [COMMUNITY[4], COMMUNITY[9], COMMUNITY[17], COMMUNITY[19]]
PER_SLOT = [(3_000, 400, 2_600, 0), (0, 900, 0, 900), (4_000, 6_000, 0, 2_000), (0, 3_000, 0, 3_000)]


@pytest.fixture
def day_setup(system, operator, stranger):
    handles = {f: _Handle(getattr(system, f)) for f in ("tsl", "watt", "registry", "certificate", "quote", "exchange",
                                                        "certificate_exchange", "auction")}
    shaped = SimpleNamespace(**handles)
    # the day starts at the next slot boundary: the auction (deployed with the session's system) has
    # only the slots since its deploy to clear
    t0 = (boa.env.evm.patch.timestamp // SLOT_S + 2) * SLOT_S
    boa.env.evm.patch.timestamp = t0 - 600
    owners = [boa.env.generate_address(f"member-{i}") for i in range(len(MEMBERS))]
    meters = [meter_signer(f"day-{m.name}") for m in MEMBERS]
    sim = _Sim({m.address: d for m, d in zip(meters, PER_SLOT)})
    gas: dict[str, list[int]] = {}
    c = engine.onboard(shaped, MEMBERS, owners, meters, operator, t0 - 600, sim.counters(), engine.spender(gas))
    boa.env.evm.patch.timestamp = t0
    return SimpleNamespace(c=c, t0=t0, sim=sim, gas=gas, readings=_Readings(shaped.registry, meters, stranger))


@pytest.mark.parametrize("market", ["book", "auction"])
def test_a_day__members_trade_inside_the_band__and_the_certificates_are_claimed(day_setup, market):
    s = day_setup
    slots, seen = 4, []
    day = engine.run_day(s.c, _Clock(), s.t0, slots, s.sim, s.readings, market, engine.spender(s.gas),
                         on_slot=seen.append)
    assert seen == [1, 2, 3, 4] and len(day.series) == slots and s.readings.finished == 1
    ex = s.c.system.exchange
    figures = engine.market_figures(s.c, day, s.gas)
    # the home without PV and the companies imported every slot: they bought what the PV home offered
    assert figures["volume_wh"] > 0
    assert ex.floor_price() <= figures["average_price"] <= ex.ceiling_price()
    traded_in_slots = sum(t for *_, t, _p, _s in day.series)
    if market == "book":
        assert traded_in_slots == figures["volume_wh"]
        assert day.trade_count == len(day.trades) > 0 and not day.open_asks  # the day closed its asks
        assert all(not ex.order(i).open for i in range(1, 20) if ex.order(i).owner in s.c.owners)
    else:
        # the slots that ended during the day in the series; the last one cleared after the day
        assert 0 < traded_in_slots <= figures["volume_wh"] == sum(v for *_, v in day.auction.cleared)
        assert figures["slots_cleared"] >= slots and s.gas["auction.clear"]
    # the slot profiles: what the meters moved, slot by slot
    home = s.c.meters[0].address
    assert sorted(day.gen_by_slot[home].values()) == [3_000] * slots
    assert day.consumed_wh(s.c.meters[3].address) == 3_000 * slots

    issued, profiles = engine.issue_certificates(s.c, day, engine.spender(s.gas), profile=True)
    assert set(issued) == {0, 2} and len(profiles) == 2  # the members with PV
    matched, consumed = engine.claim_matching(s.c, day, issued, profiles, engine.spender(s.gas), "15 June")
    (company,) = matched.values()  # the company with PV claims its own generation slot by slot
    assert company.matched_wh == 4_000 * slots and consumed[2] == (6_000 - 4_000) * slots
    cmarket = engine.certificate_market(s.c, issued, consumed, engine.spender(s.gas), "15 June")
    # the PV home offers its whole certificate; the care home buys it for its consumption and claims it
    assert cmarket["certificate_asks"] == 1 and cmarket["certificates_offered_kwh"] == 3 * slots
    assert cmarket["certificates_claimed_market_kwh"] == cmarket["certificates_sold_kwh"] > 0


def test_no_market__readings_only__and_the_day_left_open(day_setup):
    s = day_setup
    day = engine.run_day(s.c, _Clock(), s.t0, 2, s.sim, s.readings, None, close=False)
    assert day.trade_count == 0 and s.readings.finished == 0
    assert s.c.system.watt.balanceOf(s.c.owners[0]) == 2_600 * 2  # exports credited as WATT


def test_an_unknown_market__refused(day_setup):
    with pytest.raises(ValueError, match="market"):
        engine.run_day(day_setup.c, _Clock(), day_setup.t0, 1, day_setup.sim, day_setup.readings, "barter")
