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

// ---------------------------------------------------------------- orders from the browser wallet

/** EnergyAuction.MAX_CLAIMS: most order ids one `claim` settles (generated from the contract). */
export { MAX_CLAIMS } from "./generated/contracts";

/** An order as EnergyAuction.order() shows it (slots are auction numbers: timestamp // SLOT_S). */
export type AuctionOrder = {
  readonly is_buy: boolean; readonly standing: boolean; readonly first_slot: bigint; readonly last_slot: bigint;
  readonly next_claim_slot: bigint; readonly open: boolean;
};

/** The slots a standing order placed now for `seconds` joins: the current slot and those after it
 *  that end within the duration, at least one; `until` (s) is the end of the last one. */
export function standingSpan(current: bigint, slotS: bigint, seconds: bigint): { slots: bigint; until: bigint } {
  const slots = seconds <= slotS ? 1n : (seconds + slotS - 1n) / slotS;
  return { slots, until: (current + slots) * slotS };
}

/** An open order with a cleared slot not yet settled: `claim` settles it (its fills, fees, unused escrow). */
export const claimable = (o: AuctionOrder, nextToClear: bigint) => o.open && o.next_claim_slot < nextToClear;

/** Whether the owner may still cancel: a one-shot order while its slot is open, a standing order
 *  while it still joins the current slot or a later one. */
export const cancellable = (o: AuctionOrder, current: bigint) =>
  o.open && (o.standing ? o.last_slot >= current : o.first_slot === current);

/** What an order escrows at placement for `slots` auctions: a bid its quote per slot (price x amount
 *  plus the fee cap, both rounded up: `bidEscrowPerSlot`), an ask its Wh per slot. */
export function escrowFor(isBuy: boolean, wh: bigint, slots: bigint, bidEscrowPerSlot: bigint): { quote: bigint; wh: bigint } {
  return isBuy ? { quote: bidEscrowPerSlot * slots, wh: 0n } : { quote: 0n, wh: wh * slots };
}

/** An `OrderClaimed` event's trade, before and after fees: the event's `quote` is what a bid paid
 *  (its fills plus its fee) and what an ask's fills brought before its fee (the contract's
 *  auction_orders._claim), so both sides are read here the same way. */
export function claimedTrade(isBuy: boolean, quote: bigint, fee: bigint): { beforeFee: bigint; afterFee: bigint } {
  return isBuy ? { beforeFee: quote - fee, afterFee: quote } : { beforeFee: quote, afterFee: quote - fee };
}
