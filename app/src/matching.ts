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
