"""cert_months.vy (the vintage's month arithmetic) against Python's calendar, and its Python mirror."""

import calendar
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmint.profile import month_of

# up to 9999-12-31 23:59:59 UTC, the end of Python's calendar
LAST_PYTHON_SECOND = 253_402_300_799


@pytest.fixture(scope="module")
def months(system):
    return system.certificate


def _reference(ts):
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    start = datetime(d.year, d.month, 1, tzinfo=timezone.utc)
    days = calendar.monthrange(d.year, d.month)[1]
    return d.year * 100 + d.month, int(start.timestamp()), int(start.timestamp()) + days * 86_400


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=LAST_PYTHON_SECOND))
def test_month_of__any_second__matches_calendar(months, ts):
    assert tuple(months.month_of(ts)) == _reference(ts) == month_of(ts)


@pytest.mark.parametrize(
    "iso",
    [
        "1970-01-01T00:00:00", "2000-02-29T23:59:59", "2000-03-01T00:00:00", "2100-02-28T12:00:00",
        "2100-03-01T00:00:00", "2024-02-29T00:00:00", "2026-12-31T23:59:59", "2027-01-01T00:00:00",
        "2400-02-29T23:30:00", "9999-12-31T23:59:58",
    ],
)
def test_month_of__boundaries_and_leap_days(months, iso):
    ts = int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp())
    for t in (ts - 1, ts, ts + 1) if ts > 0 else (ts, ts + 1):
        assert tuple(months.month_of(t)) == _reference(t)


def test_month_of__beyond_python__months_tile_up_to_the_registry_limit(months, registry):
    """Past year 9999 no reference exists: consecutive months must tile, 28..31 days each."""
    t = registry.MAX_TIMESTAMP() - 400 * 86_400
    _, start, end = months.month_of(t)
    for _ in range(12):
        yyyymm, s, e = months.month_of(end)
        assert s == end and 28 * 86_400 <= e - s <= 31 * 86_400 and 1 <= yyyymm % 100 <= 12
        end = e
