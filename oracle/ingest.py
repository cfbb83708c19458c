"""Ingestion: a source's register values (Wh) -> checks -> meter-key signature -> durable outbox.

    source ──values──▶ Ingestor.process ──checks.refusal──▶ MeterSigner.sign ──▶ Outbox.add / record (fsync)

Only once `process` returned is a sample durable (a source may then acknowledge its input). What
the chain would refuse is refused here, before anything is signed, by the one rule function
`oracle.checks.refusal` that `gridmint-oracle backfill` uses too. A counter that goes down halts
its meter (nothing more is signed for it) until the halt is cleared (`gridmint-oracle unhalt`, for
input the chain never saw) or the meter is re-commissioned.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .checks import COUNTER_DOWN, STALE, ChainRules, falling_register, refusal
from .eip712 import Domain, MeterSigner, Reading
from .metrics import Metrics
from .outbox import Outbox
from .sources.parsers import REGISTERS

log = logging.getLogger("gridmint.oracle")


@dataclass(frozen=True)
class MeterPlan:
    """What the ingestor needs to know of a configured meter: its inputs (devices) and the
    registers each provides, and how often it may sign (s)."""

    inputs: dict[str, tuple[str, ...]]
    min_interval_s: int = 0


def plans_of(meters) -> dict[str, MeterPlan]:
    """The ingestor's view of the configured meters (`oracle.config.MeterConfig`): inputs and their registers."""
    plans = {}
    for m in meters:
        if m.source == "mqtt":
            inputs = {spec.topic: tuple(spec.registers) for spec in m.inputs}
        elif m.source == "p1":
            inputs = {"p1": ("imported_wh", "exported_wh")}
        else:
            continue
        plans[m.address] = MeterPlan(inputs, m.min_interval_s)
    return plans


@dataclass(frozen=True)
class Outcome:
    """What became of one sample. `stored`: it is durable (new, or a copy of a stored one);
    `kind`: why it was refused, or why the reading it completed was not signed (a metric label:
    `stale_sample`, `counter_down`, `meter_halted`, `future`, `implausible`, ...); `detail`: one
    line with units; `halted`: this sample halted the meter; `reading`: the reading signed, if any."""

    stored: bool
    kind: str | None = None
    detail: str = ""
    halted: bool = False
    reading: Reading | None = None


def halt_hint(meter: str, config: str | None = None) -> str:
    """The two ways out of a halt, in words (one line)."""
    command = f"gridmint-oracle unhalt {meter}" + (f" --config {config}" if config else "")
    return (f"if the sample was wrong (a typo, a glitch): `{command}`; if the counter really fell:"
            " re-commission the meter (docs/oracle.md)")


class Ingestor:
    """Turns register values into signed, stored readings. Thread-safe (one lock per meter).

    A meter with several inputs (a grid-meter read head and a PV plug) signs nothing until every
    input has a value, and then a reading each time every input has reported again; each input's
    newest values are stored (with the reading they complete, in one transaction), so a restart
    does not need every device to speak again.

    `rules` are the chain's limits (`oracle.checks.ChainRules`), `clock_s` the time the clock
    check compares with (s; the wall clock, or the chain's time for a backfill). `log_refusals`
    False leaves reporting refusals to the caller (the backfill prints one line per row)."""

    def __init__(
        self, outbox: Outbox, domain: Domain, signers: dict[str, MeterSigner], metrics: Metrics | None = None,
        plans: dict[str, MeterPlan] | None = None, seeds: dict[str, Reading] | None = None,
        rules: ChainRules | None = None, clock_s: Callable[[], float] = time.time, log_refusals: bool = True,
    ):
        self.outbox = outbox
        self.domain = domain
        self.separator = domain.separator
        self.signers = signers
        self.metrics = metrics
        self.plans = plans or {}
        # the chain's view of a meter the outbox has no sample of (its commissioning values)
        self.seeds = seeds or {}
        self.rules = rules or ChainRules()
        self.clock_s = clock_s
        self.log_refusals = log_refusals
        self._locks = {meter: threading.Lock() for meter in signers}
        self._last: dict[str, Reading | None] = {}
        self._inputs: dict[str, dict[str, tuple[int, dict[str, int], bool]]] = {}
        self._halted = set(outbox.halts())
        if metrics:
            for meter in self._halted & set(signers):
                metrics.halted.labels(meter).set(1)

    def refuse(self, source: str, kind: str, detail: str, meter: str | None = None, stored: bool = False) -> Outcome:
        """Logs (unless the caller reports) and counts a refused input."""
        if self.log_refusals:
            log.warning("input refused", extra={"source": source, "kind": kind, "detail": detail, "meter": meter})
        if self.metrics:
            self.metrics.malformed.labels(source, kind).inc()
        return Outcome(stored, kind, detail)

    def last(self, meter: str) -> Reading | None:
        """The newer of the meter's newest stored sample and its seed (the chain's last reading or
        commissioning values): what the next reading must follow."""
        if meter not in self._last:
            found = [r for r in (self.outbox.last_sample(meter), self.seeds.get(meter)) if r is not None]
            self._last[meter] = max(found, key=lambda r: r.timestamp) if found else None
        return self._last[meter]

    def halted(self, meter: str) -> bool:
        return meter in self._halted

    def _still_halted(self, meter: str) -> bool:
        """A halt cleared in the outbox (`gridmint-oracle unhalt` while the daemon runs) resumes the
        meter: what was cached of it is read again."""
        if meter in self.outbox.halts():
            return True
        self._halted.discard(meter)
        self._last.pop(meter, None)
        self._inputs.pop(meter, None)
        log.info("meter resumed: its halt was cleared", extra={"meter": meter})
        if self.metrics:
            self.metrics.halted.labels(meter).set(0)
        return False

    def _halt(self, meter, input_id, register, was, now, ts, source) -> Outcome:
        self.outbox.halt(meter, input_id, register, was, now, ts)
        self._halted.add(meter)
        detail = f"{register} fell {was} -> {now} Wh"
        if self.log_refusals:
            log.error(
                "counter went down: meter HALTED, nothing more is signed for it; " + halt_hint(meter),
                extra={"meter": meter, "input": input_id, "register": register, "was_wh": was, "now_wh": now,
                       "source": source},
            )
        if self.metrics:
            self.metrics.malformed.labels(source, "counter_down").inc()
            self.metrics.halted.labels(meter).set(1)
        return Outcome(False, "counter_down", detail, halted=True)

    def ingest(
        self, meter: str, values: dict[str, int], source: str, timestamp: int | None = None,
        input_id: str | None = None,
    ) -> bool:
        """`process`, answering only whether the sample is durable (True also for a duplicate of a
        stored sample, False if it was refused: logged and counted)."""
        return self.process(meter, values, source, timestamp, input_id).stored

    def process(
        self, meter: str, values: dict[str, int], source: str, timestamp: int | None = None,
        input_id: str | None = None,
    ) -> Outcome:
        """Stores one sample and signs the reading it completes, unless the chain would refuse it.

        `timestamp` is the device's own time (unix seconds); without one the sample is stamped
        with the wall clock, at least one second after the meter's and the input's previous one.
        `input_id` names the device of a configured multi-input meter; without it `values` update
        the registers they name and the others keep their last value."""
        if meter not in self.signers:
            return self.refuse(source, "unknown_meter", f"no key for {meter}")
        unknown = set(values) - set(REGISTERS)
        if unknown:
            return self.refuse(source, "bad_value", f"unknown register {sorted(unknown)[0]}", meter)
        plan = self.plans.get(meter)
        if plan is not None and input_id not in plan.inputs:
            plan = None  # a full reading from elsewhere (backfill) for a configured meter
        with self._locks[meter]:
            if meter in self._halted and self._still_halted(meter):
                return self.refuse(source, "meter_halted", "the meter is halted: a counter went down; " + halt_hint(meter),
                                   meter)
            if plan is None:
                outcome = self._full_sample(meter, values, source, timestamp)
            else:
                outcome = self._input_sample(meter, plan, input_id, values, source, timestamp)
        if self.metrics and outcome.reading is not None:
            self.metrics.signed.inc()
        return outcome

    def _stamp(self, prev: Reading | None, old_ts: int | None) -> int:
        floor = max((prev.timestamp + 1) if prev else 0, (old_ts + 1) if old_ts is not None else 0)
        return max(int(time.time()), floor)

    def _full_sample(self, meter, values, source, timestamp) -> Outcome:
        """A sample that is a whole reading (simulator, backfill): the registers it omits keep their last value."""
        prev = self.last(meter)
        base = dict(zip(REGISTERS, prev[2:] if prev else (0, 0, 0, 0)))
        timestamp = self._stamp(prev, None) if timestamp is None else int(timestamp)
        reading = Reading(meter, timestamp, *(values.get(r, base[r]) for r in REGISTERS))
        why = refusal(reading, prev, self.rules, int(self.clock_s()))
        if why is not None and why.reason == STALE:
            # at or before the newest sample: a redelivered or replayed copy is already durable
            if self.outbox.has(reading):
                return Outcome(True)
            return self.refuse(source, "stale_sample", why.detail, meter)
        if why is not None and why.reason == COUNTER_DOWN:
            return self._halt(meter, None, why.register, why.was_wh, why.now_wh, timestamp, source)
        if why is not None:
            return self.refuse(source, why.name, why.detail, meter)
        signature = self.signers[meter].sign(reading, self.domain, self.separator)
        self.outbox.add(reading, signature, source)
        self._last[meter] = reading
        return Outcome(True, reading=reading)

    def _input_sample(self, meter, plan: MeterPlan, input_id, values, source, timestamp) -> Outcome:
        """One device's registers of a multi-input meter: stored; signed once every input reported again."""
        prev = self.last(meter)
        base = dict(zip(REGISTERS, prev[2:] if prev else (0, 0, 0, 0)))
        inputs = self._inputs_of(meter)
        old = inputs.get(input_id)
        timestamp = self._stamp(prev, old[0] if old else None) if timestamp is None else int(timestamp)
        if old is not None and timestamp <= old[0]:
            if timestamp == old[0] and all(old[1].get(r) == v for r, v in values.items()):
                return Outcome(True)  # a redelivered copy: already durable
            return self.refuse(source, "stale_sample", f"{input_id}: time {timestamp} <= {old[0]}", meter)
        fell = falling_register(values, old[1]) if old is not None else None
        if fell is not None:
            return self._halt(meter, input_id, *fell, timestamp, source)
        fell = falling_register(values, base)
        if fell is not None:
            if prev is not None and timestamp <= prev.timestamp:
                # measured before the last reading (or the commissioning): old news, not a reset
                return self.refuse(source, "stale_sample", f"{fell[0]} at {timestamp} predates the last reading", meter)
            return self._halt(meter, input_id, *fell, timestamp, source)
        registers = dict(base)
        inputs = {**inputs, input_id: (timestamp, dict(values), True)}
        # every device has reported since the last reading: each register then advances by one
        # report of its own device, never by a stale one squeezed into a short interval
        complete = all(name in inputs and inputs[name][2] for name in plan.inputs)
        for name in plan.inputs:
            if name in inputs:
                registers.update({r: inputs[name][1][r] for r in plan.inputs[name] if r in inputs[name][1]})
        # every register was measured at or before the newest input's time: never ahead of it
        reading_ts = max(inputs[name][0] for name in plan.inputs if name in inputs)
        due = prev is None or reading_ts > prev.timestamp
        if prev is not None and plan.min_interval_s:
            due = due and reading_ts >= prev.timestamp + plan.min_interval_s
        reading = signature = None
        held = None
        if complete and due:
            reading = Reading(meter, reading_ts, *(registers[r] for r in REGISTERS))
            why = refusal(reading, prev, self.rules, int(self.clock_s()))
            if why is None:
                signature = self.signers[meter].sign(reading, self.domain, self.separator)
            else:
                # not signed; the inputs stay "reported", so a later report signs with a longer interval
                held, reading = why, None
        self.outbox.record(meter, input_id, timestamp, values, reading, signature, source)
        if reading is not None:
            inputs = {name: (ts, regs, False) for name, (ts, regs, _fresh) in inputs.items()}
            self._last[meter] = reading
        self._inputs[meter] = inputs
        missing = sorted(set(plan.inputs) - set(inputs))
        if missing:
            log.info("waiting for every input of the meter before signing",
                     extra={"meter": meter, "input": input_id, "missing": ",".join(missing)})
        if held is not None:
            return self.refuse(source, held.name, held.detail, meter, stored=True)
        return Outcome(True, reading=reading)

    def _inputs_of(self, meter: str) -> dict[str, tuple[int, dict[str, int], bool]]:
        if meter not in self._inputs:
            self._inputs[meter] = self.outbox.inputs_of(meter)
        return self._inputs[meter]
