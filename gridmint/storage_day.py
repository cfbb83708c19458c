"""The shared battery's days on chain (issue 26): the relay's daily settlement, the members' discharge
claims, the battery's status, and the demo's storage day.

    chain = StorageChain.of_system(system, w3)             # or StorageChain(w3, handles, record.contracts, deploy_block)
    settled = settle_through(chain, day, sender)            # the relay's daily job (every unsettled day up to `day`)
    claimed = claim_discharges(chain, meter, sender)        # a member: every unclaimed settled day
    status = battery_status(chain); night = member_day(chain, meter, day)

What is sent is built by gridmint/storage_ledger.py from the chain's events with gridmint/storage_green.py
(the reference); nothing here restates a rule. `sender` is a gridmint/cli/sender.py `Sender` (or anything
with its `send(method, *args, what=...)`): every transaction is simulated for the block it lands in,
then sent; a refusal is one line. Contract handles have ape's call shape (`c.fn(*args)` reads).

When a day can be settled. StorageLedger checks only that the day has ended; the relay also waits until
no reading stamped in the day can still be accepted, or a late reading's flows would never be settled:
a day is final once every active meter's last accepted reading lies at or after the day's end (a
reading must be newer than the last one), or once MeterRegistry's MAX_CREDIT_LAG_S has passed since the
day's end (an older reading is rejected as too late). Days are settled in order; a day without any
flow is skipped (the ledger allows it). Before the first settlement the relay starts at `first_day`
(default: the day asked for). It starts from the chain's queue (`lots()`, checked against
`content_wh()`), so it reads only the days it settles; a batch of takes already recorded for a day (a
relay that died between transactions) is not recorded twice.

Units: Wh, seconds of chain time, days of 86,400 s (UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from eth_utils import event_abi_to_log_topic

from gridmint.audit.events import Decoder, Event
from gridmint.storage_green import Lot
from gridmint.storage_ledger import (
    DAY_S,
    DayClaims,
    DaySettlement,
    FlowLog,
    battery_with_content,
    batches,
    day_claims,
    day_of,
    first_slot_of,
    settle_day,
    slots_per_day,
    take_word,
)
from gridmint.units import kwh, when

LEDGER, REGISTRY, WATT, CERTIFICATE = "StorageLedger", "MeterRegistry", "WattToken", "EnvironmentalCertificate"
FLOW_EVENTS = {REGISTRY: ("ReadingAccepted", "GridExport", "GridImport"), WATT: ("StorageReleased",)}
METER_EVENTS = {REGISTRY: ("MeterRegistered", "MeterKeyRotated")}
MAX_TAKES = 256  # record_charges' DynArray[uint256, 256]
PAGE_BLOCKS = 10_000


class StorageRefused(ValueError):
    """Why nothing was sent, in one line for a person (the CLI shows it as its error)."""


def abi_of(handle) -> list[dict]:
    """A handle's ABI as JSON dicts (ape's ContractInstance, or anything with `.abi`)."""
    contract_type = getattr(handle, "contract_type", None)
    if contract_type is not None:
        return [item.model_dump(mode="json", by_alias=True) for item in contract_type.abi]
    return list(handle.abi)


def _date(day: int) -> str:
    return datetime.fromtimestamp(day * DAY_S, timezone.utc).strftime("%Y-%m-%d") if day >= 0 else str(day)


def day_label(day: int) -> str:
    """ "day 20619 (2026-06-15 UTC)"."""
    return f"day {day} ({_date(day)} UTC)"


@dataclass
class StorageChain:
    """The node, the four contracts the storage jobs touch, and their events."""

    w3: Any
    handles: dict[str, Any]  # contract name -> handle with ape's call shape
    contracts: dict[str, dict]  # contract name -> {"address", "abi"} (the deployment record's entries)
    start_block: int = 0  # the deployment's first block: events are read from here at the earliest
    _decoder: Decoder | None = field(default=None, repr=False)
    _times: dict[int, int] = field(default_factory=dict, repr=False)

    @classmethod
    def of_system(cls, system, w3, start_block: int = 0) -> StorageChain:
        handles = {name: h for name, h in system.contracts().items() if name in (LEDGER, REGISTRY, WATT, CERTIFICATE)}
        if LEDGER not in handles:
            raise StorageRefused("this deployment has no StorageLedger")
        contracts = {name: {"address": str(h.address), "abi": abi_of(h)} for name, h in handles.items()}
        return cls(w3, handles, contracts, start_block)

    ledger = property(lambda self: self.handles[LEDGER])
    registry = property(lambda self: self.handles[REGISTRY])

    @property
    def address(self) -> str:
        return str(self.ledger.address)

    @property
    def slot_s(self) -> int:
        return int(self._read_once("SLOT_S"))

    @property
    def eta_ppm(self) -> int:
        return int(self._read_once("ETA_PPM"))

    def _read_once(self, name: str):
        key = f"_ledger_{name}"
        if key not in self.__dict__:
            self.__dict__[key] = getattr(self.ledger, name)()
        return self.__dict__[key]

    # ---------------------------------------------------------------- the node

    def _rpc(self, method: str, params: list):
        reply = self.w3.provider.make_request(method, params)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply["result"]

    def head(self) -> int:
        return int(self._rpc("eth_blockNumber", []), 16)

    def time_of(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = int(self._rpc("eth_getBlockByNumber", [hex(block), False])["timestamp"], 16)
        return self._times[block]

    def now(self) -> int:
        """The latest block's time (s)."""
        return self.time_of(self.head())

    def block_at(self, ts: int) -> int:
        """The first block at or after time `ts` (the head + 1 when none is)."""
        lo, hi = self.start_block, self.head() + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.time_of(mid) < ts:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def events(self, wanted: Mapping[str, Iterable[str]], from_block: int, to_block: int | None = None) -> list[Event]:
        """Decoded events of `wanted` ({contract: event names}) from `from_block` to `to_block` (head), in
        chain order, with their blocks' times."""
        if self._decoder is None:
            self._decoder = Decoder(self.contracts)
        to_block = self.head() if to_block is None else to_block
        addresses, topics = [], []
        for name, events in wanted.items():
            addresses.append(self.contracts[name]["address"])
            abi = {item["name"]: item for item in self.contracts[name]["abi"] if item.get("type") == "event"}
            topics += ["0x" + event_abi_to_log_topic(abi[e]).hex() for e in events]
        out: list[Event] = []
        block = max(from_block, self.start_block)
        while block <= to_block:
            end = min(block + PAGE_BLOCKS - 1, to_block)
            logs = self._rpc("eth_getLogs", [{"address": addresses, "topics": [topics],
                                              "fromBlock": hex(block), "toBlock": hex(end)}])
            for log in logs:
                n = int(log["blockNumber"], 16)
                out.append(self._decoder.decode(
                    log["address"], [bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:]),
                    n, int(log["logIndex"], 16), log["transactionHash"], self.time_of(n)))
            block = end + 1
        out.sort(key=lambda e: (e.block, e.log_index))
        return out

    # ---------------------------------------------------------------- what the storage jobs read

    def flow_log(self, first_day: int, to_block: int | None = None) -> FlowLog:
        """The flows of every reading that can be stamped on `first_day` or later (accepted at most the
        registry's clock-skew limit before it), with every meter's method."""
        log = FlowLog(self.slot_s)
        log.apply_all(self.events(METER_EVENTS, self.start_block, to_block))
        skew = int(self.registry.MAX_CLOCK_SKEW_LIMIT_S())
        log.apply_all(self.events(FLOW_EVENTS, self.block_at(first_day * DAY_S - skew), to_block))
        return log

    def final_at(self, day: int, log: FlowLog) -> tuple[int, list[str]]:
        """(when `day` is final, the active meters that have not reported past its end): the day's end
        when every active meter has, else MAX_CREDIT_LAG_S + 1 s after it (see the module doc)."""
        end = (day + 1) * DAY_S
        behind = []
        for meter in sorted(log.methods):
            info = self.registry.meters(meter)
            if not (info.active and info.accepted):  # cannot report (a retired key reads inactive)
                continue
            if int(self.registry.last_reading(meter).timestamp) < end:
                behind.append(meter)
        if not behind:
            return end, []
        return end + int(self.registry.MAX_CREDIT_LAG_S()) + 1, behind

    def queue(self) -> list[Lot]:
        """The chain's green content, oldest lot first (meter unnamed: the chain keeps charge slots)."""
        lots = [Lot("", int(lot.first_slot), int(lot.wh)) for lot in self.ledger.lots()]
        content = int(self.ledger.content_wh())
        if sum(lot.wh for lot in lots) != content:
            raise StorageRefused(f"the ledger's lots hold {sum(lot.wh for lot in lots):,} Wh, its content is {content:,} Wh")
        return lots

    def settled_days(self) -> dict[int, bytes]:
        """day -> root of every settled day (DaySettled events)."""
        out = {}
        for ev in self.events({LEDGER: ("DaySettled",)}, self.start_block):
            root = ev.args["root"]
            out[int(ev.args["day"])] = bytes.fromhex(root[2:]) if isinstance(root, str) else bytes(root)
        return out

    def slots_settled(self, from_block: int | None = None) -> dict[int, tuple[int, int]]:
        """slot -> (need Wh, content Wh) as the chain settled it (SlotSettled events)."""
        return {int(ev.args["slot"]): (int(ev.args["need_wh"]), int(ev.args["content_wh"]))
                for ev in self.events({LEDGER: ("SlotSettled",)}, self.start_block if from_block is None else from_block)}


# ---------------------------------------------------------------- the relay's daily job


@dataclass
class SettledDay:
    day: int
    settlement: DaySettlement
    receipts: list = field(default_factory=list)

    @property
    def gas(self) -> int:
        return sum(int(r.gas_used) for r in self.receipts)

    def line(self) -> str:
        s = self.settlement
        return (f"{day_label(s.day)}: settled; {kwh(sum(s.charged.values()))} of green charge stored, "
                f"{kwh(sum(s.taken.values()))} of charge taken by the draws of {len(s.discharges)} member(s), "
                f"{kwh(s.content_after_wh)} of green content left")


def settle_through(chain: StorageChain, day: int, sender, first_day: int | None = None,
                   spend: Callable[[str, Any], None] | None = None,
                   on_day: Callable[[SettledDay], None] | None = None) -> list[SettledDay]:
    """Settles every unsettled day up to `day`, in order (the relay's daily job; see the module doc).
    Raises StorageRefused, with nothing sent, when `day` is settled already, has not ended, or is not
    final yet. `spend(kind, receipt)` records gas; `on_day` gets each day as it is settled."""
    ledger = chain.ledger
    through = int(ledger.settled_through())
    if day < through:
        raise StorageRefused(f"{day_label(day)} is settled already (settled through day {through - 1})")
    now = chain.now()
    if now < (day + 1) * DAY_S:
        raise StorageRefused(f"{day_label(day)} ends at {when((day + 1) * DAY_S)}; the chain's time is {when(now)}")
    start = through if through else (day if first_day is None else min(first_day, day))
    log = chain.flow_log(start)
    final, behind = chain.final_at(day, log)
    if now < final:
        raise StorageRefused(f"{day_label(day)} is not final: {len(behind)} active meter(s) have not reported past its "
                             f"end (e.g. {behind[0]}); it is final once they do, or at {when(final)}")
    slot_s = chain.slot_s
    battery = battery_with_content(chain.queue(), chain.eta_ppm, first_slot_of(start, slot_s) - 1)
    flows = log.flows(first_slot_of(start, slot_s), first_slot_of(day + 1, slot_s) - 1)
    methods = log.methods_of(flows)
    skew = int(chain.registry.MAX_CLOCK_SKEW_LIMIT_S())
    recorded: dict[int, dict[str, int]] = {}
    for ev in chain.events({LEDGER: ("ChargeTaken",)}, chain.block_at(start * DAY_S - skew)):
        per_day = recorded.setdefault(int(ev.args["day"]), {})
        meter = str(ev.args["meter"]).lower()
        per_day[meter] = per_day.get(meter, 0) + int(ev.args["wh"])
    done = []
    for d in range(start, day + 1):
        s = settle_day(battery, d, flows, methods, slot_s, chain.address)
        if s.empty:
            continue
        out = SettledDay(d, s)
        words = _takes_left(s, recorded.get(d, {}))
        for batch in batches(words, MAX_TAKES):
            out.receipts.append(sender.send(ledger.record_charges, d, batch, what=f"record_charges({d}, {len(batch)} takes)"))
            if spend:
                spend("storage.record_charges", out.receipts[-1])
        out.receipts.append(sender.send(ledger.settle_day, *s.settle_args(), what=f"settle_day({d})"))
        if spend:
            spend("storage.settle_day", out.receipts[-1])
        done.append(out)
        if on_day:
            on_day(out)
    return done


def _takes_left(s: DaySettlement, recorded: Mapping[str, int]) -> list[int]:
    """The take words still to record for the day: its takes less what earlier batches recorded."""
    stray = sorted(set(recorded) - set(s.takes))
    if stray:
        raise StorageRefused(f"{day_label(s.day)}: {recorded[stray[0]]:,} Wh were taken from {stray[0]}, which charged nothing green")
    words = []
    for meter, wh in s.takes.items():
        left = wh - recorded.get(meter, 0)
        if left < 0:
            raise StorageRefused(f"{day_label(s.day)}: {recorded[meter]:,} Wh were taken from {meter}, above its green charge of {wh:,} Wh")
        if left:
            words.append(take_word(meter, left))
    return words


def settle_storage_day(system, w3, day: int, sender, first_day: int | None = None, start_block: int = 0,
                       spend: Callable[[str, Any], None] | None = None) -> list[SettledDay]:
    """`settle_through` on a deployed `System` (ape or web3 handles) and its node."""
    return settle_through(StorageChain.of_system(system, w3, start_block), day, sender, first_day, spend)


# ---------------------------------------------------------------- a generator's issuance after storage


def stored_profile(chain: StorageChain, meter: str, start_s: int, end_s: int) -> dict[int, int]:
    """The Wh of `meter`'s generation the StorageLedger took, per slot, for an issuance of the pending
    period (start_s, end_s]: its green charge per slot in the period's settled days (storage_green's
    min(minted export, generated) of each slot), plus what the registry took beyond those since the
    meter's last issuance (StoredTaken of slots before the period: owed Wh, which come off this
    period's generation), counted at the period's last slot. The issuer's profile is then
    `gridmint.storage_ledger.less_stored(generated per slot, stored_profile(...))`: it sums to the
    registry's certifiable Wh."""
    from gridmint.storage_green import green_charge_wh

    key = meter.lower()
    slot_s = chain.slot_s
    history = chain.events({REGISTRY: ("StoredTaken", "CertifiableTaken")}, chain.start_block)
    since = [ev for ev in history if str(ev.args["meter"]).lower() == key]
    last_issue = max((i for i, ev in enumerate(since) if ev.name == "CertifiableTaken"), default=-1)
    taken = sum(int(ev.args["wh"]) for ev in since[last_issue + 1:] if ev.name == "StoredTaken")
    if not taken:
        return {}
    first, last = start_s // slot_s, (end_s - 1) // slot_s
    settled = chain.settled_days()
    log = chain.flow_log(day_of(start_s))
    method = log.methods.get(key, 0)
    out = {s: green_charge_wh(f[key], method) for s, f in log.flows(first, last).items()
           if key in f and (s * slot_s) // DAY_S in settled}
    out = {s: wh for s, wh in out.items() if wh}
    rest = taken - sum(out.values())
    if rest < 0:
        raise StorageRefused(f"{meter}: {taken:,} Wh taken for storage since its last issuance, less than the "
                             f"{sum(out.values()):,} Wh its settled slots charged")
    if rest:
        out[last] = out.get(last, 0) + rest
    return out


# ---------------------------------------------------------------- members' claims


@dataclass
class ClaimedDay:
    day: int
    drawn_wh: int  # imported Wh burned from WATT that day
    green_wh: int  # of which green from the battery (the certificate's amount)
    certificate_id: int | None = None  # None: nothing claimed (nothing green, or claimed before)
    receipt: Any = None
    note: str = ""

    def line(self) -> str:
        share = f" ({self.green_wh * 100 / self.drawn_wh:.1f} % solar from the community battery)" if self.drawn_wh else ""
        what = f"certificate #{self.certificate_id}" if self.certificate_id is not None else self.note
        return f"{day_label(self.day)}: drew {kwh(self.drawn_wh)}, {kwh(self.green_wh)} green{share}: {what}"


def day_claims_of(chain: StorageChain, days: Iterable[int], log: FlowLog | None = None,
                  settled: Mapping[int, tuple[int, int]] | None = None,
                  roots: Mapping[int, bytes] | None = None) -> dict[int, DayClaims]:
    """Each settled day's claims rebuilt from the chain (flows, SlotSettled's N and C), its root checked
    against the chain's: StorageRefused when they differ (the auditor reports such a settlement)."""
    days = sorted(days)
    if not days:
        return {}
    log = log or chain.flow_log(days[0])
    settled = chain.slots_settled() if settled is None else settled
    roots = chain.settled_days() if roots is None else roots
    slot_s, per_day = chain.slot_s, slots_per_day(chain.slot_s)
    flows = log.flows(first_slot_of(days[0], slot_s), first_slot_of(days[-1] + 1, slot_s) - 1)
    out = {}
    for d in days:
        mine = {s: v for s, v in settled.items() if first_slot_of(d, slot_s) <= s < first_slot_of(d, slot_s) + per_day}
        try:
            claims = day_claims(d, flows, mine, chain.eta_ppm, slot_s, chain.address)
        except ValueError as err:
            raise StorageRefused(f"{day_label(d)}: {err}") from None
        if claims.root != roots.get(d):
            raise StorageRefused(f"{day_label(d)}: the leaves rebuilt from the chain's readings do not match the "
                                 f"day's root: its settlement is wrong (`gridmint-audit` reports it)")
        out[d] = claims
    return out


def claim_discharges(chain: StorageChain, meter: str, sender, days: Iterable[int] | None = None,
                     spend: Callable[[str, Any], None] | None = None,
                     on_day: Callable[[ClaimedDay], None] | None = None) -> list[ClaimedDay]:
    """The member claims the discharge certificates of `meter` for `days` (default: every settled day it
    has not claimed). Consecutive days it drew from the battery, within one month, go together into one
    certificate (`claim_discharge_days`, up to the ledger's MAX_CLAIM_DAYS: the certificate's fixed cost
    is paid once per run, not per day); a lone day is one `claim_discharge`. Days with nothing drawn, or
    runs with nothing green, are reported, not sent."""
    from gridmint.profile import month_of

    ledger = chain.ledger
    roots = chain.settled_days()
    wanted = sorted(roots if days is None else days)
    for d in wanted:
        if d not in roots:
            raise StorageRefused(f"{day_label(d)} is not settled")
    owner = str(chain.registry.meters(meter).owner)
    if owner.lower() != str(sender.address).lower():
        raise StorageRefused(f"{meter} belongs to {owner}, not to {sender.address}")
    open_days = [d for d in wanted if not ledger.claimed(meter, d)]
    claims = day_claims_of(chain, open_days, roots=roots)
    rows = {d: ClaimedDay(d, claims[d].drawn_wh(meter), claims[d].green_wh(meter)) for d in open_days}
    for row in rows.values():
        if not row.drawn_wh:
            row.note = "drew nothing from the battery"
        elif not row.green_wh:
            row.note = "nothing green (the battery held no green charge)"
    # runs of consecutive days with a leaf (drew something), one month each, at most MAX_CLAIM_DAYS long
    most = int(ledger.MAX_CLAIM_DAYS())
    runs: list[list[int]] = []
    for d in (d for d in open_days if rows[d].drawn_wh):
        run = runs[-1] if runs else None
        if (run and d == run[-1] + 1 and len(run) < most
                and month_of(d * DAY_S)[0] == month_of(run[0] * DAY_S)[0]):
            run.append(d)
        else:
            runs.append([d])
    told = 0  # progress: each day is reported once its run is sent (or skipped), in day order

    def tell(through: int) -> None:
        nonlocal told
        while on_day and told < len(open_days) and open_days[told] <= through:
            on_day(rows[open_days[told]])
            told += 1

    for run in runs:
        if not any(rows[d].green_wh for d in run):
            tell(run[-1])
            continue
        if len(run) == 1:
            receipt = sender.send(ledger.claim_discharge, *claims[run[0]].claim_args(meter),
                                  what=f"claim_discharge({run[0]})")
            kind = "storage.claim_discharge"
        else:
            args = [claims[d].claim_args(meter) for d in run]
            receipt = sender.send(ledger.claim_discharge_days, meter, *([a[i] for a in args] for i in range(1, 6)),
                                  what=f"claim_discharge_days({run[0]}..{run[-1]})")
            kind = "storage.claim_discharge_days"
        if spend:
            spend(kind, receipt)
        for ev in receipt.decode_logs(ledger.DischargeCertified):
            row = rows[int(ev.day)]
            row.receipt, row.certificate_id, row.green_wh = receipt, int(ev.id), int(ev.green_wh)
        tell(run[-1])
    tell(open_days[-1] if open_days else 0)
    return [rows[d] for d in open_days]


# ---------------------------------------------------------------- status


@dataclass
class BatteryStatus:
    content_wh: int
    lots: list[tuple[int, int, int]]  # (first charge slot, last charge slot, Wh), oldest first
    settled_through: int  # the next day to settle
    eta_ppm: int
    slot_s: int


def battery_status(chain: StorageChain) -> BatteryStatus:
    ledger = chain.ledger
    lots = [(int(lot.first_slot), int(lot.last_slot), int(lot.wh)) for lot in ledger.lots()]
    return BatteryStatus(int(ledger.content_wh()), lots, int(ledger.settled_through()), chain.eta_ppm, chain.slot_s)


@dataclass
class MemberDay:
    meter: str
    day: int
    drawn_wh: int
    green_wh: int
    night_drawn_wh: int  # of which at night (18:00 .. 06:00 in `tz`)
    night_green_wh: int
    claimed: bool

    @property
    def green_percent(self) -> float | None:
        return self.green_wh * 100 / self.drawn_wh if self.drawn_wh else None

    @property
    def night_green_percent(self) -> float | None:
        return self.night_green_wh * 100 / self.night_drawn_wh if self.night_drawn_wh else None


def is_night(slot: int, slot_s: int, tz=None) -> bool:
    """Whether the slot starts between 18:00 and 06:00 local time (`tz`; UTC by default)."""
    hour = datetime.fromtimestamp(slot * slot_s, tz or timezone.utc).hour
    return hour >= 18 or hour < 6


def member_days(claims: Mapping[int, DayClaims], meter: str, claimed: Callable[[int], bool], tz=None) -> list[MemberDay]:
    out = []
    for d, c in sorted(claims.items()):
        m = meter.lower()
        drawn, green = c.discharges.get(m, {}), c.green.get(m, {})
        night = [s for s in drawn if is_night(s, c.slot_s, tz)]
        out.append(MemberDay(meter, d, sum(drawn.values()), sum(green.values()), sum(drawn[s] for s in night),
                             sum(green.get(s, 0) for s in night), claimed(d)))
    return out


def member_day(chain: StorageChain, meter: str, day: int | None = None, tz=None) -> MemberDay | None:
    """The member's draws from the battery on `day` (default: the last settled day) and their green
    share; None when no day is settled."""
    roots = chain.settled_days()
    if day is None:
        if not roots:
            return None
        day = max(roots)
    claims = day_claims_of(chain, [day], roots=roots)
    return member_days(claims, meter, lambda d: bool(chain.ledger.claimed(meter, d)), tz)[0]


# ---------------------------------------------------------------- the demo's storage day


@dataclass
class CommunityStorage:
    """What `settle_community_day` settled: the days, and the green charge per meter and slot that the
    generators' certificates must leave out (gridmint.community_day.issue_certificates' `stored`)."""

    chain: StorageChain
    settled: list[SettledDay]
    days: list[int]

    @property
    def stored_by_slot(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        for sd in self.settled:
            for r in sd.settlement.results:
                for meter, wh in r.charged.items():
                    out.setdefault(meter, {})[r.slot] = wh
        return out


def settle_community_day(c, t0: int, t_end: int, w3, settler, spend: Callable[[str, Any], None] | None = None,
                         start_block: int = 0) -> CommunityStorage:
    """After a community day (gridmint/community_day.py) from `t0` to `t_end` (s), on a local chain: the chain's
    clock moves on (evm_increaseTime, as community_day.close_day does) until the day's UTC days are final,
    then the relay (`settler`: a Sender of an appointed settler) settles them. Call it before the generators
    issue their certificates (their `stored` Wh leave the profiles)."""
    chain = StorageChain.of_system(c.system, w3, start_block)
    first, last = day_of(t0), day_of(t_end - 1)
    final, _ = chain.final_at(last, chain.flow_log(last))
    wait = max(final, (last + 1) * DAY_S) - chain.now()
    if wait > 0:
        w3.provider.make_request("evm_increaseTime", [int(wait)])
        w3.provider.make_request("evm_mine", [])
    settled = settle_through(chain, last, settler, first_day=first, spend=spend)
    return CommunityStorage(chain, settled, list(range(first, last + 1)))


def claim_community_day(c, storage: CommunityStorage, senders: list, spend: Callable[[str, Any], None] | None = None,
                        tz=None) -> dict:
    """Every member claims its discharge certificates of the settled days (`senders[i]` sends for
    `c.owners[i]`); returns the figures the demo prints: what members drew from the battery, its green
    share, the night's part, the certificates claimed."""
    chain = storage.chain
    days = [d for d in storage.days if d in chain.settled_days()]
    claims = day_claims_of(chain, days)
    ids: set[int] = set()
    certified_wh = 0
    rows: list[MemberDay] = []
    for meter, sender in zip(c.meters, senders):
        address = str(meter.address).lower()
        if not any(address in cl.discharges for cl in claims.values()):
            continue
        rows += member_days(claims, address, lambda d: False, tz)
        for row in claim_discharges(chain, meter.address, sender, days, spend):
            if row.certificate_id is not None:
                ids.add(row.certificate_id)  # consecutive days share one certificate
                certified_wh += row.green_wh
    drawn, green = sum(r.drawn_wh for r in rows), sum(r.green_wh for r in rows)
    night, night_green = sum(r.night_drawn_wh for r in rows), sum(r.night_green_wh for r in rows)
    stored = sum(sum(s.settlement.charged.values()) for s in storage.settled)
    return {
        "battery_green_charged_kwh": stored / 1000,
        "battery_drawn_kwh": drawn / 1000,
        "battery_green_kwh": green / 1000,
        "battery_green_share": green / drawn if drawn else None,
        "battery_night_drawn_kwh": night / 1000,
        "battery_night_green_kwh": night_green / 1000,
        "battery_night_green_share": night_green / night if night else None,
        "discharge_certificates": len(ids),
        "discharge_certificates_kwh": certified_wh / 1000,
        "battery_green_content_kwh": int(chain.ledger.content_wh()) / 1000,
    }
