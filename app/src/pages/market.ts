// Market: the WATT book against the quote token — depth, best prices beside the utility and feed-in
// prices, recent trades, limit / IOC / post-only orders in kWh and price per kWh with the cost shown
// before signing, my open orders (cancel), my trades, my balance here (proceeds, refunds, deposits):
// deposit quote into it, withdraw it.
import type { Page } from "../main";
import type { Address } from "viem";
import { app, blockTime, ensureQuoteAllowance, logs, read, send } from "../chain";
import { fill, field, h, message, onSubmit, select, stat, table, txView } from "../ui";
import { FLAG_IOC, fromWallet, type Level, preview } from "../market";
import { describeFill, feeSplit, fillOf, tradeQuote, tradesNow } from "../fills";
import { InputError, dateTime, kwh, parseAmount, parseKwh, price, token } from "../units";
import { auctionView } from "./auction";
export type MyTrade = { args: Record<string, any>; time: bigint; quote: bigint; iBuy: boolean; iAmMaker: boolean; hash: string };

/** Side and owner of each order id, from OrderPlaced: the Trade event names the maker, not who bought,
 *  and not the taker (its order's owner, placed in the same transaction). */
async function placedOrders(): Promise<Map<bigint, { isBuy: boolean; owner: string }>> {
  const placed = await logs("EnergyExchange", "OrderPlaced");
  const m = new Map<bigint, { isBuy: boolean; owner: string }>();
  for (const p of placed) m.set(p.args.order_id as bigint, { isBuy: p.args.is_buy as boolean, owner: p.args.owner as string });
  return m;
}

export async function allTrades() {
  const [trades, placed] = await Promise.all([logs("EnergyExchange", "Trade"), placedOrders()]);
  return Promise.all(trades.map(async (t) => ({
    args: t.args, hash: t.transactionHash, time: await blockTime(t.blockNumber), quote: tradeQuote(t.args),
    makerBuys: placed.get(t.args.maker_order_id as bigint)?.isBuy ?? false,
    taker: placed.get(t.args.taker_order_id as bigint)?.owner ?? "",
  })));
}

export async function tradesOf(me: Address): Promise<MyTrade[]> {
  const lower = me.toLowerCase();
  const out: MyTrade[] = [];
  for (const t of await allTrades()) {
    const maker = (t.args.maker as string).toLowerCase() === lower, taker = t.taker.toLowerCase() === lower;
    if (!maker && !taker) continue;
    out.push({ args: t.args, time: t.time, quote: t.quote, hash: t.hash, iAmMaker: maker, iBuy: maker ? t.makerBuys : !t.makerBuys });
  }
  return out;
}

export function marketPage(): Page {
  const m = app.meta;
  const q = (v: bigint, shown = 4) => token(v, m.quoteDecimals, m.quoteSymbol, shown);
  const pr = (v: bigint) => price(v, m.quoteDecimals, m.quoteSymbol);
  const [bid, bidEl] = stat("Best bid", "best-bid");
  const [ask, askEl] = stat("Best ask", "best-ask");
  const [util, utilEl] = stat("Utility price (ceiling)", "utility-price");
  const [feed, feedEl] = stat("Feed-in tariff (floor)", "feedin-price");
  const depthEl = h("div", { class: "depth" });
  const chartEl = h("figure", { class: "chart" });
  const feesEl = h("p", { class: "note fees", "data-testid": "fees" });

  // ---- order form
  const [sideF, sideSel] = select("Side", [["sell", "Sell WATT (ask)"], ["buy", "Buy WATT (bid)"]]);
  const [typeF, typeSel] = select("Order type", [["0", "Limit (rests in the book)"], ["1", "Immediate-or-cancel"], ["2", "Post-only (maker only)"]]);
  const [amtF, amt] = field("Amount (kWh)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 1.5" });
  const [priceF, priceIn] = field(`Price (${m.quoteSymbol} per kWh)`, { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 0.2000" },
    `between ${pr(m.floor)} and ${pr(m.ceiling)}, in steps of ${pr(m.tick)}`);
  const prev = h("div", { class: "preview", "data-testid": "order-preview", "aria-live": "polite" });
  const msg = message();
  const submit = h("button", { type: "submit" }, "Place order");
  const form = h("form", { "aria-label": "Place an order" }, h("h2", {}, "Place an order"), sideF, typeF, amtF, priceF, prev, submit, msg);

  const openEl = h("div", {});
  const proceedsAmt = h("strong", { "data-testid": "proceeds" });
  const walletQuote = h("span", {});
  const wbtn = h("button", { type: "button", disabled: true }, "Withdraw proceeds");
  const wmsg = message();
  let proceeds = 0n;
  wbtn.addEventListener("click", async () => {
    wbtn.disabled = true;
    await send(`Withdraw ${q(proceeds)}`, { contract: "EnergyExchange", functionName: "withdraw_proceeds", args: [proceeds] }, txView(wmsg));
  });
  const proceedsEl = h("div", {}, h("p", {}, "Withdrawable: ", proceedsAmt, " · wallet: ", walletQuote), wbtn, wmsg);

  // ---- deposit: quote from the wallet into the balance here (deposit_quote), which bids pay from first
  const [depF, depIn] = field(`Deposit (${m.quoteSymbol})`, { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 10" });
  const depAfter = h("p", { class: "preview", "data-testid": "quote-deposit-after", "aria-live": "polite" });
  const depMsg = message();
  const depBtn = h("button", { type: "submit" }, "Deposit");
  const depForm = h("form", { "aria-label": "Deposit to your balance here" }, h("h3", {}, "Deposit"),
    h("p", { class: "note" }, `Moves ${m.quoteSymbol} from your wallet into your balance here. Your bids pay from it first `,
      "and only the rest comes from your wallet (one token transfer less per bid); withdraw it any time."),
    depF, depAfter, depBtn, depMsg);
  /** Why a deposit of `amount` cannot leave a wallet holding `held`, or null. */
  const walletShort = (held: bigint, amount: bigint): string | null =>
    amount > held ? `You hold ${q(held)} in your wallet; the deposit is ${q(amount)}.` : null;
  const parseDeposit = (): bigint => {
    const amount = parseAmount(depIn.value, m.quoteDecimals, `Deposit (${m.quoteSymbol})`);
    const short = walletShort(quoteBal, amount);
    if (short) throw new InputError(short);
    return amount;
  };
  function drawDeposit(): void {
    if (!depIn.value.trim()) return fill(depAfter);
    try {
      const a = parseDeposit();
      fill(depAfter, `Balance here after: ${q(proceeds + a)} · wallet after: ${q(quoteBal - a)}`);
    } catch (e) {
      if (e instanceof InputError) fill(depAfter, h("span", { class: "msg refused" }, e.message));
      else throw e;
    }
  }
  depIn.addEventListener("input", drawDeposit);
  const myTradesEl = h("div", {});
  const el = h("section", {},
    h("h1", {}, "Market"),
    h("dl", { class: "stats" }, bid, ask, util, feed),
    feesEl,
    form,
    h("h2", {}, "Order book"), depthEl,
    h("h2", {}, "Recent trades"), chartEl,
    h("h2", {}, "My open orders"), openEl,
    h("h2", {}, "Your balance here"), proceedsEl, depForm,
    h("h2", {}, "My trades"), myTradesEl);
  const auction = auctionView();
  el.append(auction.el);

  let asks: readonly Level[] = [], bids: readonly Level[] = [];
  let myAsks = new Map<bigint, bigint>(), myBids = new Map<bigint, bigint>(); // price -> Wh of my open orders
  let free = 0n, quoteBal = 0n, arrears = 0n;

  /** The balance here and the wallet's quote, as shown beside Withdraw and used by the forms. */
  function drawBalance(proc: bigint, qb: bigint): void {
    proceeds = proc;
    quoteBal = qb;
    fill(proceedsAmt, q(proc));
    fill(walletQuote, `${q(qb)} in your wallet`);
    wbtn.disabled = proc === 0n;
  }

  type Parsed = { isBuy: boolean; p: bigint; wh: bigint; flags: number; pv: ReturnType<typeof preview> };
  function parse(): Parsed {
    const isBuy = sideSel.value === "buy";
    const flags = Number(typeSel.value);
    const wh = parseKwh(amt.value);
    const p = parseAmount(priceIn.value, m.quoteDecimals, `Price (${m.quoteSymbol}/kWh)`);
    if (p < m.floor || p > m.ceiling)
      throw new InputError(`Price outside the band: it must be between ${pr(m.floor)} (feed-in tariff) and ${pr(m.ceiling)} (utility price).`);
    if (p % m.tick !== 0n) throw new InputError(`Price must be a multiple of ${pr(m.tick)}.`);
    if (wh < m.minOrderWh) throw new InputError(`Orders must be at least ${kwh(m.minOrderWh)}.`);
    const pv = preview(isBuy, p, wh, flags, isBuy ? asks : bids, isBuy ? myAsks : myBids, m.takerBps, m.minOrderWh);
    if (pv.postOnlyCrosses) throw new InputError("Post-only: this price would trade at once; choose a price that rests.");
    if (!isBuy && arrears > 0n) throw new InputError("You are in storage-rent arrears: deposit TSL on the Rent page before selling.");
    if (!isBuy && wh > free) throw new InputError(`You hold ${kwh(free)} you can sell; the order needs ${kwh(wh)}.`);
    if (isBuy && fromWallet(pv.pay, proceeds) > quoteBal)
      throw new InputError(`This bid needs up to ${q(pv.pay)}; your balance here and your wallet hold ${q(proceeds + quoteBal)}.`);
    return { isBuy, p, wh, flags, pv };
  }

  function drawPreview(): void {
    if (!amt.value.trim() || !priceIn.value.trim()) {
      fill(prev, "Enter an amount and a price to see the cost and fees.");
      return;
    }
    try {
      const { isBuy, flags, pv } = parse();
      const lines: (string | HTMLElement)[] = [];
      if (pv.fillWh > 0n) lines.push(h("p", {}, tradesNow(pv, m.makerBps, m.takerBps, q)));
      if (pv.restWh > 0n)
        lines.push(h("p", {}, `Rests in the book: ${kwh(pv.restWh)}`, isBuy ? `, escrowing ${q(pv.escrow)} (price plus up to 1% for fees; the unused part is refunded to your proceeds)` :
          ` (your WATT stays escrowed and keeps paying rent); maker fee when it fills: ${m.makerBps} bps`, "."));
      if (pv.droppedWh > 0n)
        lines.push(h("p", {}, flags & FLAG_IOC ? "Immediate-or-cancel: the rest is dropped." : `${kwh(pv.droppedWh)} is dropped (below the minimum order).`));
      if (pv.ownClosedWh + pv.ownMaybeWh > 0n)
        lines.push(h("p", {}, `Your own ${isBuy ? "asks" : "bids"} at these prices (${pv.ownMaybeWh > 0n ? "up to " : ""}${kwh(pv.ownClosedWh + pv.ownMaybeWh)}) `,
          "are closed, not traded (self-trade prevention)", isBuy ? "; their WATT comes back to you." : "; their escrow goes to your proceeds."));
      if (isBuy) {
        const wallet = fromWallet(pv.pay, proceeds);
        lines.push(h("p", {}, h("strong", {}, `At most ${q(wallet)} leaves your wallet`),
          wallet < pv.pay ? ` (your balance here pays up to ${q(pv.pay - wallet)} first).` : "."));
      }
      fill(prev, lines);
    } catch (e) {
      if (e instanceof InputError) fill(prev, h("p", { class: "msg refused" }, e.message));
      else throw e;
    }
  }
  for (const input of [amt, priceIn, sideSel, typeSel]) input.addEventListener("input", drawPreview);

  onSubmit(form, submit, msg, parse, async (o) => {
    const view = txView(msg);
    const wallet = fromWallet(o.pv.pay, proceeds);
    if (o.isBuy && wallet > 0n && !(await ensureQuoteAllowance("EnergyExchange", wallet, q(wallet), view))) return;
    const what = `${o.isBuy ? "Buy" : "Sell"} ${kwh(o.wh)} at ${pr(o.p)}`;
    const r = await send(what, { contract: "EnergyExchange", functionName: "place_order", args: [o.isBuy, o.p, o.wh, 0n, BigInt(o.flags)] }, view,
      (logs) => describeFill(fillOf("EnergyExchange", logs, m.takerBps), o.isBuy, q, pr));
    if (r.ok) {
      amt.value = "";
      fill(prev);
    }
  });

  onSubmit(depForm, depBtn, depMsg, parseDeposit, async (amount) => {
    const view = txView(depMsg);
    const me = app.account!;
    // the wallet's quote now, not as of the last block drawn
    const short = walletShort(await read("QuoteToken", "balanceOf", [me]), amount);
    if (short) {
      view.set("refused", `Not sent: ${short}`);
      return;
    }
    if (!(await ensureQuoteAllowance("EnergyExchange", amount, q(amount), view))) return;
    const r = await send(`Deposit ${q(amount)} into your balance here`, { contract: "EnergyExchange", functionName: "deposit_quote", args: [amount] }, view);
    if (r.ok) {
      depIn.value = "";
      fill(depAfter);
      const [proc, qb] = await Promise.all([read("EnergyExchange", "proceeds_of", [me]), read("QuoteToken", "balanceOf", [me])]);
      drawBalance(proc, qb);
    }
  });

  async function cancel(id: bigint, btn: HTMLButtonElement) {
    btn.disabled = true;
    await send(`Cancel order #${id}`, { contract: "EnergyExchange", functionName: "cancel_order", args: [id] }, txView());
    btn.disabled = false;
  }

  return {
    title: "Market", needsAccount: true, el,
    async refresh() {
      const me = app.account!;
      const auctionShown = auction.refresh(me);
      const [bb, ba, a, b, ids, proc, bal, arr, qb, trades, mine] = await Promise.all([
        read("EnergyExchange", "best_bid"), read("EnergyExchange", "best_ask"),
        read("EnergyExchange", "depth", [false, 12n]), read("EnergyExchange", "depth", [true, 12n]),
        read("EnergyExchange", "open_orders", [me]), read("EnergyExchange", "proceeds_of", [me]),
        read("WattToken", "balanceOf", [me]), read("WattToken", "arrears_of", [me]), read("QuoteToken", "balanceOf", [me]),
        allTrades(), tradesOf(me),
      ]);
      asks = a; bids = b; arrears = arr[0];
      drawBalance(proc, qb);
      free = bal; // balanceOf is the free balance; escrow is held apart (escrowed_of)
      fill(bidEl, bb[1] > 0n ? `${pr(bb[0])} · ${kwh(bb[1])}` : "no bids");
      fill(askEl, ba[1] > 0n ? `${pr(ba[0])} · ${kwh(ba[1])}` : "no asks");
      fill(utilEl, pr(m.ceiling));
      fill(feedEl, pr(m.floor));
      fill(feesEl, `Fees: ${feeSplit(m.makerBps, m.takerBps)}`);

      const maxWh = [...a, ...b].reduce((x, l) => (l.amount_wh > x ? l.amount_wh : x), 1n);
      const bar = (l: Level, cls: string) => h("span", { class: `bar ${cls}`, style: `width:${Number((l.amount_wh * 100n) / maxWh)}%` });
      fill(depthEl,
        table(["Ask price", "kWh", ""], [...a].reverse().map((l) => [pr(l.price), kwh(l.amount_wh), bar(l, "ask")]), "Asks (sellers), best last"),
        table(["Bid price", "kWh", ""], b.map((l) => [pr(l.price), kwh(l.amount_wh), bar(l, "bid")]), "Bids (buyers), best first"));

      fill(chartEl, chart(trades.slice(-40).map((t) => ({ p: t.args.price as bigint, time: t.time })), m.floor, m.ceiling, m.quoteSymbol, m.quoteDecimals),
        h("figcaption", {}, trades.length ? `Price of the last ${Math.min(40, trades.length)} of ${trades.length} trades (${m.quoteSymbol} per kWh) by time of trade; dotted: the utility price (top) and the feed-in tariff (bottom).` : "No trades yet."));

      const orders = await Promise.all(ids.map(async (id) => [id, await read("EnergyExchange", "order", [id])] as const));
      myAsks = new Map(); myBids = new Map();
      for (const [, o] of orders) {
        const mine = o.is_buy ? myBids : myAsks;
        if (o.open) mine.set(o.price, (mine.get(o.price) ?? 0n) + o.remaining_wh);
      }
      fill(openEl, table(["#", "Side", "Price", "Left", ""], orders.map(([id, o]) => [
        `#${id}`, o.is_buy ? "buy" : "sell", pr(o.price), kwh(o.remaining_wh),
        h("button", { type: "button", "aria-label": `Cancel order ${id}`, onclick: (e: Event) => cancel(id, e.currentTarget as HTMLButtonElement) }, "Cancel"),
      ]), "My open orders"));

      fill(myTradesEl, table(["When", "Side", "kWh", "Price", "Value"], [...mine].reverse().slice(0, 30).map((t) => [
        dateTime(t.time), `${t.iBuy ? "bought" : "sold"} (${t.iAmMaker ? "maker" : "taker"})`, kwh(t.args.amount_wh), pr(t.args.price), q(t.quote),
      ]), "My trades"));
      if (document.activeElement !== amt && document.activeElement !== priceIn && (amt.value || priceIn.value) && !submit.disabled) drawPreview();
      if (depIn.value && document.activeElement !== depIn && !depBtn.disabled) drawDeposit();
      await auctionShown;
    },
  };
}

/** Recent trade prices over time, with axes: price (quote per kWh) up the left, chain time along the
 *  bottom, the utility price (ceiling) and the feed-in tariff (floor) as dotted reference lines. */
function chart(points: { p: bigint; time: bigint }[], floor: bigint, ceiling: bigint, quoteSymbol: string, decimals: number): SVGSVGElement {
  const NS = "http://www.w3.org/2000/svg";
  const W = 340, H = 160, left = 46, right = 8, top = 14, bottom = 30;
  const svg = document.createElementNS(NS, "svg");
  const el = (tag: string, attrs: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const num = (v: bigint) => (Number(v) / 10 ** decimals).toFixed(Math.min(4, decimals));
  const hm = (t: bigint) => new Date(Number(t) * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  svg.setAttribute("aria-label", points.length
    ? `Price of the last ${points.length} trades in ${quoteSymbol} per kWh, ${hm(points[0].time)} to ${hm(points[points.length - 1].time)}; last ${num(points[points.length - 1].p)}`
    : "No trades yet");
  const lo = Number(floor) * 0.95, hi = Number(ceiling) * 1.03;
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom);
  const t0 = points.length ? Number(points[0].time) : 0, t1 = points.length ? Number(points[points.length - 1].time) : 1;
  const x = (t: number) => left + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (W - left - right);
  // axes
  el("line", { x1: left, x2: left, y1: top, y2: H - bottom, class: "axis" });
  el("line", { x1: left, x2: W - right, y1: H - bottom, y2: H - bottom, class: "axis" });
  el("text", { x: 2, y: top - 4, class: "label axis-title" }, `${quoteSymbol}/kWh`);
  el("text", { x: W - right, y: H - 3, "text-anchor": "end", class: "label axis-title" }, "time of trade (chain time)");
  // price ticks: the band's ends and its middle
  for (const v of [floor, (floor + ceiling) / 2n, ceiling]) {
    el("line", { x1: left - 3, x2: left, y1: y(Number(v)), y2: y(Number(v)), class: "axis" });
    el("text", { x: left - 5, y: y(Number(v)) + 3, "text-anchor": "end", class: "label" }, num(v));
  }
  el("line", { x1: left, x2: W - right, y1: y(Number(ceiling)), y2: y(Number(ceiling)), class: "ref" });
  el("text", { x: W - right, y: y(Number(ceiling)) - 3, "text-anchor": "end", class: "label" }, "utility price");
  el("line", { x1: left, x2: W - right, y1: y(Number(floor)), y2: y(Number(floor)), class: "ref" });
  el("text", { x: W - right, y: y(Number(floor)) - 3, "text-anchor": "end", class: "label" }, "feed-in tariff");
  if (points.length) {
    // time ticks: first, middle and last trade
    const ticks = t1 > t0 ? [t0, (t0 + t1) / 2, t1] : [t0];
    ticks.forEach((t, i) => {
      el("line", { x1: x(t), x2: x(t), y1: H - bottom, y2: H - bottom + 3, class: "axis" });
      el("text", { x: x(t), y: H - bottom + 12, "text-anchor": ticks.length > 1 && i === 0 ? "start" : ticks.length > 1 && i === 2 ? "end" : "middle", class: "label" },
        hm(BigInt(Math.round(t))));
    });
    el("polyline", { points: points.map((pt) => `${x(Number(pt.time))},${y(Number(pt.p))}`).join(" "), class: "price" });
    for (const pt of points) el("circle", { cx: x(Number(pt.time)), cy: y(Number(pt.p)), r: 1.8, class: "price" });
    const last = points[points.length - 1];
    el("text", { x: x(Number(last.time)) - 3, y: y(Number(last.p)) - 5, "text-anchor": "end", class: "label last" }, `last ${num(last.p)}`);
  }
  return svg;
}
