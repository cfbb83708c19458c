"""Discharge certificates: method 6 ("storage"), a class of its own that trades on the certificate market
and takes time-matched claims like any profiled certificate."""

from __future__ import annotations

import boa
import pytest

from gridmint import profile as P
from tests.unit.storage.conftest import DAY0, DAY_S, SLOT_S
from tests.unit.storage.helpers import day_flows, day_words, reference_day, settle, slot

ETA = 900_000
METHOD_STORAGE = 6


@pytest.fixture
def discharge(ledger, cert, appointed, scene, at_day):
    """Member a's discharge certificate of DAY0 (2 x 2,000 Wh green in slots 40, 41)."""
    gens, members, methods = scene
    flows = day_flows(DAY0, gens, members)
    s = reference_day(ledger.address, DAY0, flows, methods, ETA, SLOT_S)
    at_day(DAY0 + 1)
    settle(ledger, appointed, s)
    a = members[0]
    id = ledger.claim_discharge(*s.claim_args(a.address), sender=a.owner)
    return id, a, s.green[a.address]


def test_only_the_ledger_issues_discharge_certificates(cert, stranger, operator):
    words = day_words(DAY0, {slot(DAY0, 40): 100}, SLOT_S)
    for who in (stranger, operator):
        with boa.reverts("certificate: caller is not the storage ledger"):
            cert.issue_storage(stranger, stranger, DAY0 * DAY_S, (DAY0 + 1) * DAY_S, words, sender=who)


def test_the_storage_class(cert, discharge):
    id, a, green = discharge
    assert green == {slot(DAY0, 40): 2_000, slot(DAY0, 41): 2_000}
    assert cert.METHOD_STORAGE() == METHOD_STORAGE
    method, vintage, revoked, expires_at = cert.trade_info(id)
    assert (method, vintage, revoked) == (METHOD_STORAGE, 202606, False)
    assert expires_at == (DAY0 + 1) * DAY_S + cert.CLAIM_WINDOW()
    c = cert.certificate(id)
    assert (c.meter, c.generator, c.amount_wh, c.outstanding_wh) == (a.address, a.owner, 4_000, 4_000)
    assert tuple(cert.slots_of(id)) == (slot(DAY0, 0), slot(DAY0, 47), True)


def test_claim_slots_on_a_discharge_certificate(cert, discharge):
    id, a, green = discharge
    words = day_words(DAY0, green, SLOT_S)
    claim = day_words(DAY0, {slot(DAY0, 41): 1_500}, SLOT_S)
    company = boa.env.generate_address("night-shift")
    cert.claim_slots(id, words, 0, claim, company, "night shift, battery solar", sender=a.owner)
    assert cert.claimed_balance_of(company, id) == 1_500
    left = P.subtract(words, 0, claim)
    assert cert.profile_commitment(id) == P.commitment(id, left)
    over = day_words(DAY0, {slot(DAY0, 41): 501}, SLOT_S)
    with boa.reverts("certificate: slot claim exceeds its generation"):
        cert.claim_slots(id, left, 0, over, company, "x", sender=a.owner)


def test_the_market_trades_the_storage_class(certificate_exchange, cert, quote, operator, discharge):
    cx = certificate_exchange
    id, a, _ = discharge
    assert tuple(cx.class_of(id)) == (METHOD_STORAGE, 202606)
    cert.setApprovalForAll(cx.address, True, sender=a.owner)
    cx.place_ask(id, 5_000, 3_000, 0, 0, sender=a.owner)
    buyer = boa.env.generate_address("storage-buyer")
    quote.mint(buyer, 10**12, sender=operator)
    quote.approve(cx.address, 2**256 - 1, sender=buyer)
    company = boa.env.generate_address("company")
    # a solar bid of the same month does not match the storage class
    assert cx.buy_and_claim(1, 202606, 5_000, 1_000, company, "solar", sender=buyer) == 0
    got = cx.buy_and_claim(METHOD_STORAGE, 202606, 5_000, 2_000, company, "night from the battery", sender=buyer)
    assert got == 2_000 and cert.claimed_balance_of(company, id) == 2_000
    claims = [e for e in cx.get_logs(include_child_logs=True) if type(e).__name__ == "Claimed"]
    assert [(e.id, e.amount) for e in claims] == [(id, 2_000)]
    assert cx.best_ask(METHOD_STORAGE, 202606) == (5_000, 1_000)
