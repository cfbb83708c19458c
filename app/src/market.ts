// The order math of both markets (the WATT exchange and the certificate exchange), once: the same
// module as gridmint/market.py (tests/unit/test_market_math.py runs both on the same cases), as
// contracts/modules/order_book.vy does it. A fill of w Wh at p quote base units per kWh moves
// floor(w * p / 1000); maker and taker fees are floor(quote * bps / 10,000) per fill; a bid escrows
// ceil(w * p / 1000) plus ceil(that * FEE_BPS_CAP / 10,000). Flags and the fee cap come from the
// contracts (generated/contracts.ts).
import { FEE_BPS_CAP, FLAG_IOC, FLAG_POST_ONLY } from "./generated/contracts";
import { WH_PER_KWH } from "./units";

export { FLAG_IOC, FLAG_POST_ONLY };
export const BPS_DENOMINATOR = 10_000n;

/** Quote base units a fill of `wh` at `perKwh` moves (rounded down, as a fill moves it: `Trade` does not log it). */
export const quoteFor = (wh: bigint, perKwh: bigint) => (wh * perKwh) / WH_PER_KWH;
/** A fee of `feeBps` basis points on `amount` quote base units (rounded down, as the book does). */
export const bps = (amount: bigint, feeBps: bigint) => (amount * feeBps) / BPS_DENOMINATOR;

/** Quote base units a bid of `wh` at `perKwh` escrows when it rests, on either market: price x amount
 *  rounded up, plus the fee cap (FEE_BPS_CAP bps) of that, rounded up. */
/** What a bid paying `pay` takes from the wallet: the bidder's balance on the book (`proceeds_of`) pays first
 *  (proceeds._pay_in). */
export function fromWallet(pay: bigint, balance: bigint): bigint {
  return pay > balance ? pay - balance : 0n;
}

export function bidEscrow(wh: bigint, perKwh: bigint): bigint {
  const base = (wh * perKwh + WH_PER_KWH - 1n) / WH_PER_KWH;
  return base + (base * FEE_BPS_CAP + BPS_DENOMINATOR - 1n) / BPS_DENOMINATOR;
}

/** One price level as `depth()` returns it (the member's own orders included). */
export type Level = { readonly price: bigint; readonly amount_wh: bigint };

export type Preview = {
  isBuy: boolean;
  fillWh: bigint; // trades at once
  quote: bigint; // what those fills move, before fees
  takerFee: bigint; // the order's fee on its fills
  restWh: bigint; // rests in the book
  droppedWh: bigint; // neither trades nor rests: an IOC remainder or a remainder below the minimum
  escrow: bigint; // what a resting bid escrows
  ownClosedWh: bigint; // the member's own resting orders met on the way: closed, not traded (self-trade)
  ownMaybeWh: bigint; // own Wh at the level where the order stops: closed only if queued before the fill ends
  postOnlyCrosses: boolean; // a post-only order that would trade at once: the book refuses it
  pay: bigint; // a bid: the most quote that leaves the wallet (fills, taker fee, a resting bid's escrow)
  receive: bigint; // an ask: quote credited to the seller's proceeds for the fills (after the taker fee)
};

const crosses = (isBuy: boolean, limit: bigint, p: bigint) => (isBuy ? p <= limit : p >= limit);

/** An order of `amountWh` at `limit` (quote base units per kWh) against `opposite` (the other side's
 *  levels, best first, as depth() reports them) by a member whose own orders on that side hold
 *  `own.get(price)` Wh. As the book matches: levels best first while they cross the limit, each fill
 *  at the resting order's price; a resting order of the member's own is never traded but closed and
 *  refunded (self-trade), so it neither fills the order nor stays in the book; a post-only order that
 *  crosses anything (its own orders included) is refused; the remainder rests unless it is IOC or
 *  below the minimum. Exact when each level holds at most one order of other members; with several,
 *  quote and fee may be up to one base unit per extra order high (a bidder pays at most what is
 *  shown). Not modelled (depth shows neither): resting orders closed instead of filled (expired,
 *  outside a changed band, below a raised minimum, seller in arrears, revoked certificate), and the
 *  `max_fills` resting orders one call meets at most. */
export function preview(
  isBuy: boolean, limit: bigint, amountWh: bigint, flags: number, opposite: readonly Level[],
  own: ReadonlyMap<bigint, bigint>, takerBps: bigint, minOrderWh: bigint,
): Preview {
  const done = (p: Omit<Preview, "isBuy" | "pay" | "receive">): Preview => ({
    ...p, isBuy,
    pay: isBuy ? p.quote + p.takerFee + p.escrow : 0n,
    receive: isBuy ? 0n : p.quote - p.takerFee,
  });
  const anyCross = opposite.some((l) => l.amount_wh > 0n && crosses(isBuy, limit, l.price));
  if (flags & FLAG_POST_ONLY) {
    const rest = !anyCross && amountWh >= minOrderWh ? amountWh : 0n;
    return done({ fillWh: 0n, quote: 0n, takerFee: 0n, restWh: rest, droppedWh: amountWh - rest,
      escrow: isBuy && rest > 0n ? bidEscrow(rest, limit) : 0n, ownClosedWh: 0n, ownMaybeWh: 0n, postOnlyCrosses: anyCross });
  }
  let left = amountWh, quote = 0n, fee = 0n, ownClosed = 0n, ownMaybe = 0n;
  for (const l of opposite) {
    if (left === 0n || !crosses(isBuy, limit, l.price)) break;
    const ownHere = own.get(l.price) ?? 0n;
    const mine = ownHere < l.amount_wh ? ownHere : l.amount_wh;
    const others = l.amount_wh - mine;
    if (left > others) ownClosed += mine; // every order of the level is met: the member's own are closed
    else ownMaybe += mine; // the order stops inside this level
    const w = left < others ? left : others;
    const q = quoteFor(w, l.price);
    quote += q;
    fee += bps(q, takerBps);
    left -= w;
  }
  const rest = flags & FLAG_IOC || left < minOrderWh ? 0n : left;
  return done({ fillWh: amountWh - left, quote, takerFee: fee, restWh: rest, droppedWh: left - rest,
    escrow: isBuy && rest > 0n ? bidEscrow(rest, limit) : 0n, ownClosedWh: ownClosed, ownMaybeWh: ownMaybe, postOnlyCrosses: false });
}
