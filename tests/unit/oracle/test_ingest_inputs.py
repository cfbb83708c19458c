"""Meters fed by several devices (an SML read head on the grid meter + a plug on the PV inverter),
device times, commissioning values from the chain, and the sign-at-most-every-N-seconds rule."""

import pytest
from eth_hash.auto import keccak

from oracle.ingest import Ingestor, MeterPlan
from oracle.eip712 import Domain, MeterSigner, Reading
from oracle.metrics import Metrics
from oracle.outbox import Outbox

DOMAIN = Domain(chain_id=31337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
METER = MeterSigner(keccak(b"inputs-test-meter"))
SML, PLUG = "tele/sml-reader/SENSOR", "tele/pv-plug/SENSOR"
PLAN = MeterPlan({SML: ("imported_wh", "exported_wh"), PLUG: ("generated_wh",)})
T0 = 1_795_428_000


def _ingestor(path, plan=PLAN, seeds=None):
    return Ingestor(Outbox(path), DOMAIN, {METER.address: METER}, Metrics(), {METER.address: plan}, seeds)


def _readings(ingestor):
    return [row.reading for row in ingestor.outbox.next_batch(64)]


@pytest.mark.parametrize("first", [SML, PLUG])
def test_ingest__two_devices_either_order__first_reading_has_both_devices_values(tmp_path, first):
    ingestor = _ingestor(tmp_path / "o.db")
    samples = {
        SML: ({"imported_wh": 10_250, "exported_wh": 5_500}, T0),
        PLUG: ({"generated_wh": 3_000_000}, T0 + 3),
    }
    second = PLUG if first == SML else SML
    assert ingestor.ingest(METER.address, samples[first][0], "mqtt", samples[first][1], input_id=first)
    assert _readings(ingestor) == []  # never a reading with the other device's registers at 0
    assert ingestor.ingest(METER.address, samples[second][0], "mqtt", samples[second][1], input_id=second)
    # stamped with the newer device time: no register is ahead of the reading's time
    assert _readings(ingestor) == [Reading(METER.address, T0 + 3, 3_000_000, 0, 5_500, 10_250)]


def test_ingest__restart_between_the_two_devices__first_device_value_kept(tmp_path):
    path = tmp_path / "o.db"
    assert _ingestor(path).ingest(METER.address, {"generated_wh": 7}, "mqtt", T0, input_id=PLUG)
    again = _ingestor(path)  # a new process: only the SML head speaks now
    assert again.ingest(METER.address, {"imported_wh": 1, "exported_wh": 2}, "mqtt", T0 + 10, input_id=SML)
    assert _readings(again) == [Reading(METER.address, T0 + 10, 7, 0, 2, 1)]


def test_ingest__device_behind_the_last_reading__stored_for_the_next_reading_not_signed(tmp_path):
    ingestor = _ingestor(tmp_path / "o.db")
    ingestor.ingest(METER.address, {"generated_wh": 100}, "mqtt", T0, input_id=PLUG)
    ingestor.ingest(METER.address, {"imported_wh": 10, "exported_wh": 20}, "mqtt", T0 + 60, input_id=SML)
    # a backlog of the plug delivered after the SML head's newer sample: its time is older
    assert ingestor.ingest(METER.address, {"generated_wh": 150}, "mqtt", T0 + 30, input_id=PLUG)
    assert len(_readings(ingestor)) == 1
    ingestor.ingest(METER.address, {"imported_wh": 11, "exported_wh": 25}, "mqtt", T0 + 120, input_id=SML)
    assert _readings(ingestor)[-1] == Reading(METER.address, T0 + 120, 150, 0, 25, 11)


def test_ingest__one_device_reports_twice__no_reading_until_the_other_reports_again(tmp_path):
    ingestor = _ingestor(tmp_path / "o.db")
    ingestor.ingest(METER.address, {"imported_wh": 10, "exported_wh": 20}, "mqtt", T0, input_id=SML)
    ingestor.ingest(METER.address, {"generated_wh": 100}, "mqtt", T0 + 1, input_id=PLUG)
    # the SML head reports every 10 s, the plug once a minute: no reading squeezes a minute of the
    # plug's energy into the 9 s after the SML head's next report
    for i in range(1, 6):
        ingestor.ingest(METER.address, {"imported_wh": 10 + i, "exported_wh": 20}, "mqtt", T0 + 10 * i, input_id=SML)
    assert len(_readings(ingestor)) == 1
    ingestor.ingest(METER.address, {"generated_wh": 160}, "mqtt", T0 + 61, input_id=PLUG)
    assert _readings(ingestor)[-1] == Reading(METER.address, T0 + 61, 160, 0, 20, 15)
    # the "reported since the last reading" marks survive a restart
    again = _ingestor(tmp_path / "o.db")
    again.ingest(METER.address, {"imported_wh": 16, "exported_wh": 20}, "mqtt", T0 + 70, input_id=SML)
    assert len(_readings(again)) == 2


def test_ingest__redelivered_device_message__acknowledged_without_a_second_reading(tmp_path):
    ingestor = _ingestor(tmp_path / "o.db")
    ingestor.ingest(METER.address, {"generated_wh": 100}, "mqtt", T0, input_id=PLUG)
    ingestor.ingest(METER.address, {"imported_wh": 10, "exported_wh": 20}, "mqtt", T0 + 5, input_id=SML)
    assert ingestor.ingest(METER.address, {"imported_wh": 10, "exported_wh": 20}, "mqtt", T0 + 5, input_id=SML)
    assert not ingestor.ingest(METER.address, {"imported_wh": 12, "exported_wh": 20}, "mqtt", T0 + 5, input_id=SML)
    assert len(_readings(ingestor)) == 1
    assert ingestor.metrics.malformed.labels("mqtt", "stale_sample")._value.get() == 1


def test_ingest__plug_reset_to_zero__halts_the_meter(tmp_path):
    ingestor = _ingestor(tmp_path / "o.db")
    ingestor.ingest(METER.address, {"generated_wh": 3_000_000}, "mqtt", T0, input_id=PLUG)
    ingestor.ingest(METER.address, {"imported_wh": 10, "exported_wh": 20}, "mqtt", T0 + 5, input_id=SML)
    # Tasmota EnergyReset: the plug's Total restarts at 0
    assert not ingestor.ingest(METER.address, {"generated_wh": 0}, "mqtt", T0 + 300, input_id=PLUG)
    assert not ingestor.ingest(METER.address, {"imported_wh": 11, "exported_wh": 21}, "mqtt", T0 + 310, input_id=SML)
    assert len(_readings(ingestor)) == 1
    halt = ingestor.outbox.halts()[METER.address]
    assert (halt["input"], halt["register"], halt["was_wh"], halt["now_wh"]) == (PLUG, "generated_wh", 3_000_000, 0)


def test_ingest__commissioning_values_on_chain__first_reading_must_not_fall_below_them(tmp_path):
    seed = Reading(METER.address, T0, 2_999_000, 0, 5_000, 10_000)
    ingestor = _ingestor(tmp_path / "o.db", seeds={METER.address: seed})
    ingestor.ingest(METER.address, {"generated_wh": 3_000_000}, "mqtt", T0 + 60, input_id=PLUG)
    assert ingestor.ingest(METER.address, {"imported_wh": 10_100, "exported_wh": 5_100}, "mqtt", T0 + 61, input_id=SML)
    assert _readings(ingestor) == [Reading(METER.address, T0 + 61, 3_000_000, 0, 5_100, 10_100)]
    other = _ingestor(tmp_path / "p.db", seeds={METER.address: seed})
    assert not other.ingest(METER.address, {"generated_wh": 2_000}, "mqtt", T0 + 60, input_id=PLUG)
    assert other.halted(METER.address)


def test_ingest__min_interval__signs_at_most_once_per_interval_with_the_newest_values(tmp_path):
    plan = MeterPlan({"p1": ("imported_wh", "exported_wh")}, min_interval_s=60)
    ingestor = _ingestor(tmp_path / "o.db", plan)
    for i in range(0, 130, 10):  # a P1 telegram every 10 s
        assert ingestor.ingest(METER.address, {"imported_wh": 1000 + i, "exported_wh": 5}, "p1", T0 + i, input_id="p1")
    assert [(r.timestamp, r.imported_wh) for r in _readings(ingestor)] == [(T0, 1000), (T0 + 60, 1060), (T0 + 120, 1120)]


def test_p1_source__device_cannot_be_opened__one_line_startup_error(tmp_path):
    import threading

    from oracle.sources import SourceError
    from oracle.sources.p1 import P1Source

    source = P1Source(METER.address, str(tmp_path / "ttyUSB9"), _ingestor(tmp_path / "o.db"), threading.Event())
    with pytest.raises(SourceError) as err:
        source.start()
    assert str(err.value).startswith(f"cannot open the P1 device {tmp_path / 'ttyUSB9'} of meter {METER.address}")
    assert "\n" not in str(err.value) and not source.thread.is_alive()
