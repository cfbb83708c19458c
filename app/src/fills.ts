// What a mined order did, read from its receipt's logs (Trade, OrderPlaced, OrderClosed of the exchange
// it was sent to) — the confirmation a member reads: kWh filled, the average price, what it cost or
// earned after the taker fee, and what rests or was dropped. Either market (the same order book); an
// order filled in full logs no OrderClosed (orders.ts).
import { decodeEventLog } from "viem";
import { abi, addr } from "./chain";
import { bps, quoteFor } from "./market";
import { closeReason, kwh } from "./units";
import { CLOSE_IOC, CLOSE_SELF_TRADE } from "./generated/contracts";

type Market = "EnergyExchange" | "CertificateExchange";
/** The quote a `Trade` moved: the book's rule, floor(amount_wh x price / 1000) (the event does not repeat it). */
export const tradeQuote = (args: Record<string, any>): bigint => quoteFor(args.amount_wh as bigint, args.price as bigint);

export type Fill = {
  filledWh: bigint; quote: bigint; takerFee: bigint; avgPerKwh: bigint | null;
  orderId: bigint | null; placedWh: bigint; restingWh: bigint; closedReason: number | null; selfClosed: number;
};

/** Sums the fills of the member's order in `logs` (a receipt's), as the book settled them. */
export function fillOf(market: Market, logs: readonly any[], takerBps: bigint): Fill {
  const at = addr(market).toLowerCase();
  const events = logs.filter((l) => l.address.toLowerCase() === at).flatMap((l) => {
    try {
      return [decodeEventLog({ abi: abi(market), data: l.data, topics: l.topics }) as { eventName: string; args: any }];
    } catch {
      return []; // an event of another ABI
    }
  });
  const placed = events.find((e) => e.eventName === "OrderPlaced");
  const orderId = placed ? (placed.args.order_id as bigint) : null;
  let filledWh = 0n, quote = 0n, takerFee = 0n;
  for (const e of events) {
    if (e.eventName !== "Trade" || (orderId !== null && e.args.taker_order_id !== orderId)) continue;
    filledWh += e.args.amount_wh as bigint;
    const fillQuote = tradeQuote(e.args);
    quote += fillQuote;
    takerFee += bps(fillQuote, takerBps); // per fill, as the book charges it
  }
  let closedReason: number | null = null, selfClosed = 0;
  for (const e of events) {
    if (e.eventName !== "OrderClosed") continue;
    if (e.args.order_id === orderId) closedReason = Number(e.args.reason);
    else if (Number(e.args.reason) === CLOSE_SELF_TRADE) selfClosed++;
  }
  const placedWh = placed ? (placed.args.amount_wh as bigint) : filledWh;
  // what was not filled rests unless an OrderClosed names the order (one filled in full logs none: 0 rests)
  const restingWh = closedReason === null && orderId !== null ? placedWh - filledWh : 0n;
  return { filledWh, quote, takerFee, avgPerKwh: filledWh > 0n ? (quote * 1000n) / filledWh : null, orderId, placedWh, restingWh, closedReason, selfClosed };
}

/** "Bought 0.500 kWh at 0.2000 TEUR/kWh on average: 0.1002 TEUR paid (0.1000 + taker fee 0.0002). 0.200 kWh rests as order #12." */
export function describeFill(f: Fill, isBuy: boolean, q: (v: bigint) => string, pr: (v: bigint) => string, unit = "kWh"): string {
  const parts: string[] = [];
  if (f.filledWh > 0n) {
    const avg = `${kwh(f.filledWh).replace(" kWh", ` ${unit}`)} at ${pr(f.avgPerKwh!)} on average`;
    parts.push(isBuy
      ? `Bought ${avg}: ${q(f.quote + f.takerFee)} paid (${q(f.quote)} + taker fee ${q(f.takerFee)}).`
      : `Sold ${avg}: ${q(f.quote - f.takerFee)} to your proceeds (${q(f.quote)} − taker fee ${q(f.takerFee)}).`);
  } else parts.push("Nothing traded at once.");
  if (f.restingWh > 0n) parts.push(`${kwh(f.restingWh)} rests in the book as order #${f.orderId}.`);
  else if (f.closedReason !== null && f.placedWh > f.filledWh)
    parts.push(`The other ${kwh(f.placedWh - f.filledWh)} ${f.closedReason === CLOSE_IOC ? "was dropped (immediate-or-cancel)" : `did not rest (${closeReason(f.closedReason)})`}.`);
  if (f.selfClosed > 0) parts.push(`${f.selfClosed === 1 ? "Your own order" : `${f.selfClosed} of your own orders`} in the way closed, not traded (self-trade).`);
  return parts.join(" ");
}

const pct = (b: bigint) => `${(Number(b) / 100).toFixed(2)} %`;

/** Who pays which fee, in words: the buyer on top of the price, the seller out of it; the order that
 *  trades at once (taker) at `takerBps`, the one that was waiting in the book (maker) at `makerBps`. */
export function feeSplit(makerBps: bigint, takerBps: bigint): string {
  return `The buyer pays the price plus ${pct(takerBps)} when taking an offer, plus ${pct(makerBps)} when their bid was waiting; ` +
    `the seller receives the price less ${pct(takerBps)} when taking a bid, less ${pct(makerBps)} when their offer was waiting.`;
}

/** The preview's "trades now" line, split into what the buyer pays and what the seller receives. */
export function tradesNow(pv: { isBuy: boolean; fillWh: bigint; quote: bigint; takerFee: bigint }, makerBps: bigint, takerBps: bigint,
  q: (v: bigint) => string, lead = "Trades now"): string {
  const head = `${lead}: ${kwh(pv.fillWh)} for ${q(pv.quote)}. `;
  return pv.isBuy
    ? `${head}You pay ${q(pv.quote + pv.takerFee)} (${q(pv.quote)} + taker fee ${q(pv.takerFee)}, ${pct(takerBps)}); the sellers receive ${q(pv.quote)} less their maker fee (${pct(makerBps)}).`
    : `${head}The buyers pay ${q(pv.quote)} plus their maker fee (${pct(makerBps)}); you receive ${q(pv.quote - pv.takerFee)} (${q(pv.quote)} − taker fee ${q(pv.takerFee)}, ${pct(takerBps)}).`;
}
