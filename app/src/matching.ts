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

/** Consumed Wh per slot of every meter `owner` owns (its readings' consumed deltas under every key it had),
 *  within [fromSlot, toSlot]. */
export async function consumptionOf(owner: string, slotS: bigint, fromSlot: bigint, toSlot: bigint): Promise<Map<bigint, bigint>> {
  const meters = (await logs("MeterRegistry", "MeterRegistered", { owner })).map((l) => l.args.meter as string);
  const out = new Map<bigint, bigint>();
  for (const meter of meters) {
    for (const r of await readingsOf(meter)) {
      const slot = slotOfReading(r.timestamp, slotS);
      if (r.consumed && slot >= fromSlot && slot <= toSlot) out.set(slot, (out.get(slot) ?? 0n) + r.consumed);
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

/** Generated Wh per slot of `meter` from its accepted readings (under every key it had) stamped in (start, end]:
 *  the profile `issue` needs, as `ape run certificates issue` builds it. */
export async function generationOf(meter: string, slotS: bigint, start: bigint, end: bigint): Promise<Map<bigint, bigint>> {
  const out = new Map<bigint, bigint>();
  for (const r of await readingsOf(meter, start, end)) {
    if (!r.generated) continue;
    const slot = slotOfReading(r.timestamp, slotS);
    out.set(slot, (out.get(slot) ?? 0n) + r.generated);
  }
  return out;
}

// ---------------------------------------------------------------- a meter's history across key rotations
// (gridmint/meter_history.py) `rotate_meter_key` retires a key for good and carries its certifiable Wh to
// the new key: the retired keys' readings are the meter's too, whatever key it has now.

/** A chain of rotations longer than this is refused as a cycle (the registry never re-registers a key). */
const MAX_ROTATIONS = 1024;

/** Every key of the meter `meter` is or was a key of, oldest first (its first key .. its current key). */
export async function meterKeys(meter: string): Promise<string[]> {
  const rotated = await logs("MeterRegistry", "MeterKeyRotated");
  const to = new Map<string, string>(), from = new Map<string, string>();
  for (const r of rotated) {
    const o = r.args.old_meter as string, n = r.args.new_meter as string;
    to.set(o.toLowerCase(), n);
    from.set(n.toLowerCase(), o);
  }
  const walk = (start: string, step: Map<string, string>) => {
    const out: string[] = [];
    for (let k = step.get(start.toLowerCase()); k; k = step.get(k.toLowerCase())) {
      if (out.length >= MAX_ROTATIONS) throw new Error(`meter key rotations of ${meter} form a cycle`);
      out.push(k);
    }
    return out;
  };
  return [...walk(meter, from).reverse(), meter, ...walk(meter, to)];
}

/** The key a meter registered as `meter` has now (follows its rotations). */
export const currentKey = async (meter: string): Promise<string> => (await meterKeys(meter)).at(-1)!;

export type MeterReading = { timestamp: bigint; generated: bigint; consumed: bigint };

/** The meter's accepted readings under every key it had, in time order, stamped in (after, until] where given. */
export async function readingsOf(meter: string, after?: bigint, until?: bigint): Promise<MeterReading[]> {
  const keys = await meterKeys(meter);
  const all = (await Promise.all(keys.map((k) => logs("MeterRegistry", "ReadingAccepted", { meter: k })))).flat();
  return all
    .map((r) => ({ timestamp: BigInt(r.args.timestamp), generated: r.args.generated_wh as bigint, consumed: r.args.consumed_wh as bigint }))
    .filter((r) => (after === undefined || r.timestamp > after) && (until === undefined || r.timestamp <= until))
    .sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
}
