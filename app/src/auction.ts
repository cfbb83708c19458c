// The slot auction's arithmetic for the Market page (pure: no chain, no DOM): aggregate supply and
// demand curves from the price levels, the slot's countdown, and an order's state in words.
// The rules are the contract's (contracts/modules/auction_clearing.vy, docs/rules.md).

export type AuctionLevel = { price: bigint; amount_wh: bigint };
/** One price of the curves: demand = bids at >= price, supply = asks at <= price (Wh). */
export type CurvePoint = { price: bigint; bidsWh: bigint; asksWh: bigint; demandWh: bigint; supplyWh: bigint };

/** Merges a slot's one-shot levels with the standing levels in force, per price, and accumulates
 *  demand (bids at or above each price) and supply (asks at or below), lowest price first. */
export function curves(bids: readonly AuctionLevel[], asks: readonly AuctionLevel[]): CurvePoint[] {
  const at = new Map<bigint, [bigint, bigint]>();
  for (const l of bids) { const v = at.get(l.price) ?? [0n, 0n]; v[0] += l.amount_wh; at.set(l.price, v); }
  for (const l of asks) { const v = at.get(l.price) ?? [0n, 0n]; v[1] += l.amount_wh; at.set(l.price, v); }
  const prices = [...at.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let supply = 0n;
  let demand = [...at.values()].reduce((s, v) => s + v[0], 0n);
  const out: CurvePoint[] = [];
  for (const p of prices) {
    const [b, a] = at.get(p)!;
    supply += a;
    out.push({ price: p, bidsWh: b, asksWh: a, demandWh: demand, supplyWh: supply });
    demand -= b;
  }
  return out;
}

/** The clearing the curves give now, by the contract's rule (docs/rules.md): among the prices at which
 *  every strictly better order can fill completely, the most matched Wh, then the smallest imbalance,
 *  then the lowest price. (The band in force at clearing may still differ.) */
export function indicative(points: CurvePoint[]): { price: bigint; wh: bigint } | null {
  let best: { price: bigint; wh: bigint; imb: bigint } | null = null;
  for (const pt of points) {
    if (pt.demandWh - pt.bidsWh > pt.supplyWh || pt.supplyWh - pt.asksWh > pt.demandWh) continue;
    const v = pt.demandWh < pt.supplyWh ? pt.demandWh : pt.supplyWh;
    const imb = (pt.demandWh > pt.supplyWh ? pt.demandWh : pt.supplyWh) - v;
    if (v > 0n && (!best || v > best.wh || (v === best.wh && imb < best.imb))) best = { price: pt.price, wh: v, imb };
  }
  return best ? { price: best.price, wh: best.wh } : null;
}

/** Seconds until the current slot ends (slot k ends at (k + 1) * slotS). */
export function secondsLeft(now: bigint, slotS: bigint): bigint {
  return slotS - (now % slotS);
}

export function countdown(seconds: bigint): string {
  const s = Number(seconds);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}
