"""The certificate CLI per slot, against the test session's node: `issue` builds the 30-minute profile
from the meter's accepted readings, `show` prints it, `claim --slots` is a time-matched claim, and
`matching` gives a company's 24/7 score from its meter's consumption and its slot claims."""

import json

import pytest

from gridmint import deployments
from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]
SLOT = 1_800


def test_issue_show_claim_by_slot_and_matching(cli, tmp_path, accounts, chain, project, local_network):
    cli("deploy")
    record = deployments.read(deployments.path_for(deployments.record_key(*local_network.split(":")), chain.chain_id, tmp_path))
    registry = project.MeterRegistry.at(record.address("MeterRegistry"))
    cert = project.EnvironmentalCertificate.at(record.address("EnvironmentalCertificate"))
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


def test_issue__month_by_month_with_a_progress_line(cli, tmp_path, accounts, chain, project, local_network):
    """`issue --months 1` issues only the oldest month of a period over a month end (a part:
    `issue(meter, profile, until)`), the rest stays pending; `issue` then issues the rest."""
    from gridmint import profile as P

    with chain.isolate():  # the clock moves to the next month; the snapshot restores it
        cli("deploy")
        record = deployments.read(deployments.path_for(deployments.record_key(*local_network.split(":")), chain.chain_id, tmp_path))
        registry = project.MeterRegistry.at(record.address("MeterRegistry"))
        cert = project.EnvironmentalCertificate.at(record.address("EnvironmentalCertificate"))
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


def _iso(ts: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M")
