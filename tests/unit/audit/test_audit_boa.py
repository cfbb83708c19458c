"""The recompute against the real contracts: a random sequence of member and operator actions on
titanoboa's in-process system, its logs captured and folded, then compared with every view."""

from __future__ import annotations

import random

import boa
import pytest

from gridmint.audit.auditor import recompute
from gridmint.audit.compare import compare
from gridmint.audit.config import AuditConfig
from gridmint.audit.findings import FAILING
from gridmint.system import deploy_system
from tests.unit.audit.boa_capture import boa_record_contracts, boa_views
from tests.unit.audit.driver import _DEPLOY, OPERATOR, PARAMS, T0, Driver


@pytest.mark.parametrize("seed", [1, 2])
def test_random_sequence__recomputed_from_logs__no_difference_with_views(capture, seed):
    boa.env.timestamp = T0
    system = deploy_system(_DEPLOY, OPERATOR, PARAMS)
    driver = Driver(system, random.Random(seed))
    for _ in range(150):
        driver.step()
    contracts = boa_record_contracts(system)
    events = capture.events(contracts)
    names = {n: c["address"] for n, c in contracts.items()}
    ledger, plaus, _ = recompute(events, names, AuditConfig(), events[-1].block, boa.env.timestamp)
    found = ledger.findings + compare(ledger, boa_views(system), events[-1].block, boa.env.timestamp, names)
    failing = [f for f in found if f.kind in FAILING]
    assert failing == []
    # the sequence did something worth auditing
    assert ledger.supply > 0 and sum(t.readings for t in ledger.totals.values()) > 10
    assert ledger.rent_charged > 0
    assert sum(m.trades for m in ledger.markets.values()) > 0 and ledger.certificates
