"""The certificate CLI per slot, against the test session's node: `issue` builds the 30-minute profile
from the meter's accepted readings (every key of a rotated meter), `show` prints it, `claim --slots` is a time-matched claim, and
`matching` gives a company's 24/7 score from its meter's consumption and its slot claims."""

import json
from contextlib import contextmanager

import pytest

from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]
SLOT = 1_800


def test_issue_show_claim_by_slot_and_matching(cli, cli_deploy, accounts, chain):
    d = cli_deploy()
    registry, cert = d.registry, d.certificate
    operator, school, company = accounts[0], accounts[2], accounts[3]
    pv, load = MeterSigner(bytes.fromhex("51" * 32)), MeterSigner(bytes.fromhex("52" * 32))
    # both commissioned at a slot start a few hours back; readings at the end of each of 6 slots
    start = (chain.pending_timestamp // 86_400) * 86_400 - 12 * SLOT
    onboard_meter(registry, operator, school, pv.address, 1, 50_000, "School roof", commissioning(start))
    onboard_meter(registry, operator, company, load.address, 0, 50_000, "Company site", commissioning(start))
    domain = domain_from_contract(registry)
    gen, cons = [0, 800, 2_000, 2_500, 1_200, 300], [400] * 6
    readings, g, c = [], 0, 0
    for i in range(6):
        g, c = g + gen[i], c + cons[i]
        t = start + (i + 1) * SLOT
        readings += [Reading(pv.address, t, g, 0, 0, 0), Reading(load.address, t, 0, c, 0, 0)]
    signers = {pv.address: pv, load.address: load}
    registry.submit_readings([r.as_call_arg() for r in readings], [signers[r.meter].sign(r, domain) for r in readings],
                             sender=operator)

    assert "not the meter owner" in cli("certificates", "issue", pv.address, "--account", "test:3", code=2)
    out = cli("certificates", "issue", pv.address, "--account", "test:2")
    assert "issued certificate #1: 6.800 kWh" in out
    assert cert.slots_of(1)[2] is True
    shown = cli("certificates", "show", "1")
    assert "2500" in shown and "commitment matches the events" in shown

    cert.safeTransferFrom(school, company, 1, 6_800, b"", sender=school)
    assert "no per-slot profile" not in shown
    window = f"{_iso(start + 2 * SLOT)}..{_iso(start + 4 * SLOT)}"  # slots 2 and 3: 2,000 + 2,500 Wh
    assert "have 4.500 kWh left, not 5.000 kWh" in cli(
        "certificates", "claim", "1", "5", "--slots", window, "--beneficiary", company.address, "--purpose", "x",
        "--account", "test:3", code=2)
    out = cli("certificates", "claim", "1", "0.8", "--slots", f"{_iso(start)}..{_iso(start + 6 * SLOT)}",
              "--beneficiary", company.address, "--purpose", "company 24/7", "--account", "test:3")
    # earliest first: slot 0 generated nothing, slot 1 has 800 Wh
    assert "claimed 0.800 kWh of certificate #1" in out and "in 1 slot from" in out
    assert "left" in cli("certificates", "show", "1")

    data = json.loads(cli("certificates", "matching", company.address, "--meter", load.address, "--json"))
    assert (data["consumed_wh"], data["green_wh"], data["matched_wh"]) == (2_400, 800, 400)  # slot 1: min(400, 800)
    text = cli("certificates", "matching", company.address, "--meter", load.address)
    assert "24/7 score: 16.7% of 2.400 kWh consumed matched slot by slot" in text


def test_issue__month_by_month_with_a_progress_line(cli, cli_deploy, accounts, chain):
    """`issue --months 1` issues only the oldest month of a period over a month end (a part:
    `issue(meter, profile, until)`), the rest stays pending; `issue` then issues the rest."""
    from gridmint import profile as P

    with _isolated(chain):  # the clock moves to the next month; the snapshot restores it
        d = cli_deploy()
        registry, cert = d.registry, d.certificate
        operator, school = accounts[0], accounts[2]
        pv = MeterSigner(bytes.fromhex("53" * 32))
        month_end = P.month_of(chain.pending_timestamp)[2]
        chain.pending_timestamp = month_end + 6 * SLOT
        chain.mine()
        t0 = month_end - 6 * SLOT
        onboard_meter(registry, operator, school, pv.address, 1, 50_000, "School carport", commissioning(t0))
        domain = domain_from_contract(registry)
        readings, g = [], 0
        for i in range(12):
            g += 100 * (i + 1)
            readings.append(Reading(pv.address, t0 + (i + 1) * SLOT, g, 0, 0, 0))
        registry.submit_readings([r.as_call_arg() for r in readings], [pv.sign(r, domain) for r in readings], sender=operator)
        before_wh = sum(100 * (i + 1) for i in range(6))

        assert "--months needs the per-slot profile" in cli(
            "certificates", "issue", pv.address, "--no-profile", "--months", "1", "--account", "test:2", code=2)
        out = cli("certificates", "issue", pv.address, "--months", "1", "--account", "test:2")
        assert "month 1 of 1: issuing" in out and "(the rest stays pending)" in out
        assert f"issued certificate #1: {before_wh / 1000:.3f} kWh" in out
        assert f"{(g - before_wh) / 1000:.3f} kWh stay pending" in out
        assert tuple(registry.certifiable(pv.address)) == (g - before_wh, month_end, t0 + 12 * SLOT)
        out = cli("certificates", "issue", pv.address, "--account", "test:2")
        assert "issued certificate #2" in out and "stay pending" not in out
        assert (cert.vintage(1), cert.vintage(2)) == (P.month_of(t0)[0], P.month_of(month_end)[0])
        assert cert.issued_wh_of(1) + cert.issued_wh_of(2) == g and registry.certifiable(pv.address)[0] == 0


def test_issue__a_rotated_meter_issues_both_keys_generation_with_its_profile(cli, cli_deploy, accounts, chain):
    """The meter's key is rotated mid-period: the registry carries the old key's pending Wh to the new
    key, and `issue` builds the profile from both keys' readings (a profile from the new key's readings
    alone would sum to less than what is pending and the issuance would revert)."""
    from gridmint import profile as P

    with _isolated(chain):
        d = cli_deploy()
        registry, cert = d.registry, d.certificate
        operator, school = accounts[0], accounts[2]
        old, new = MeterSigner(bytes.fromhex("54" * 32)), MeterSigner(bytes.fromhex("55" * 32))
        start = (chain.pending_timestamp // 86_400) * 86_400 - 12 * SLOT
        onboard_meter(registry, operator, school, old.address, 1, 50_000, "School hall", commissioning(start))
        domain = domain_from_contract(registry)
        before, after = [700, 900, 1_100, 500], [300, 200, 100]
        readings, g, c, t = [], 0, 0, start  # the hall also consumes 100 Wh a slot, 50 under the new key
        for wh in before:
            g, c, t = g + wh, c + 100, t + SLOT
            readings.append(Reading(old.address, t, g, c, 0, 0))
        registry.submit_readings([r.as_call_arg() for r in readings], [old.sign(r, domain) for r in readings], sender=operator)
        # new hardware, its registers at 9,000,000 Wh generated and 20,000 Wh consumed when fitted
        registry.rotate_meter_key(old.address, new.address, commissioning(t, (9_000_000, 20_000, 0, 0)), sender=operator)
        registry.accept_meter(new.address, sender=school)
        readings, g, c = [], 9_000_000, 20_000
        for wh in after:
            g, c, t = g + wh, c + 50, t + SLOT
            readings.append(Reading(new.address, t, g, c, 0, 0))
        registry.submit_readings([r.as_call_arg() for r in readings], [new.sign(r, domain) for r in readings], sender=operator)
        total = sum(before) + sum(after)
        assert tuple(registry.certifiable(new.address)) == (total, start, t)

        out = cli("certificates", "issue", new.address, "--account", "test:2")
        assert f"issued certificate #1: {total / 1000:.3f} kWh" in out
        assert tuple(registry.certifiable(new.address))[0] == 0
        first, last, profiled = cert.slots_of(1)
        assert profiled and (first, last) == (start // SLOT, (t - 1) // SLOT)
        (ev,) = list(cert.CertificateProfile.range(0, chain.blocks.head.number + 1))
        assert P.unpack(int(ev.first_slot), [int(w) for w in ev.slot_wh]) == {
            start // SLOT + i: wh for i, wh in enumerate(before + after)}
        assert "commitment matches the events" in cli("certificates", "show", "1")
        # the 24/7 matching reads the consumption of both keys too
        data = json.loads(cli("certificates", "matching", school.address, "--meter", new.address, "--json"))
        assert data["consumed_wh"] == 100 * len(before) + 50 * len(after)


@contextmanager
def _isolated(chain):
    """`chain.isolate()` without its flaw: ape 0.8's swallows every exception raised inside it, a failed
    assertion included, so a test in it could never fail. Snapshot, run, restore state and clock."""
    snapshot, pending = chain.snapshot(), chain.pending_timestamp
    try:
        yield
    finally:
        chain.restore(snapshot)
        chain.pending_timestamp = pending


def _iso(ts: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M")
