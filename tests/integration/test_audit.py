"""`gridmint-audit` end to end on the session's node: deploy, readings, a trade, a certificate and a
claim, then the CLI recomputes everything from the chain's logs and finds no difference; a second
run after more activity reads only the new blocks. Bad input: one line on stderr, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner, Reading, domain_from_contract

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]


def _audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gridmint.audit.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_audit_cli__no_differences__second_run_reads_only_new_blocks(cli_deploy, tmp_path, accounts, chain, networks):
    d = cli_deploy()
    path = d.path
    registry, watt, tsl, quote, exchange, certificate = d.registry, d.watt, d.tsl, d.quote, d.exchange, d.certificate
    operator, seller, buyer = accounts[0], accounts[2], accounts[3]
    url = networks.provider.uri

    meters = [MeterSigner(bytes.fromhex(f"{0x50 + i:02x}" * 32)) for i in range(2)]
    for m, owner in zip(meters, (seller, buyer)):
        onboard_meter(registry, operator, owner, m.address, 1, 50_000, "audit roof",
                      commissioning(chain.pending_timestamp - 1))
    domain = domain_from_contract(registry)
    regs = {m.address: [0, 0, 0, 0] for m in meters}

    def readings(*deltas):
        chain.pending_timestamp += 1_800
        rs = []
        for m, d in zip(meters, deltas):
            regs[m.address] = [a + b for a, b in zip(regs[m.address], d)]
            rs.append(Reading(m.address, chain.pending_timestamp, *regs[m.address]))
        registry.submit_readings([r.as_call_arg() for r in rs], [m.sign(r, domain) for m, r in zip(meters, rs)],
                                 sender=operator)

    readings((9_000, 2_000, 7_000, 0), (3_000, 1_000, 2_000, 0))
    for who in (seller, buyer):
        tsl.mint(who, 10**19, sender=operator)
        tsl.approve(watt.address, 10**19, sender=who)
        watt.deposit_rent(10**18, sender=who)
    quote.mint(buyer, 100 * 10**6, sender=operator)
    quote.approve(exchange.address, 100 * 10**6, sender=buyer)
    exchange.place_order(False, 200_000, 5_000, 0, 0, sender=seller)
    readings((1_000, 2_000, 0, 1_000), (0, 1_500, 0, 1_500))
    exchange.place_order(True, 210_000, 3_000, 0, 0, sender=buyer)
    certificate.issue(meters[0].address, sender=seller)
    certificate.claim(1, 4_000, buyer.address, "audit test", sender=seller)

    store, html = tmp_path / "audit.sqlite", tmp_path / "audit.html"
    first = _audit(str(path), "--rpc-url", url, "--store", str(store), "--json", "--html", str(html))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    report = json.loads(first.stdout)
    assert report["differences"] == 0, [f for f in report["findings"] if f["kind"] in ("compare", "invariant")]
    assert report["block"] == chain.blocks.head.number
    assert report["timings"]["logs fetched this run"] == report["events"] > 20
    assert html.exists() and "no differences" in html.read_text()
    print("audit timings:", json.dumps(report["timings"]))
    totals = report["totals"]
    assert totals["readings credited"] == 4 and "1, 3,000" in totals["energy market: trades, volume (Wh), open orders"]

    # more activity; the second run reads only the new blocks, and still finds nothing
    readings((500, 100, 400, 0), (200, 100, 100, 0))
    watt.transfer(buyer, 500, sender=seller)
    second = _audit(str(path), "--rpc-url", url, "--store", str(store), "--json", "--no-html")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    again = json.loads(second.stdout)
    assert again["differences"] == 0
    assert again["timings"]["blocks fetched this run"] == again["block"] - report["block"] == 2
    assert 0 < again["timings"]["logs fetched this run"] < report["events"]
    assert again["events"] == report["events"] + again["timings"]["logs fetched this run"]

    # the table (what a member reads) ends with the verdict
    table = _audit(str(path), "--rpc-url", url, "--store", str(store), "--no-html")
    assert table.returncode == 0 and f"audited up to block {again['block']}: no differences" in table.stdout


def test_audit_cli__bad_input__one_line_exit_2(tmp_path, networks):
    missing = _audit(str(tmp_path / "nope.json"), "--rpc-url", networks.provider.uri)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "no deployment record" in missing.stderr
    (tmp_path / "bad.json").write_text("{}")
    bad = _audit(str(tmp_path / "bad.json"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"network": "ethereum:local", "chain_id": 5, "contracts": {}}))
    other = _audit(str(record), "--rpc-url", networks.provider.uri)
    assert other.returncode == 2 and "the record is for chain 5" in other.stderr
    unreachable = _audit(str(record), "--rpc-url", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and unreachable.stderr.count("\n") == 1
