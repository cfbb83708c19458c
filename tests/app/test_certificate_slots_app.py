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
from tests.utils.browser import connect, transact

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

    transact(w3, registry.functions.register_meter(roof.address, company, 1, 100_000, "Hofmann roof", (t0, 0, 0, 0, 0)), operator)
    transact(w3, registry.functions.accept_meter(roof.address), company)
    domain = Domain(chain_id=w3.eth.chain_id, verifying_contract=registry.address)
    total, gen, readings = 0, {}, []
    for i, slot in enumerate(range(slots[0], slots[-1] + 1)):
        wh = 300 + (i * 211) % 900
        total += wh
        gen[slot] = wh
        readings.append(Reading(roof.address, (slot + 1) * slot_s, total, 0, 0, 0))
    transact(w3, registry.functions.submit_readings([r.as_call_arg() for r in readings], [roof.sign(r, domain) for r in readings]), operator)
    _, start, end = registry.functions.certifiable(roof.address).call()
    transact(w3, cert.functions.issue(roof.address, P.issue_words(start, end, gen, slot_s)), company)
    cid = cert.functions.next_id().call() - 1
    profile = cert.events.CertificateProfile.get_logs(from_block=0, argument_filters={"id": cid})
    unclaimed = M.unclaimed_from_events([dict(e.args) for e in profile], [])
    plan = M.plan_slot_claims(consumed, unclaimed, {cid: cert.functions.balanceOf(company, cid).call()})
    first, last, _ = cert.functions.slots_of(cid).call()
    take = plan[cid]
    base = P.first_word_slot(first)
    lo, hi = (min(take) - base) // 8, (max(take) - base) // 8
    claim = P.pack(base + 8 * lo, base + 8 * hi + 7, take)
    receipt = transact(w3, cert.functions.claim_slots(cid, P.pack(first, last, unclaimed[cid]), lo, claim, company,
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


def test_meters_page__issues_across_a_month_end_with_the_profile(open_app, members, contracts, chain):
    """The meters page builds the profile from the meter's accepted readings, as the CLI does, and
    issues a pending period over a month end: one certificate per month, each with its month's slots."""
    w3 = chain[0]
    cert, registry = contracts["EnvironmentalCertificate"], contracts["MeterRegistry"]
    operator, company = w3.eth.accounts[0], members[COMPANY]["account"]
    slot_s = cert.functions.SLOT_S().call()
    # the chain's clock moves to just after the next month begins (clean_chain's snapshot restores it)
    month_end = P.month_of(w3.eth.get_block("latest")["timestamp"])[2]
    w3.provider.make_request("evm_setNextBlockTimestamp", [month_end + 6 * slot_s])
    w3.provider.make_request("evm_mine", [])

    roof = MeterSigner(bytes.fromhex("5b" * 32))
    t0 = month_end - 6 * slot_s
    transact(w3, registry.functions.register_meter(roof.address, company, 1, 100_000, "Hofmann carport", (t0, 0, 0, 0, 0)), operator)
    transact(w3, registry.functions.accept_meter(roof.address), company)
    domain = Domain(chain_id=w3.eth.chain_id, verifying_contract=registry.address)
    total, gen, readings = 0, {}, []
    for i in range(12):
        wh = 200 + 97 * i
        total += wh
        gen[t0 // slot_s + i] = wh
        readings.append(Reading(roof.address, t0 + (i + 1) * slot_s, total, 0, 0, 0))
    transact(w3, registry.functions.submit_readings([r.as_call_arg() for r in readings], [roof.sign(r, domain) for r in readings]), operator)
    first = cert.functions.next_id().call()

    page = open_app(company, path="#/meters")
    connect(page)
    card = page.locator("article.card", has_text=re.compile(roof.address, re.I))
    card.get_by_test_id("issue").click()
    expect(card.locator(".msg")).to_contain_text(f"Confirmed: issued certificates #{first}, #{first + 1}", timeout=20_000)

    assert cert.functions.next_id().call() == first + 2
    assert registry.functions.certifiable(roof.address).call()[0] == 0
    before, after = P.month_of(t0)[0], P.month_of(month_end)[0]
    for cid, (lo, hi), vintage in ((first, (t0, month_end), before), (first + 1, (month_end, t0 + 12 * slot_s), after)):
        c = cert.functions.certificate(cid).call()
        assert (c[4], c[5]) == (lo, hi) and cert.functions.vintage(cid).call() == vintage
        (ev,) = cert.events.CertificateProfile.get_logs(from_block=0, argument_filters={"id": cid})
        assert P.unpack(ev.args.first_slot, ev.args.slot_wh) == {s: w for s, w in gen.items() if lo // slot_s <= s < hi // slot_s}
    assert sum(cert.functions.issued_wh_of(c).call() for c in (first, first + 1)) == total


def test_meters_page__a_70_day_gap__issued_month_by_month(open_app, members, contracts, chain):
    """A meter not issued for 70 days (more than one issuance carries): the meters page issues the
    oldest month, then the rest, one transaction each, and nothing stays pending."""
    w3 = chain[0]
    cert, registry = contracts["EnvironmentalCertificate"], contracts["MeterRegistry"]
    operator, company = w3.eth.accounts[0], members[COMPANY]["account"]
    slot_s = cert.functions.SLOT_S().call()
    t0 = P.month_of(w3.eth.get_block("latest")["timestamp"])[2]  # the gap starts at the next month
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0])
    w3.provider.make_request("evm_mine", [])

    roof = MeterSigner(bytes.fromhex("5c" * 32))
    transact(w3, registry.functions.register_meter(roof.address, company, 1, 100_000, "Hofmann hall roof", (t0, 0, 0, 0, 0)), operator)
    transact(w3, registry.functions.accept_meter(roof.address), company)
    domain = Domain(chain_id=w3.eth.chain_id, verifying_contract=registry.address)
    total = 0
    for day in range(70):  # two readings a day, relayed at the day's end (within the credit lag)
        readings = []
        for k in (1, 2):
            total += 5_000 + 37 * day + k
            readings.append(Reading(roof.address, t0 + day * 86_400 + k * 43_200, total, 0, 0, 0))
        w3.provider.make_request("evm_setNextBlockTimestamp", [t0 + (day + 1) * 86_400])
        transact(w3, registry.functions.submit_readings([r.as_call_arg() for r in readings], [roof.sign(r, domain) for r in readings]), operator)
    _, start, end = registry.functions.certifiable(roof.address).call()
    assert len(P.issue_words(start, end, {}, slot_s)) > P.MAX_PROFILE_WORDS
    first = cert.functions.next_id().call()

    page = open_app(company, path="#/meters")
    connect(page)
    card = page.locator("article.card", has_text=re.compile(roof.address, re.I))
    card.get_by_test_id("issue").click()
    # the oldest month first, then the last two months in one transaction
    expect(card.locator(".msg")).to_contain_text(f"Confirmed: issued certificates #{first + 1}, #{first + 2}", timeout=30_000)

    assert registry.functions.certifiable(roof.address).call()[0] == 0
    assert cert.functions.next_id().call() == first + 3
    months = [cert.functions.vintage(c).call() for c in range(first, first + 3)]
    assert months == [P.month_of(t0)[0], P.month_of(P.month_of(t0)[2])[0], P.month_of(end - 1)[0]]
    assert sum(cert.functions.issued_wh_of(c).call() for c in range(first, first + 3)) == total


def test_meters_page__a_rotated_meter_issues_with_both_keys_profile(open_app, members, contracts, chain):
    """The meter's key is rotated mid-period (new hardware, its own register values): the registry
    carries the old key's pending Wh to the new key, and the meters page builds the profile from both
    keys' readings (app/src/matching.ts readingsOf), so the issuance carries all of it in its slots."""
    w3 = chain[0]
    cert, registry = contracts["EnvironmentalCertificate"], contracts["MeterRegistry"]
    operator, company = w3.eth.accounts[0], members[COMPANY]["account"]
    slot_s = cert.functions.SLOT_S().call()
    t0 = (w3.eth.get_block("latest")["timestamp"] // slot_s + 1) * slot_s
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0 + 10 * slot_s])  # clean_chain's snapshot restores it
    w3.provider.make_request("evm_mine", [])

    old, new = MeterSigner(bytes.fromhex("5d" * 32)), MeterSigner(bytes.fromhex("5e" * 32))
    transact(w3, registry.functions.register_meter(old.address, company, 1, 100_000, "Hofmann workshop roof", (t0, 0, 0, 0, 0)), operator)
    transact(w3, registry.functions.accept_meter(old.address), company)
    domain = Domain(chain_id=w3.eth.chain_id, verifying_contract=registry.address)
    gen, t = {}, t0
    for key, register0, whs in ((old, 0, [400, 650, 900, 300]), (new, 4_000_000, [250, 150, 50])):
        if key is new:  # new hardware fitted at the old key's last reading
            transact(w3, registry.functions.rotate_meter_key(old.address, new.address, (t, register0, 0, 0, 0)), operator)
            transact(w3, registry.functions.accept_meter(new.address), company)
        total, readings = register0, []
        for wh in whs:
            t, total = t + slot_s, total + wh
            gen[(t - 1) // slot_s] = wh
            readings.append(Reading(key.address, t, total, 0, 0, 0))
        transact(w3, registry.functions.submit_readings([r.as_call_arg() for r in readings], [key.sign(r, domain) for r in readings]), operator)
    assert list(registry.functions.certifiable(new.address).call()) == [sum(gen.values()), t0, t]
    first = cert.functions.next_id().call()

    page = open_app(company, path="#/meters")
    connect(page)
    expect(page.locator("article.card", has_text=re.compile(old.address, re.I))).to_have_count(0)  # retired
    card = page.locator("article.card", has_text=re.compile(new.address, re.I))
    card.get_by_test_id("issue").click()
    expect(card.locator(".msg")).to_contain_text(f"Confirmed: issued certificate #{first}", timeout=20_000)

    assert registry.functions.certifiable(new.address).call()[0] == 0
    assert cert.functions.issued_wh_of(first).call() == sum(gen.values())
    (ev,) = cert.events.CertificateProfile.get_logs(from_block=0, argument_filters={"id": first})
    assert P.unpack(ev.args.first_slot, ev.args.slot_wh) == gen
