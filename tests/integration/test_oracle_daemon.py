"""The daemon as operators run it: a subprocess against a standalone Anvil and a real mosquitto.

- MQTT: Tasmota SML + PV plug and Shelly Pro 3EM payloads published to the broker are credited on
  chain from the meters' commissioning values; malformed ones are counted on the metrics endpoint
  and never signed; a falling counter halts its meter; SIGTERM drains and exits 0.
  (tests/integration/test_oracle_devices.py covers device clocks, backlogs, resets, login and TLS.)
- Faults: kill -9 at random moments (ORACLE_KILL_ROUNDS, 20 in CI) and a stop/start of Anvil
  mid-run; afterwards every reading the daemon stored is accepted on chain exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import urllib.request

import pytest
from web3 import Web3

from oracle.outbox import Outbox
from tests.utils import oracle_env
from tests.utils.anvil import free_port
from tests.utils.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _accepted_events(env) -> list[tuple[str, int]]:
    registry = env.system.registry.contract
    logs = registry.events.ReadingAccepted().get_logs(from_block=0)
    return [(Web3.to_checksum_address(e["args"]["meter"]), int(e["args"]["timestamp"])) for e in logs]


def _metric(port: int, name: str, labels: str = "") -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    key = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return 0.0


def _metrics_up(port: int) -> bool:
    try:
        _metric(port, "gridmint_oracle_backlog")
        return True
    except OSError:
        return False


@pytest.fixture
def chain(tmp_path, standalone_chain):
    node = standalone_chain(tmp_path).start()
    yield node
    node.stop()


def test_mqtt_devices__tasmota_and_shelly_payloads__credited_as_watt_and_malformed_counted(tmp_path, chain):
    import paho.mqtt.client as mqtt

    broker = Mosquitto(tmp_path).start()
    daemon = None
    try:
        env = oracle_env.build(tmp_path, chain, 2)
        sml, shelly = env.meters
        metrics_port = free_port()
        env.write_config(
            oracle_env.two_device_toml(sml.address, "UTC")
            + f"""

[[meters]]
address = "{shelly.address}"
source = "mqtt"
  [[meters.inputs]]
  topic = "shellypro3em-home/events/rpc"
  format = "shelly"
""",
            extra=f"metrics_port = {metrics_port}\n[mqtt]\nhost = \"127.0.0.1\"\nport = {broker.port}\nclient_id = \"oracle-test\"",
        )
        daemon = env.popen("run", "--config", "oracle.toml", stderr=subprocess.PIPE, text=True)
        _wait(lambda: _metrics_up(metrics_port), 60, "metrics endpoint")
        # publish only once the broker holds the daemon's subscriptions (a first session has no queue yet)
        _wait(lambda: _metric(metrics_port, "gridmint_oracle_mqtt_subscribed") == 1, 30, "mqtt subscription")

        pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="meters")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()

        def send(topic, doc):
            payload = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
            pub.publish(topic, payload, qos=1).wait_for_publish(5)

        # the SML reader (kWh, Tasmota script names) and the PV plug's ENERGY.Total, Time in UTC
        t0 = int(time.time()) - 600
        utc = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))  # noqa: E731
        send("tele/pv-plug/SENSOR", {"Time": utc(t0), "ENERGY": {"Total": 1.000, "Power": 900}})
        send("tele/sml-reader/SENSOR", {"Time": utc(t0), "SML": {"Total_in": 10.250, "Total_out": 5.5}})
        # Shelly Pro 3EM NotifyStatus, Wh
        send(
            "shellypro3em-home/events/rpc",
            {"src": "shellypro3em-home", "method": "NotifyStatus",
             "params": {"ts": t0, "emdata:0": {"id": 0, "total_act": 2000.4, "total_act_ret": 100.9}}},
        )
        # malformed input: bad JSON, a falling counter, an unknown device -> counted, never signed
        send("tele/pv-plug/SENSOR", b"{not json")
        send("tele/unknown/SENSOR", {"ENERGY": {"Total": 1}})
        _wait(lambda: len(_accepted_events(env)) == 2, 30, "two first readings")
        # a two-device meter signs again once both devices have reported again
        send("tele/pv-plug/SENSOR", {"Time": utc(t0 + 60), "ENERGY": {"Total": 1.000, "Power": 0}})
        send("tele/sml-reader/SENSOR", {"Time": utc(t0 + 60), "SML": {"Total_in": 10.300, "Total_out": 6.75}})
        send("shellypro3em-home/events/rpc",
             {"method": "NotifyStatus", "params": {"ts": t0 + 60, "emdata:0": {"total_act": 2001, "total_act_ret": 350.2}}})
        send("tele/sml-reader/SENSOR", {"Time": utc(t0 + 120), "SML": {"Total_in": 10.400, "Total_out": 6.0}})  # falls

        # from the zero commissioning values; each reading mints its export, then burns its import:
        # SML 5,500 - 10,250 -> 0, then +1,250 - 50 -> 1,200 WATT; Shelly 100 - 2,000 -> 0, then +250 - 1 -> 249
        watt = env.system.watt
        sml_owner, shelly_owner = env.owners
        assert sml_owner.address != shelly_owner.address
        _wait(lambda: len(_accepted_events(env)) == 4, 30, "4 accepted")
        registry = env.system.registry
        assert tuple(registry.last_reading(sml.address))[2:] == (1_000, 0, 6_750, 10_300)
        assert tuple(registry.last_reading(shelly.address))[2:] == (0, 0, 350, 2_001)
        assert watt.balanceOf(sml_owner.address) == 1_200 and watt.balanceOf(shelly_owner.address) == 249
        # the daemon counts a batch once it read the receipt, just after the chain state changed
        malformed = "gridmint_oracle_malformed_total"
        _wait(lambda: _metric(metrics_port, malformed, 'kind="counter_down",source="mqtt"') == 1, 30, "counter_down")
        _wait(lambda: _metric(metrics_port, "gridmint_oracle_accepted_total") == 4, 30, "4 accepted")
        assert _metric(metrics_port, malformed, 'kind="bad_json",source="mqtt"') == 1
        assert _metric(metrics_port, malformed, 'kind="unknown_device",source="mqtt"') == 1
        assert _metric(metrics_port, "gridmint_oracle_meter_halted", f'meter="{sml.address}"') == 1
        pub.loop_stop()

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        logs = [json.loads(line) for line in daemon.stderr.read().splitlines() if line.startswith("{")]
        assert any(entry["msg"] == "stopped" and entry["drained"] for entry in logs)
        assert not any("PRIVATE" in line.upper() or "0x" + "ac0974" in line for line in map(json.dumps, logs))
        status = env.cli("status", "--config", "oracle.toml", "--json")
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert doc["readings"]["accepted"] == 4 and doc["backlog"] == 0
        assert doc["meters"][sml.address]["halted"]["register"] == "exported_wh"
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        broker.stop()


@pytest.mark.local_chain
def test_kill_9_and_chain_restart_lose_nothing_and_credit_nothing_twice(tmp_path, chain):
    rounds = int(os.environ.get("ORACLE_KILL_ROUNDS", "20"))
    rng = random.Random(int(os.environ.get("ORACLE_KILL_SEED", "2026")))
    env = oracle_env.build(tmp_path, chain, 8)
    env.write_config(
        "\n".join(
            f'[[meters]]\naddress = "{m.address}"\nsource = "simulator"\npv_kwp = {4 + i}\n'
            f'annual_kwh = {3000 + 500 * i}\nprofile = "H25"\n'
            for i, m in enumerate(env.meters)
        ),
        extra="batch_size = 5\nmax_in_flight = 3\n[simulator]\ninterval_s = 1.0",
    )
    restart_at = rounds // 2

    def stored_rows() -> int:
        if not env.db.exists():
            return 0
        outbox = Outbox(env.db)
        try:
            return sum(outbox.counts().values())
        finally:
            outbox.close()

    for round_ in range(rounds):
        before = stored_rows()
        daemon = env.popen("run", "--config", "oracle.toml", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # kill once the daemon is producing: at a random moment of its signing / sending / settling
        try:
            _wait(lambda: stored_rows() > before, 60, f"round {round_} to produce readings")
        except AssertionError:
            daemon.kill()
            raise AssertionError(daemon.stderr.read().decode()[-3000:]) from None
        time.sleep(rng.uniform(0.0, 2.0))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        if round_ == restart_at:
            chain.stop()  # chain outage: pending transactions and the daemon's view are gone
            chain.start()
    # a last clean run drains everything that was stored
    daemon = env.popen("run", "--config", "oracle.toml", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0

    outbox = Outbox(env.db)
    counts = outbox.counts()
    stored = {(r.meter, r.timestamp) for r in outbox.accepted()}
    on_chain = _accepted_events(env)
    assert counts["signed"] == counts["submitted"] == counts["rejected"] == 0, counts
    assert counts["accepted"] >= rounds * 8, "too few readings to mean anything"
    # exactly once: no duplicate on chain, and the chain's set is the outbox's set
    assert len(on_chain) == len(set(on_chain))
    assert set(on_chain) == stored
    # and the chain's counters are the outbox's newest samples
    for meter in env.meters:
        newest = outbox.last_sample(meter.address)
        assert tuple(env.system.registry.last_reading(meter.address))[:1] == (newest.timestamp,)


def _csv(meter: str, rows: list[tuple[int, int, int]]) -> str:
    """A backfill file: (timestamp, exported Wh, imported Wh) per row."""
    lines = ["meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh"]
    lines += [f"{meter},{ts},0,0,{exp},{imp}" for ts, exp, imp in rows]
    return "\n".join(lines) + "\n"


def _rejected_events(env) -> int:
    return len(env.system.registry.contract.events.ReadingRejected().get_logs(from_block=0))


def test_backfill__rows_the_chain_would_refuse__named_one_line_each_nothing_sent_exit_2_then_unhalt(tmp_path, chain):
    # a 10 kW meter: at most 5,000 Wh per register in half an hour
    env = oracle_env.build(tmp_path, chain, 1, rated_power_w=10_000)
    meter = env.meters[0].address
    env.write_config(f'[[meters]]\naddress = "{meter}"\nsource = "simulator"\n')
    w3 = chain.w3()
    now = w3.eth.get_block("latest")["timestamp"]
    (env.root / "good.csv").write_text(_csv(meter, [(now - 7_200, 1_000, 4_000)]))
    good = env.cli("backfill", "good.csv", "--config", "oracle.toml")
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "good.csv: 1 rows: 1 signed, 0 stored before, 0 refused; accepted 1, rejected 0, not settled 0"

    (env.root / "bad.csv").write_text(_csv(meter, [
        (now + 3_600, 2_000, 4_100),  # line 2: an hour ahead of the chain's clock
        (now - 9_000, 500, 4_000),  # line 3: before the last accepted reading
        (now - 5_400, 21_000, 4_000),  # line 4: 20,000 Wh in 30 min from a 10 kW meter
        (now - 3_600, 3_000, 8),  # line 5: 8 kWh typed into the Wh column: imported falls 4,000 -> 8
        (now - 1_800, 3_500, 8_500),  # line 6: fine, but its meter is halted now
    ]))
    block = w3.eth.block_number
    bad = env.cli("backfill", "bad.csv", "--config", "oracle.toml")
    assert bad.returncode == 2, bad.stdout + bad.stderr
    lines = bad.stderr.splitlines()
    at = lambda ts: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))  # noqa: E731
    assert [line.split(": refused, ")[0] for line in lines] == [
        f"bad.csv line {n}: meter {meter} at {at(ts)}"
        for n, ts in ((2, now + 3_600), (3, now - 9_000), (4, now - 5_400), (5, now - 3_600), (6, now - 1_800))
    ], bad.stderr
    kinds = [line.split(": refused, ")[1].split(":")[0] for line in lines]
    assert kinds == ["future", "stale_sample", "implausible", "counter_down", "meter_halted"]
    assert "max_clock_skew is 300 s" in lines[0] and "rated power 10000 W allows 5000 Wh" in lines[2]
    assert "imported_wh fell 4000 -> 8 Wh; meter HALTED" in lines[3] and f"`gridmint-oracle unhalt {meter} --config oracle.toml`" in lines[3]
    assert bad.stdout.strip() == "bad.csv: 5 rows: 0 signed, 0 stored before, 5 refused; accepted 0, rejected 0, not settled 0"
    assert w3.eth.block_number == block and _rejected_events(env) == 0  # nothing was sent

    # the typo was never on chain: one command clears the halt, nothing is signed
    cleared = env.cli("unhalt", meter, "--config", "oracle.toml")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.startswith(f"meter {meter}: halt cleared (imported_wh fell 4000 -> 8 Wh)")
    assert w3.eth.block_number == block and Outbox(env.db).counts()["signed"] == 0
    (env.root / "fixed.csv").write_text(_csv(meter, [(now - 7_200, 1_000, 4_000), (now - 3_600, 3_000, 8_000),
                                                    (now - 1_800, 3_500, 8_500)]))
    fixed = env.cli("backfill", "fixed.csv", "--config", "oracle.toml")
    assert fixed.returncode == 0, fixed.stderr
    # the summary counts this file's rows, not the outbox's
    assert fixed.stdout.strip() == "fixed.csv: 3 rows: 2 signed, 1 stored before, 0 refused; accepted 3, rejected 0, not settled 0"
    assert len(_accepted_events(env)) == 3 and _rejected_events(env) == 0
