"""gridmint-oracle's commands that need no chain: keys, status, and clear errors for bad input."""

import json

from click.testing import CliRunner

from oracle.cli import main
from oracle.eip712 import Reading
from oracle.outbox import Outbox


def test_keys_new_prints_addresses_only_and_list_reads_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMINT_KEY_PASSWORD", "correct horse battery")
    runner = CliRunner()
    result = runner.invoke(main, ["keys", "new", "--dir", str(tmp_path / "k"), "--count", "2"])
    assert result.exit_code == 0, result.output
    addresses = result.output.split()
    assert len(addresses) == 2 and all(a.startswith("0x") and len(a) == 42 for a in addresses)
    files = sorted((tmp_path / "k").glob("*.json"))
    assert [f.stem for f in files] == sorted(addresses)
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)
    assert all("ciphertext" in json.loads(f.read_text())["crypto"] for f in files)
    listed = runner.invoke(main, ["keys", "list", "--dir", str(tmp_path / "k")])
    assert listed.exit_code == 0 and sorted(listed.output.split()) == sorted(addresses)


def test_keys_new_refuses_a_short_password_and_list_an_empty_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMINT_KEY_PASSWORD", "short")
    runner = CliRunner()
    result = runner.invoke(main, ["keys", "new", "--dir", str(tmp_path / "k")])
    assert result.exit_code != 0 and "at least 8" in result.output
    assert not (tmp_path / "k").exists() or not list((tmp_path / "k").glob("*.json"))
    result = runner.invoke(main, ["keys", "list", "--dir", str(tmp_path / "none")])
    assert result.exit_code != 0 and "no keystores" in result.output


def test_status_reads_the_outbox(tmp_path):
    (tmp_path / "c.toml").write_text('[oracle]\ndatabase = "o.db"\n')
    runner = CliRunner()
    missing = runner.invoke(main, ["status", "--config", str(tmp_path / "c.toml")])
    assert missing.exit_code != 0 and "no outbox" in missing.output
    box = Outbox(tmp_path / "o.db")
    meter = "0x" + "11" * 20
    box.add(Reading(meter, 5, 1, 2, 3, 4), b"s" * 65, "test")
    rows = box.next_batch(1)
    box.mark_submitted([rows[0].id], "0xab", 0)
    box.settle("0xab", {(meter, 5): None}, 100_000, 1)
    box.add(Reading(meter, 6, 1, 2, 3, 4), b"s" * 65, "test")
    result = runner.invoke(main, ["status", "--config", str(tmp_path / "c.toml"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["readings"] == {"signed": 1, "submitted": 0, "accepted": 1, "rejected": 0}
    assert doc["backlog"] == 1 and doc["last_accepted"] == {meter: 5} and doc["last_batch_gas"] == 100_000


def test_run_and_backfill_refuse_bad_config_before_touching_anything(tmp_path):
    runner = CliRunner()
    (tmp_path / "bad.toml").write_text('[[meters]]\naddress = "nope"\nsource = "mqtt"\n')
    result = runner.invoke(main, ["run", "--config", str(tmp_path / "bad.toml")])
    assert result.exit_code != 0 and "not an address" in result.output
    (tmp_path / "nochain.toml").write_text('[chain]\ndeployment = "missing.json"\n')
    (tmp_path / "r.csv").write_text("meter,timestamp\n")
    result = runner.invoke(main, ["backfill", str(tmp_path / "r.csv"), "--config", str(tmp_path / "nochain.toml")])
    assert result.exit_code != 0 and "no deployment file" in result.output
    assert not (tmp_path / "oracle.db").exists()


def test_status__rejected_halted_and_waiting_meters__shown_per_meter(tmp_path):
    sml, plug = "tele/sml-reader/SENSOR", "tele/pv-plug/SENSOR"
    meter, other = "0x" + "11" * 20, "0x" + "22" * 20
    from eth_utils import to_checksum_address

    meter, other = to_checksum_address(meter), to_checksum_address(other)
    (tmp_path / "c.toml").write_text(
        f'[oracle]\ndatabase = "o.db"\n[chain]\ndeployment = "none.json"\n'
        f'[[meters]]\naddress = "{meter}"\nsource = "simulator"\n'
        f'[[meters]]\naddress = "{other}"\nsource = "mqtt"\ntimezone = "UTC"\n'
        f'  [[meters.inputs]]\n  topic = "{sml}"\n  format = "tasmota"\n'
        '  registers = { imported_wh = "SML.Total_in", exported_wh = "SML.Total_out" }\n'
        f'  [[meters.inputs]]\n  topic = "{plug}"\n  format = "tasmota"\n'
    )
    box = Outbox(tmp_path / "o.db")
    for ts in (5, 6, 7):
        box.add(Reading(meter, ts, 1, 2, 3, ts), b"s" * 65, "test")
    ids = [row.id for row in box.next_batch(2)]
    box.mark_submitted(ids, "0xab", 0)
    box.settle("0xab", {(meter, 5): None, (meter, 6): 7}, 100_000, 1)
    box.halt(meter, None, "imported_wh", 7, 0, 8)
    box.record(other, plug, 9, {"generated_wh": 4})
    box.device_seen("tele/pv-plug/LWT", True)
    box.device_seen("tele/pv-plug/LWT", False)
    result = CliRunner().invoke(main, ["status", "--config", str(tmp_path / "c.toml"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    m = doc["meters"][meter]
    assert m["last_accepted"] == {"timestamp": 5, "generated_wh": 1, "consumed_wh": 2, "exported_wh": 3, "imported_wh": 5}
    assert m["last_rejected"] == {"timestamp": 6, "reason": 7, "reason_name": "implausible"}
    assert m["backlog"] == 1 and m["halted"]["register"] == "imported_wh" and m["owner_accepted"] is None
    assert doc["meters"][other]["waiting_for"] == [sml] and doc["chain_reachable"] is False
    assert doc["devices"]["tele/pv-plug/LWT"] == {**doc["devices"]["tele/pv-plug/LWT"], "online": False, "offline_count": 1}
    table = CliRunner().invoke(main, ["status", "--config", str(tmp_path / "c.toml")], env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    assert "HALTED" in table.output and "implausible" in table.output and "waiting for" in table.output
    assert "devices offline: tele/pv-plug/LWT" in table.output
