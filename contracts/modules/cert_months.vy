# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title UTC calendar months: the vintage of a certificate, written once
@custom:contract-name cert_months
@license GNU Affero General Public License v3.0 only
@notice Pure month arithmetic on Unix seconds (UTC, proleptic Gregorian),
        by Howard Hinnant's days-from-civil algorithm: a few dozen
        arithmetic operations, no table, no loop. `_month_of(t)` returns
        the month containing second `t` as YYYYMM and its bounds
        [start_s, end_s): the first second of the month and the first
        second of the next one. Every month starts at midnight, so its
        bounds are multiples of 86,400 s and of every slot length.
        tests/unit/certificate/test_months.py checks it against Python's
        `calendar` module.
"""

# @dev Seconds per day.
_DAY_S: constant(uint256) = 86_400
# @dev Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
_EPOCH_SHIFT_DAYS: constant(uint256) = 719_468
# @dev Days per 400-year era.
_ERA_DAYS: constant(uint256) = 146_097


@internal
@pure
def _month_of(timestamp_s: uint256) -> (uint256, uint256, uint256):
    """
    @notice The UTC calendar month containing `timestamp_s`.
    @param timestamp_s The 32-byte time in seconds since 1970-01-01 UTC.
    @return yyyymm The month as YYYYMM, start_s The month's first second,
            end_s The next month's first second.
    """
    days: uint256 = timestamp_s // _DAY_S
    z: uint256 = days + _EPOCH_SHIFT_DAYS
    era: uint256 = z // _ERA_DAYS
    doe: uint256 = z - era * _ERA_DAYS  # day of era, [0, 146096]
    yoe: uint256 = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365  # year of era, [0, 399]
    doy: uint256 = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the March-based year, [0, 365]
    mp: uint256 = (5 * doy + 2) // 153  # month index from March, [0, 11]
    day: uint256 = doy - (153 * mp + 2) // 5 + 1  # [1, 31]
    month: uint256 = mp + 3
    if mp >= 10:
        month = mp - 9
    year: uint256 = yoe + era * 400
    if month <= 2:
        year += 1
    # days in the month: March-based months 0..9 follow 31,30,31,30,31,31,30,31,30,31; January 31; February 28/29
    length: uint256 = 31
    if month == 2:
        length = 28
        if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0:
            length = 29
    elif month == 4 or month == 6 or month == 9 or month == 11:
        length = 30
    start_days: uint256 = days + 1 - day
    return year * 100 + month, start_days * _DAY_S, (start_days + length) * _DAY_S
