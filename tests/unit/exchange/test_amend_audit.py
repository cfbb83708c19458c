"""The auditor follows `amend_order` (issue 22): a random sequence of the audit driver's actions with
amends of open orders mixed in, its logs folded by the recompute (its `OrderAmended` handler) and
compared with every view; no failing finding, and amends happened."""

from __future__ import annotations

import random

import boa

from gridmint.system import deploy_system
from tests.unit.audit.boa_capture import audit_in_process, BoaLogCapture, boa_record_contracts
from tests.unit.audit.driver import _DEPLOY, OPERATOR, OWNERS, PARAMS, T0, Driver


def _amend(system, rng):
    """An owner's open order gets a new price (or the same) and a new amount (more, fewer)."""
    ex = system.exchange
    owner = rng.choice(OWNERS)
    ids = ex.open_orders(owner)
    if not ids:
        return 0
    oid = rng.choice(ids)
    view = ex.order(oid)
    price = rng.choice([view.price, view.price, 100_000, 120_000, 150_000, 110_000])
    wh = max(view.remaining_wh + rng.choice([-400, -100, 0, 100, 500]), 1)
    try:
        ex.amend_order(oid, price, wh, sender=owner)
        return 1
    except boa.BoaError:
        return 0


def test_random_sequence_with_amends__recomputed_from_logs__no_difference_with_views():
    boa.env.timestamp = T0
    with BoaLogCapture(boa.env) as capture:
        system = deploy_system(_DEPLOY, OPERATOR, PARAMS)
        rng = random.Random(22)
        driver = Driver(system, rng)
        amends = 0
        for _ in range(160):
            driver.step()
            if rng.random() < 0.3:
                amends += _amend(system, rng)
        contracts = boa_record_contracts(system)
        events = capture.events(contracts)
    ledger, failing = audit_in_process(system, events)
    assert failing == []
    assert amends >= 3, amends
    assert sum(m.trades for m in ledger.markets.values()) > 0
