"""The one place that knows the contracts' units and how people type and read them.

On chain:
- energy (WATT, certificate units, register values) is in Wh: WATT has 3 decimals, 1 WATT = 1 kWh;
- prices are quote-token base units per kWh (the local mock stablecoin has 6 decimals);
- storage rent is TSL base units (1e-18 TSL) per kWh per day;
- timestamps are seconds since the epoch (UTC), durations in seconds.

People type energy in kWh ("5", "0.25", "5 kWh") or Wh with a suffix ("250 Wh"), prices per kWh
in the quote token ("0.21"), and read every number with its unit. Parsers raise `UnitError`, a
`ValueError` whose message is one line fit for a user.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from .generated import contracts as _generated

WH_PER_KWH = 1_000
SECONDS_PER_DAY = 86_400
# storage left is shown in days up to this many, then as "more than a year"
DAYS_SHOWN_MAX = 365
TSL_DECIMALS = 18
MAX_UINT256 = 2**256 - 1
# `expires_at` of an order that never expires, and `storage_paid_until` of an account storing nothing
NO_EXPIRY = 2**64 - 1
# the exchange stores "never expires" as 2**40 - 1 s (year 36812): anything from there on reads "no expiry"
NO_EXPIRY_EXCHANGE = 2**40 - 1

METHODS = {"none": 0, "solar": 1, "wind": 2, "hydro": 3, "geothermal": 4, "biomass": 5}
# a certificate's method 6 is no meter's: a discharge certificate of the shared battery (StorageLedger, issue 26)
CERT_METHODS = {**METHODS, "storage": _generated.METHOD_STORAGE}
METHOD_NAMES = {code: name for name, code in CERT_METHODS.items()}

# `ReadingRejected.reason` -> words, as MeterRegistry.vy defines them (generated: gridmint/codegen.py)
REJECT_REASONS = {code: reason.words for code, reason in _generated.REJECT_REASONS.items()}


class UnitError(ValueError):
    """A value a person typed that does not fit its unit; the message is one line."""


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise UnitError(f"not {what}: {text!r}") from None
    if not value.is_finite():
        raise UnitError(f"not {what}: {text!r}")
    return value


_ENERGY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(kwh|wh|mwh)?\s*$", re.IGNORECASE)


def parse_energy_wh(text: str, *, allow_zero: bool = False) -> int:
    """kWh as typed ("5", "0.25", "5kWh"), or Wh / MWh with a suffix ("250 Wh", "1.2 MWh") -> Wh."""
    m = _ENERGY.match(str(text))
    if not m:
        raise UnitError(f"not an amount of energy: {text!r} (kWh, or a number with a Wh or MWh suffix)")
    value = Decimal(m.group(1))
    unit = (m.group(2) or "kwh").lower()
    wh = value * {"wh": 1, "kwh": WH_PER_KWH, "mwh": WH_PER_KWH**2}[unit]
    if wh != wh.to_integral_value():
        raise UnitError(f"{text} is not a whole number of Wh (1 Wh = 0.001 kWh is the smallest unit)")
    if wh < 0 or (wh == 0 and not allow_zero):
        raise UnitError(f"{text} is not a positive amount of energy")
    return int(wh)


def parse_kw_to_w(text: str) -> int:
    """Rated power typed in kW ("10", "2.5") -> W."""
    value = _decimal(text, "a power in kW") * 1_000
    if value != value.to_integral_value() or value <= 0:
        raise UnitError(f"{text} kW is not a positive whole number of W")
    return int(value)


def parse_token(text: str, decimals: int, symbol: str) -> int:
    """An amount of a token typed in whole tokens ("12.5") -> base units."""
    value = _decimal(text, f"an amount of {symbol}") * Decimal(10**decimals)
    if value != value.to_integral_value() or value <= 0:
        raise UnitError(f"{text} {symbol} is not a positive multiple of 1e-{decimals} {symbol}")
    return int(value)


def parse_price(text: str, decimals: int, symbol: str) -> int:
    """A price typed per kWh in the quote token ("0.21") -> quote base units per kWh."""
    return parse_token(text, decimals, f"{symbol}/kWh")


def kwh(wh: int, digits: int = 3) -> str:
    """Wh -> "1,234.567 kWh"."""
    return f"{Decimal(wh) / WH_PER_KWH:,.{digits}f} kWh"


def token(units: int, decimals: int, symbol: str, digits: int | None = None) -> str:
    """Base units -> "12.3456 EURC" (at most 4 decimals unless `digits` says otherwise)."""
    d = min(decimals, 4) if digits is None else digits
    return f"{Decimal(units) / Decimal(10**decimals):,.{d}f} {symbol}"


def price(units_per_kwh: int, decimals: int, symbol: str, digits: int | None = None) -> str:
    """Quote base units per kWh -> "0.2100 EURC/kWh" (`digits` as in `token`)."""
    return token(units_per_kwh, decimals, f"{symbol}/kWh", digits)


def tick_digits(tick: int, decimals: int, least: int = 4) -> int:
    """Decimals that show every multiple of a market's tick exactly (at least `least`): a tick of 10
    base units of a 6-decimal token (0.00001) -> 5, so a certificate price reads "0.00450 TEUR/kWh"."""
    digits = decimals
    while digits > 0 and tick % 10 ** (decimals - digits + 1) == 0:
        digits -= 1
    return min(max(digits, least), decimals)


def rent_per_day(stored_wh: int, rent_rate: int) -> int:
    """TSL base units a day to keep `stored_wh`: rent_rate is TSL base units per kWh per day."""
    return -(-stored_wh * rent_rate // WH_PER_KWH)


def days_left(seconds: int | float) -> str:
    """Storage time left, as every view shows it: "12.5 days" up to a year (`DAYS_SHOWN_MAX`),
    then "more than a year" (a deposit that lasts centuries reads no better in days)."""
    days = max(seconds, 0) / SECONDS_PER_DAY
    if days > DAYS_SHOWN_MAX:
        return "more than a year"
    return f"{days:.1f} days"


def storage_days_left(paid_until: int, now: int) -> str:
    """WATT's `storage_paid_until` (s) at chain time `now` (s): "12.5 days", "more than a year",
    or "nothing stored"."""
    if paid_until >= MAX_UINT256:
        return "nothing stored"
    return days_left(paid_until - now)


def when(ts: int) -> str:
    """A chain timestamp (s) as a UTC date and time; "no expiry" for the open-ended markers."""
    if ts == 0 or ts >= NO_EXPIRY_EXCHANGE:
        return "no expiry"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def parse_timestamp(text: str) -> int:
    """A timestamp typed as epoch seconds or ISO 8601 ("2026-06-15T06:00:00Z"; no zone means UTC)."""
    s = str(text).strip()
    if s.isdigit():
        return int(s)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise UnitError(f"not a timestamp: {text!r} (epoch seconds or ISO 8601, e.g. 2026-06-15T06:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def tsl(units: int, digits: int = 4) -> str:
    """TSL base units (1e-18 TSL) -> "12.3456 TSL"."""
    return token(units, TSL_DECIMALS, "TSL", digits)


def parse_method(text: str) -> int:
    """A generation method by name (solar, wind, hydro, geothermal, biomass, none) -> its code."""
    name = str(text).strip().lower()
    if name not in METHODS:
        raise UnitError(f"unknown generation method {text!r} (one of: {', '.join(METHODS)})")
    return METHODS[name]


RENEWABLE_METHODS = {name: code for name, code in METHODS.items() if code}


def parse_renewable_method(text: str) -> int:
    """A renewable generation method by name (solar, wind, hydro, geothermal, biomass) -> its code: a
    certificate class always names one ("none" certifies nothing)."""
    name = str(text).strip().lower()
    if name not in RENEWABLE_METHODS:
        raise UnitError(f"unknown generation method {text!r} (one of: {', '.join(RENEWABLE_METHODS)})")
    return RENEWABLE_METHODS[name]


_VINTAGE = re.compile(r"^\s*(\d{4})-?(\d{2})\s*$")


def parse_vintage(text: str) -> int:
    """A certificate vintage, the UTC calendar month of its period's end, typed "2026-06" or "202606" -> 202606."""
    m = _VINTAGE.match(str(text))
    if not m:
        raise UnitError(f"not a vintage: {text!r} (a month as YYYY-MM or YYYYMM, e.g. 2026-06)")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise UnitError(f"not a vintage: {text!r} (month {month:02d} is not 01..12)")
    if year < 1970:
        raise UnitError(f"not a vintage: {text!r} (no certificate is older than 1970)")
    return year * 100 + month


def vintage(yyyymm: int) -> str:
    """202606 -> "2026-06"."""
    return f"{int(yyyymm) // 100:04d}-{int(yyyymm) % 100:02d}"


def vintage_of(ts: int) -> int:
    """The vintage (YYYYMM, UTC month) of a timestamp in seconds, as CertificateExchange.vintage_of."""
    d = datetime.fromtimestamp(int(ts), tz=timezone.utc)
    return d.year * 100 + d.month


def certificate_class(method: int, yyyymm: int) -> str:
    """(1, 202606) -> "solar 2026-06": a certificate market's class."""
    return f"{METHOD_NAMES.get(int(method), f'method {method}')} {vintage(yyyymm)}"


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s|min|h|d|days?)?\s*$", re.IGNORECASE)


def parse_duration_s(text: str) -> int:
    """A duration typed as "7d", "36h", "90min" or seconds ("600", "600s") -> seconds."""
    m = _DURATION.match(str(text))
    if not m:
        raise UnitError(f"not a duration: {text!r} (seconds, or a number with s, min, h or d)")
    unit = (m.group(2) or "s").lower()
    seconds = Decimal(m.group(1)) * {"s": 1, "min": 60, "h": 3_600, "d": 86_400, "day": 86_400, "days": 86_400}[unit]
    if seconds != seconds.to_integral_value():
        raise UnitError(f"{text} is not a whole number of seconds")
    return int(seconds)


def duration(seconds: int) -> str:
    """Seconds -> "7 days", "36 h", "300 s"."""
    s = int(seconds)
    if s and s % SECONDS_PER_DAY == 0:
        return f"{s // SECONDS_PER_DAY} day{'s' if s != SECONDS_PER_DAY else ''}"
    if s and s % 3_600 == 0:
        return f"{s // 3_600} h"
    return f"{s:,} s"


def storage_days(deposit: int, stored_wh: int, rent_rate: int) -> str:
    """Days a TSL deposit (base units) keeps `stored_wh` at `rent_rate`: "88.0 days", "more than a
    year", or "nothing stored"."""
    daily = rent_per_day(stored_wh, rent_rate)
    if stored_wh == 0 or daily == 0:
        return "nothing stored"
    return days_left(deposit * SECONDS_PER_DAY / daily)


# revert strings of the contracts and of the snekmate modules they use, in words for a person
_REVERTS = {
    "ownable: caller is not the owner": "only the operator (the contracts' owner) may do this",
    "notice: not yet effective": "its notice period is not over yet",
    "notice: nothing announced": "nothing has been announced for it",
    "erc20: transfer amount exceeds balance": "the amount exceeds the balance",
    "erc20: insufficient allowance": "the token allowance is too small",
    "erc20: invalid signature": "the permit signature is invalid",
    "erc20: expired deadline": "the permit has expired",
    "pausable: paused": "the contract is paused",
    "pausable: contract is paused": "the market is paused (cancels and withdrawals still work)",
    "erc1155: caller is not token owner or approved": "the caller neither holds the units nor is approved by their "
                                                      "holder (setApprovalForAll)",
    "erc1155: insufficient balance for transfer": "you do not hold that many units of the certificate",
    "erc1155: transfer to non-IERC1155Receiver implementer": "the receiver is a contract that does not accept "
                                                             "ERC-1155 units",
    "erc1155: transfer to the zero address": "the receiver is the zero address",
    "certificate: revoked": "the certificate is revoked",
    "certificate: expired": "the certificate has expired",
    "certificate: unknown id": "no such certificate",
    "certificate: claim exceeds balance": "the claim exceeds the units held",
    # the order book (contracts/modules/order_book.vy), on both markets
    "exchange: amount exceeds proceeds": "the amount exceeds your proceeds",
    "exchange: amend would cross": "the new price would trade at once (an amend never trades: place an order)",
    "exchange: nothing to amend": "the order already has that price and amount",
    "exchange: order expired": "the order has expired",
    "exchange: caller is not the order owner": "the order belongs to someone else",
    "exchange: expired": "the expiry time has already passed",
    "exchange: expiry too far": "the expiry is too far in the future",
    "exchange: ioc and post-only": "an order cannot be both immediate-or-cancel and post-only",
    "exchange: order below minimum": "the amount is below the minimum order",
    "exchange: order ids exhausted": "the market has run out of order ids",
    "exchange: order not expired": "the order has not expired",
    "exchange: order too large": "the amount is too large for one order",
    "exchange: counters overflow": "the market's escrow or fee total would overflow (the order is too large)",
    "exchange: post-only would cross": "a post-only order would trade at once",
    "exchange: price not on tick": "the price is not a multiple of the tick",
    "exchange: price outside band": "the price is outside the band in force",
    "exchange: quote transfer failed": "the quote token transfer failed (balance or allowance)",
    "exchange: too many open asks": "you have the most open asks allowed (cancel one first)",
    "exchange: unknown flags": "unknown order flags",
    "exchange: unknown order": "no such open order",
    "exchange: book out of range": "no such market",
    "exchange: tag out of range": "the certificate id is too large to trade",
    # the certificate market (contracts/CertificateExchange.vy)
    "certificate_exchange: amount exceeds units": "the amount exceeds the units the exchange holds for you",
    "certificate_exchange: bad vintage": "not a vintage (YYYYMM, month 01..12)",
    "certificate_exchange: batch transfers refused": "the exchange refuses batch transfers",
    "certificate_exchange: certificate expired": "the certificate has expired",
    "certificate_exchange: certificate revoked": "the certificate is revoked",
    "certificate_exchange: id out of range": "the certificate id is too large to trade",
    "certificate_exchange: no method": "a certificate class needs a generation method",
    "certificate_exchange: unknown certificate": "no such certificate",
    "certificate_exchange: unsolicited transfer": "the exchange takes certificate units only for its own orders "
                                                  "(place an ask)",
    "certificate_exchange: zero beneficiary": "the beneficiary cannot be the zero address",
}


def revert_reason(message: str | None) -> str:
    """A contract's revert string ("watt: no arrears") as words ("no arrears")."""
    if not message:
        return "the contract reverted without a reason"
    text = str(message).strip().splitlines()[0]
    if text in _REVERTS:
        return _REVERTS[text]
    return text.split(": ", 1)[1] if re.match(r"^[a-z_0-9]+: ", text) else text


# `OrderClosed.reason` of both markets -> words, as the order book defines them (generated)
CLOSE_REASONS = {code: reason.words for code, reason in _generated.CLOSE_REASONS.items()}

