// Which orders of either market (the same order book, contracts/modules/order_book.vy) are closed, from
// their events, once. The book says each thing once: a fill that closes a maker says it in its Trade
// (maker_left 0) and logs no OrderClosed unless it gives unused bid escrow back; a taker filled in full
// says it in its Trades (they add up to its OrderPlaced amount) and logs no OrderClosed; every other close
// (cancelled, expired, IOC or uncrossable remainder, self-trade, arrears, below the minimum, out of band…)
// logs OrderClosed. An order none of these names is open (an expired one too, until the book meets it).

/** A decoded log: `logs()` of chain.ts, or a receipt's logs decoded. */
type Ev = { args: Record<string, any> };

/** Ids of the closed orders among `placed` (OrderPlaced), given the market's OrderClosed and Trade logs. */
export function closedOrderIds(placed: readonly Ev[], closed: readonly Ev[], trades: readonly Ev[]): Set<bigint> {
  const out = new Set<bigint>(closed.map((l) => l.args.order_id as bigint));
  const taken = new Map<bigint, bigint>(); // Wh each order filled as the taker, when it was placed
  for (const t of trades) {
    if (t.args.maker_left === 0n) out.add(t.args.maker_order_id as bigint); // the fill closed the maker
    const id = t.args.taker_order_id as bigint;
    taken.set(id, (taken.get(id) ?? 0n) + (t.args.amount_wh as bigint));
  }
  // a taker that rested is closed later as a maker (maker_left 0) or by an OrderClosed
  for (const p of placed) if (taken.get(p.args.order_id as bigint) === p.args.amount_wh) out.add(p.args.order_id as bigint);
  return out;
}
