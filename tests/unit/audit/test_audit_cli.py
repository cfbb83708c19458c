"""The command line without a node: bad input is one line and exit 2; --follow serves its gauges on
127.0.0.1 and keeps auditing (the audit itself faked)."""

from __future__ import annotations

import urllib.request
from types import SimpleNamespace

from gridmint.audit import cli
from gridmint.audit.findings import PLAUSIBILITY, Finding
from gridmint.audit.report import Report


def test_bad_input__one_line_exit_2(tmp_path, capsys):
    assert cli.main([str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no deployment record" in err
    config = tmp_path / "audit.toml"
    config.write_text("neighbor_factor = 3\n")
    (tmp_path / "r.json").write_text("{}")
    assert cli.main([str(tmp_path / "r.json"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown audit config keys" in err and "neighbor_factor" in err
    assert cli.main([str(tmp_path / "r.json"), "--interval", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_follow__gauges_on_localhost(monkeypatch, tmp_path, capsys):
    reports = iter([100, 105])
    scraped = []

    def fake_audit(record, rpc_url, store_path, **kwargs):
        block = next(reports)
        finding = Finding(PLAUSIBILITY, "pv.night", "MeterRegistry", "0xm", None, 20, 900, "Wh", "", block)
        return Report("ethereum:local", 31337, 1, block, 0, 10, [finding], {("0xm", "pv.night"): 1})

    def fake_sleep(_s):
        text = urllib.request.urlopen(f"http://127.0.0.1:{port[0]}/metrics", timeout=5).read().decode()
        scraped.append(text)
        if len(scraped) == 2:
            raise KeyboardInterrupt

    import prometheus_client

    real_start = prometheus_client.start_http_server
    port = []

    def start(p, addr, registry):
        assert addr == "127.0.0.1"
        server, thread = real_start(0, addr=addr, registry=registry)
        port.append(server.server_port)
        return server, thread

    monkeypatch.setattr(cli, "audit", fake_audit)
    monkeypatch.setattr(cli, "time", SimpleNamespace(sleep=fake_sleep))
    monkeypatch.setattr(prometheus_client, "start_http_server", start)
    monkeypatch.setattr("gridmint.audit.fetch.head_block", lambda rpc: 107)
    assert cli.main([str(tmp_path / "r.json"), "--follow"]) == 0
    assert "gridmint_audit_audited_block 100.0" in scraped[0]
    assert "gridmint_audit_audited_block 105.0" in scraped[1]
    assert "gridmint_audit_blocks_behind 2.0" in scraped[1]
    assert 'gridmint_audit_findings{kind="plausibility"} 1.0' in scraped[1]
    assert "audited up to block 105: no differences, 1 plausibility finding" in capsys.readouterr().err
