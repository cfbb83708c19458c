"""A synthetic community year in the contracts' real event shapes, for the auditor's performance
figure and its scaled-down tests.

    python -m gridmint.audit.synthetic --meters 1000 --days 365     # the full year (by hand)

Every 30 minutes each meter's reading is credited in a `submit_readings` batch of 64 (one block per
slot); the WATT flows follow WattToken's rules (rent settled first, mint up to capacity, burn from the
free balance, GridExport/GridImport for the rest); every hour a few members sell on the energy
market and others buy (OrderPlaced, Escrowed, Trade, EscrowDelivered, Transfer, RentCharged as the
contracts log them). Each ask rests and a bid of the same size then takes it whole: neither logs an
`OrderClosed`, as the order books say each thing once (the `Trade`'s `maker_left` 0 closes the ask,
which has nothing to give back; the bid's one `Trade` adds up to its `OrderPlaced` amount). At each
month's end every solar meter is certified and a share of it claimed. Generation is the pvlib
clear-sky energy of each meter's panels times one cloudiness per slot shared by the community (with
a little per-site noise), so honest meters pass the plausibility checks; `ghosts` meters instead
report the clear-sky profile through the clouds.

Events are produced one day at a time; `run()` times the recompute of each day apart from its
generation, and the plausibility analysis at the end.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

import numpy as np

from .config import AuditConfig
from .events import Event
from .plausibility import Plausibility, clear_sky
from ..market import bps, quote_for
from .recompute import ZERO, Ledger, rent_charge

RATE = 3_479_000_000_000_000  # TSL base units per kWh per day (the default rent)
FEES = (10, 20)  # maker, taker bps
BAND = (80_000, 350_000)
SLOT_S = 1_800
BATCH = 64
ADDR = {"WattToken": "0x" + "a" * 40, "StorageRentToken": "0x" + "b" * 40, "MeterRegistry": "0x" + "c" * 40,
        "EnvironmentalCertificate": "0x" + "d" * 40, "EnergyExchange": "0x" + "e" * 40,
        "CertificateExchange": "0x" + "f" * 40}


def _addr(kind: int, i: int) -> str:
    return f"0x{kind:02x}{i:038x}"


@dataclass
class _Acct:
    balance: int = 0
    escrow: int = 0
    deposit: int = 0
    arrears: int = 0
    snap: int = 0


class SyntheticChain:
    def __init__(self, meters: int = 1_000, start: int = 1_767_225_600, seed: int = 1, ghosts: int = 0,
                 trades_per_hour: int = 3):
        self.rng = random.Random(seed)
        self.start = start - start % 86_400  # a UTC midnight
        self.n = meters
        self.ghosts = ghosts
        self.trades_per_hour = trades_per_hour
        self.block = 0
        self.ts = self.start
        self.accts: dict[str, _Acct] = {}
        self.supply = 0
        self.capacity = 10_000_000_000  # 10 GWh: the synthetic battery takes every export
        self.start_clock = self.start
        self.order_id = 1
        self.cert_id = 1
        self.out: list[Event] = []
        self._log = 0
        self._tx = ""
        self.kwp = [self.rng.choice([0, 0, 4, 6, 8, 10, 12, 30, 60]) for _ in range(meters)]
        self.owners = [_addr(1, i) for i in range(meters)]
        self.meters = [_addr(2, i) for i in range(meters)]
        self.regs = [[0, 0, 0, 0] for _ in range(meters)]
        self.last_ts = [self.start] * meters
        self.pending = [0] * meters
        self.period_start = [self.start] * meters
        self.load_kw = [self.rng.uniform(0.2, 0.8) * max(1.0, k / 8) for k in self.kwp]

    # ---- low level
    def _new_block(self, ts: int) -> None:
        self.block += 1
        self.ts = ts
        self._log = 0

    def _new_tx(self) -> None:
        self._tx = f"0x{self.block:032x}{self._log:032x}"

    def _emit(self, contract: str, name: str, args: dict) -> None:
        self.out.append(Event(contract, name, args, self.block, self._log, self._tx, self.ts))
        self._log += 1

    def _index(self) -> int:
        # WattToken's rent index: RATE x seconds since the clock started (the deploy block)
        return RATE * (self.ts - self.start_clock)

    def _settle(self, a: str) -> _Acct:
        acct = self.accts.setdefault(a, _Acct())
        idx = self._index()
        stored = acct.balance + acct.escrow
        if stored:
            owed = rent_charge(stored, idx - acct.snap)
            if owed:
                paid = min(owed, acct.deposit)
                acct.deposit -= paid
                acct.arrears += owed - paid
                self._emit("WattToken", "RentCharged", {"account": a, "paid": paid, "unpaid": owed - paid})
        acct.snap = idx & (2**96 - 1)
        return acct

    # ---- setup
    def setup(self) -> list[Event]:
        self._new_block(self.start - 3_600)
        self._new_tx()
        self._emit("WattToken", "UpdateCapacity", {"capacity_wh": self.capacity})
        self._emit("WattToken", "UpdateRentRate", {"rent_rate": RATE})
        for market in ("EnergyExchange", "CertificateExchange"):
            self._new_tx()
            self._emit(market, "UpdatePriceBand", {"floor_price": BAND[0] if market == "EnergyExchange" else 100,
                                                   "ceiling_price": BAND[1] if market == "EnergyExchange" else 20_000})
            self._emit(market, "UpdateMinOrder", {"min_order_wh": 100})
            self._emit(market, "UpdateFees", {"maker_fee_bps": FEES[0], "taker_fee_bps": FEES[1]})
        self.start_clock = self.ts
        for i in range(self.n):
            self._new_tx()
            method = 1 if self.kwp[i] else 0
            rated = max(int(self.kwp[i] * 1000), 30_000)
            self._emit("MeterRegistry", "MeterRegistered", {
                "meter": self.meters[i], "owner": self.owners[i], "method": method, "rated_power_w": rated,
                "name": f"site {i}", "commissioned_at": self.start, "generated_wh": 0, "consumed_wh": 0,
                "exported_wh": 0, "imported_wh": 0})
            self._new_tx()
            self._emit("MeterRegistry", "MeterAccepted", {"meter": self.meters[i], "owner": self.owners[i]})
            # a year of rent paid up front (TSL minted by the operator, deposited)
            deposit = 10**21
            self._new_tx()
            self._emit("StorageRentToken", "Transfer", {"sender": ZERO, "receiver": self.owners[i], "value": deposit})
            self._new_tx()
            self.accts.setdefault(self.owners[i], _Acct()).deposit += deposit
            self._emit("WattToken", "RentDeposited", {"account": self.owners[i], "amount": deposit, "arrears_paid": 0})
            self._emit("StorageRentToken", "Transfer", {"sender": self.owners[i], "receiver": ADDR["WattToken"],
                                                       "value": deposit})
        out, self.out = self.out, []
        return out

    # ---- a day
    def day(self, d: int, cs_kwh_per_kw: np.ndarray) -> list[Event]:
        """Events of day `d` (0-based); `cs_kwh_per_kw` is the clear-sky energy per kW per slot of the day."""
        cloud = self._clouds()
        for s in range(48):
            t = self.start + d * 86_400 + (s + 1) * SLOT_S
            self._new_block(t)
            for b in range(0, self.n, BATCH):
                self._new_tx()
                for i in range(b, min(b + BATCH, self.n)):
                    self._reading(i, t, cs_kwh_per_kw[s], cloud[s])
            if s % 2 == 1:
                for _ in range(self.trades_per_hour):
                    self._trade()
        if (d + 1) % 30 == 0:
            self._certify()
        out, self.out = self.out, []
        return out

    def _clouds(self) -> list[float]:
        sunny = self.rng.random()
        level = 0.3 + 0.7 * sunny
        out = []
        for _ in range(48):
            level = min(1.0, max(0.05, level + self.rng.gauss(0, 0.08)))
            out.append(level)
        return out

    def _reading(self, i: int, t: int, cs: float, cloud: float) -> None:
        kwp = self.kwp[i]
        share = 1.0 if i < self.ghosts else cloud * self.rng.uniform(0.95, 1.0)
        gen = int(kwp * 1000 * cs * 0.8 * share)
        hour = (t // 3_600) % 24
        cons = int(self.load_kw[i] * 1000 * 0.5 * (1.6 if 6 <= hour <= 21 else 0.6) * self.rng.uniform(0.7, 1.3))
        exp, imp = max(gen - cons, 0), max(cons - gen, 0)
        regs = self.regs[i]
        regs[0] += gen
        regs[1] += cons
        regs[2] += exp
        regs[3] += imp
        owner = self.owners[i]
        self._emit("MeterRegistry", "ReadingAccepted", {
            "meter": self.meters[i], "owner": owner, "timestamp": t, "generated_wh": gen, "consumed_wh": cons,
            "exported_wh": exp, "imported_wh": imp})
        self.last_ts[i] = t
        if kwp:
            self.pending[i] += gen
        if exp or imp:
            acct = self._settle(owner)
            minted = min(exp, self.capacity - self.supply)
            acct.balance += minted
            burned = min(imp, acct.balance)
            acct.balance -= burned
            self.supply += minted - burned
            if minted:
                self._emit("WattToken", "Transfer", {"sender": ZERO, "receiver": owner, "value": minted})
            if burned:
                self._emit("WattToken", "Transfer", {"sender": owner, "receiver": ZERO, "value": burned})
            if minted < exp:
                self._emit("MeterRegistry", "GridExport", {"owner": owner, "wh": exp - minted})
            if burned < imp:
                self._emit("MeterRegistry", "GridImport", {"owner": owner, "wh": imp - burned})

    def _trade(self) -> None:
        seller = self.owners[self.rng.randrange(self.n)]
        buyer = self.owners[self.rng.randrange(self.n)]
        acct = self.accts.get(seller)
        if seller == buyer or acct is None or acct.balance < 1_000 or acct.arrears:
            return
        amount = self.rng.randrange(500, acct.balance // 2 + 501)
        price = self.rng.randrange(BAND[0] // 100, BAND[1] // 100 + 1) * 100
        ask = self.order_id
        self.order_id += 1
        self._new_tx()
        self._emit("EnergyExchange", "OrderPlaced", {"order_id": ask, "owner": seller, "is_buy": False, "price": price,
                                                     "amount_wh": amount, "expires_at": 2**40 - 1})
        a = self._settle(seller)
        a.balance -= amount
        a.escrow += amount
        self._emit("WattToken", "Escrowed", {"account": seller, "wh": amount})
        bid = self.order_id
        self.order_id += 1
        self._new_tx()
        self._emit("EnergyExchange", "OrderPlaced", {"order_id": bid, "owner": buyer, "is_buy": True, "price": price,
                                                     "amount_wh": amount, "expires_at": 2**40 - 1})
        q = quote_for(amount, price)
        maker_fee, taker_fee = bps(q, FEES[0]), bps(q, FEES[1])
        self._emit("EnergyExchange", "Trade", {"maker_order_id": ask, "taker_order_id": bid, "maker": seller,
                                               "price": price, "amount_wh": amount,
                                               "fee": maker_fee + taker_fee, "maker_left": 0})
        # the ask filled has nothing to give back and the bid taker is filled in full: no OrderClosed
        # (order_book.vy: `Trade`'s maker_left 0 says the first, the Trades adding up to OrderPlaced the second)
        # WATT.settle_escrow(buyer, [seller | amount]): the buyer is settled once, at the end (its stored
        # energy is unchanged until then: seller != buyer)
        s = self._settle(seller)
        s.escrow -= amount
        self._emit("WattToken", "EscrowDelivered", {"seller": seller, "buyer": buyer, "wh": amount})
        self._emit("WattToken", "Transfer", {"sender": seller, "receiver": buyer, "value": amount})
        self._settle(buyer).balance += amount

    def _certify(self) -> None:
        for i in range(self.n):
            wh = self.pending[i]
            if not wh:
                continue
            self._new_tx()
            start, end = self.period_start[i], self.last_ts[i]
            self._emit("MeterRegistry", "CertifiableTaken", {"meter": self.meters[i], "wh": wh, "period_start": start,
                                                             "period_end": end})
            cid = self.cert_id
            self.cert_id += 1
            self._emit("EnvironmentalCertificate", "CertificateIssued", {
                "id": cid, "meter": self.meters[i], "generator": self.owners[i], "method": 1, "period_start": start,
                "period_end": end, "amount_wh": wh})
            self._emit("EnvironmentalCertificate", "TransferSingle", {
                "_operator": ADDR["EnvironmentalCertificate"], "_from": ZERO, "_to": self.owners[i], "_id": cid,
                "_value": wh})
            self.pending[i] = 0
            self.period_start[i] = end
            claim = wh // 3
            if claim:
                self._new_tx()
                self._emit("EnvironmentalCertificate", "TransferSingle", {
                    "_operator": self.owners[i], "_from": self.owners[i], "_to": ZERO, "_id": cid, "_value": claim})
                self._emit("EnvironmentalCertificate", "Claimed", {
                    "claimer": self.owners[i], "beneficiary": self.owners[(i + 1) % self.n], "id": cid,
                    "amount": claim, "purpose": "synthetic"})


def run(meters: int = 1_000, days: int = 365, seed: int = 1, ghosts: int = 0, progress: bool = False) -> dict:
    """Generates and audits the synthetic year; returns the figures (seconds, events, findings)."""
    chain = SyntheticChain(meters, seed=seed, ghosts=ghosts)
    config = AuditConfig()
    cs, _ = clear_sky(config, chain.start // SLOT_S, days * 48)
    plausibility = Plausibility(config)
    ledger = Ledger({k: v for k, v in ADDR.items()}, on_reading=plausibility.on_reading)
    # wall-clock and CPU seconds apart: on a shared machine the CPU time is the figure that repeats
    t_gen = t_fold = c_fold = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    ledger.apply_all(chain.setup())
    t_fold += time.perf_counter() - t0
    c_fold += time.process_time() - c0
    for d in range(days):
        t0 = time.perf_counter()
        events = chain.day(d, cs[d * 48:(d + 1) * 48])
        t1, c1 = time.perf_counter(), time.process_time()
        ledger.apply_all(events)
        t2, c2 = time.perf_counter(), time.process_time()
        t_gen += t1 - t0
        t_fold += t2 - t1
        c_fold += c2 - c1
        if progress and d % 10 == 0:
            print(f"day {d}: {ledger.events:,} events, fold {t_fold:.1f} s ({c_fold:.1f} s CPU), "
                  f"generate {t_gen:.1f} s", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    ledger.finish()
    t_finish = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    plausibility.analyse()
    t_plaus = time.perf_counter() - t1
    c_rest = time.process_time() - c0
    recompute_s = t_fold + t_finish + t_plaus
    recompute_cpu_s = c_fold + c_rest
    return {
        "meters": meters, "days": days, "events": ledger.events, "readings": plausibility.readings,
        "trades": ledger.markets["EnergyExchange"].trades, "certificates": len(ledger.certificates),
        "generate_s": round(t_gen, 1), "fold_s": round(t_fold, 1), "finish_s": round(t_finish, 1),
        "plausibility_s": round(t_plaus, 1), "recompute_s": round(recompute_s, 1),
        "recompute_events_per_s": round(ledger.events / recompute_s) if recompute_s else 0,
        "recompute_cpu_s": round(recompute_cpu_s, 1),
        "recompute_events_per_cpu_s": round(ledger.events / recompute_cpu_s) if recompute_cpu_s else 0,
        "invariant_findings": len(ledger.findings),
        "plausibility_findings": sum(plausibility.counts.values()),
        "flagged_meters": sorted({m for m, _ in plausibility.counts}),
        "findings": ledger.findings[:10],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--meters", type=int, default=1_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ghosts", type=int, default=0)
    args = p.parse_args(argv)
    figures = run(args.meters, args.days, args.seed, args.ghosts, progress=True)
    for k, v in figures.items():
        if k != "flagged_meters" or len(v) < 20:
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
