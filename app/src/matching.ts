// Certificates per slot in the app: a profile's packed words (gridmint/profile.py: 8 slots of 32 bits
// per word, word k holding slots 8k..8k+7) and the 24/7 score (gridmint/matching.py): a beneficiary's
// consumption per slot against the green Wh claimed for it per slot, matched = min of the two.
import { logs } from "./chain";

export const SLOTS_PER_WORD = 8n;
const LANE = 32n;
const LANE_MASK = (1n << LANE) - 1n;

/** Wh per slot of packed words whose word 0 lane 0 is `firstSlot` (slots with 0 Wh left out). */
export function unpack(firstSlot: bigint, words: readonly bigint[]): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  words.forEach((w, i) => {
    for (let lane = 0n; lane < SLOTS_PER_WORD; lane++) {
      const wh = (w >> (LANE * lane)) & LANE_MASK;
      if (wh) out.set(firstSlot + BigInt(i) * SLOTS_PER_WORD + lane, wh);
    }
  });
  return out;
}

/** A reading's Wh belong to the slot of its last second. */
export const slotOfReading = (timestamp: bigint, slotS: bigint) => (timestamp - 1n) / slotS;

export type SlotRow = { slot: bigint; consumed: bigint; green: bigint; matched: bigint };
export type Matching = { rows: SlotRow[]; consumed: bigint; green: bigint; matched: bigint; score: number };

export function score(consumed: Map<bigint, bigint>, green: Map<bigint, bigint>): Matching {
  const slots = [...new Set([...consumed.keys(), ...green.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rows = slots.map((slot) => {
    const c = consumed.get(slot) ?? 0n, g = green.get(slot) ?? 0n;
    return { slot, consumed: c, green: g, matched: c < g ? c : g };
  });
  const sum = (f: (r: SlotRow) => bigint) => rows.reduce((a, r) => a + f(r), 0n);
  const c = sum((r) => r.consumed), m = sum((r) => r.matched);
  return { rows, consumed: c, green: sum((r) => r.green), matched: m, score: c ? Number(m) / Number(c) : 0 };
}

/** Consumed Wh per slot of every meter `owner` owns (its readings' consumed deltas), within [fromSlot, toSlot]. */
export async function consumptionOf(owner: string, slotS: bigint, fromSlot: bigint, toSlot: bigint): Promise<Map<bigint, bigint>> {
  const meters = (await logs("MeterRegistry", "MeterRegistered", { owner })).map((l) => l.args.meter as string);
  const out = new Map<bigint, bigint>();
  for (const meter of meters) {
    for (const r of await logs("MeterRegistry", "ReadingAccepted", { meter })) {
      const wh = r.args.consumed_wh as bigint;
      const slot = slotOfReading(BigInt(r.args.timestamp), slotS);
      if (wh && slot >= fromSlot && slot <= toSlot) out.set(slot, (out.get(slot) ?? 0n) + wh);
    }
  }
  return out;
}

/** Green Wh claimed per slot for `beneficiary` by time-matched claims (ClaimedSlots events). */
export async function greenOf(beneficiary: string): Promise<Map<bigint, bigint>> {
  const out = new Map<bigint, bigint>();
  for (const c of await logs("EnvironmentalCertificate", "ClaimedSlots", { beneficiary })) {
    for (const [slot, wh] of unpack(c.args.first_slot as bigint, c.args.slot_wh as bigint[])) out.set(slot, (out.get(slot) ?? 0n) + wh);
  }
  return out;
}

// ---------------------------------------------------------------- issuing with the profile (gridmint/profile.py)

/** At most this many profile words in one issuance (3,200 slots: 66 days of 30-minute slots). */
export const MAX_PROFILE_WORDS = 400n;

/** The words covering slots firstSlot..lastSlot (Wh per slot from `slotWh`, missing = 0): `issue`'s profile. */
export function pack(firstSlot: bigint, lastSlot: bigint, slotWh: Map<bigint, bigint>): bigint[] {
  const words: bigint[] = [];
  for (let w = firstSlot / SLOTS_PER_WORD; w <= lastSlot / SLOTS_PER_WORD; w++) {
    let word = 0n;
    for (let lane = 0n; lane < SLOTS_PER_WORD; lane++) {
      const slot = w * SLOTS_PER_WORD + lane;
      if (slot >= firstSlot && slot <= lastSlot) word |= (slotWh.get(slot) ?? 0n) << (LANE * lane);
    }
    words.push(word);
  }
  return words;
}

/** First and last slot of the half-open period (start, end] in seconds. */
export const slotRange = (start: bigint, end: bigint, slotS: bigint): [bigint, bigint] => [start / slotS, (end - 1n) / slotS];

/** [YYYYMM, first second, first second of the next month] of the UTC month holding `t` (s). */
export function monthOf(t: bigint): [number, bigint, bigint] {
  const d = new Date(Number(t) * 1000);
  const y = d.getUTCFullYear(), m = d.getUTCMonth();
  return [y * 100 + m + 1, BigInt(Date.UTC(y, m, 1) / 1000), BigInt(Date.UTC(y, m + 1, 1) / 1000)];
}

/** How many UTC months the slots of (start, end] touch. */
export function monthsTouched(start: bigint, end: bigint, slotS: bigint): number {
  const [first, last] = slotRange(start, end, slotS);
  const a = monthOf(first * slotS)[0], b = monthOf(last * slotS)[0];
  return (Math.floor(b / 100) - Math.floor(a / 100)) * 12 + (b % 100) - (a % 100) + 1;
}

/** The `until` of the next issuance of (start, end]: 0 when its profile fits one issuance, else
 *  midnight of the 1st after its first slot's month (issue the oldest month; the rest stays pending). */
export function nextPartEnd(start: bigint, end: bigint, slotS: bigint): bigint {
  const [first, last] = slotRange(start, end, slotS);
  if (last / SLOTS_PER_WORD - first / SLOTS_PER_WORD + 1n <= MAX_PROFILE_WORDS) return 0n;
  return monthOf(first * slotS)[2];
}

/** Generated Wh per slot of `meter` from its accepted readings stamped in (start, end]. */
export async function generationOf(meter: string, slotS: bigint, start: bigint, end: bigint): Promise<Map<bigint, bigint>> {
  const out = new Map<bigint, bigint>();
  for (const r of await logs("MeterRegistry", "ReadingAccepted", { meter })) {
    const t = BigInt(r.args.timestamp), wh = r.args.generated_wh as bigint;
    if (!wh || t <= start || t > end) continue;
    const slot = slotOfReading(t, slotS);
    out.set(slot, (out.get(slot) ?? 0n) + wh);
  }
  return out;
}
