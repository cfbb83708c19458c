"""The app's battery line (app/src/storage.ts, bundled by the app's own rolldown, run by node): what a member
drew from the battery on a settled day (imports less the utility's part, paired with their reading in the same
transaction), its night part, and the green share of its discharge certificates, on a hand-computed day."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
    rolldown = ROOT / "app" / "node_modules" / ".bin" / "rolldown"
    assert rolldown.exists(), "app/node_modules is not installed: run `make app-build`"
    bundle = tmp_path / "storage.mjs"
    subprocess.run([str(rolldown), "src/storage.ts", "--format", "esm", "--file", str(bundle)], cwd=ROOT / "app",
                   check=True, capture_output=True)
    run = subprocess.run(["node", "--input-type=commonjs", "-e", f"(async () => {{ {_RUNNER} }})()", str(bundle)],
                         input=json.dumps(case), capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


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
