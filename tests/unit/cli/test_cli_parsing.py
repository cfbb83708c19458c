"""The CLIs' pure parts: what people type -> contract units, and one-line refusals (no node needed)."""

import pytest

from gridmint.cli.addresses import parse_address
from gridmint.cli.errors import Refused
from gridmint.units import (
    NO_EXPIRY, UnitError, duration, kwh, parse_duration_s, parse_energy_wh, parse_kw_to_w, parse_method, parse_price,
    parse_timestamp, parse_token, revert_reason, storage_days, tsl, when,
)


@pytest.mark.parametrize(
    "text, wh",
    [("5", 5_000), ("0.25", 250), ("5 kWh", 5_000), ("250 Wh", 250), ("250wh", 250), ("1.2 MWh", 1_200_000), ("0.001", 1)],
)
def test_parse_energy__kwh_by_default__wh_with_suffix(text, wh):
    assert parse_energy_wh(text) == wh


@pytest.mark.parametrize("text", ["", "two", "-1", "0.0005", "5 kW", "0"])
def test_parse_energy__not_energy__one_line_error(text):
    with pytest.raises(UnitError) as err:
        parse_energy_wh(text)
    assert "\n" not in str(err.value)


def test_parse_energy__zero_allowed_for_registers():
    assert parse_energy_wh("0", allow_zero=True) == 0


@pytest.mark.parametrize("text, s", [("600", 600), ("600s", 600), ("90min", 5_400), ("36h", 129_600), ("7d", 604_800)])
def test_parse_duration(text, s):
    assert parse_duration_s(text) == s


def test_parse_duration__refuses_words():
    with pytest.raises(UnitError, match="not a duration"):
        parse_duration_s("soon")


def test_parse_method__by_name_only():
    assert [parse_method(m) for m in ("none", "Solar", "wind", "hydro", "geothermal", "biomass")] == [0, 1, 2, 3, 4, 5]
    with pytest.raises(UnitError, match="unknown generation method 'coal'"):
        parse_method("coal")
    with pytest.raises(UnitError):
        parse_method("1")


def test_parse_power_and_money():
    assert parse_kw_to_w("9.8") == 9_800
    assert parse_price("0.21", 6, "TEUR") == 210_000
    assert parse_token("12.5", 18, "TSL") == 12_500_000_000_000_000_000
    with pytest.raises(UnitError, match="not a positive multiple of 1e-6 TEUR/kWh"):
        parse_price("0.0000001", 6, "TEUR")


def test_parse_timestamp__epoch_or_iso_utc():
    assert parse_timestamp("1781503200") == 1_781_503_200
    assert parse_timestamp("2026-06-15T06:00:00Z") == 1_781_503_200
    assert parse_timestamp("2026-06-15T06:00:00") == 1_781_503_200  # no zone means UTC
    with pytest.raises(UnitError, match="not a timestamp"):
        parse_timestamp("yesterday")


def test_parse_address__names_and_typos_refused():
    a = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    assert parse_address(a.lower()) == a
    with pytest.raises(Refused, match="beneficiary must be an address"):
        parse_address("Hofmann Tools", "beneficiary")
    with pytest.raises(Refused, match="wrong checksum"):
        parse_address(a[:-1] + "c")
    with pytest.raises(Refused, match="zero address"):
        parse_address("0x" + "0" * 40)


def test_refused_exits_2():
    assert Refused("x").exit_code == 2


def test_formatting__units_and_no_expiry():
    assert kwh(1_234_567) == "1,234.567 kWh"
    assert tsl(617_900_000_000_000_000_000) == "617.9000 TSL"
    assert when(2**40 - 1) == "no expiry" and when(NO_EXPIRY) == "no expiry" and when(0) == "no expiry"
    assert when(1_781_503_200) == "2026-06-15 06:00 UTC"
    assert duration(604_800) == "7 days" and duration(300) == "300 s"
    # the sources' example: 617.9 TSL keep 2018.23 kWh for 88 days
    assert storage_days(617_900_000_000_000_000_000, 2_018_230, 3_479_000_000_000_000) == "88.0 days"


def test_revert_reason__in_words():
    assert revert_reason("watt: no arrears") == "no arrears"
    assert revert_reason("ownable: caller is not the owner") == "only the operator (the contracts' owner) may do this"
    assert revert_reason("notice: not yet effective") == "its notice period is not over yet"
    assert revert_reason(None) == "the contract reverted without a reason"


def test_meter_csv__header_and_rows_checked(tmp_path):
    from gridmint.cli.operator import CSV_HEADER, read_meter_csv

    path = tmp_path / "meters.csv"
    path.write_text("meter,owner\n")
    with pytest.raises(Refused, match="the header must be exactly address,owner,method"):
        read_meter_csv(path, 0)
    header = ",".join(CSV_HEADER) + "\n"
    owner = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    path.write_text(header + f"0x{'11' * 20},{owner},solar,9.8,Berger household,2026-06-01T08:00:00Z,1520.4,3410,980.2,2210.7\n"
                    f"0x{'22' * 20},{owner},coal,5,x,0,0,0,0,0\n")
    with pytest.raises(Refused, match=r"meters.csv:3: unknown generation method 'coal'"):
        read_meter_csv(path, 0)
    path.write_text(header + f"0x{'11' * 20},{owner},solar,9.8,Berger household,2026-06-01T08:00:00Z,1520.4,3410,980.2,2210.7\n")
    ((where, row),) = read_meter_csv(path, 0)
    assert where.endswith("meters.csv:2: ")
    assert (row.method, row.rated_power_w, row.name) == (1, 9_800, "Berger household")
    assert row.commissioning == (1_780_300_800, 1_520_400, 3_410_000, 980_200, 2_210_700)
    path.write_text(header + f"0x{'11' * 20},{owner},solar,9.8,a,0,0,0,0,0\n0x{'11' * 20},{owner},solar,9.8,b,0,0,0,0,0\n")
    with pytest.raises(Refused, match="appears twice"):
        read_meter_csv(path, 0)
