"""What the auditor reports: one `Finding` per difference, broken invariant, implausible reading
or quantity events cannot give."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

COMPARE = "compare"  # recomputed from events != the chain's view
INVARIANT = "invariant"  # an invariant of docs/rules.md does not hold in the event history
PLAUSIBILITY = "plausibility"  # what a meter reported cannot be real generation (or came late)
NOT_DERIVABLE = "not derivable"  # a quantity events do not carry; named, never faked

FAILING = (COMPARE, INVARIANT)


@dataclass
class Finding:
    kind: str  # one of the four above
    check: str  # a stable id, e.g. "watt.balanceOf", "inv1.mint-without-export", "pv.night"
    contract: str  # contract name in the deployment record ("" for none)
    account: str | None = None  # account, meter or "#<id>" the finding is about
    block: int | None = None  # block it was found at (the audited block for compares)
    expected: Any = None  # recomputed value / bound
    actual: Any = None  # the chain's value / what was reported
    unit: str = ""  # unit of expected and actual ("Wh", "TSL base units", "kWh/kW", "s")
    detail: str = ""  # one line for people
    slot: int | None = None  # slot start (s since the epoch) for plausibility findings

    def as_dict(self) -> dict:
        d = asdict(self)
        for key in ("expected", "actual"):
            if isinstance(d[key], int) and abs(d[key]) >= 2**53:
                d[key] = str(d[key])  # JSON readers lose precision past 2**53
        return d
