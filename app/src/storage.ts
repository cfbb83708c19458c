// The community battery's green share of what a member drew from it (issue 26, docs/rules.md "Green energy
// through the battery"): for the last day the relay settled on the StorageLedger (DaySettled), the member's
// imports burned from WATT that day (ReadingAccepted.imported_wh less the GridImport of the same reading's
// transaction) and the green Wh of its discharge certificates for that day (DischargeCertified). The green
// share comes from the chain's certificates, never recomputed here: a day not claimed yet shows what was drawn
// and "to claim" (`ape run storage claim METER`). Days are UTC days of chain time (day = t // 86,400); a
// reading's Wh belong to the day of its interval's last second, (t - 1) // 86,400.
import { has, logs } from "./chain";

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

/** Pure: the member's battery day from decoded logs (what `batteryDay` reads), `day` the settled day. */
export function summarise(
  day: bigint,
  readings: { args: Record<string, any>; transactionHash: string; logIndex: number }[],
  gridImports: { args: Record<string, any>; transactionHash: string; logIndex: number }[],
  certified: { args: Record<string, any> }[],
): BatteryDay {
  // the registry logs a reading's GridImport right after it in the same transaction: each GridImport belongs to
  // the member's last ReadingAccepted before it in that transaction
  const grid = new Map<string, bigint>(); // `${tx}:${logIndex of the reading}` -> Wh the utility covered
  for (const g of gridImports) {
    let owner: (typeof readings)[number] | undefined;
    for (const r of readings)
      if (r.transactionHash === g.transactionHash && r.logIndex < g.logIndex && (!owner || r.logIndex > owner.logIndex)) owner = r;
    if (!owner) continue;
    const key = `${owner.transactionHash}:${owner.logIndex}`;
    grid.set(key, (grid.get(key) ?? 0n) + BigInt(g.args.wh));
  }
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
