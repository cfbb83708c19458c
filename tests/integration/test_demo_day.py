"""A shortened `make demo` (5 members, 4 midday slots) whose summary is checked against the chain, on
every local chain (`make demo CHAIN=anvil|hardhat`)."""

import pytest
from rich.console import Console

from gridmint.community import COMMUNITY

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]


def _pick(kinds):
    out = []
    for kind in kinds:
        out.append(next(m for m in COMMUNITY if m.kind == kind and m not in out))
    return out


def test_shortened_demo_day_matches_the_chain(tmp_path, chain):
    from scripts.demo import run_day

    members = _pick(["PV-only home", "PV-only home", "home without PV", "company", "small PV plant"])
    summary = run_day(members, slots=4, start_hour=11, out_dir=tmp_path, console=Console(file=open(tmp_path / "log.txt", "w")))

    assert summary["readings_accepted"] == len(members) * 5  # baselines + 4 slots, each exactly once
    # WATT supply = credited exports - covered imports (imports the utility covered are GridImport);
    # no storage was released and the battery never filled (no GridExport)
    assert summary["grid_export_kwh"] == 0
    expected_supply = summary["exported_kwh"] - (summary["imported_kwh"] - summary["grid_import_kwh"])
    assert summary["stored_kwh"] == pytest.approx(expected_supply, abs=1e-9)
    # certificates: everything the renewable meters generated since their baseline, nothing more
    assert summary["certificates_issued_kwh"] == pytest.approx(summary["generated_kwh"], abs=1e-9)
    assert 0 < summary["certificates_claimed_kwh"] < summary["certificates_issued_kwh"]
    # trades happened, at prices inside the [feed-in, retail] band
    assert summary["trades"] > 0
    assert summary["feed_in_price_eur_kwh"] <= summary["avg_price_eur_kwh"] <= summary["utility_price_eur_kwh"]
    assert 0 <= summary["self_sufficiency"] <= 1
    assert (tmp_path / "demo-day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["gas"]["registry.submit_readings (per reading)"]["avg"] < 60_000
