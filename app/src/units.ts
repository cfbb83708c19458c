// The one module that knows the contracts' units (DESIGN.md "Domain"):
//   WATT: 3 decimals, 1 base unit = 1 Wh, 1 WATT = 1 kWh; certificates: 1 unit = 1 Wh
//   prices: quote-token base units per kWh (the quote token's own decimals, 6 for the local mock)
//   TSL: 18 decimals; rent_rate: TSL base units per kWh per day
//   times: unix seconds (chain time)
import { formatUnits, parseUnits } from "viem";
import { CLOSE_REASONS, REJECT_REASONS } from "./generated/contracts";

export const WH_PER_KWH = 1000n;
export const RENT_DENOMINATOR = 86_400n * WH_PER_KWH; // rent_rate x Wh -> base units per this many seconds
export const SECONDS_PER_DAY = 86_400;
/** storage left is shown in days up to this many, then as "more than a year" */
export const DAYS_SHOWN_MAX = 365;

export class InputError extends Error {}

function fixed(value: bigint, decimals: number, shown: number): string {
  const neg = value < 0n;
  const s = formatUnits(neg ? -value : value, decimals);
  const [whole, frac = ""] = s.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let out = shown > 0 ? `${grouped}.${(frac + "0".repeat(shown)).slice(0, shown)}` : grouped;
  if (shown < decimals && frac.length > shown && /[1-9]/.test(frac.slice(shown)) && out.replace(/[0.,]/g, "") === "")
    out = `< ${shown > 0 ? "0." + "0".repeat(shown - 1) + "1" : "1"}`;
  return (neg ? "−" : "") + out;
}

/** Wh -> "1,234.567 kWh" */
export const kwh = (wh: bigint, shown = 3) => `${fixed(wh, 3, shown)} kWh`;
/** token base units -> "12.3456 TSL" */
export const token = (units: bigint, decimals: number, symbol: string, shown = 4) =>
  `${fixed(units, decimals, shown)} ${symbol}`;
/** quote base units per kWh -> "0.2150 EUR/kWh" (`shown` decimals: the market's tick, see priceDecimals) */
export const price = (perKwh: bigint, decimals: number, symbol: string, shown = Math.min(4, decimals)) =>
  `${fixed(perKwh, decimals, shown)} ${symbol}/kWh`;

/** Decimals a price needs to show every step of `tick` (10 base units of a 6-decimal token: 5) */
export function priceDecimals(tick: bigint, decimals: number): number {
  let zeros = 0;
  for (let t = tick; t > 0n && t % 10n === 0n; t /= 10n) zeros++;
  return Math.max(0, decimals - zeros);
}

/** "1.5" kWh -> 1500n Wh; refuses anything finer than 1 Wh, negatives and junk */
export function parseKwh(text: string, what = "Amount"): bigint {
  return parseAmount(text, 3, `${what} (kWh)`);
}

export function parseAmount(text: string, decimals: number, what: string): bigint {
  const t = text.trim().replace(",", ".");
  if (!t) throw new InputError(`${what}: enter a number.`);
  if (!/^\d*\.?\d*$/.test(t) || t === ".") throw new InputError(`${what}: "${text}" is not a number.`);
  const frac = t.split(".")[1] ?? "";
  if (frac.length > decimals) throw new InputError(`${what}: at most ${decimals} decimals.`);
  const v = parseUnits(t, decimals);
  if (v === 0n) throw new InputError(`${what}: must be more than zero.`);
  return v;
}

export function date(ts: number | bigint): string {
  return new Date(Number(ts) * 1000).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}
export function dateTime(ts: number | bigint): string {
  return new Date(Number(ts) * 1000).toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

/** A period with its dates: "15 Jun 2027, 06:00–11:00" within a day, "14 Jun 2027, 20:25 → 15 Jun 2027, 04:27" across days */
export function period(start: number | bigint, end: number | bigint): string {
  const a = new Date(Number(start) * 1000), b = new Date(Number(end) * 1000);
  const hm = (d: Date) => d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (a.toDateString() === b.toDateString()) return `${date(start)}, ${hm(a)}–${hm(b)}`;
  return `${dateTime(start)} → ${dateTime(end)}`;
}

const MAX_U256 = 2n ** 256n - 1n;
/** 12403.04 -> "12,403.0" */
export const days1 = (days: number) => days.toLocaleString("en", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** Storage time left as every view shows it (the same rule as gridmint.units.days_left): "88.0 days
 *  (until 12 Sep 2027)" up to a year (DAYS_SHOWN_MAX), then "more than a year". */
export function daysLeft(seconds: bigint, now: bigint): { days: number; text: string } {
  const days = Number(seconds > 0n ? seconds : 0n) / SECONDS_PER_DAY;
  if (days > DAYS_SHOWN_MAX) return { days, text: "more than a year" };
  return { days, text: `${days1(days)} days (until ${date(now + seconds)})` };
}

/** Storage left from storage_paid_until and chain time: daysLeft, or why there is none */
export function storageLeft(paidUntil: bigint, now: bigint): { days: number | null; text: string } {
  if (paidUntil === MAX_U256) return { days: null, text: "nothing stored: no rent due" };
  if (paidUntil <= now) return { days: 0, text: `0 days: deposit ran out ${dateTime(paidUntil)}` };
  return daysLeft(paidUntil - now, now);
}

/** seconds of storage a TSL deposit pays for `storedWh` at `rate` (TSL base units per kWh per day) */
export function secondsPaid(depositTsl: bigint, storedWh: bigint, rate: bigint): bigint | null {
  if (storedWh === 0n || rate === 0n) return null;
  return (depositTsl * RENT_DENOMINATOR) / (storedWh * rate);
}

// a certificate's method 6 is no meter's: a discharge certificate of the shared battery (StorageLedger)
export const METHODS = ["none (consumption only)", "solar", "wind", "hydro", "geothermal", "biomass", "storage (battery discharge)"];
export const method = (m: number | bigint) => METHODS[Number(m)] ?? `method ${m}`;

/** `ReadingRejected.reason` in words, as MeterRegistry.vy defines it (generated) */
export const rejection = (r: number | bigint) => REJECT_REASONS[Number(r)]?.words ?? `reason ${r}`;
/** `OrderClosed.reason` in words, as the order book defines it (generated) */
export const closeReason = (r: number | bigint) => CLOSE_REASONS[Number(r)]?.words ?? `closed (reason ${r})`;

/** Vintage of a certificate class: YYYYMM, the UTC month of its period_end (as CertificateExchange.vintage_of) */
export function vintageOf(ts: bigint | number): number {
  const d = new Date(Number(ts) * 1000);
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
}
/** The one expiry rule of certificate units (the certificate, the market, gridmint.metadata.is_expired):
 *  live while the block time is before `expires_at`; from that second on nothing moves or is claimed */
export const isExpired = (expiresAt: bigint, now: bigint) => now >= expiresAt;
/** Vintage of a certificate: the month of its period's last second (as EnvironmentalCertificate.vintage) */
export const vintageOfPeriod = (periodEnd: bigint) => vintageOf(periodEnd - 1n);
/** 202706 -> "June 2027" */
export function vintageLabel(v: bigint | number): string {
  const n = Number(v);
  return new Date(Date.UTC(Math.floor(n / 100), (n % 100) - 1, 1))
    .toLocaleDateString("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });
}

/** 0x1234…abcd: an address or hash shortened for display (the full value goes in a title / copy button) */
export const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;
