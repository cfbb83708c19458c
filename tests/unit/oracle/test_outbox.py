"""The outbox's states and the ingestor's checks before anything is signed."""

import json
import sqlite3

import pytest
from eth_hash.auto import keccak

from oracle import config as config_mod
from oracle.ingest import Ingestor
from oracle.sources.replay import ReplayError, check_replay, replay
from oracle.eip712 import Domain, MeterSigner, Reading, digest
from oracle.metrics import Metrics
from oracle.outbox import Conflict, Outbox

DOMAIN = Domain(chain_id=31337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
METER = MeterSigner(keccak(b"outbox-test-meter"))
OTHER = MeterSigner(keccak(b"outbox-test-other"))


def _reading(ts, gen=0, cons=0, exp=0, imp=0, meter=METER):
    return Reading(meter.address, ts, gen, cons, exp, imp)


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "o.db")
    yield box
    box.close()


@pytest.fixture
def ingestor(outbox):
    return Ingestor(outbox, DOMAIN, {METER.address: METER}, Metrics())


def test_wal_and_full_sync(outbox):
    conn = outbox._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_add_is_idempotent_and_refuses_conflicts(outbox):
    r = _reading(100, 1, 2, 3, 4)
    assert outbox.add(r, b"s" * 65, "test") is True
    assert outbox.add(r, b"s" * 65, "test") is False
    with pytest.raises(Conflict):
        outbox.add(r._replace(exported_wh=5), b"s" * 65, "test")
    assert outbox.counts() == {"signed": 1, "submitted": 0, "accepted": 0, "rejected": 0}


def test_registers_beyond_64_bits_round_trip(outbox):
    big = _reading(100, 2**200, 0, 2**255, 1)
    outbox.add(big, b"s" * 65, "test")
    assert outbox.last_sample(METER.address) == big


def test_lifecycle_submitted_settled_requeued(outbox):
    for ts in (1, 2, 3):
        outbox.add(_reading(ts, exp=ts), b"s" * 65, "test")
    batch = outbox.next_batch(2)
    assert [row.reading.timestamp for row in batch] == [1, 2]
    outbox.mark_submitted([row.id for row in batch], "0xaa", nonce=7)
    assert outbox.in_flight()[0][:2] == ("0xaa", 7)
    assert [row.reading.timestamp for row in outbox.next_batch(5)] == [3]
    outbox.settle("0xaa", {(METER.address, 1): None, (METER.address, 2): 6}, gas_used=123, status=1)
    assert outbox.counts() == {"signed": 1, "submitted": 0, "accepted": 1, "rejected": 1}
    assert outbox.rejects_by_reason() == {"counter_down": 1}
    assert outbox.last_accepted() == {METER.address: 1}
    assert outbox.last_batch_gas() == 123
    assert outbox.in_flight() == []
    # a lost batch goes back to signed, after its delay
    third = outbox.next_batch(5)
    outbox.mark_submitted([third[0].id], "0xbb", nonce=8)
    assert outbox.requeue_tx("0xbb", delay_s=60) == 1
    assert outbox.next_batch(5) == []
    assert [r.reading.timestamp for r in outbox.next_batch(5, now=1e12)] == [3]


def test_a_crash_leaves_committed_rows_only(tmp_path):
    path = tmp_path / "o.db"
    box = Outbox(path)
    box.add(_reading(1), b"s" * 65, "test")
    # a second connection sees the row at once: it is committed, not buffered
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM readings").fetchone()[0] == 1
    other.close()


def test_ingest_signs_what_the_chain_verifies(ingestor, outbox):
    assert ingestor.ingest(METER.address, {"generated_wh": 10, "exported_wh": 4}, "test", timestamp=1000)
    row = outbox.next_batch(1)[0]
    assert row.reading == _reading(1000, gen=10, exp=4)
    from eth_keys import keys

    sig = row.signature
    recovered = keys.Signature(sig[:64] + bytes([sig[64] - 27])).recover_public_key_from_msg_hash(
        digest(row.reading, DOMAIN)
    )
    assert recovered.to_checksum_address() == METER.address


def test_ingest__partial_registers_without_device_time__merged_and_stamped_monotonically(ingestor, outbox):
    assert ingestor.ingest(METER.address, {"imported_wh": 5}, "test")
    assert ingestor.ingest(METER.address, {"generated_wh": 7}, "test")  # same second: stamped +1
    first, second = (r.reading for r in outbox.next_batch(5))
    assert second.timestamp == first.timestamp + 1
    assert (second.generated_wh, second.imported_wh) == (7, 5)


def test_ingest__unknown_meter_stale_or_redelivered_sample__refused_or_acknowledged(ingestor, outbox):
    m = ingestor.metrics
    assert ingestor.ingest(METER.address, {"consumed_wh": 100}, "test", timestamp=50)
    assert not ingestor.ingest(OTHER.address, {"consumed_wh": 1}, "test", timestamp=60)
    assert not ingestor.ingest(METER.address, {"consumed_wh": 101}, "test", timestamp=50)
    # a redelivered identical sample is fine (already durable)
    assert ingestor.ingest(METER.address, {"consumed_wh": 100}, "test", timestamp=50)
    assert outbox.counts()["signed"] == 1
    assert m.malformed.labels("test", "unknown_meter")._value.get() == 1
    assert m.malformed.labels("test", "stale_sample")._value.get() == 1


def test_ingest__falling_counter__halts_the_meter_until_recommissioned(tmp_path):
    box = Outbox(tmp_path / "o.db")
    metrics = Metrics()
    ingestor = Ingestor(box, DOMAIN, {METER.address: METER}, metrics)
    assert ingestor.ingest(METER.address, {"consumed_wh": 100}, "test", timestamp=50)
    assert not ingestor.ingest(METER.address, {"consumed_wh": 99}, "test", timestamp=60)
    # a higher value later does not resume signing: only re-commissioning does
    assert not ingestor.ingest(METER.address, {"consumed_wh": 150}, "test", timestamp=70)
    assert box.counts()["signed"] == 1
    assert box.halts()[METER.address] | {"since": 0} == {
        "input": None, "register": "consumed_wh", "was_wh": 100, "now_wh": 99, "device_time": 60, "since": 0,
    }
    assert metrics.halted.labels(METER.address)._value.get() == 1
    assert metrics.malformed.labels("test", "counter_down")._value.get() == 1
    assert metrics.malformed.labels("test", "meter_halted")._value.get() == 1
    # the halt outlives a restart
    again = Ingestor(Outbox(tmp_path / "o.db"), DOMAIN, {METER.address: METER}, Metrics())
    assert again.halted(METER.address)
    assert not again.ingest(METER.address, {"consumed_wh": 200}, "test", timestamp=80)


def test_ingestor__restart__continues_from_the_outbox(tmp_path):
    box = Outbox(tmp_path / "o.db")
    Ingestor(box, DOMAIN, {METER.address: METER}).ingest(METER.address, {"exported_wh": 40}, "t", timestamp=9)
    again = Ingestor(Outbox(tmp_path / "o.db"), DOMAIN, {METER.address: METER})
    assert again.last(METER.address) == _reading(9, exp=40)
    assert again.ingest(METER.address, {"exported_wh": 41}, "t", timestamp=10)
    assert not again.ingest(METER.address, {"exported_wh": 39}, "t", timestamp=11)  # falling: halted


def test_replay__csv_and_jsonl__stores_rows_once_and_refuses_falling_ones(tmp_path, ingestor, outbox):
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(
        "meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh\n"
        f"{METER.address},10,1,2,3,4\n"
        f"{METER.address},2026-01-01T00:00:00Z,1,2,3,5\n"
    )
    first = replay(csv_path, ingestor)
    assert [(r.line, r.stored, r.signed) for r in first] == [(2, True, True), (3, True, True)]
    again = replay(csv_path, ingestor)  # idempotent: nothing new
    assert [(r.line, r.stored, r.signed) for r in again] == [(2, True, False), (3, True, False)]
    assert [r.reading.timestamp for r in outbox.next_batch(5)] == [10, 1_767_225_600]
    jl = tmp_path / "r.jsonl"
    row = {"meter": METER.address, "timestamp": 1_767_225_700, "generated_wh": 1, "consumed_wh": 2,
           "exported_wh": 3, "imported_wh": 4}
    jl.write_text(json.dumps(row) + "\n")
    [fell] = replay(jl, ingestor)  # imported_wh fell 5 -> 4
    assert (fell.line, fell.stored, fell.kind, fell.detail, fell.halted) == (
        1, False, "counter_down", "imported_wh fell 5 -> 4 Wh", True)
    assert ingestor.halted(METER.address)


@pytest.mark.parametrize(
    "text, message",
    [
        ("meter,timestamp,generated_wh,consumed_wh,exported_wh\n", "r.csv line 1 (header): no column imported_wh"),
        ("meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh,note\n",
         "r.csv line 1 (header): unknown column 'note'"),
        ("meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh\n{m},10,1,2,3,4\n{m},yesterday,1,2,3,4\n",
         "r.csv line 3, column timestamp: not a timestamp: 'yesterday'"),
        ("meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh\n{m},10,1,2,3.5,4\n",
         "r.csv line 2, column exported_wh: not a whole number of Wh: '3.5'"),
        ("meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh\nnope,10,1,2,3,4\n",
         "r.csv line 2, column meter: not an address: 'nope'"),
        ("meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh\n{o},10,1,2,3,4\n",
         "r.csv line 2, column meter: no key for"),
    ],
)
def test_check_replay__bad_header_or_row__one_line_error_naming_line_and_column(tmp_path, text, message):
    path = tmp_path / "r.csv"
    path.write_text(text.format(m=METER.address, o=OTHER.address))
    with pytest.raises(ReplayError) as err:
        check_replay(path, {METER.address})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_check_replay__json_line_not_an_object__names_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"meter": 1}\n[1]\n')
    with pytest.raises(ReplayError, match="r.jsonl line 1, column timestamp: missing"):
        check_replay(path)
    path.write_text('{"meter": 1, "timestamp": 5, "generated_wh": 0, "consumed_wh": 0, "exported_wh": 0, "imported_wh": 0}\n')
    with pytest.raises(ReplayError, match="r.jsonl line 1, column meter: not an address: 1"):
        check_replay(path)
    path.write_text("{broken\n")
    with pytest.raises(ReplayError, match="r.jsonl line 1: not a JSON object"):
        check_replay(path)


def test_config_errors_are_clear(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[meters]]\naddress = "0x12"\nsource = "mqtt"\n')
    with pytest.raises(config_mod.ConfigError, match="not an address"):
        config_mod.load(path)
    path.write_text(f'[[meters]]\naddress = "{METER.address}"\nsource = "modbus"\n')
    with pytest.raises(config_mod.ConfigError, match="source must be"):
        config_mod.load(path)
    path.write_text(f'[[meters]]\naddress = "{METER.address}"\nsource = "mqtt"\n')
    with pytest.raises(config_mod.ConfigError, match="needs"):
        config_mod.load(path)
    path.write_text("[oracle]\nbatch_size = 65\n")
    with pytest.raises(config_mod.ConfigError, match="batch_size"):
        config_mod.load(path)
    path.write_text("[oracle\n")
    with pytest.raises(config_mod.ConfigError):
        config_mod.load(path)


def test_config_environment_overrides_and_secrets(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text(
        f'[chain]\nrpc_url = "http://127.0.0.1:1"\n[[meters]]\naddress = "{METER.address.lower()}"\n'
        'source = "mqtt"\ntimezone = "Europe/Berlin"\n  [[meters.inputs]]\n  topic = "tele/a/SENSOR"\n  format = "tasmota"\n'
    )
    cfg = config_mod.load(path, env={"GRIDMINT_RPC_URL": "http://127.0.0.1:2"})
    assert cfg.rpc_url == "http://127.0.0.1:2"
    assert cfg.meters[0].address == METER.address
    assert cfg.meters[0].inputs[0].registers == {"generated_wh": "ENERGY.Total"}
    assert cfg.database == tmp_path / "oracle.db"
    monkeypatch.delenv("GRIDMINT_KEY_PASSWORD", raising=False)
    with pytest.raises(config_mod.ConfigError, match="GRIDMINT_KEY_PASSWORD"):
        cfg.key_password()
