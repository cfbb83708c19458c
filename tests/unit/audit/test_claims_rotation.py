"""The auditor per slot across a key rotation: the generation credited under a retired key rides
along to the new key (as the registry carries its Wh), so a certificate issued under the new key
with the profile of both keys' readings folds cleanly, and one certifying a slot above what the
meter's keys generated is still found."""

from __future__ import annotations

import dataclasses

import boa

from gridmint import profile as P
from gridmint.audit.claims import SlotClaims
from gridmint.meter_history import MeterHistory
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import deploy_system
from oracle.eip712 import Reading
from tests.unit.audit.boa_capture import audit_in_process, boa_record_contracts
from tests.unit.audit.driver import _DEPLOY, OPERATOR, OWNERS, PARAMS
from tests.utils.meters import domain_of, meter_signer, submit_one

SLOT = 1_800


def _rotated_and_issued(capture):
    """A meter reads 6 slots, its key is rotated, the new key reads 4 more; the owner issues with the
    profile of the meter's history (both keys). Returns (system, events, Wh per slot)."""
    start = 1_790_400_000 // SLOT * SLOT
    boa.env.timestamp = start
    system = deploy_system(_DEPLOY, OPERATOR, PARAMS)
    cert, registry = system.certificate, system.registry
    owner = OWNERS[0]
    old, new = meter_signer("claims-rot-pv"), meter_signer("claims-rot-pv-new")
    onboard_meter(registry, OPERATOR, owner, old.address, 1, 20_000, "roof", Registers(start, 0, 0, 0, 0))
    domain, gen, t = domain_of(registry), {}, start
    for key, register0, whs in ((old, 0, [300, 310, 320, 330, 340, 350]), (new, 7_000_000, [90, 80, 70, 60])):
        if key is new:
            registry.rotate_meter_key(old.address, new.address, Registers(t, register0, 0, 0, 0), sender=OPERATOR)
            registry.accept_meter(new.address, sender=owner)
        total = register0
        for wh in whs:
            t += SLOT
            boa.env.timestamp = t
            total += wh
            gen[P.slot_of_reading(t, SLOT)] = wh
            r = Reading(key.address, t, total, 0, 0, 0)
            submit_one(registry, key, r, domain, sender=OPERATOR)
    events = capture.events(boa_record_contracts(system))
    history = MeterHistory()
    for e in events:
        history.apply(e.name, e.args)
    _, p_start, p_end = registry.certifiable(new.address)
    slot_wh = P.profile_from_readings(history.generated(new.address, p_start, p_end), SLOT)
    assert slot_wh == gen
    cert.issue(new.address, P.issue_words(p_start, p_end, slot_wh, SLOT), sender=owner)
    return system, capture.events(boa_record_contracts(system)), gen


def test_rotation__honest_issue_under_the_new_key__no_finding(capture):
    system, events, gen = _rotated_and_issued(capture)
    ledger, failing = audit_in_process(system, events)
    assert failing == []
    slots = SlotClaims(SLOT).apply_all(events)
    assert slots.finish() == []
    assert sum(slots.certified().values()) == sum(gen.values())


def test_rotation__a_profile_moving_the_old_keys_wh__found(capture):
    """The same total, 100 Wh of an old-key slot moved into the new key's last slot."""
    _, honest, gen = _rotated_and_issued(capture)
    prof = next(e for e in honest if e.name == "CertificateProfile")
    first = int(prof.args["first_slot"])
    slots = P.unpack(first, [int(w) for w in prof.args["slot_wh"]])
    moved = min(gen)
    slots[moved] -= 100
    slots[max(gen)] += 100  # above what the new key generated there
    words = P.pack(first, max(gen), slots)
    forged = dataclasses.replace(prof, args={**prof.args, "slot_wh": words})
    found = SlotClaims(SLOT).apply_all([forged if e is prof else e for e in honest]).finish()
    assert [f.check for f in found] == ["inv9.certified-above-generated"]
