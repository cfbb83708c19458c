"""A random driver of the whole system on titanoboa, shared by the auditor's in-process tests
(imported as `tests.unit.audit.driver` everywhere, so the contracts compile once per process)."""

from __future__ import annotations

import random

import boa

from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer
from oracle.eip712 import Reading
from tests.utils.meters import domain_of, meter_signer, submit_one

OPERATOR = boa.env.generate_address("audit-operator")
OWNERS = [boa.env.generate_address(f"audit-owner-{i}") for i in range(4)]
NOTICE = 3_600
PARAMS = SystemParams(capacity_wh=60_000, notice_s=NOTICE, rent_rate=3_479_000_000_000_000 * 5,
                      max_rent_rate=3_479_000_000_000_000 * 100, rent_grace_period_s=3 * 86_400,
                      min_rent_grace_period_s=3 * 86_400, claim_window_s=365 * 86_400, cert_min_order_wh=100)
_DEPLOY = boa_deployer(OPERATOR)  # compiled once per process
T0 = 1_781_500_000  # 2026-06-15, chain time of each run


class Driver:
    """Random actions; a call that reverts is skipped (it leaves no log)."""

    def __init__(self, system, rng: random.Random):
        self.s, self.rng = system, rng
        self.domain = domain_of(system.registry)
        self.meters = []
        self.regs: dict[str, list[int]] = {}
        self.certs: list[int] = []
        for i, owner in enumerate(OWNERS):
            m = meter_signer(f"audit-meter-{i}")
            onboard_meter(system.registry, OPERATOR, owner, m.address, 1 if i < 3 else 0, 20_000, f"site {i}",
                          Registers(boa.env.timestamp, 0, 0, 0, 0))
            self.meters.append((m, owner))
            self.regs[m.address] = [0, 0, 0, 0]
            system.tsl.mint(owner, 10**22, sender=OPERATOR)
            system.tsl.approve(system.watt.address, 2**255, sender=owner)
            if i:  # the first owner keeps no deposit: it falls into arrears and its storage can be released
                system.watt.deposit_rent(10**19, sender=owner)
            system.quote.mint(owner, 10**12, sender=OPERATOR)
            system.quote.approve(system.exchange.address, 2**255, sender=owner)
            system.quote.approve(system.certificate_exchange.address, 2**255, sender=owner)
            system.certificate.setApprovalForAll(system.certificate_exchange.address, True, sender=owner)

    def step(self) -> None:
        action = self.rng.choice([self.reading] * 5 + [self.deposit, self.withdraw_rent, self.ask, self.bid,
                                  self.bid, self.cancel, self.withdraw, self.deposit_quote, self.issue, self.claim, self.cert_ask,
                                  self.cert_bid, self.time, self.release, self.fees, self.transfer])
        try:
            action()
        except boa.BoaError:
            pass

    def owner(self):
        return self.rng.choice(OWNERS)

    def reading(self):
        boa.env.time_travel(seconds=self.rng.choice([1_800, 1_800, 3_600]))
        m, owner = self.rng.choice(self.meters)
        regs = self.regs[m.address]
        gen = self.rng.randrange(0, 8_000) if m.address != self.meters[3][0].address else 0
        exp = self.rng.randrange(0, gen + 1)
        imp = self.rng.choice([0, 0, 0, self.rng.randrange(0, 1_500)])
        deltas = [gen, self.rng.randrange(0, 2_000), exp, imp]
        new = [r + d for r, d in zip(regs, deltas)]
        r = Reading(m.address, boa.env.timestamp, *new)
        accepted = submit_one(self.s.registry, m, r, self.domain)
        if accepted:
            self.regs[m.address] = new

    def deposit(self):
        self.s.watt.deposit_rent(self.rng.choice([10**15, 10**17, 10**18]), sender=self.owner())

    def withdraw_rent(self):
        o = self.owner()
        self.s.watt.withdraw_rent(self.s.watt.rent_deposit(o) // 2, sender=o)

    def ask(self):
        o = self.owner()
        amount = self.s.watt.balanceOf(o) // self.rng.choice([1, 2, 3])
        self.s.exchange.place_order(False, self.rng.choice([100_000, 120_000, 150_000]), amount, 0, 0, sender=o)

    def bid(self):
        self.s.exchange.place_order(True, self.rng.choice([100_000, 120_000, 150_000]),
                                    self.rng.choice([500, 1_000, 2_500]), 0, self.rng.choice([0, 0, 1]),
                                    sender=self.owner())

    def cancel(self):
        for name in ("exchange", "certificate_exchange"):
            o = self.owner()
            ids = getattr(self.s, name).open_orders(o)
            if ids:
                getattr(self.s, name).cancel_order(self.rng.choice(ids), sender=o)

    def deposit_quote(self):
        # a trader's balance on the energy market: its bids pay out of it before the wallet
        self.s.exchange.deposit_quote(self.rng.choice([10**5, 10**6]), sender=self.owner())

    def withdraw(self):
        o = self.owner()
        market = self.rng.choice([self.s.exchange, self.s.certificate_exchange])
        market.withdraw_proceeds(market.proceeds_of(o), sender=o)

    def issue(self):
        m, owner = self.rng.choice(self.meters[:3])
        self.certs.append(self.s.certificate.issue(m.address, sender=owner))

    def claim(self):
        if self.certs:
            o, cid = self.owner(), self.rng.choice(self.certs)
            held = self.s.certificate.balanceOf(o, cid)
            self.s.certificate.claim(cid, max(held // 2, 1), OWNERS[3], "audit test", sender=o)

    def transfer(self):
        if self.certs:
            o, cid = self.owner(), self.rng.choice(self.certs)
            self.s.certificate.safeTransferFrom(o, self.owner(), cid, self.s.certificate.balanceOf(o, cid) // 3, b"",
                                                sender=o)
        else:
            o = self.owner()
            self.s.watt.transfer(self.owner(), self.s.watt.balanceOf(o) // 4, sender=o)

    def cert_ask(self):
        if self.certs:
            o, cid = self.owner(), self.rng.choice(self.certs)
            held = self.s.certificate.balanceOf(o, cid)
            self.s.certificate_exchange.place_ask(cid, self.rng.choice([1_000, 2_000]), held, 0, 0, sender=o)

    def cert_bid(self):
        if self.certs:
            method, vintage = self.s.certificate_exchange.class_of(self.rng.choice(self.certs))
            if self.rng.random() < 0.3:
                self.s.certificate_exchange.buy_and_claim(method, vintage, 2_000, 500, OWNERS[3], "buy and claim",
                                                          sender=self.owner())
            else:
                self.s.certificate_exchange.place_bid(method, vintage, self.rng.choice([1_000, 2_000]), 1_000, 0, 0,
                                                      sender=self.owner())

    def time(self):
        boa.env.time_travel(seconds=self.rng.choice([3_600, 86_400, 4 * 86_400]))
        self.s.watt.settle_rent(self.owner())

    def release(self):
        self.s.watt.release_unpaid(self.owner())

    def fees(self):
        self.s.exchange.announce_fees(self.rng.choice([5, 10, 30]), self.rng.choice([5, 20, 40]), sender=OPERATOR)
        boa.env.time_travel(seconds=NOTICE)
        self.s.exchange.apply_fees(sender=OPERATOR)
