"""The public auditor's verdict in the member app: `make app` audits the seeded chain
(tools.app_serve.audit_app), serves the JSON and HTML report beside the app and re-audits while
serving; the home and claim-proof pages show "audited up to block N" with a link to the report, and
nothing at all when the server has no audit."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.utils.browser import connect, drawn_at

pytestmark = pytest.mark.integration
SELLER = "Okafor household"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def test_audit__home_and_proof_show_the_audited_block_with_no_differences__link_opens_the_report(
        open_app, members, app_url, audited, contracts):
    _, report, head = audited
    assert report.block == head, "a local chain is audited up to its head (no confirmations)"
    assert report.events > 0 and not report.differences, report.headline()
    status, body = get(app_url + "audit/audit.json")
    assert status == 200
    served = json.loads(body)
    assert (served["block"], served["differences"], served["headline"]) == (report.block, 0, report.headline())
    assert json.loads(get(app_url + "config.json")[1])["audit"] == "audit/audit.json"

    page = open_app(members[SELLER]["account"])
    connect(page)
    drawn_at(page)
    line = page.get_by_test_id("audit")
    expect(line).to_contain_text(f"Audited up to block {report.block}: no differences.")
    assert "difference" not in line.inner_text().split("no differences", 1)[1], "one verdict, no count beside it"
    link = line.get_by_role("link", name="Read the audit report")
    assert link.get_attribute("href") == app_url + "audit/audit.html"
    with page.context.expect_page() as opened:
        link.click()
    report_page = opened.value
    report_page.wait_for_load_state()
    assert report_page.url == app_url + "audit/audit.html"
    expect(report_page.locator("p.good")).to_have_text(report.headline())
    res = page.request.get(app_url + "audit/audit.html")
    assert res.status == 200 and res.headers["content-type"].startswith("text/html")
    assert report.headline() in res.text()

    # the claim proof a member shares carries the same verdict, no wallet needed
    claimed = contracts["EnvironmentalCertificate"].events.Claimed().get_logs(from_block=0)
    assert claimed, "the seed claims part of a certificate"
    stranger = open_app(members[SELLER]["account"], path=f"#/proof/tx/{claimed[0]['transactionHash'].to_0x_hex()}")
    expect(stranger.get_by_test_id("claim-proof")).to_be_visible()
    expect(stranger.get_by_test_id("audit")).to_contain_text(f"Audited up to block {report.block}: no differences.")


def test_audit__no_audit_served__nothing_shown_and_no_console_error(open_app, members, app_url_without_audit,
                                                                     contracts):
    assert "audit" not in json.loads(get(app_url_without_audit + "config.json")[1])
    assert get(app_url_without_audit + "audit/audit.json")[0] == 404
    errors: list[str] = []
    page = open_app(members[SELLER]["account"], base=app_url_without_audit, console_errors=errors)
    connect(page)
    drawn_at(page)
    expect(page.get_by_test_id("watt-held")).not_to_be_empty()
    expect(page.get_by_test_id("audit")).to_be_hidden()
    expect(page.get_by_text("Audited up to")).to_have_count(0)
    tx = contracts["EnvironmentalCertificate"].events.Claimed().get_logs(from_block=0)[0]["transactionHash"].to_0x_hex()
    page.goto(app_url_without_audit + f"#/proof/tx/{tx}")
    expect(page.get_by_test_id("claim-proof")).to_be_visible()
    expect(page.get_by_text("Audited up to")).to_have_count(0)
    assert errors == []


def test_audit__reaudits_while_serving__reads_only_new_blocks__stops_when_asked(chain, audited, tmp_path):
    from tools.app_serve import audit_app, audit_every, serve

    w3, rpc, seeded = chain
    first = audit_app(rpc, seeded.deployment, tmp_path)  # a store of its own: the served audit stays put
    assert first.block == w3.eth.block_number
    server = serve(rpc, seeded.deployment, 0, audit_dir=tmp_path)
    url = f"http://127.0.0.1:{server.server_address[1]}/audit/audit.json"
    stop = threading.Event()
    try:
        for _ in range(3):
            w3.provider.make_request("evm_mine", [])
        head = w3.eth.block_number
        thread = audit_every(0.2, rpc, seeded.deployment, tmp_path, stop)
        deadline = time.time() + 60
        while (served := json.loads(get(url)[1]))["block"] < head:
            assert time.time() < deadline, f"still audited up to block {served['block']}, head {head}"
            time.sleep(0.2)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
    assert served["block"] == head and served["differences"] == 0
    assert served["headline"].startswith(f"audited up to block {head}: no differences")
    assert served["timings"]["blocks fetched this run"] <= 3, "the store is incremental: only new blocks are read"
    thread.join(timeout=60)
    assert not thread.is_alive(), "the auditor thread ends once asked to stop"


def test_audit__differences_found__home_warns_with_their_number_in_words(open_app, members, chain, audited,
                                                                       tmp_path):
    from tools.app_serve import AUDIT_HTML, AUDIT_JSON, serve

    audit_dir, report, _ = audited
    # the served audit as it would read had the auditor found three differences (the app reads the counts)
    body = json.loads((audit_dir / AUDIT_JSON).read_text()) | {"differences": 3, "plausibility_findings": 2}
    (tmp_path / AUDIT_JSON).write_text(json.dumps(body))
    (tmp_path / AUDIT_HTML).write_bytes((audit_dir / AUDIT_HTML).read_bytes())
    server = serve(chain[1], chain[2].deployment, 0, audit_dir=tmp_path)
    try:
        page = open_app(members[SELLER]["account"], base=f"http://127.0.0.1:{server.server_address[1]}/")
        connect(page)
        drawn_at(page)
        line = page.get_by_test_id("audit")
        expect(line).to_contain_text(f"Audited up to block {report.block}: three differences between")
        expect(line).to_contain_text("Two half-hour meter readings flagged as implausible.")
        expect(line).to_have_class("audit alert")
        expect(line.get_by_role("link", name="Read the audit report")).to_be_visible()
    finally:
        server.shutdown()
        server.server_close()
