"""Ingestion refuses, before signing, what the chain would refuse (the rules read from the chain),
and a halt caused by a wrong sample is cleared without a new key (`oracle.outbox.clear_halt`)."""

import json

import pytest
from click.testing import CliRunner
from eth_hash.auto import keccak

from oracle.checks import ChainRules, MeterRules
from oracle.cli import main
from oracle.eip712 import Domain, MeterSigner, Reading
from oracle.ingest import Ingestor, MeterPlan
from oracle.metrics import Metrics
from oracle.outbox import InFlight, Outbox, Unsent, clear_halt, unsent_of

DOMAIN = Domain(chain_id=31337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
METER = MeterSigner(keccak(b"checks-test-meter"))
T0 = 1_781_481_600  # 2026-06-15T00:00:00Z
SEED = Reading(METER.address, T0, 0, 0, 0, 0)
RULES = ChainRules(300, 2**40 - 1 - 2**32, 2**48 - 1, {METER.address: MeterRules(rated_power_w=10_000)})


def _ingestor(path, plans=None, now_s=T0 + 3_600):
    return Ingestor(Outbox(path), DOMAIN, {METER.address: METER}, Metrics(), plans, {METER.address: SEED}, RULES,
                    clock_s=lambda: now_s)


def _kinds(ingestor, source):
    return {kind: ingestor.metrics.malformed.labels(source, kind)._value.get() for kind in ("future", "implausible")}


def test_full_sample__future_or_implausible__refused_before_signing(tmp_path):
    ingestor = _ingestor(tmp_path / "o.db")
    # an hour ahead of the chain's time
    ahead = ingestor.process(METER.address, {"exported_wh": 100}, "replay", T0 + 2 * 3_600)
    assert (ahead.stored, ahead.kind) == (False, "future")
    # 10 kW for 60 s allows 166 Wh
    spike = ingestor.process(METER.address, {"exported_wh": 10_000}, "replay", T0 + 60)
    assert (spike.stored, spike.kind) == (False, "implausible")
    assert spike.detail == "exported_wh rose 10000 Wh in 60 s; rated power 10000 W allows 166 Wh"
    assert ingestor.outbox.counts()["signed"] == 0 and _kinds(ingestor, "replay") == {"future": 1, "implausible": 1}
    # the refused samples moved nothing: the next one is checked against the commissioning values
    ok = ingestor.process(METER.address, {"exported_wh": 10_000}, "replay", T0 + 3_600)
    assert ok.stored and ok.reading == Reading(METER.address, T0 + 3_600, 0, 0, 10_000, 0)


def test_two_device_meter__implausible_reading__not_signed_until_the_interval_allows_it(tmp_path):
    sml, plug = "tele/sml/SENSOR", "tele/plug/SENSOR"
    plans = {METER.address: MeterPlan({sml: ("imported_wh", "exported_wh"), plug: ("generated_wh",)})}
    ingestor = _ingestor(tmp_path / "o.db", plans)
    assert ingestor.ingest(METER.address, {"generated_wh": 400}, "mqtt", T0 + 60, input_id=plug)
    # 400 Wh in 61 s is more than 10 kW: stored as the device's value, no reading signed
    held = ingestor.process(METER.address, {"imported_wh": 1, "exported_wh": 2}, "mqtt", T0 + 61, input_id=sml)
    assert (held.stored, held.kind, held.reading) == (True, "implausible", None)
    assert ingestor.outbox.counts()["signed"] == 0
    # the next report makes the interval long enough: the reading carries both devices' energy
    later = ingestor.process(METER.address, {"generated_wh": 500}, "mqtt", T0 + 200, input_id=plug)
    assert later.reading == Reading(METER.address, T0 + 200, 500, 0, 2, 1)


def test_halt__cleared_in_the_outbox__the_running_ingestor_resumes(tmp_path):
    ingestor = _ingestor(tmp_path / "o.db")
    assert ingestor.ingest(METER.address, {"imported_wh": 4_000}, "replay", T0 + 1_800)
    fell = ingestor.process(METER.address, {"imported_wh": 8}, "replay", T0 + 3_600)  # kWh typed into a Wh column
    assert (fell.stored, fell.kind, fell.halted) == (False, "counter_down", True)
    assert not ingestor.ingest(METER.address, {"imported_wh": 8_000}, "replay", T0 + 3_600)
    assert ingestor.metrics.halted.labels(METER.address)._value.get() == 1
    assert clear_halt(ingestor.outbox, METER.address, drop_unsent=False) == Unsent(0, 0)  # the fall was never stored
    assert unsent_of(ingestor.outbox, METER.address) == Unsent(1, 0)
    resumed = ingestor.process(METER.address, {"imported_wh": 8_000}, "replay", T0 + 3_600)
    assert resumed.reading == Reading(METER.address, T0 + 3_600, 0, 0, 0, 8_000)
    assert ingestor.metrics.halted.labels(METER.address)._value.get() == 0


def test_clear_halt__drop_unsent__deletes_only_what_the_chain_never_saw(tmp_path):
    box = Outbox(tmp_path / "o.db")
    for ts in (1, 2, 3):
        box.add(Reading(METER.address, ts, 0, 0, ts, 0), b"s" * 65, "t")
    rows = box.next_batch(1)
    box.mark_submitted([rows[0].id], "0xaa", 0)
    box.record(METER.address, "p1", 4, {"imported_wh": 9})
    with pytest.raises(KeyError):
        clear_halt(box, METER.address, True)  # not halted
    box.halt(METER.address, "p1", "imported_wh", 9, 1, 5)
    with pytest.raises(InFlight):
        clear_halt(box, METER.address, True)  # reading 1 may be on chain already
    assert METER.address in box.halts() and box.counts()["signed"] == 2
    box.settle("0xaa", {(METER.address, 1): None}, 1, 1)
    dropped = clear_halt(box, METER.address, True)
    assert (dropped.readings, dropped.inputs) == (2, 1)
    assert box.halts() == {} and box.counts() == {"signed": 0, "submitted": 0, "accepted": 1, "rejected": 0}
    assert box.inputs_of(METER.address) == {}


def test_cli_unhalt__one_command_without_keys_or_chain(tmp_path):
    (tmp_path / "c.toml").write_text('[oracle]\ndatabase = "o.db"\n')
    runner = CliRunner()
    args = ["--config", str(tmp_path / "c.toml")]
    nothing = runner.invoke(main, ["unhalt", METER.address, *args])
    assert nothing.exit_code == 2 and nothing.output.strip() == f"Error: no outbox at {tmp_path / 'o.db'} (nothing has halted)"
    box = Outbox(tmp_path / "o.db")
    box.add(Reading(METER.address, 5, 0, 0, 0, 4_000), b"s" * 65, "t")
    not_halted = runner.invoke(main, ["unhalt", METER.address.lower(), *args])
    assert not_halted.exit_code == 2 and not_halted.output == f"Error: meter {METER.address} is not halted\n"
    box.halt(METER.address, None, "imported_wh", 4_000, 8, 6)
    kept = runner.invoke(main, ["unhalt", METER.address, *args])
    assert kept.exit_code == 0, kept.output
    assert kept.output == (f"meter {METER.address}: halt cleared (imported_wh fell 4000 -> 8 Wh); kept 1 unsent readings"
                           " and 0 stored device values; nothing was signed\n")
    box.halt(METER.address, None, "imported_wh", 4_000, 8, 6)
    dropped = runner.invoke(main, ["unhalt", METER.address, "--drop-unsent", *args])
    assert dropped.exit_code == 0 and "dropped 1 unsent readings and 0 stored device values" in dropped.output
    status = json.loads(runner.invoke(main, ["status", *args, "--json", "--offline"]).output)
    assert status["readings"]["signed"] == 0 and all(m["halted"] is None for m in status["meters"].values())


def test_last_reading__the_newer_of_the_outbox_and_the_chain(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.add(Reading(METER.address, T0 + 60, 0, 0, 10, 0), b"s" * 65, "t")
    # the chain accepted a later reading from elsewhere (another outbox): that is the base
    on_chain = Reading(METER.address, T0 + 120, 0, 0, 20, 0)
    ingestor = Ingestor(box, DOMAIN, {METER.address: METER}, Metrics(), seeds={METER.address: on_chain}, rules=RULES,
                        clock_s=lambda: T0 + 3_600)
    assert ingestor.last(METER.address) == on_chain
    between = ingestor.process(METER.address, {"exported_wh": 15}, "replay", T0 + 90)
    assert (between.stored, between.kind) == (False, "stale_sample")
    assert ingestor.process(METER.address, {"exported_wh": 25}, "replay", T0 + 180).reading is not None
