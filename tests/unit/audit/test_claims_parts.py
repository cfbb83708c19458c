"""The auditor on a pending period issued a part at a time (`issue(meter, profile, until)`): an
honest part folds cleanly in the ledger and per slot; a part that takes more Wh than the readings
stamped in it generated (the chain cannot tell: it knows only the pending total) is found."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import boa

from gridmint import profile as P
from gridmint.audit.claims import SlotClaims
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import deploy_system
from oracle.eip712 import Reading
from tests.unit.audit.boa_capture import audit_in_process, boa_record_contracts
from tests.unit.audit.driver import _DEPLOY, OPERATOR, OWNERS, PARAMS
from tests.utils.meters import domain_of, meter_signer, submit_one

SLOT = 1_800


def _issued_in_parts(capture, shift_wh=0):
    """A meter reads every slot from June 29 12:00 to July 2 12:00; its owner issues June as a part
    (moving `shift_wh` Wh of July's generation into June's last slot), then the rest whole."""
    start = int(datetime(2026, 6, 29, 12, tzinfo=timezone.utc).timestamp())
    boa.env.timestamp = start
    system = deploy_system(_DEPLOY, OPERATOR, PARAMS)
    cert, registry = system.certificate, system.registry
    owner = OWNERS[0]
    m = meter_signer("claims-parts-pv")
    onboard_meter(registry, OPERATOR, owner, m.address, 1, 20_000, "roof", Registers(start, 0, 0, 0, 0))
    domain, total, gen = domain_of(registry), 0, {}
    for i in range(3 * 48):
        t = start + (i + 1) * SLOT
        boa.env.timestamp = t
        wh = 400 + 29 * (i % 48)
        total += wh
        gen[start // SLOT + i] = wh
        r = Reading(m.address, t, total, 0, 0, 0)
        submit_one(registry, m, r, domain, sender=OPERATOR)
    july = int(datetime(2026, 7, 1, tzinfo=timezone.utc).timestamp())
    june_part = {s: w for s, w in gen.items() if s < july // SLOT}
    june_part[july // SLOT - 1] += shift_wh
    cert.issue(m.address, P.issue_words(start, july, june_part, SLOT), july, sender=owner)
    rest = {s: w for s, w in gen.items() if s >= july // SLOT}
    first_july = min(rest)
    rest[first_july] -= shift_wh
    _, r_start, r_end = registry.certifiable(m.address)
    cert.issue(m.address, P.issue_words(r_start, r_end, rest, SLOT), sender=owner)
    return system, capture.events(boa_record_contracts(system)), gen


def test_parts__honest__no_finding_in_the_ledger_or_per_slot(capture):
    system, events, gen = _issued_in_parts(capture)
    ledger, failing = audit_in_process(system, events)
    assert failing == []
    slots = SlotClaims(SLOT).apply_all(events)
    assert slots.finish() == []
    assert sum(slots.certified().values()) == sum(gen.values())
    assert len([e for e in events if e.name == "CertifiableTaken"]) == 2


def test_parts__a_part_taking_later_generation__found(capture):
    _, events, _ = _issued_in_parts(capture, shift_wh=300)  # on chain: same total, accepted
    found = SlotClaims(SLOT).apply_all(events).finish()
    assert "inv9.taken-not-generated" in {f.check for f in found}
    # and a take tampered in the log is found the same way
    _, honest, _ = _issued_in_parts(capture)
    take = next(e for e in honest if e.name == "CertifiableTaken")
    forged = dataclasses.replace(take, args={**take.args, "wh": take.args["wh"] + 1})
    found = SlotClaims(SLOT).apply_all([forged if e is take else e for e in honest]).finish()
    assert [f.check for f in found] == ["inv9.taken-not-generated"]
