"""The member app with certificates per slot, in a real Chromium against the seeded chain: a company
certifies its own roof's day with its 30-minute profile, claims it slot by slot for itself, and the
claim proof page shows its consumption matched half-hour by half-hour (its 24/7 score) and the
certificate's per-slot profile; every figure checked against the events."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from gridmint import matching as M
from gridmint import profile as P
from oracle.eip712 import Domain, MeterSigner, Reading

pytestmark = pytest.mark.integration
COMPANY = "Hofmann Tools GmbH"


def test_proof_page__time_matched_claim__shows_the_24_7_matching(open_app, members, contracts, chain):
    w3 = chain[0]
    cert, registry = contracts["EnvironmentalCertificate"], contracts["MeterRegistry"]
    operator, company = w3.eth.accounts[0], members[COMPANY]["account"]
    slot_s = cert.functions.SLOT_S().call()
    # the company's seeded consumption, per slot, from its meter's accepted readings
    used = [(e.args.timestamp, e.args.consumed_wh) for e in registry.events.ReadingAccepted.get_logs(
        from_block=0, argument_filters={"owner": company}) if e.args.consumed_wh]
    assert used, "the seed gives the company consumption"
    consumed = M.consumption_by_slot(used, slot_s)
    slots = sorted(consumed)
    # its own roof, commissioned at the first of those slots, generating a PV shape in each
    roof = MeterSigner(bytes.fromhex("5a" * 32))
    t0 = slots[0] * slot_s

    def send(fn, sender):
        receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt["status"] == 1
        return receipt

    send(registry.functions.register_meter(roof.address, company, 1, 100_000, "Hofmann roof", (t0, 0, 0, 0, 0)), operator)
    send(registry.functions.accept_meter(roof.address), company)
    domain = Domain(chain_id=w3.eth.chain_id, verifying_contract=registry.address)
    total, gen, readings = 0, {}, []
    for i, slot in enumerate(range(slots[0], slots[-1] + 1)):
        wh = 300 + (i * 211) % 900
        total += wh
        gen[slot] = wh
        readings.append(Reading(roof.address, (slot + 1) * slot_s, total, 0, 0, 0))
    send(registry.functions.submit_readings([r.as_call_arg() for r in readings], [roof.sign(r, domain) for r in readings]), operator)
    _, start, end = registry.functions.certifiable(roof.address).call()
    send(cert.functions.issue(roof.address, P.issue_words(start, end, gen, slot_s)), company)
    cid = cert.functions.next_id().call() - 1
    profile = cert.events.CertificateProfile.get_logs(from_block=0, argument_filters={"id": cid})
    unclaimed = M.unclaimed_from_events([dict(e.args) for e in profile], [])
    plan = M.plan_slot_claims(consumed, unclaimed, {cid: cert.functions.balanceOf(company, cid).call()})
    first, last, _ = cert.functions.slots_of(cid).call()
    take = plan[cid]
    base = P.first_word_slot(first)
    lo, hi = (min(take) - base) // 8, (max(take) - base) // 8
    claim = P.pack(base + 8 * lo, base + 8 * hi + 7, take)
    receipt = send(cert.functions.claim_slots(cid, P.pack(first, last, unclaimed[cid]), lo, claim, company,
                                              "Hofmann Tools, 24/7"), company)
    expected = M.score(consumed, take)

    page = open_app(company, path=f"#/proof/tx/{receipt['transactionHash'].to_0x_hex()}")
    proof = page.get_by_test_id("claim-proof")
    expect(proof.get_by_test_id("proof-purpose")).to_have_text("Hofmann Tools, 24/7")
    score = proof.get_by_test_id("proof-score")
    expect(score).to_contain_text(f"24/7 score: {expected.score * 100:.1f} %", timeout=20_000)
    rows = proof.get_by_test_id("proof-matching").get_by_role("row")
    expect(rows).to_have_count(len(expected.rows) + 1)  # a header and one row per slot
    # the certificate's per-slot profile, below the claim
    page.get_by_test_id("cert-profile").get_by_text(re.compile(r"Generation per 30-minute slot")).click()
    expect(page.get_by_test_id("cert-profile").get_by_role("row")).to_have_count(len(gen) + 1)
