"""The daemon with real-device behaviour, as a subprocess against a standalone chain and a real
mosquitto: a two-device Tasmota meter (SML read head + PV plug) started in either order, device
clocks and a backlog queued while the daemon was down, a counter reset that halts the meter until it
is re-commissioned, kill -9 while a meter waits for its second device, device availability, an
owner who has not accepted a meter (rejections in the logs and in `status`), and brokers with a
login and TLS."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from eth_hash.auto import keccak
from web3 import Web3

from gridmint.onboarding import commissioning, onboard_meter
from oracle.eip712 import MeterSigner
from oracle.keys import import_key
from oracle.outbox import Outbox
from tests.integration.test_oracle_daemon import _metric, _metrics_up, _wait
from tests.utils import oracle_env
from tests.utils.anvil import dev_account, free_port
from tests.utils.mosquitto import Mosquitto, make_certificates

pytestmark = pytest.mark.integration

SML, PLUG = oracle_env.SML_TOPIC, oracle_env.PLUG_TOPIC
two_device_toml = oracle_env.two_device_toml
RATED_W = 10_000  # a 10 kW site: 166 Wh a minute at most


@pytest.fixture
def chain(tmp_path, standalone_chain):
    node = standalone_chain(tmp_path).start()
    yield node
    node.stop()


@pytest.fixture
def broker(tmp_path):
    mosquitto = Mosquitto(tmp_path).start()
    yield mosquitto
    mosquitto.stop()


def add_meter(env, label: str, registers=(0, 0, 0, 0), at: int | None = None, accept: bool = True, owner=None):
    """A meter key in the keystore, registered with its commissioning values (read `at`) and
    accepted by its owner unless `accept` is False."""
    secret = keccak(f"oracle-device-test:{label}".encode())
    meter = MeterSigner(secret)
    import_key(env.root / "keys", secret, oracle_env.PASSWORD, kdf="pbkdf2", iterations=2)
    owner = owner or dev_account(2)
    onboard_meter(env.system.registry, dev_account(0), owner, meter.address, 1, RATED_W, label,
                  commissioning(at or int(time.time()) - 3_600, registers), accept=accept)
    return meter


def berlin(ts: float) -> str:
    """A unix time as Tasmota prints `Time` on a device set to Europe/Berlin."""
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(int(ts), ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%dT%H:%M:%S")


class Publisher:
    def __init__(self, port: int, **tls):
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"meters-{port}")
        if tls.get("users"):
            self.client.username_pw_set(*tls["users"])
        if tls.get("ca"):
            self.client.tls_set(ca_certs=str(tls["ca"]), certfile=tls.get("cert"), keyfile=tls.get("key"))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic, doc, retain=False):
        payload = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def accepted(env, meter: str | None = None) -> list[dict]:
    logs = env.system.registry.contract.events.ReadingAccepted().get_logs(from_block=0)
    out = [dict(e["args"]) for e in logs]
    for entry in out:
        entry["meter"] = Web3.to_checksum_address(entry["meter"])
    return [e for e in out if meter is None or e["meter"] == meter]


def start(env, metrics_port: int, extra_env: dict | None = None, mqtt: bool = True) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "oracle.cli", "run", "--config", "oracle.toml"], cwd=env.root,
        env={**env.env(), **(extra_env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait(lambda: proc.poll() is not None or _metrics_up(metrics_port), 60, "metrics endpoint")
        if mqtt:
            _wait(lambda: proc.poll() is not None or _metric(metrics_port, "gridmint_oracle_mqtt_subscribed") == 1,
                  30, "mqtt subscription")
    except AssertionError:
        proc.kill()
        raise AssertionError(proc.stderr.read()[-3000:]) from None
    if proc.poll() is not None:
        raise AssertionError(proc.stderr.read()[-3000:])
    return proc


def stop(proc: subprocess.Popen) -> list[dict]:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    return [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]


def config(env, broker, meters_toml: str, metrics_port: int, mqtt_extra: str = "") -> None:
    env.write_config(
        meters_toml,
        extra=f'metrics_port = {metrics_port}\n[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
              f'client_id = "oracle-{metrics_port}"\n{mqtt_extra}',
    )


def test_two_device_meters__either_device_first__first_reading_holds_both_and_credits_from_commissioning(
    tmp_path, chain, broker
):
    env = oracle_env.build(tmp_path, chain, 0, rated_power_w=RATED_W)
    now = int(time.time())
    # commissioning values read at installation an hour ago: the plug had 2,999.5 kWh, the grid meter 10 / 5 kWh
    sml_first = add_meter(env, "sml first", (2_999_500, 0, 5_000, 10_000), at=now - 3_600)
    plug_first = add_meter(env, "plug first", (1_000_000, 0, 0, 0), at=now - 3_600, owner=dev_account(3))
    not_accepted = add_meter(env, "not accepted", at=now - 3_600, accept=False)
    port = free_port()
    toml = two_device_toml(sml_first.address).replace("sml-reader", "a-sml").replace("pv-plug", "a-plug")
    toml += two_device_toml(plug_first.address).replace("sml-reader", "b-sml").replace("pv-plug", "b-plug")
    toml += f'[[meters]]\naddress = "{not_accepted.address}"\nsource = "mqtt"\n' \
            '  [[meters.inputs]]\n  topic = "shellypro3em-home/events/rpc"\n  format = "shelly"\n'
    config(env, broker, toml, port)
    daemon = start(env, port)
    pub = Publisher(broker.port)
    try:
        pub.send("tele/a-sml/SENSOR", {"Time": berlin(now - 120), "SML": {"Total_in": 10.0, "Total_out": 5.5}})
        pub.send("tele/b-plug/SENSOR", {"Time": berlin(now - 110), "ENERGY": {"Total": 1000.3}})
        _wait(lambda: Outbox(env.db).inputs_of(plug_first.address), 20, "b-plug stored")
        time.sleep(0.5)
        assert accepted(env) == []  # neither meter has both devices yet: nothing signed
        status = json.loads(env.cli("status", "--config", "oracle.toml", "--json").stdout)
        assert status["meters"][sml_first.address]["waiting_for"] == ["tele/a-plug/SENSOR"]
        pub.send("tele/a-plug/SENSOR", {"Time": berlin(now - 100), "ENERGY": {"Total": 3000.0}})
        pub.send("tele/b-sml/SENSOR", {"Time": berlin(now - 90), "SML": {"Total_in": 0.2, "Total_out": 0.1}})
        # the Shelly meter its owner never accepted: rejected with reason 2, logged and shown
        pub.send("shellypro3em-home/events/rpc", {"method": "NotifyStatus",
                 "params": {"ts": now - 80, "emdata:0": {"total_act": 10, "total_act_ret": 20}}})
        # the plug's availability: offline and back
        pub.send("tele/a-plug/LWT", "Offline")
        pub.send("tele/a-plug/LWT", "Online")
        _wait(lambda: len(accepted(env)) == 2, 30, "two first readings")
        _wait(lambda: _metric(port, "gridmint_oracle_rejects_total", 'reason="inactive_meter"') == 1, 30, "reject")
        a, b = accepted(env, sml_first.address)[0], accepted(env, plug_first.address)[0]
        # deltas from the commissioning values, stamped with the newer device's time
        assert (a["timestamp"], a["generated_wh"], a["exported_wh"], a["imported_wh"]) == (now - 100, 500, 500, 0)
        assert (b["timestamp"], b["generated_wh"], b["exported_wh"], b["imported_wh"]) == (now - 90, 300, 100, 200)
        assert _metric(port, "gridmint_oracle_device_offline_total", 'device="tele/a-plug"') == 1
        assert _metric(port, "gridmint_oracle_device_online", 'device="tele/a-plug"') == 1
    finally:
        pub.close()
        logs = stop(daemon) if daemon.poll() is None else []
    rejected = [e for e in logs if e["msg"] == "reading rejected"]
    assert [(e["meter"], e["timestamp"], e["reason"], e["reason_name"]) for e in rejected] == [
        (not_accepted.address, now - 80, 2, "inactive_meter")
    ]
    from gridmint.units import REJECT_REASONS  # the words of the contract's reason, from the one generated table

    assert rejected[0]["reason_text"] == REJECT_REASONS[2] and "inactive" in REJECT_REASONS[2]
    assert [e["device"] for e in logs if e["msg"] == "device offline"] == ["tele/a-plug"]
    assert any(e["msg"] == "device back online" for e in logs)
    status = json.loads(env.cli("status", "--config", "oracle.toml", "--json").stdout)
    shelly = status["meters"][not_accepted.address]
    assert shelly["owner_accepted"] is False and shelly["last_rejected"]["reason"] == 2
    assert status["meters"][sml_first.address]["owner_accepted"] is True
    assert status["meters"][sml_first.address]["last_accepted"]["timestamp"] == now - 100
    table = env.cli("status", "--config", "oracle.toml")
    assert table.returncode == 0 and REJECT_REASONS[2] in table.stdout


def test_backlog_queued_while_stopped__accepted_with_the_devices_own_times(tmp_path, chain, broker):
    env = oracle_env.build(tmp_path, chain, 0, rated_power_w=RATED_W)
    now = int(time.time())
    meter = add_meter(env, "backlog", (0, 0, 0, 0), at=now - 7_200)
    port = free_port()
    config(env, broker, two_device_toml(meter.address), port)
    daemon = start(env, port)
    stop(daemon)  # the broker now keeps a queue for the daemon's persistent session
    pub = Publisher(broker.port)
    try:
        # ten minutes of both devices, one message a minute each: 100 Wh a minute is plausible at
        # 10 kW only over true one-minute intervals (delivery-time stamps 1 s apart would be 360 kW)
        for i in range(10):
            t = now - 600 + 60 * i
            pub.send(SML, {"Time": berlin(t), "SML": {"Total_in": 0.0, "Total_out": 0.1 * (i + 1)}})
            pub.send(PLUG, {"Time": berlin(t + 1), "ENERGY": {"Total": 0.1 * (i + 1)}})
        daemon = start(env, port)
        # a reading each time both devices have reported again, at the plug's (the later) device time
        _wait(lambda: len(accepted(env, meter.address)) == 10, 60, "ten readings")
    finally:
        pub.close()
    logs = stop(daemon)
    readings = accepted(env, meter.address)
    assert [r["timestamp"] for r in readings] == [now - 600 + 60 * i + 1 for i in range(10)]
    assert sum(r["exported_wh"] for r in readings) == 1_000 and sum(r["generated_wh"] for r in readings) == 1_000
    assert not [e for e in logs if e["msg"] == "reading rejected"]


def test_counter_reset__halts_the_meter_until_recommissioned_then_resumes(tmp_path, chain, broker):
    env = oracle_env.build(tmp_path, chain, 0, rated_power_w=RATED_W)
    now = int(time.time())
    meter = add_meter(env, "reset", (2_999_000, 0, 5_000, 10_000), at=now - 3_600)
    port = free_port()
    config(env, broker, two_device_toml(meter.address), port)
    daemon = start(env, port)
    pub = Publisher(broker.port)
    try:
        pub.send(SML, {"Time": berlin(now - 300), "SML": {"Total_in": 10.0, "Total_out": 5.1}})
        pub.send(PLUG, {"Time": berlin(now - 299), "ENERGY": {"Total": 3000.0}})
        _wait(lambda: len(accepted(env, meter.address)) == 1, 30, "first reading")
        # Tasmota `EnergyReset 0`: the plug's Total restarts at 0
        pub.send(PLUG, {"Time": berlin(now - 240), "ENERGY": {"Total": 0.0}})
        _wait(lambda: _metric(port, "gridmint_oracle_meter_halted", f'meter="{meter.address}"') == 1, 20, "halt")
        pub.send(SML, {"Time": berlin(now - 230), "SML": {"Total_in": 10.0, "Total_out": 5.2}})
        _wait(lambda: _metric(port, "gridmint_oracle_malformed_total", 'kind="meter_halted",source="mqtt"') == 1,
              20, "halted refusal")
        status = json.loads(env.cli("status", "--config", "oracle.toml", "--json").stdout)
        halt = status["meters"][meter.address]["halted"]
        assert (halt["input"], halt["register"], halt["was_wh"], halt["now_wh"]) == (PLUG, "generated_wh", 3_000_000, 0)
        logs = stop(daemon)
        assert len(accepted(env, meter.address)) == 1  # nothing signed after the reset
        assert [e["register"] for e in logs if e["msg"].startswith("counter went down")] == ["generated_wh"]

        # re-commissioning, as docs/oracle.md tells the operator: a new key, the device's registers
        # as read now declared on chain with rotate_meter_key, the owner accepts, the config names the new key
        new = MeterSigner(keccak(b"oracle-device-test:reset, new key"))
        import_key(env.root / "keys", keccak(b"oracle-device-test:reset, new key"), oracle_env.PASSWORD,
                   kdf="pbkdf2", iterations=2)
        registry = env.system.registry
        registry.rotate_meter_key(meter.address, new.address, tuple(commissioning(now - 200, (0, 0, 5_200, 10_000))),
                                  sender=dev_account(0))
        registry.accept_meter(new.address, sender=dev_account(2))
        # the old key in the config is now a startup error that names the new key
        old_config = env.cli("run", "--config", "oracle.toml", timeout=120)
        assert old_config.returncode != 0
        assert f"was re-commissioned on chain as {new.address}" in old_config.stderr
        config(env, broker, two_device_toml(new.address), port)
        daemon = start(env, port)
        pub.send(PLUG, {"Time": berlin(now - 120), "ENERGY": {"Total": 0.15}})
        pub.send(SML, {"Time": berlin(now - 119), "SML": {"Total_in": 10.0, "Total_out": 5.3}})
        _wait(lambda: len(accepted(env, new.address)) == 1, 30, "reading of the re-commissioned meter")
        first = accepted(env, new.address)[0]
        assert (first["generated_wh"], first["exported_wh"], first["imported_wh"]) == (150, 100, 0)
        status = json.loads(env.cli("status", "--config", "oracle.toml", "--json").stdout)
        assert status["meters"][new.address]["halted"] is None
    finally:
        pub.close()
        if daemon.poll() is None:
            stop(daemon)


def test_kill_9_while_a_meter_waits_for_its_second_device__loses_nothing(tmp_path, chain, broker):
    env = oracle_env.build(tmp_path, chain, 0, rated_power_w=RATED_W)
    now = int(time.time())
    meter = add_meter(env, "kill", (0, 0, 0, 0), at=now - 7_200)
    port = free_port()
    config(env, broker, two_device_toml(meter.address), port)
    rng = random.Random(13)
    pub = Publisher(broker.port)
    try:
        for i in range(4):
            daemon = start(env, port)
            # the plug speaks; the SML head does not yet: the daemon must keep the plug's value
            pub.send(PLUG, {"Time": berlin(now - 600 + 10 * i), "ENERGY": {"Total": 0.1 * (i + 1)}})
            time.sleep(rng.uniform(0.0, 0.3))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
        daemon = start(env, port)
        pub.send(SML, {"Time": berlin(now - 300), "SML": {"Total_in": 0.05, "Total_out": 0.02}})
        _wait(lambda: len(accepted(env, meter.address)) == 1, 30, "the first reading")
    finally:
        pub.close()
    stop(daemon)
    first = accepted(env, meter.address)[0]
    assert (first["timestamp"], first["generated_wh"], first["exported_wh"], first["imported_wh"]) == (now - 300, 400, 20, 50)


def test_broker_with_login_and_tls__refused_login_exits_nonzero_right_credentials_run(tmp_path, chain):
    env = oracle_env.build(tmp_path, chain, 0, rated_power_w=RATED_W)
    now = int(time.time())
    meter = add_meter(env, "tls", (0, 0, 0, 0), at=now - 3_600)
    certs = make_certificates(tmp_path / "certs")
    broker = Mosquitto(tmp_path, users={"oracle": "broker-pass-1", "meters": "meters-pass-2"}, certs=certs,
                       require_client_cert=True).start()
    port = free_port()
    try:
        tls = 'username = "oracle"\nca_file = "certs/ca.pem"\ncert_file = "certs/client.pem"\nkey_file = "certs/client.key"\n'
        config(env, broker, two_device_toml(meter.address), port, tls)
        # a wrong password: one clear line, exit status non-zero, no retry loop
        wrong = subprocess.run(
            [sys.executable, "-m", "oracle.cli", "run", "--config", "oracle.toml"], cwd=env.root,
            env={**env.env(), "GRIDMINT_MQTT_PASSWORD": "not-the-password"}, capture_output=True, text=True, timeout=120,
        )
        assert wrong.returncode != 0
        error = [line for line in wrong.stderr.splitlines() if line.startswith("Error:")]
        assert len(error) == 1 and "refused the connection" in error[0] and "GRIDMINT_MQTT_PASSWORD" in error[0]
        assert "Traceback" not in wrong.stderr and "not-the-password" not in wrong.stderr
        # no password in the environment at all
        missing = subprocess.run([sys.executable, "-m", "oracle.cli", "run", "--config", "oracle.toml"], cwd=env.root,
                                 env=env.env(), capture_output=True, text=True, timeout=120)
        assert missing.returncode != 0 and "set GRIDMINT_MQTT_PASSWORD" in missing.stderr
        # the right password over TLS with a client certificate
        daemon = start(env, port, {"GRIDMINT_MQTT_PASSWORD": "broker-pass-1"})
        pub = Publisher(broker.port, users=("meters", "meters-pass-2"), ca=certs.ca, cert=str(certs.client_cert),
                        key=str(certs.client_key))
        pub.send(SML, {"Time": berlin(now - 60), "SML": {"Total_in": 0.01, "Total_out": 0.02}})
        pub.send(PLUG, {"Time": berlin(now - 59), "ENERGY": {"Total": 0.03}})
        _wait(lambda: len(accepted(env, meter.address)) == 1, 30, "a reading over TLS")
        pub.close()
        logs = stop(daemon)
        assert not any("broker-pass-1" in json.dumps(e) for e in logs)
    finally:
        broker.stop()


def p1_telegram(ts: int, imported_wh: tuple[int, int], exported_wh: tuple[int, int]) -> str:
    """A DSMR 5 telegram as a Sagemcom T210-D sends it: registers in Wh, local time with its S/W flag."""
    from zoneinfo import ZoneInfo

    from dsmr_parser.parsers import TelegramParser

    local = datetime.fromtimestamp(ts, ZoneInfo("Europe/Amsterdam"))
    stamp = local.strftime("%y%m%d%H%M%S") + ("S" if local.dst() else "W")
    lines = [
        "1-3:0.2.8(50)", f"0-0:1.0.0({stamp})",
        f"1-0:1.8.0({sum(imported_wh):09d}*Wh)", f"1-0:1.8.1({imported_wh[0]:09d}*Wh)", f"1-0:1.8.2({imported_wh[1]:09d}*Wh)",
        "1-0:1.7.0(000000286*W)",
        f"1-0:2.8.0({sum(exported_wh):09d}*Wh)", f"1-0:2.8.1({exported_wh[0]:09d}*Wh)", f"1-0:2.8.2({exported_wh[1]:09d}*Wh)",
    ]
    body = "/EST5\\253710000_A\r\n\r\n" + "".join(line + "\r\n" for line in lines) + "!"
    return body + "%04X\r\n" % TelegramParser.crc16(body)


def test_p1_meter_in_wh__one_reading_a_minute_credited_and_published_to_home_assistant(tmp_path, chain, broker):
    import paho.mqtt.client as mqtt

    env = oracle_env.build(tmp_path, chain, 0, rated_power_w=RATED_W)
    now = int(time.time())
    meter = add_meter(env, "p1", (0, 0, 50_000, 6_545_766), at=now - 3_600)
    # a telegram every 10 s for five minutes: exports grow 10 Wh a telegram (60 Wh a minute)
    telegrams = [
        p1_telegram(now - 300 + 10 * i, (5_017_120, 1_528_646), (50_000, 10 * i)) for i in range(31)
    ]
    (tmp_path / "p1.txt").write_bytes("".join(telegrams).encode("ascii"))
    port = free_port()
    env.write_config(
        f'[[meters]]\naddress = "{meter.address}"\nsource = "p1"\ndevice = "p1.txt"\n',
        extra=f'metrics_port = {port}\n[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nclient_id = "oracle-p1"\n'
              "[home_assistant]\nenabled = true\ninterval_s = 1\n",
    )
    seen: dict[str, str] = {}
    ha = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="home-assistant")
    ha.on_message = lambda c, u, msg: seen.__setitem__(msg.topic, msg.payload.decode())
    ha.connect("127.0.0.1", broker.port)
    ha.subscribe([("homeassistant/#", 1), ("gridmint/#", 1)])
    ha.loop_start()
    daemon = start(env, port, mqtt=False)
    try:
        # one reading a minute (min_interval_s = 60 by default for P1), at the telegrams' own times
        _wait(lambda: len(accepted(env, meter.address)) == 6, 30, "six P1 readings")
        owner = dev_account(2).address.lower()
        _wait(lambda: json.loads(seen.get(f"gridmint/{owner}/state", "{}")).get("watt_kwh") == 0.3, 30, "HA state")
    finally:
        ha.loop_stop()
        logs = stop(daemon)
    readings = accepted(env, meter.address)
    assert [r["timestamp"] for r in readings] == [now - 300 + 60 * k for k in range(6)]
    # Wh as the telegram says, not 1,000 x: 60 Wh exported a minute, nothing imported
    assert [r["exported_wh"] for r in readings] == [0, 60, 60, 60, 60, 60]
    assert sum(r["imported_wh"] for r in readings) == 0
    config_topic = f"homeassistant/sensor/gridmint_{owner}/watt/config"
    assert json.loads(seen[config_topic])["state_topic"] == f"gridmint/{owner}/state"
    state = json.loads(seen[f"gridmint/{owner}/state"])
    assert state["last_reading"] == datetime.fromtimestamp(now, timezone.utc).replace(microsecond=0).isoformat()
    assert not [e for e in logs if e["msg"] in ("reading rejected", "input refused")]
