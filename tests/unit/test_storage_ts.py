"""The app's battery line (app/src/storage.ts, bundled by the app's own rolldown, run by node): what a member
drew from the battery on a settled day (imports less the utility's part, paired with their reading in the same
transaction), its night part, and the green share of its discharge certificates, on a hand-computed day."""

from __future__ import annotations

from pathlib import Path

from tests.utils.app_module import run_app_module

DAY = 20_000  # a UTC day number
T0 = DAY * 86_400
_RUNNER = """
const s = await import(process.argv[1]);
const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
const d = s.summarise(BigInt(c.day), c.readings, c.grid, c.certified);
console.log(JSON.stringify({ ...Object.fromEntries(Object.entries(d).map(([k, v]) =>
  [k, Array.isArray(v) ? v.map(String) : typeof v === "bigint" ? v.toString() : v])), share: s.greenShare(d) }));
"""


def _reading(meter: str, t: int, imported: int, tx: str, index: int) -> dict:
    return {"args": {"meter": meter, "timestamp": str(t), "imported_wh": str(imported)}, "transactionHash": tx,
            "logIndex": index}


def _summarise(tmp_path: Path, case: dict) -> dict:
    return run_app_module(tmp_path, "storage", _RUNNER, case)


def test_battery_day__grid_part_paired_in_its_transaction__night_and_green_share(tmp_path):
    a, b = "0x" + "aa" * 20, "0x" + "bb" * 20
    readings = [
        _reading(a, T0 + 12 * 3600, 1_000, "0x01", 0),  # noon: 400 of it the utility's (GridImport, same tx)
        _reading(a, T0 + 22 * 3600, 500, "0x02", 0),  # night
        _reading(b, T0 + 3 * 3600, 200, "0x03", 0),  # night, before dawn
        _reading(a, T0 + 14 * 3600, 300, "0x04", 0),  # two readings in one tx: the GridImport after the first
        _reading(b, T0 + 14 * 3600, 100, "0x04", 2),  # is the first's (all 300 of it), not the second's
        _reading(a, T0, 999, "0x05", 0),  # stamped at midnight: the day before's last second
    ]
    grid = [{"args": {"wh": "400"}, "transactionHash": "0x01", "logIndex": 1},
            {"args": {"wh": "300"}, "transactionHash": "0x04", "logIndex": 1}]
    certified = [{"args": {"id": "7", "meter": a.upper().replace("0X", "0x"), "day": str(DAY), "green_wh": "900"}},
                 {"args": {"id": "6", "meter": a, "day": str(DAY - 1), "green_wh": "50"}}]  # another day
    d = _summarise(tmp_path, {"day": str(DAY), "readings": readings, "grid": grid, "certified": certified})
    assert d["drawnWh"] == str(600 + 500 + 200 + 100)
    assert d["nightDrawnWh"] == str(500 + 200)
    assert d["greenWh"] == "900" and d["certificates"] == ["7"]
    assert d["claimedWh"] == str(600 + 500)  # the share's denominator: what the claimed meter drew
    assert d["unclaimedMeters"] == 1  # b drew and holds no certificate for the day
    assert d["share"] == "81.8 % solar from the community battery"  # 900 / 1,100, to 0.1 % (rounded down)


def test_battery_day__nothing_claimed__no_share(tmp_path):
    a = "0x" + "aa" * 20
    d = _summarise(tmp_path, {"day": str(DAY), "readings": [_reading(a, T0 + 20 * 3600, 700, "0x01", 0)], "grid": [],
                              "certified": []})
    assert d["drawnWh"] == "700" and d["nightDrawnWh"] == "700" and d["greenWh"] == "0"
    assert d["unclaimedMeters"] == 1 and d["share"] is None


# ---------------------------------------------------------------- the generator's profile less what it stored

_LESS_RUNNER = """
const s = await import(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const m = (o) => new Map(Object.entries(o).map(([k, v]) => [BigInt(k), BigInt(v)]));
const out = cases.map((c) => {
  if (c.stored_profile) {
    const p = c.stored_profile;
    const r = s.storedProfile({ ...p, takes: p.takes.map(([stored, wh]) => ({ stored, wh: BigInt(wh) })),
      settledDays: new Set(p.settledDays.map(BigInt)), slotS: BigInt(p.slotS), start: BigInt(p.start), end: BigInt(p.end) });
    return Object.fromEntries([...r].map(([k, v]) => [k.toString(), v.toString()]));
  }
  try {
    return Object.fromEntries([...s.lessStored(m(c.gen), m(c.stored))].map(([k, v]) => [k.toString(), v.toString()]));
  } catch (e) { return { error: String(e.message) }; }
});
console.log(JSON.stringify(out));
"""


def _run(tmp_path: Path, cases: list[dict]) -> list[dict]:
    return run_app_module(tmp_path, "storage", _LESS_RUNNER, cases)


def test_less_stored__the_app_as_gridmint_storage_ledger(tmp_path):
    """app/src/storage.ts lessStored agrees with gridmint.storage_ledger.less_stored on 300 random profiles,
    the refusals included (a charge above the generation before it)."""
    import random

    from gridmint.storage_ledger import less_stored

    rnd = random.Random(26)
    cases = []
    for _ in range(300):
        gen = {s: rnd.randrange(0, 2_000) for s in rnd.sample(range(100, 130), rnd.randrange(1, 12))}
        stored = {s: rnd.randrange(1, 2_500) for s in rnd.sample(range(100, 130), rnd.randrange(0, 4))}
        cases.append({"gen": {str(k): str(v) for k, v in gen.items()}, "stored": {str(k): str(v) for k, v in stored.items()}})
    got = _run(tmp_path, cases)
    refused = 0
    for case, ts in zip(cases, got, strict=True):
        gen = {int(k): int(v) for k, v in case["gen"].items()}
        stored = {int(k): int(v) for k, v in case["stored"].items()}
        try:
            py = less_stored(gen, stored)
        except ValueError as err:
            refused += 1
            assert ts.get("error", "").split(":")[0] == str(err).split(":")[0], case
            continue
        assert {int(k): int(v) for k, v in ts.items()} == py, case
    assert 0 < refused < len(cases)  # both outcomes were tried


def test_stored_profile__settled_slots_charge__owed_rest_at_the_last_slot(tmp_path):
    slot_s, start = 1_800, T0
    s1 = (T0 + 12 * 3600 - 1) // slot_s  # a noon slot of the settled day
    reading = lambda t, gen, exp, tx, i: {"args": {"timestamp": str(t), "generated_wh": str(gen), "exported_wh": str(exp)},  # noqa: E731
                                          "transactionHash": tx, "logIndex": i}
    case = {"stored_profile": {
        # taken since the last issuance: 300 + 200 (the 500 before it were issued with it)
        "takes": [[True, "500"], [False, "100"], [True, "300"], [True, "200"]],
        "readings": [reading(T0 + 12 * 3600, 400, 350, "0x01", 0),  # 50 of its export the utility's: 300 minted
                     reading(T0 + 86_400 + 12 * 3600, 100, 100, "0x02", 0)],  # a day not settled: no charge known
        "gridExports": [{"args": {"wh": "50"}, "transactionHash": "0x01", "logIndex": 1}],
        "renewable": True, "settledDays": [str(DAY)], "slotS": str(slot_s), "start": str(start), "end": str(T0 + 2 * 86_400)}}
    (got,) = _run(tmp_path, [case])
    last = (T0 + 2 * 86_400 - 1) // slot_s
    assert got == {str(s1): "300", str(last): "200"}  # min(300 minted, 400 generated); the rest owed, at the end
