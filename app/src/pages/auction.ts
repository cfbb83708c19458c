// The slot auction's section of the Market page: the current slot's countdown, its aggregate supply
// and demand (one-shot orders plus standing orders in force), recent clearing prices as a chart, and
// the member's trading from the browser wallet: a one-slot or standing bid/ask (escrow shown before
// signing), cancel, claim the settled orders, withdraw the WATT bought and the quote proceeds. Every
// write is simulated first and followed pending -> confirmed | failed (chain.send). The member's
// orders come from their OrderPlaced events (ids are not consecutive: docs/rules.md, "Order ids").
import { type Address, decodeEventLog } from "viem";
import { abi, addr, app, ensureQuoteAllowance, has, head, logs, read, send } from "../chain";
import { fill, field, h, message, onSubmit, select, stat, table, txView } from "../ui";
import {
  type AuctionOrder, MAX_CLAIMS, cancellable, claimable, claimedTrade, countdown, curves, escrowFor, indicative, secondsLeft, standingSpan,
} from "../auction";
import { bidEscrow } from "../market";
import { InputError, dateTime, kwh, parseAmount, parseKwh, price, token } from "../units";

/** The member's most recent orders the view reads (their state, what to claim) and shows; older ones
 *  are settled with `ape run auction claim`, which reads every OrderPlaced event of the account. */
const ORDERS_READ = 64, ORDERS_SHOWN = 20;

export type AuctionView = { el: HTMLElement; refresh(me: Address | undefined): Promise<void> };

/** The auction's own parameters (its band, minimum and fee may differ from the book's). */
type Params = { floor: bigint; ceiling: bigint; tick: bigint; minWh: bigint; feeBps: bigint; slotS: bigint; maxSlots: bigint; paused: boolean };
type Mine = { id: bigint; o: AuctionOrder; isBuy: boolean; price: bigint; amountWh: bigint; standing: boolean; firstSlot: bigint; lastSlot: bigint };

export function auctionView(): AuctionView {
  const m = app.meta;
  const pr = (v: bigint) => price(v, m.quoteDecimals, m.quoteSymbol);
  const q = (v: bigint) => token(v, m.quoteDecimals, m.quoteSymbol);
  const [slot, slotEl] = stat("Current slot ends in", "auction-countdown");
  const [ind, indEl] = stat("Indicative clearing", "auction-indicative");
  const curveEl = h("div", { class: "auction-curves", "data-testid": "auction-curves" });
  const mineEl = h("div", { class: "auction-mine", "data-testid": "auction-mine" });
  const chartEl = h("figure", { class: "chart", "data-testid": "auction-prices" });

  // ---- the order form
  const [sideF, sideSel] = select("Buy or sell", [["sell", "Sell WATT (ask)"], ["buy", "Buy WATT (bid)"]]);
  const [kindF, kindSel] = select("Kind of auction order", [["once", "This slot only"], ["standing", "Standing: every slot until it expires"]]);
  const [amtF, amt] = field("Auction amount (kWh per slot)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 0.5" });
  const [priceF, priceIn] = field(`Auction limit (${m.quoteSymbol} per kWh)`, { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 0.2000" });
  const [hoursF, hoursIn] = field("Standing for (hours)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 24" });
  hoursF.hidden = true;
  const prev = h("div", { class: "preview", "data-testid": "auction-preview", "aria-live": "polite" });
  const msg = message();
  const submit = h("button", { type: "submit" }, "Place auction order");
  const form = h("form", { "aria-label": "Place an auction order" },
    h("h3", {}, "Place an auction order"), sideF, kindF, amtF, priceF, hoursF, prev, submit, msg);

  // ---- claims and withdrawals
  const claimBtn = h("button", { type: "button", disabled: true }, "Claim settled auction orders");
  const claimMsg = message();
  claimMsg.dataset.testid = "auction-claim-msg";
  const owedEl = h("p", { "data-testid": "auction-balances" });
  const wattBtn = h("button", { type: "button", disabled: true }, "Withdraw bought WATT");
  const procBtn = h("button", { type: "button", disabled: true }, "Withdraw auction proceeds");
  const wMsg = message();
  wMsg.dataset.testid = "auction-withdraw-msg";
  const claimsEl = h("div", { class: "auction-claims" }, h("p", { "data-testid": "auction-claimable" }), claimBtn, claimMsg, owedEl, wattBtn, " ", procBtn, wMsg);

  const el = h("section", { class: "auction", "data-testid": "auction" },
    h("h2", {}, "Slot auction: one price per slot"),
    h("dl", { class: "stats" }, slot, ind),
    form,
    h("h3", {}, "Supply and demand in this slot"), curveEl,
    h("h3", {}, "My auction orders"), mineEl,
    h("h3", {}, "Claims and withdrawals"), claimsEl,
    h("h3", {}, "Recent clearing prices"), chartEl);

  let P: Params | undefined;
  let current = 0n, nextToClear = 0n, quoteBal = 0n, wattFree = 0n, arrears = 0n, proceeds = 0n, wattOwed = 0n, wattHeld = 0n;
  let mine: Mine[] = [];

  // ---- placing
  // a bid escrows out of the member's balance in the auction first (proceeds_of), the rest from the wallet
  type Parsed = { isBuy: boolean; p: bigint; wh: bigint; standing: boolean; slots: bigint; until: bigint; escrow: { quote: bigint; wh: bigint }; pull: bigint };
  function parse(): Parsed {
    if (!P) throw new InputError("The auction is still loading.");
    if (P.paused) throw new InputError("The auction is paused: no new orders (cancelling, clearing and claims still work).");
    const isBuy = sideSel.value === "buy", standing = kindSel.value === "standing";
    const wh = parseKwh(amt.value);
    const p = parseAmount(priceIn.value, m.quoteDecimals, `Limit (${m.quoteSymbol}/kWh)`);
    if (p < P.floor || p > P.ceiling) throw new InputError(`Limit outside the auction's band: between ${pr(P.floor)} and ${pr(P.ceiling)}.`);
    if (p % P.tick !== 0n) throw new InputError(`The limit must be a multiple of ${pr(P.tick)}.`);
    if (wh < P.minWh) throw new InputError(`Orders must be at least ${kwh(P.minWh)}${standing ? " per slot" : ""}.`);
    let slots = 1n, until = (current + 1n) * P.slotS;
    if (standing) {
      const centiHours = parseAmount(hoursIn.value, 2, "Standing for (hours)");
      ({ slots, until } = standingSpan(current, P.slotS, (centiHours * 3_600n) / 100n));
      if (slots > P.maxSlots) throw new InputError(`A standing order joins at most ${P.maxSlots} slots (${(P.maxSlots * P.slotS) / 3_600n} hours).`);
      if (nextToClear < current) throw new InputError("Ended slots are not cleared yet: a standing order starts once they are (anyone may clear them).");
    }
    const escrow = escrowFor(isBuy, wh, slots, bidEscrow(wh, p));
    if (!isBuy && arrears > 0n) throw new InputError("You are in storage-rent arrears: deposit TSL on the Rent page before selling.");
    if (!isBuy && escrow.wh > wattFree) throw new InputError(`This ask escrows ${kwh(escrow.wh)}; you hold ${kwh(wattFree)} you can sell.`);
    const pull = isBuy && escrow.quote > proceeds ? escrow.quote - proceeds : 0n;
    if (pull > quoteBal) throw new InputError(`This bid escrows ${q(escrow.quote)}; your auction balance covers ${q(escrow.quote - pull)} and you hold ${q(quoteBal)}.`);
    return { isBuy, p, wh, standing, slots, until, escrow, pull };
  }

  function drawPreview(): void {
    hoursF.hidden = kindSel.value !== "standing";
    if (!amt.value.trim() || !priceIn.value.trim() || (kindSel.value === "standing" && !hoursIn.value.trim())) {
      fill(prev, "Enter an amount, a limit" + (kindSel.value === "standing" ? " and a duration" : "") + " to see the escrow.");
      return;
    }
    try {
      const o = parse();
      const joins = o.standing ? `slots ${current} to ${current + o.slots - 1n} (${o.slots} slots, until ${dateTime(o.until)})` : `slot ${current} (it ends at ${dateTime(o.until)})`;
      fill(prev,
        h("p", {}, `${o.isBuy ? "Buys" : "Sells"} up to ${kwh(o.wh)}${o.standing ? " per slot" : ""} at ${pr(o.p)} or ${o.isBuy ? "less" : "more"}, in ${joins}. `,
          "Every order in a slot trades at that slot's one clearing price; each side pays a fee of ", `${P!.feeBps} bps at clearing.`),
        h("p", {}, h("strong", {}, o.isBuy
          ? `Escrows ${q(o.escrow.quote)} now (price x amount plus the 1% fee cap${o.standing ? ", per slot" : ""}): ${q(o.escrow.quote - o.pull)} from your auction balance, ${q(o.pull)} from your wallet; what does not buy comes back to your auction balance at your claim.`
          : `Escrows ${kwh(o.escrow.wh)} of your WATT now (it stays yours and keeps paying rent); what does not sell comes back at your claim.`)));
    } catch (e) {
      if (e instanceof InputError) fill(prev, h("p", { class: "msg refused" }, e.message));
      else throw e;
    }
  }
  for (const input of [amt, priceIn, hoursIn, sideSel, kindSel]) input.addEventListener("input", drawPreview);

  onSubmit(form, submit, msg, parse, async (o) => {
    const view = txView(msg);
    if (o.pull > 0n && !(await ensureQuoteAllowance("EnergyAuction", o.pull, q(o.pull), view))) return;
    const what = `${o.standing ? "Standing order: " : ""}${o.isBuy ? "buy" : "sell"} ${kwh(o.wh)}${o.standing ? ` per slot for ${o.slots} slots` : ""} at ${pr(o.p)}`;
    const r = o.standing
      ? await send(what, { contract: "EnergyAuction", functionName: "place_standing", args: [o.isBuy, o.p, o.wh, o.until] }, view, placed)
      : await send(what, { contract: "EnergyAuction", functionName: "place_order", args: [o.isBuy, o.p, o.wh] }, view, placed);
    if (r.ok) {
      amt.value = "";
      fill(prev);
    }
  });

  function events(receiptLogs: readonly any[]): { eventName: string; args: any }[] {
    const at = addr("EnergyAuction").toLowerCase();
    return receiptLogs.filter((l) => l.address.toLowerCase() === at).flatMap((l) => {
      try {
        return [decodeEventLog({ abi: abi("EnergyAuction"), data: l.data, topics: l.topics }) as { eventName: string; args: any }];
      } catch {
        return [];
      }
    });
  }
  function placed(receiptLogs: readonly any[]): string {
    const e = events(receiptLogs).find((x) => x.eventName === "OrderPlaced");
    if (!e) return "";
    const a = e.args;
    return `${a.is_buy ? "bid" : "ask"} #${a.order_id} of ${kwh(a.amount_wh)}${a.standing ? " per slot" : ""} at ${pr(a.price)} joins ` +
      (a.standing ? `slots ${a.first_slot} to ${a.last_slot}.` : `slot ${a.first_slot}.`);
  }

  // ---- cancelling, claiming, withdrawing
  async function cancel(id: bigint, btn: HTMLButtonElement) {
    btn.disabled = true;
    await send(`Cancel auction order #${id}`, { contract: "EnergyAuction", functionName: "cancel_order", args: [id] }, txView(claimMsg), (l) => {
      const e = events(l).find((x) => x.eventName === "OrderCancelled");
      return e ? `order #${id} cancelled; refunded ${q(e.args.refund_quote)} (to withdraw) and ${kwh(e.args.refund_wh)} of WATT.` : "";
    });
    btn.disabled = false;
  }

  claimBtn.addEventListener("click", async () => {
    const ids = mine.filter((x) => claimable(x.o, nextToClear)).map((x) => x.id).slice(0, MAX_CLAIMS);
    if (!ids.length) return;
    claimBtn.disabled = true;
    const side = new Map(mine.map((x) => [x.id, x.isBuy]));
    await send(`Claim ${ids.length} auction order${ids.length > 1 ? "s" : ""}`, { contract: "EnergyAuction", functionName: "claim", args: [ids] },
      txView(claimMsg), (l) => events(l).filter((x) => x.eventName === "OrderClaimed").map((x) => {
        const a = x.args, buy = side.get(a.order_id as bigint) ?? false;
        const t = claimedTrade(buy, a.quote as bigint, a.fee as bigint);
        const traded = (a.filled_wh as bigint) > 0n
          ? `${buy ? "bought" : "sold"} ${kwh(a.filled_wh)} for ${q(t.beforeFee)}, fee ${q(a.fee)}: ${buy ? "paid" : "received"} ${q(t.afterFee)}`
          : "nothing traded";
        return `order #${a.order_id}: ${traded}; refunded ${q(a.refund_quote)} and ${kwh(a.refund_wh)}.`;
      }).join(" "));
  });

  wattBtn.addEventListener("click", async () => {
    const wh = wattOwed < wattHeld ? wattOwed : wattHeld;
    wattBtn.disabled = true;
    await send(`Withdraw ${kwh(wh)} of WATT bought`, { contract: "EnergyAuction", functionName: "withdraw_watt", args: [wh] }, txView(wMsg));
  });
  procBtn.addEventListener("click", async () => {
    const amount = proceeds;
    procBtn.disabled = true;
    await send(`Withdraw ${q(amount)} from the auction`, { contract: "EnergyAuction", functionName: "withdraw_proceeds", args: [amount] }, txView(wMsg));
  });

  return {
    el,
    async refresh(me) {
      if (!has("EnergyAuction")) {
        el.hidden = true;
        return;
      }
      const [cur, slotS, ntc, floor, ceiling, tick, minWh, feeBps, maxSlots, paused] = await Promise.all([
        read("EnergyAuction", "current_slot"), read("EnergyAuction", "SLOT_S"), read("EnergyAuction", "next_to_clear"),
        read("EnergyAuction", "floor_price"), read("EnergyAuction", "ceiling_price"), read("EnergyAuction", "TICK"),
        read("EnergyAuction", "min_order_wh"), read("EnergyAuction", "taker_fee_bps"), read("EnergyAuction", "MAX_STANDING_SLOTS"),
        read("EnergyAuction", "paused"),
      ]);
      P = { floor, ceiling, tick, minWh, feeBps, slotS, maxSlots, paused };
      current = cur; nextToClear = ntc;
      priceIn.setAttribute("placeholder", `${pr(floor)} to ${pr(ceiling)}`);
      fill(slotEl, countdown(secondsLeft(head.timestamp, slotS)), ` (slot ${current})`);
      // the price levels are read through AuctionLens (views moved out of the auction for code size)
      const [b1, a1, b2, a2] = await Promise.all([
        read("AuctionLens", "levels", [current, true, 32n]), read("AuctionLens", "levels", [current, false, 32n]),
        read("AuctionLens", "standing_levels", [true, 32n]), read("AuctionLens", "standing_levels", [false, 32n]),
      ]);
      const pts = curves([...b1, ...b2], [...a1, ...a2]);
      const best = indicative(pts);
      fill(indEl, best ? `${kwh(best.wh)} at ${pr(best.price)}` : "no crossing orders yet");
      fill(curveEl, pts.length
        ? table(["Price", "Bids", "Asks", "Demand (at or above)", "Supply (at or below)"],
          pts.map((p) => [pr(p.price), kwh(p.bidsWh), kwh(p.asksWh), kwh(p.demandWh), kwh(p.supplyWh)]))
        : h("p", { class: "note" }, "No orders in this slot yet."));
      if (me) await drawMine(me);
      const cleared = (await logs("EnergyAuction", "AuctionCleared")).filter((e) => (e.args.matched_wh as bigint) > 0n).slice(-48);
      fill(chartEl, cleared.length
        ? [priceChart(cleared.map((e) => ({ slot: e.args.slot as bigint, p: e.args.price as bigint })), pr),
          h("figcaption", {}, `Clearing price (${m.quoteSymbol} per kWh) of the last ${cleared.length} slots that traded.`)]
        : h("p", { class: "note" }, "No slot has traded yet."));
      if (document.activeElement !== amt && document.activeElement !== priceIn && document.activeElement !== hoursIn
        && (amt.value || priceIn.value) && !submit.disabled) drawPreview();
    },
  };

  async function drawMine(me: Address): Promise<void> {
    const [placedEv, claimedEv, cancelledEv, proc, owed, held, qb, wb, arr] = await Promise.all([
      logs("EnergyAuction", "OrderPlaced", { owner: me }), logs("EnergyAuction", "OrderClaimed", { owner: me }),
      logs("EnergyAuction", "OrderCancelled", { owner: me }),
      read("EnergyAuction", "proceeds_of", [me]), read("EnergyAuction", "watt_of", [me]),
      read("WattToken", "balanceOf", [addr("EnergyAuction")]), read("QuoteToken", "balanceOf", [me]),
      read("WattToken", "balanceOf", [me]), read("WattToken", "arrears_of", [me]),
    ]);
    proceeds = proc; wattOwed = owed; wattHeld = held; quoteBal = qb; wattFree = wb; arrears = arr[0];
    const recent = placedEv.slice(-ORDERS_READ);
    const views = await Promise.all(recent.map((ev) => read("EnergyAuction", "order", [ev.args.order_id as bigint])));
    mine = recent.map((ev, i) => ({
      id: ev.args.order_id as bigint, o: views[i], isBuy: ev.args.is_buy as boolean, price: ev.args.price as bigint,
      amountWh: ev.args.amount_wh as bigint, standing: ev.args.standing as boolean,
      firstSlot: ev.args.first_slot as bigint, lastSlot: ev.args.last_slot as bigint,
    }));
    // what each settled order did, from its events (a settled id reads as unknown: its word is reused)
    const buys = new Map(placedEv.map((ev) => [ev.args.order_id as bigint, ev.args.is_buy as boolean]));
    const done = new Map<bigint, { wh: bigint; quote: bigint; fee: bigint }>();
    for (const c of claimedEv) {
      const id = c.args.order_id as bigint, d = done.get(id) ?? { wh: 0n, quote: 0n, fee: 0n };
      const t = claimedTrade(buys.get(id) ?? false, c.args.quote as bigint, c.args.fee as bigint);
      done.set(id, { wh: d.wh + (c.args.filled_wh as bigint), quote: d.quote + t.beforeFee, fee: d.fee + (c.args.fee as bigint) });
    }
    const cancelled = new Set(cancelledEv.map((c) => c.args.order_id as bigint));
    const rows = [...mine].reverse().slice(0, ORDERS_SHOWN).map((x) => {
      const d = done.get(x.id);
      const traded = d && d.wh > 0n ? `; ${x.isBuy ? "bought" : "sold"} ${kwh(d.wh)} for ${q(d.quote)} (fee ${q(d.fee)})` : "";
      // a cancelled standing order stays open (its word unfreed) until a claim; it joins no slot any more
      const state = claimable(x.o, nextToClear) ? "cleared: claim it"
        : cancelled.has(x.id) ? `cancelled${traded}`
          : x.o.open ? (x.standing ? `in force, next to claim slot ${x.o.next_claim_slot}` : x.firstSlot === current ? "waiting for its slot to end" : "waiting for clearing")
            : d ? `claimed${traded || ": nothing traded"}` : "settled";
      const last = x.o.open ? x.o.last_slot : x.lastSlot;
      return [`#${x.id}`, x.standing ? "standing" : "one slot", x.isBuy ? "buy" : "sell", pr(x.price),
        `${kwh(x.amountWh)}${x.standing ? " per slot" : ""}`,
        !x.standing ? String(x.firstSlot) : last < x.firstSlot ? "none: cancelled before its first slot" : `${x.firstSlot} to ${last}`, state,
        cancellable(x.o, current)
          ? h("button", { type: "button", "aria-label": `Cancel auction order ${x.id}`, onclick: (e: Event) => cancel(x.id, e.currentTarget as HTMLButtonElement) }, "Cancel")
          : ""];
    });
    fill(mineEl, rows.length ? table(["#", "Kind", "Side", "Limit", "Amount", "Slots", "State", ""], rows, "My auction orders")
      : h("p", { class: "note" }, "No auction orders yet."));
    const toClaim = mine.filter((x) => claimable(x.o, nextToClear)).length;
    fill(claimsEl.firstElementChild!, toClaim ? `${toClaim} of your orders ${toClaim > 1 ? "have" : "has"} cleared slots to claim (${MAX_CLAIMS} per transaction).`
      : nextToClear < current ? `Nothing to claim yet: slots ${nextToClear} to ${current - 1n} have ended but are not cleared (anyone may clear them).` : "Nothing to claim.");
    claimBtn.disabled = toClaim === 0;
    fill(owedEl, "Bought WATT to withdraw: ", h("strong", { "data-testid": "auction-watt" }, kwh(owed)),
      " · proceeds and refunds to withdraw: ", h("strong", { "data-testid": "auction-proceeds" }, q(proc)),
      owed > held ? ` (${kwh(owed - held)} of it waits for its sellers' claims)` : "");
    wattBtn.disabled = owed === 0n || held === 0n;
    procBtn.disabled = proc === 0n;
  }
}

/** Clearing price per traded slot: a polyline over the slots, the last price labelled. */
function priceChart(points: { slot: bigint; p: bigint }[], pr: (v: bigint) => string): SVGSVGElement {
  const NS = "http://www.w3.org/2000/svg";
  const W = 340, H = 140, left = 8, right = 8, top = 16, bottom = 18;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const last = points[points.length - 1];
  svg.setAttribute("aria-label", `Clearing prices of the last ${points.length} traded slots; last ${pr(last.p)}`);
  const ps = points.map((p) => Number(p.p));
  const lo = Math.min(...ps) * 0.97, hi = Math.max(...ps) * 1.03 || 1;
  const s0 = Number(points[0].slot), s1 = Number(last.slot);
  const x = (s: number) => left + (s1 > s0 ? (s - s0) / (s1 - s0) : 0.5) * (W - left - right);
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo || 1)) * (H - top - bottom);
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", points.map((p) => `${x(Number(p.slot))},${y(Number(p.p))}`).join(" "));
  line.setAttribute("class", "price");
  svg.append(line);
  for (const p of points) {
    const dot = document.createElementNS(NS, "circle");
    dot.setAttribute("cx", String(x(Number(p.slot))));
    dot.setAttribute("cy", String(y(Number(p.p))));
    dot.setAttribute("r", "1.8");
    dot.setAttribute("class", "price");
    svg.append(dot);
  }
  const label = document.createElementNS(NS, "text");
  label.setAttribute("x", String(W - right));
  label.setAttribute("y", String(top - 4));
  label.setAttribute("text-anchor", "end");
  label.setAttribute("class", "label last");
  label.textContent = `last ${pr(last.p)} (slot ${last.slot})`;
  svg.append(label);
  return svg;
}
