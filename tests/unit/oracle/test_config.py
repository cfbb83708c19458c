"""Config keys: every one checked, unknown ones named, secrets only from the environment."""

import pytest

from oracle import config as config_mod
from tests.utils.oracle_env import two_device_toml

METER = "0x114DEAbCD90c71324A94811977698Df4f68879cE"
TWO_DEVICES = two_device_toml(METER)


def _load(tmp_path, text, env=None):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return config_mod.load(path, env=env or {})


@pytest.mark.parametrize(
    "text, message",
    [
        ("[mqtt]\nhots = \"x\"\n", "unknown config key mqtt.hots"),
        ("[oracle]\nbatchsize = 5\n", "unknown config key oracle.batchsize"),
        ("[chian]\n", "unknown config key chian"),
        (TWO_DEVICES.replace('timezone = "Europe/Berlin"', 'timezon = "Europe/Berlin"'), "unknown config key meters[0].timezon"),
        (TWO_DEVICES.replace('registers = { generated_wh', 'register = { generated_wh'), "unknown config key meters[0].inputs[1].register"),
        ("[home_assistant]\nenable = true\n", "unknown config key home_assistant.enable"),
    ],
)
def test_load__unknown_key__error_names_it(tmp_path, text, message):
    with pytest.raises(config_mod.ConfigError) as err:
        _load(tmp_path, text)
    assert str(err.value).startswith(message)


def test_load__two_device_meter__inputs_timezone_and_register_maps(tmp_path):
    cfg = _load(tmp_path, TWO_DEVICES)
    meter = cfg.meters[0]
    assert meter.timezone == "Europe/Berlin"
    assert [(i.topic, i.registers, i.unit) for i in meter.inputs] == [
        ("tele/sml-reader/SENSOR", {"imported_wh": "SML.Total_in", "exported_wh": "SML.Total_out"}, "kWh"),
        ("tele/pv-plug/SENSOR", {"generated_wh": "ENERGY.Total"}, "kWh"),
    ]
    assert [i.device_topics for i in meter.inputs] == [
        ("tele/sml-reader/LWT", "tasmota"), ("tele/pv-plug/LWT", "tasmota"),
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        (('timezone = "Europe/Berlin"\n', ""), "meters[0]: set timezone"),
        (('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'), "meters[0].timezone: unknown time zone"),
        (('registers = { generated_wh = "ENERGY.Total" }', 'registers = { imported_wh = "ENERGY.Total" }'),
         "meters[0].inputs[1]: imported_wh already comes from tele/sml-reader/SENSOR"),
        (("tele/pv-plug/SENSOR", "tele/+/SENSOR"), "meters[0].inputs[1]: topic missing"),
        (('format = "tasmota"\n  registers = { generated', 'format = "tasmota"\n  unit = "MWh"\n  registers = { generated'),
         "meters[0].inputs[1]: unit must be one of"),
    ],
)
def test_load__inconsistent_meter__one_line_error(tmp_path, change, message):
    with pytest.raises(config_mod.ConfigError) as err:
        _load(tmp_path, TWO_DEVICES.replace(*change))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_load__mqtt_login_and_tls__password_only_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "client.pem").write_text("x")
    (tmp_path / "client.key").write_text("x")
    text = '[mqtt]\nhost = "broker.lan"\nport = 8883\nusername = "oracle"\nca_file = "ca.pem"\n'
    cfg = _load(tmp_path, text + 'cert_file = "client.pem"\nkey_file = "client.key"\n')
    assert (cfg.mqtt_username, cfg.mqtt_tls, cfg.mqtt_ca_file) == ("oracle", True, tmp_path / "ca.pem")
    assert cfg.mqtt_cert_file == tmp_path / "client.pem" and cfg.mqtt_key_file == tmp_path / "client.key"
    monkeypatch.delenv("GRIDMINT_MQTT_PASSWORD", raising=False)
    with pytest.raises(config_mod.ConfigError, match="GRIDMINT_MQTT_PASSWORD"):
        cfg.mqtt_password()
    monkeypatch.setenv("GRIDMINT_MQTT_PASSWORD", "s3cret-broker")
    assert cfg.mqtt_password() == "s3cret-broker"
    with pytest.raises(config_mod.ConfigError, match="mqtt.password: put the broker password in GRIDMINT_MQTT_PASSWORD"):
        _load(tmp_path, text + 'password = "s3cret"\n')
    with pytest.raises(config_mod.ConfigError, match="mqtt.ca_file: no file at"):
        _load(tmp_path, text.replace("ca.pem", "missing.pem"))
    with pytest.raises(config_mod.ConfigError, match="cert_file and mqtt.key_file come together"):
        _load(tmp_path, text + 'cert_file = "client.pem"\n')
    assert _load(tmp_path, '[mqtt]\nhost = "x"\n').mqtt_password() is None  # no login configured


def test_load__p1_meter__defaults_to_dutch_time_and_one_reading_a_minute(tmp_path):
    cfg = _load(tmp_path, f'[[meters]]\naddress = "{METER}"\nsource = "p1"\ndevice = "/dev/ttyUSB0"\n')
    meter = cfg.meters[0]
    assert (meter.timezone, meter.min_interval_s, meter.p1_crc) == ("Europe/Amsterdam", 60, True)
    cfg = _load(tmp_path, f'[[meters]]\naddress = "{METER}"\nsource = "p1"\ndevice = "x"\ntimezone = "Europe/Dublin"\n'
                          "min_interval_s = 300\np1_crc = false\n")
    assert (cfg.meters[0].timezone, cfg.meters[0].min_interval_s, cfg.meters[0].p1_crc) == ("Europe/Dublin", 300, False)


def test_load__home_assistant__off_by_default(tmp_path):
    assert _load(tmp_path, "").ha_enabled is False
    cfg = _load(tmp_path, '[home_assistant]\nenabled = true\ndiscovery_prefix = "ha"\ninterval_s = 60\n')
    assert (cfg.ha_enabled, cfg.ha_discovery_prefix, cfg.ha_state_prefix, cfg.ha_interval_s) == (True, "ha", "gridmint", 60.0)


def test_load__every_toml_example_in_docs_oracle_md__loads_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "oracle.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", doc, re.S)
    assert len(blocks) >= 5
    for name in ("ca.pem", "oracle.pem", "oracle.key"):
        (tmp_path / name).write_text("x")
    keys = iter(f"0x{i:040x}" for i in range(1, 100))
    for block in blocks:
        text = re.sub(r'"0x…"', lambda _m: f'"{next(keys)}"', block).replace("/etc/gridmint/", "")
        cfg = _load(tmp_path, text)
        for meter in cfg.meters:
            assert meter.address.startswith("0x")


def test_load__simulator_start_and_speed(tmp_path):
    from datetime import datetime, timezone

    path = tmp_path / "c.toml"
    path.write_text('[simulator]\nstart = "2026-06-15T00:00:00Z"\nspeed = 60\ninterval_s = 60\n')
    cfg = config_mod.load(path, env={})
    assert (cfg.simulator_start, cfg.simulator_speed) == (datetime(2026, 6, 15, tzinfo=timezone.utc), 60.0)
    path.write_text("[simulator]\nstart = 2026-06-15T02:00:00+02:00\n")  # a TOML date-time
    assert config_mod.load(path, env={}).simulator_start == datetime(2026, 6, 15, tzinfo=timezone.utc)
    assert config_mod.load(None, env={}).simulator_start is None
    for text, message in [
        ('[simulator]\nstart = "yesterday"\n', "simulator.start: not a time: 'yesterday'"),
        ('[simulator]\nstart = "2026-06-15"\nspeed = 0\n', "simulator.speed: simulated seconds per wall-clock second"),
        ("[simulator]\nspeed = 60\n", "simulator.speed: set simulator.start too"),
    ]:
        path.write_text(text)
        with pytest.raises(config_mod.ConfigError) as err:
            config_mod.load(path, env={})
        assert str(err.value).startswith(message)
