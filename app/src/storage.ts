// The community battery's green share of what a member drew from it (issue 26, docs/rules.md "Green energy
// through the battery"): for the last day the relay settled on the StorageLedger (DaySettled), the member's
// imports burned from WATT that day (ReadingAccepted.imported_wh less the GridImport of the same reading's
// transaction) and the green Wh of its discharge certificates for that day (DischargeCertified). The green
// share comes from the chain's certificates, never recomputed here: a day not claimed yet shows what was drawn
// and "to claim" (`ape run storage claim METER`). Days are UTC days of chain time (day = t // 86,400); a
// reading's Wh belong to the day of its interval's last second, (t - 1) // 86,400.
import { has, logs, read } from "./chain";
import { METHOD_MAX } from "./generated/contracts";

export type BatteryDay = {
  day: bigint; // the settled day (UTC): seconds since the epoch // 86,400
  drawnWh: bigint; // imported Wh burned from WATT that day, over the member's meters
  nightDrawnWh: bigint; // of which in slots starting 18:00 .. 06:00 UTC
  greenWh: bigint; // green Wh certified (the member's discharge certificates of that day)
  claimedWh: bigint; // drawn Wh on the meters whose day is claimed (the share's denominator)
  certificates: bigint[]; // their ids
  unclaimedMeters: number; // meters that drew that day and hold no certificate for it yet
};

const DAY_S = 86_400n;

type LogLike = { args: Record<string, any>; transactionHash: string; logIndex: number };

/** The registry logs a reading's GridImport / GridExport right after it in the same transaction: each belongs
 *  to the last ReadingAccepted before it in that transaction. `${tx}:${logIndex of the reading}` -> Wh the
 *  utility took or covered (gridmint.storage_ledger.FlowLog pairs them the same way). */
function utilityPart(readings: LogLike[], grid: LogLike[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const g of grid) {
    let owner: LogLike | undefined;
    for (const r of readings)
      if (r.transactionHash === g.transactionHash && r.logIndex < g.logIndex && (!owner || r.logIndex > owner.logIndex)) owner = r;
    if (!owner) continue;
    const key = `${owner.transactionHash}:${owner.logIndex}`;
    out.set(key, (out.get(key) ?? 0n) + BigInt(g.args.wh));
  }
  return out;
}

/** Pure (gridmint.storage_day.stored_profile, gridmint.storage_green.green_charge_wh): the Wh of a meter's
 *  generation the battery's settlement took, per slot, for an issuance of its pending period (start, end]:
 *  its green charge, min(export minted as WATT, generation), in each slot of a settled day; what the registry
 *  took beyond those since the meter's last issuance (owed Wh) at the period's last slot. `takes` are the
 *  meter's StoredTaken (stored) and CertifiableTaken events in chain order; `readings` its ReadingAccepted
 *  logs, `gridExports` its GridExport logs. Throws when the takes are below the settled slots' charges. */
export function storedProfile(p: {
  takes: { stored: boolean; wh: bigint }[]; readings: LogLike[]; gridExports: LogLike[]; renewable: boolean;
  settledDays: Set<bigint>; slotS: bigint; start: bigint; end: bigint;
}): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  const lastIssue = p.takes.map((t) => !t.stored).lastIndexOf(true);
  const taken = p.takes.slice(lastIssue + 1).reduce((a, t) => a + (t.stored ? t.wh : 0n), 0n);
  if (taken === 0n) return out;
  const first = p.start / p.slotS, last = (p.end - 1n) / p.slotS;
  if (p.renewable) {
    const grid = utilityPart(p.readings, p.gridExports);
    const flows = new Map<bigint, { gen: bigint; exp: bigint }>();
    for (const r of p.readings) {
      const slot = (BigInt(r.args.timestamp) - 1n) / p.slotS;
      if (slot < first || slot > last || !p.settledDays.has((slot * p.slotS) / DAY_S)) continue;
      const f = flows.get(slot) ?? { gen: 0n, exp: 0n };
      const minted = BigInt(r.args.exported_wh) - (grid.get(`${r.transactionHash}:${r.logIndex}`) ?? 0n);
      flows.set(slot, { gen: f.gen + BigInt(r.args.generated_wh), exp: f.exp + (minted > 0n ? minted : 0n) });
    }
    for (const [slot, f] of flows) {
      const charge = f.exp < f.gen ? f.exp : f.gen;
      if (charge > 0n) out.set(slot, charge);
    }
  }
  const rest = taken - [...out.values()].reduce((a, b) => a + b, 0n);
  if (rest < 0n) throw new Error(`${taken} Wh taken for storage since the last issuance, less than its settled slots charged`);
  if (rest > 0n) out.set(last, (out.get(last) ?? 0n) + rest);
  return out;
}

/** Pure (gridmint.storage_ledger.less_stored): generation per slot less the stored Wh per slot; a charge comes
 *  off its slot, then the slots before it, latest first. Throws when the generation cannot cover a charge. */
export function lessStored(gen: Map<bigint, bigint>, stored: Map<bigint, bigint>): Map<bigint, bigint> {
  const out = new Map(gen);
  const asc = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
  for (const slot of [...stored.keys()].sort(asc)) {
    let left = stored.get(slot)!;
    for (const s of [...out.keys()].filter((k) => k <= slot && out.get(k)! > 0n).sort(asc).reverse()) {
      const cut = left < out.get(s)! ? left : out.get(s)!;
      out.set(s, out.get(s)! - cut);
      left -= cut;
      if (left === 0n) break;
    }
    if (left > 0n) throw new Error(`slot ${slot}: ${stored.get(slot)} Wh stored, above the generation before it`);
  }
  return out;
}

/** The stored Wh per slot of `meter`'s pending period (start, end] as the chain's events say (an empty map
 *  without a StorageLedger): what `issue` must leave out of the generation profile. */
export async function storedOf(meter: string, slotS: bigint, start: bigint, end: bigint): Promise<Map<bigint, bigint>> {
  if (!has("StorageLedger")) return new Map();
  const [stored, issued, readings, days, info] = await Promise.all([
    logs("MeterRegistry", "StoredTaken", { meter }), logs("MeterRegistry", "CertifiableTaken", { meter }),
    logs("MeterRegistry", "ReadingAccepted", { meter }), logs("StorageLedger", "DaySettled"),
    read("MeterRegistry", "meters", [meter as `0x${string}`]),
  ]);
  const gridExports = await logs("MeterRegistry", "GridExport", { owner: info.owner });
  const takes = [...stored.map((l) => ({ l, stored: true })), ...issued.map((l) => ({ l, stored: false }))]
    .sort((a, b) => (a.l.blockNumber !== b.l.blockNumber ? (a.l.blockNumber < b.l.blockNumber ? -1 : 1) : a.l.logIndex - b.l.logIndex))
    .map(({ l, stored }) => ({ stored, wh: BigInt(l.args.wh) }));
  return storedProfile({
    takes, readings, gridExports,
    renewable: Number(info.method) >= 1 && Number(info.method) <= METHOD_MAX, settledDays: new Set(days.map((d) => BigInt(d.args.day))),
    slotS, start, end,
  });
}

/** Pure: the member's battery day from decoded logs (what `batteryDay` reads), `day` the settled day. */
export function summarise(
  day: bigint,
  readings: LogLike[],
  gridImports: LogLike[],
  certified: { args: Record<string, any> }[],
): BatteryDay {
  const grid = utilityPart(readings, gridImports);
  const drawnBy = new Map<string, bigint>();
  let drawn = 0n, night = 0n;
  for (const r of readings) {
    const t = BigInt(r.args.timestamp);
    if ((t - 1n) / DAY_S !== day) continue;
    const wh = BigInt(r.args.imported_wh) - (grid.get(`${r.transactionHash}:${r.logIndex}`) ?? 0n);
    if (wh <= 0n) continue;
    const meter = String(r.args.meter).toLowerCase();
    drawnBy.set(meter, (drawnBy.get(meter) ?? 0n) + wh);
    drawn += wh;
    const hour = Number(((t - 1n) % DAY_S) / 3600n);
    if (hour >= 18 || hour < 6) night += wh;
  }
  let green = 0n, claimedWh = 0n;
  const ids: bigint[] = [];
  const claimedMeters = new Set<string>();
  for (const c of certified) {
    if (BigInt(c.args.day) !== day) continue;
    green += BigInt(c.args.green_wh);
    ids.push(BigInt(c.args.id));
    claimedMeters.add(String(c.args.meter).toLowerCase());
  }
  for (const m of claimedMeters) claimedWh += drawnBy.get(m) ?? 0n;
  const unclaimed = [...drawnBy.keys()].filter((m) => !claimedMeters.has(m)).length;
  return { day, drawnWh: drawn, nightDrawnWh: night, greenWh: green, claimedWh, certificates: ids, unclaimedMeters: unclaimed };
}

/** "87.5 % solar from the community battery": green over what was drawn on the claimed meters, to 0.1 %. */
export function greenShare(d: BatteryDay): string | null {
  if (d.claimedWh === 0n) return null;
  const permille = (d.greenWh * 1000n) / d.claimedWh;
  return `${permille / 10n}.${permille % 10n} % solar from the community battery`;
}

/** The member's last settled battery day, or null (no StorageLedger in the deployment, or no day settled). */
export async function batteryDay(me: `0x${string}`): Promise<BatteryDay | null> {
  if (!has("StorageLedger")) return null;
  const days = await logs("StorageLedger", "DaySettled");
  if (days.length === 0) return null;
  const day = days.map((l) => BigInt(l.args.day)).reduce((a, b) => (a > b ? a : b));
  const [readings, gridImports] = await Promise.all([
    logs("MeterRegistry", "ReadingAccepted", { owner: me }), logs("MeterRegistry", "GridImport", { owner: me }),
  ]);
  const meters = [...new Set(readings.map((r) => String(r.args.meter)))];
  const certified = (await Promise.all(meters.map((m) => logs("StorageLedger", "DischargeCertified", { meter: m })))).flat();
  return summarise(day, readings, gridImports, certified);
}
