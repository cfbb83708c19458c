"""The certificate market CLI's pure parts (`ape run certificates market ...`): classes, vintages, prices to
the market's tick, a bid's escrow, order flags, and every revert reason of the market in words."""

import re
from pathlib import Path

import pytest

from gridmint.market import bid_escrow, order_flags
from gridmint.units import (
    CLOSE_REASONS, UnitError, certificate_class, parse_renewable_method, parse_vintage, price, revert_reason,
    tick_digits, vintage, vintage_of,
)

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


@pytest.mark.parametrize("text, yyyymm", [("2026-06", 202606), ("202606", 202606), (" 2027-12 ", 202712), ("1970-01", 197001)])
def test_parse_vintage__yyyy_mm_or_yyyymm(text, yyyymm):
    assert parse_vintage(text) == yyyymm


@pytest.mark.parametrize("text", ["2026-13", "202600", "2026-6", "June 2026", "26-06", "1969-12", "", "2026/06"])
def test_parse_vintage__not_a_month__one_line_error(text):
    with pytest.raises(UnitError, match="not a vintage") as err:
        parse_vintage(text)
    assert "\n" not in str(err.value)


def test_vintage__reads_back_and_matches_the_contract_month():
    assert vintage(202606) == "2026-06" and vintage(197001) == "1970-01"
    # CertificateExchange.vintage_of: the UTC calendar month (tests/unit/certificate_exchange)
    assert vintage_of(951_868_799) == 200002 and vintage_of(951_868_800) == 200003
    assert vintage_of(1_798_761_599) == 202612 and vintage_of(1_798_761_600) == 202701


def test_parse_renewable_method__a_class_names_a_renewable_method():
    assert [parse_renewable_method(m) for m in ("solar", "Wind", "hydro", "geothermal", "biomass")] == [1, 2, 3, 4, 5]
    for text in ("none", "coal", "1"):
        with pytest.raises(UnitError, match="unknown generation method"):
            parse_renewable_method(text)
    assert certificate_class(1, 202606) == "solar 2026-06" and certificate_class(5, 202701) == "biomass 2027-01"


def test_prices__shown_to_the_tick():
    # the certificate market's tick is 10 base units of a 6-decimal token (0.00001 TEUR/kWh); the energy market's 100
    assert tick_digits(10, 6) == 5 and tick_digits(100, 6) == 4 and tick_digits(1, 6) == 6 and tick_digits(10_000, 6) == 4
    assert tick_digits(1, 2) == 2  # never more digits than the token has
    assert price(4_510, 6, "TEUR", tick_digits(10, 6)) == "0.00451 TEUR/kWh"
    assert price(210_000, 6, "TEUR") == "0.2100 TEUR/kWh"


def test_bid_escrow__price_times_amount_rounded_up_plus_the_fee_cap():
    # as tests/unit/certificate_exchange: ceil(wh * p / 1000) + ceil(1 %)
    assert bid_escrow(3_000, 5_000) == 15_000 + 150
    assert bid_escrow(1_001, 4_510) == 4_515 + 46
    assert bid_escrow(2_000, 210_000) == 420_000 + 4_200


def test_order_flags__ioc_or_post_only_never_both():
    assert (order_flags(False, False), order_flags(True, False), order_flags(False, True)) == (0, 1, 2)
    with pytest.raises(UnitError, match="--ioc and --post-only exclude each other"):
        order_flags(True, True)


def _reasons(path: Path, prefix: str) -> set[str]:
    return set(re.findall(rf'"({prefix}: [^"]+)"', path.read_text()))


# reasons only the operator or a deploy meets (bounds, wiring): the module's own words do for them
OPERATOR_ONLY = {
    "exchange: bad band limits", "exchange: bad max fills", "exchange: bad price band", "exchange: ceiling above limit",
    "exchange: ceiling beyond tick range", "exchange: ceiling too large", "exchange: fee above limit",
    "exchange: floor below limit", "exchange: max fee above 100 bps", "exchange: max minimum too large",
    "exchange: minimum above limit", "exchange: unknown gate", "exchange: zero minimum", "exchange: zero tick",
    "exchange: zero treasury",
}


def test_revert_reasons__every_reason_a_trader_can_meet_has_words():
    reasons = _reasons(CONTRACTS / "CertificateExchange.vy", "certificate_exchange") | _reasons(
        CONTRACTS / "modules" / "order_book.vy", "exchange")
    assert "certificate_exchange: bad vintage" in reasons and "exchange: price outside band" in reasons
    missing = [r for r in sorted(reasons - OPERATOR_ONLY) if revert_reason(r) == r.split(": ", 1)[1]]
    assert not missing, f"add these to gridmint/units.py _REVERTS: {missing}"
    assert revert_reason("certificate_exchange: bad vintage") == "not a vintage (YYYYMM, month 01..12)"
    assert revert_reason("exchange: price outside band") == "the price is outside the band in force"
    assert revert_reason("exchange: ceiling above limit") == "ceiling above limit"
    assert revert_reason("erc1155: caller is not token owner or approved").endswith("(setApprovalForAll)")
    assert revert_reason("pausable: contract is paused").startswith("the market is paused")


def test_close_reasons__the_certificate_market_adds_ten():
    assert CLOSE_REASONS[10].startswith("certificate revoked or expired")
    assert set(CLOSE_REASONS) == set(range(1, 11))
