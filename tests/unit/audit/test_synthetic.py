"""The synthetic community's event stream (gridmint/audit/synthetic.py) says what the contracts say: trades
log `Trade` with `maker_left` and, filled whole on both sides, no `OrderClosed`; the auditor folds it without
a finding and leaves no order open."""

from __future__ import annotations

from gridmint.audit.config import AuditConfig
from gridmint.audit.plausibility import clear_sky
from gridmint.audit.recompute import Ledger
from gridmint.audit.synthetic import ADDR, SLOT_S, SyntheticChain, run


def test_synthetic_days__trades_without_order_closed__folded_without_finding():
    chain = SyntheticChain(meters=40, seed=3, trades_per_hour=6)
    cs, _ = clear_sky(AuditConfig(), chain.start // SLOT_S, 2 * 48)
    events = chain.setup()
    for d in range(2):
        events += chain.day(d, cs[d * 48:(d + 1) * 48])
    trades = [e for e in events if e.name == "Trade"]
    assert trades and all(e.args["maker_left"] == 0 for e in trades)
    assert not [e for e in events if e.name == "OrderClosed"]
    ledger = Ledger(dict(ADDR)).apply_all(events)
    ledger.finish()
    assert ledger.findings == []
    energy = ledger.markets["EnergyExchange"]
    assert energy.trades == len(trades) and energy.orders == {} and energy.new_orders == []


def test_synthetic_run__figures_without_invariant_findings():
    figures = run(meters=20, days=1, seed=2)
    assert figures["invariant_findings"] == 0 and figures["events"] > 0
