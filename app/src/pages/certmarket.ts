// The certificate market (CertificateExchange), part of the Certificates page: environmental value
// (certificate units, 1 unit = 1 Wh) against the quote token, one book per class — generation method
// and vintage (YYYYMM, the UTC month of a certificate's period_end). An ask escrows units of one
// certificate; a bid names a class and fills from any ask of it. Depth and best prices of the chosen
// class, its recent trades, sell / buy / buy-and-claim with the cost and fees before signing, my open
// orders (cancel), proceeds and units credited back (withdraw).
import { type Address, type Hash, decodeEventLog, isAddress } from "viem";
import { abi, addr, app, blockTime, ensureQuoteAllowance, head, logs, read, send } from "../chain";
import { fill, field, h, message, onSubmit, select, stat, table, txView } from "../ui";
import { FLAG_IOC, type Level, type Preview, bidEscrow, preview, quoteFor } from "../market";
import { describeFill, feeSplit, fillOf, tradeQuote, tradesNow } from "../fills";
import { closedOrderIds } from "../orders";
import {
  InputError, dateTime, kwh, method, parseAmount, parseKwh, price, priceDecimals, short, token, isExpired, vintageLabel, vintageOfPeriod,
} from "../units";

const CX = "CertificateExchange";
const CERT = "EnvironmentalCertificate";

type Params = { tick: bigint; floor: bigint; ceiling: bigint; minOrderWh: bigint; makerBps: bigint; takerBps: bigint };
/** A certificate the member holds (from the page's own reads). */
export type Held = { id: bigint; bal: bigint; method: number; periodEnd: bigint; expiresAt: bigint; revoked: boolean };
type Placed = { isBuy: boolean; owner: string; method: number; vintage: number; certificateId: bigint };

const classKey = (m: number, v: number) => `${m}:${v}`;
const classLabel = (m: number, v: number) => `${method(m)}, ${vintageLabel(v)}`;
const parseClass = (k: string): [number, number] => k.split(":").map(Number) as [number, number];

export function certificateMarket() {
  const m = app.meta;
  // certificate prices are small (0.10–20 EUR/MWh): quote amounts in all the token's decimals
  const q = (v: bigint) => token(v, m.quoteDecimals, m.quoteSymbol, m.quoteDecimals);
  let P: Params = { tick: 1n, floor: 0n, ceiling: 0n, minOrderWh: 0n, makerBps: 0n, takerBps: 0n };
  const pr = (v: bigint) => price(v, m.quoteDecimals, m.quoteSymbol, priceDecimals(P.tick, m.quoteDecimals));
  const perMwh = (v: bigint) => token(v * 1000n, m.quoteDecimals, m.quoteSymbol, 2) + "/MWh";

  // ---- class picker, prices, depth
  const [classF, classSel] = select("Class (generation method, vintage month)", []);
  const [bid, bidEl] = stat("Best bid", "cx-best-bid");
  const [ask, askEl] = stat("Best ask", "cx-best-ask");
  const [band, bandEl] = stat("Price band", "cx-band");
  const feesEl = h("p", { class: "note fees", "data-testid": "cx-fees" });
  const depthEl = h("div", { class: "depth" });
  const tradesEl = h("div", {});

  // ---- sell
  const approvalEl = h("div", { class: "approval", "data-testid": "cx-approval" });
  const [certF, certSel] = select("Certificate", []);
  const [sTypeF, sType] = select("Order type", [["0", "Limit (rests in the book)"], ["1", "Immediate-or-cancel"], ["2", "Post-only (maker only)"]]);
  const [sAmtF, sAmt] = field("Amount (kWh)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 2" });
  const [sPriceF, sPrice] = field("Price (per kWh)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 0.00500" });
  const sHint = h("small", {});
  sPriceF.append(sHint);
  const sPrev = h("div", { class: "preview", "data-testid": "cx-sell-preview", "aria-live": "polite" });
  const sMsg = message();
  const sBtn = h("button", { type: "submit" }, "Sell");
  const sellForm = h("form", { "aria-label": "Sell certificate units", id: "cx-sell" },
    h("h3", {}, "Sell certificate units"), approvalEl, certF, sTypeF, sAmtF, sPriceF, sPrev, sBtn, sMsg);

  // ---- buy (limit / IOC / post-only)
  const [bTypeF, bType] = select("Order type", [["0", "Limit (the rest waits as a bid)"], ["1", "Immediate-or-cancel"], ["2", "Post-only (maker only)"]]);
  const [bAmtF, bAmt] = field("Amount (kWh)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 2" });
  const [bPriceF, bPrice] = field("Price (per kWh)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 0.00500" });
  const bHint = h("small", {});
  bPriceF.append(bHint);
  const bPrev = h("div", { class: "preview", "data-testid": "cx-buy-preview", "aria-live": "polite" });
  const bMsg = message();
  const bBtn = h("button", { type: "submit" }, "Buy");
  const buyForm = h("form", { "aria-label": "Buy certificate units" },
    h("h3", {}, "Buy certificate units"), h("p", { class: "note" }, "Fills from any certificate of the class, cheapest first; the units arrive in your wallet in the same transaction."),
    bTypeF, bAmtF, bPriceF, bPrev, bBtn, bMsg);

  // ---- buy and claim
  const [cAmtF, cAmt] = field("Amount (kWh)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 2" });
  const [cPriceF, cPrice] = field("Highest price (per kWh)", { inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 0.00500" });
  const [cBenF, cBen] = field("Beneficiary (address)", { autocomplete: "off", spellcheck: false, value: app.account }, "who consumed the renewable energy");
  const [cPurF, cPur] = field("Purpose", { maxlength: 128, autocomplete: "off" }, "e.g. “electricity of our flat, June”");
  const cPrev = h("div", { class: "preview", "data-testid": "cx-claim-preview", "aria-live": "polite" });
  const cMsg = message();
  const cBtn = h("button", { type: "submit" }, "Buy and claim");
  const claimForm = h("form", { "aria-label": "Buy and claim for a beneficiary" },
    h("h3", {}, "Buy and claim for a beneficiary"),
    h("p", { class: "note" }, "One transaction: buys up to the amount at up to your price (immediate-or-cancel: nothing rests) and claims (retires) every unit bought for the beneficiary."),
    cAmtF, cPriceF, cBenF, cPurF, cPrev, cBtn, cMsg);

  // ---- mine
  const ordersEl = h("div", {});
  const proceedsAmt = h("strong", { "data-testid": "cx-proceeds" });
  const pBtn = h("button", { type: "button", disabled: true }, "Withdraw proceeds");
  const pMsg = message();
  const unitsEl = h("div", {});
  const emptyEl = h("p", { hidden: true }, "No certificates issued yet: nothing to trade.");
  const bodyEl = h("div", {},
    classF, h("dl", { class: "stats" }, bid, ask, band), feesEl,
    h("div", { class: "cx-forms" }, sellForm, buyForm, claimForm),
    h("h3", {}, "Order book"), depthEl,
    h("h3", {}, "Recent trades"), tradesEl,
    h("h3", {}, "My open certificate orders"), ordersEl,
    h("h3", {}, "Proceeds and units held for me"),
    h("div", { class: "card" }, h("p", {}, "Withdrawable proceeds: ", proceedsAmt), pBtn, pMsg, unitsEl));
  const el = h("section", { class: "cx", "aria-labelledby": "cx-title" },
    h("h2", { id: "cx-title" }, "Certificate market"),
    h("p", { class: "note" }, "Environmental value traded by class: a generation method and a vintage (the calendar month, UTC, in which the certified period ends). ",
      "Prices are per kWh of certified generation."),
    emptyEl, bodyEl);

  // ---- state from the last refresh
  let selected = "";
  let asks: readonly Level[] = [], bids: readonly Level[] = [];
  let myAsks = new Map<bigint, bigint>(), myBids = new Map<bigint, bigint>(); // price -> Wh of my open orders in the class
  let held: Held[] = [];
  let approved = false;
  let quoteBal = 0n, proceeds = 0n;
  let classLabels = "";

  const cls = () => parseClass(classSel.value || selected);

  function priceOf(input: HTMLInputElement, what: string): bigint {
    const p = parseAmount(input.value, m.quoteDecimals, `${what} (${m.quoteSymbol}/kWh)`);
    if (p < P.floor || p > P.ceiling) throw new InputError(`Price outside the band: it must be between ${pr(P.floor)} and ${pr(P.ceiling)}.`);
    if (p % P.tick !== 0n) throw new InputError(`Price must be a multiple of ${pr(P.tick)}.`);
    return p;
  }
  function amountOf(input: HTMLInputElement): bigint {
    const wh = parseKwh(input.value);
    if (wh < P.minOrderWh) throw new InputError(`Orders must be at least ${kwh(P.minOrderWh)}.`);
    return wh;
  }

  // ---------------------------------------------------------------- sell
  type Sell = { id: bigint; p: bigint; wh: bigint; flags: number; w: Preview; restWh: bigint };
  function parseSell(): Sell {
    const c = held.find((x) => String(x.id) === certSel.value);
    if (!c) throw new InputError("You hold no certificate of this class to sell.");
    const flags = Number(sType.value);
    const wh = amountOf(sAmt);
    const p = priceOf(sPrice, "Price");
    if (wh > c.bal) throw new InputError(`You hold ${kwh(c.bal)} of certificate #${c.id}.`);
    const w = preview(false, p, wh, flags, bids, myBids, P.takerBps, P.minOrderWh);
    if (w.postOnlyCrosses) throw new InputError("Post-only: this price would trade at once; choose a price that rests.");
    return { id: c.id, p, wh, flags, w, restWh: w.restWh };
  }
  function drawSell(): void {
    if (!sAmt.value.trim() || !sPrice.value.trim()) return void fill(sPrev, "Enter an amount and a price to see what it trades, its fees and what rests.");
    try {
      const s = parseSell();
      const lines: HTMLElement[] = [];
      if (s.w.fillWh > 0n)
        lines.push(h("p", {}, tradesNow(s.w, P.makerBps, P.takerBps, q), " It is added to your proceeds."));
      if (s.restWh > 0n)
        lines.push(h("p", {}, `Rests in the book: ${kwh(s.restWh)} of certificate #${s.id} at ${pr(s.p)}, escrowed by the market; `,
          `when it sells you receive ${q(quoteFor(s.restWh, s.p))} less the maker fee (${P.makerBps} bps).`));
      const kept = s.w.droppedWh;
      if (kept > 0n) lines.push(h("p", {}, `${kwh(kept)} neither trades nor rests`, s.flags & FLAG_IOC ? " (immediate-or-cancel)" : " (below the minimum order)", ": it stays in your wallet."));
      if (s.w.ownClosedWh + s.w.ownMaybeWh > 0n)
        lines.push(h("p", {}, `Your own bids at these prices (${s.w.ownMaybeWh > 0n ? "up to " : ""}${kwh(s.w.ownClosedWh + s.w.ownMaybeWh)}) `,
          "are closed, not traded (self-trade prevention); their escrow goes to your proceeds."));
      fill(sPrev, lines);
    } catch (e) {
      if (e instanceof InputError) fill(sPrev, h("p", { class: "msg refused" }, e.message));
      else throw e;
    }
  }
  onSubmit(sellForm, sBtn, sMsg, (): Sell => {
    if (!approved) throw new InputError("first allow the market to hold your certificate units (the step above).");
    return parseSell();
  }, async (s) => {
    const r = await send(`Sell ${kwh(s.wh)} of certificate #${s.id} at ${pr(s.p)}`,
      { contract: CX, functionName: "place_ask", args: [s.id, s.p, s.wh, 0n, BigInt(s.flags)] }, txView(sMsg),
      (logs) => describeFill(fillOf(CX, logs, P.takerBps), false, q, pr));
    if (r.ok) {
      sAmt.value = "";
      fill(sPrev);
    }
  });

  function drawApproval(): void {
    if (approved) {
      const revoke = h("button", { type: "button", class: "link" }, "Withdraw this approval");
      const msg = message();
      revoke.addEventListener("click", async () => {
        revoke.disabled = true;
        await send("Withdraw the market's approval for your certificates", { contract: CERT, functionName: "setApprovalForAll", args: [addr(CX), false] }, txView(msg));
        revoke.disabled = false;
      });
      fill(approvalEl, h("p", { class: "note" }, "✔ The market may hold your certificate units for your asks. ", revoke), msg);
      return;
    }
    const btn = h("button", { type: "button" }, "Allow the market to hold my certificates");
    const msg = message();
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      await send("Allow the certificate market to hold your certificate units", { contract: CERT, functionName: "setApprovalForAll", args: [addr(CX), true] }, txView(msg));
      btn.disabled = false;
    });
    fill(approvalEl, h("div", { class: "alert" },
      h("p", {}, h("strong", {}, "Step 1: allow the market to hold your certificate units. "),
        "An ask escrows its units at the market until it sells or you cancel it. Certificates are ERC-1155 tokens, which have no permit signature: ",
        "the market can take units only after you approve it as an operator of your certificates — one transaction (setApprovalForAll), once. ",
        "It moves units only when you place an ask; you can withdraw the approval here at any time."), btn, msg));
  }

  // ---------------------------------------------------------------- buy
  type Buy = { p: bigint; wh: bigint; flags: number; w: Preview; restWh: bigint; escrow: bigint; spend: bigint; bound: bigint };
  function parseBuy(amt: HTMLInputElement, priceIn: HTMLInputElement, flags: number): Buy {
    const wh = amountOf(amt);
    const p = priceOf(priceIn, priceIn === cPrice ? "Highest price" : "Price");
    const w = preview(true, p, wh, flags, asks, myAsks, P.takerBps, P.minOrderWh);
    if (w.postOnlyCrosses) throw new InputError("Post-only: this price would trade at once; choose a price that rests.");
    const { restWh, escrow, pay: spend } = w;
    // the permit covers the worst the book could change to before the call is mined: every Wh at the limit plus the fee cap
    const bound = bidEscrow(wh, p) > spend ? bidEscrow(wh, p) : spend;
    if (spend > quoteBal) throw new InputError(`This needs ${q(spend)}; you hold ${q(quoteBal)}.`);
    return { p, wh, flags, w, restWh, escrow, spend, bound };
  }
  function drawBuy(): void {
    if (!bAmt.value.trim() || !bPrice.value.trim()) return void fill(bPrev, "Enter an amount and a price to see the cost and fees.");
    try {
      const b = parseBuy(bAmt, bPrice, Number(bType.value));
      const lines: HTMLElement[] = [];
      if (b.w.fillWh > 0n)
        lines.push(h("p", {}, tradesNow(b.w, P.makerBps, P.takerBps, q)));
      if (b.restWh > 0n)
        lines.push(h("p", {}, `Rests as a bid: ${kwh(b.restWh)} at ${pr(b.p)}, escrowing ${q(b.escrow)} (price plus up to 1% for fees; `,
          "the unused part is refunded to your proceeds). Units it buys later arrive in your wallet in the seller's transaction."));
      const dropped = b.w.droppedWh;
      if (dropped > 0n) lines.push(h("p", {}, `${kwh(dropped)} is not bought`, b.flags & FLAG_IOC ? " (immediate-or-cancel)." : " (below the minimum order)."));
      if (b.w.ownClosedWh + b.w.ownMaybeWh > 0n)
        lines.push(h("p", {}, `Your own asks at these prices (${b.w.ownMaybeWh > 0n ? "up to " : ""}${kwh(b.w.ownClosedWh + b.w.ownMaybeWh)}) `,
          "are closed, not bought (self-trade prevention); their units come back to you."));
      lines.push(h("p", {}, h("strong", {}, `At most ${q(b.spend)} leaves your wallet.`)));
      fill(bPrev, lines);
    } catch (e) {
      if (e instanceof InputError) fill(bPrev, h("p", { class: "msg refused" }, e.message));
      else throw e;
    }
  }
  onSubmit(buyForm, bBtn, bMsg, (): Buy => parseBuy(bAmt, bPrice, Number(bType.value)), async (b) => {
    const [mt, vt] = cls();
    const view = txView(bMsg);
    if (!(await ensureQuoteAllowance(CX, b.bound, q(b.bound), view))) return;
    const r = await send(`Buy ${kwh(b.wh)} of ${classLabel(mt, vt)} at ${pr(b.p)}`,
      { contract: CX, functionName: "place_bid", args: [mt, BigInt(vt), b.p, b.wh, 0n, BigInt(b.flags)] }, view,
      (logs) => describeFill(fillOf(CX, logs, P.takerBps), true, q, pr));
    if (r.ok) {
      bAmt.value = "";
      fill(bPrev);
    }
  });

  // ---------------------------------------------------------------- buy and claim
  type Claim = Buy & { beneficiary: Address; purpose: string };
  function parseClaim(): Claim {
    const b = parseBuy(cAmt, cPrice, 1);
    const beneficiary = cBen.value.trim();
    if (!isAddress(beneficiary)) throw new InputError("Beneficiary: not an address (0x… 40 hex digits).");
    if (/^0x0{40}$/.test(beneficiary)) throw new InputError("Beneficiary: the zero address cannot consume energy.");
    const purpose = cPur.value.trim();
    if (!purpose) throw new InputError("Purpose: say what the energy was used for.");
    if (new TextEncoder().encode(purpose).length > 128) throw new InputError("Purpose: at most 128 bytes.");
    if (b.w.fillWh === 0n) throw new InputError(asks.length ? `Nothing to buy at up to ${pr(b.p)}: the best ask is ${pr(asks[0].price)}.` : "Nothing to buy: no asks in this class.");
    return { ...b, beneficiary: beneficiary as Address, purpose };
  }
  function drawClaim(): void {
    if (!cAmt.value.trim() || !cPrice.value.trim()) return void fill(cPrev, "Enter an amount and your highest price to see the cost and fees.");
    try {
      const c = parseClaim();
      fill(cPrev,
        h("p", {}, tradesNow(c.w, P.makerBps, P.takerBps, q, "Buys and claims")),
        c.w.fillWh < c.wh ? h("p", {}, `Only ${kwh(c.w.fillWh)} is offered at up to ${pr(c.p)}: the rest is not bought.`) : null,
        h("p", {}, `Claimed for ${short(c.beneficiary)}${c.beneficiary.toLowerCase() === app.account?.toLowerCase() ? " (you)" : ""}: “${c.purpose}”. Claimed units are retired: they cannot be sold again.`),
        h("p", {}, h("strong", {}, `At most ${q(c.spend)} leaves your wallet.`)));
    } catch (e) {
      if (e instanceof InputError) fill(cPrev, h("p", { class: "msg refused" }, e.message));
      else throw e;
    }
  }
  onSubmit(claimForm, cBtn, cMsg, parseClaim, async (c) => {
    const [mt, vt] = cls();
    const view = txView(cMsg);
    if (!(await ensureQuoteAllowance(CX, c.bound, q(c.bound), view))) return;
    const r = await send(`Buy and claim ${kwh(c.wh)} of ${classLabel(mt, vt)} at up to ${pr(c.p)}`, {
      contract: CX, functionName: "buy_and_claim", args: [mt, BigInt(vt), c.p, c.wh, c.beneficiary, c.purpose],
    }, view, (logs) => describeFill(fillOf(CX, logs, P.takerBps), true, q, pr));
    if (!r.ok) return;
    const certAddr = addr(CERT).toLowerCase();
    let total = 0n, hash: Hash | undefined;
    const ids: bigint[] = [];
    for (const l of r.logs ?? []) {
      if (l.address.toLowerCase() !== certAddr) continue;
      try {
        const d = decodeEventLog({ abi: abi(CERT), data: l.data, topics: l.topics }) as { eventName: string; args: any };
        if (d.eventName !== "Claimed") continue;
        total += d.args.amount as bigint;
        ids.push(d.args.id as bigint);
        hash = l.transactionHash;
      } catch { /* another event */ }
    }
    cAmt.value = "";
    fill(cPrev);
    if (hash) fill(cMsg, `Confirmed: ${describeFill(fillOf(CX, r.logs ?? [], P.takerBps), true, q, pr)} `,
      `Claimed ${kwh(total)} (certificate ${ids.map((i) => `#${i}`).join(", ")}) for ${short(c.beneficiary)}. `,
      h("a", { href: `#/proof/tx/${hash}` }, "Open the claim proof"));
    else fill(cMsg, "Confirmed, but nothing was bought: the asks were taken before your transaction.");
  });

  for (const i of [sAmt, sPrice, sType, certSel]) i.addEventListener("input", drawSell);
  for (const i of [bAmt, bPrice, bType]) i.addEventListener("input", drawBuy);
  for (const i of [cAmt, cPrice, cBen, cPur]) i.addEventListener("input", drawClaim);
  let last: [Held[], { method: number; periodEnd: bigint }[]] = [[], []];
  classSel.addEventListener("change", () => {
    selected = classSel.value;
    void refresh(...last);
  });

  pBtn.addEventListener("click", async () => {
    pBtn.disabled = true;
    await send(`Withdraw ${q(proceeds)} from the certificate market`, { contract: CX, functionName: "withdraw_proceeds", args: [proceeds] }, txView(pMsg));
  });

  async function cancel(id: bigint, btn: HTMLButtonElement) {
    btn.disabled = true;
    await send(`Cancel certificate order #${id}`, { contract: CX, functionName: "cancel_order", args: [id] }, txView());
    btn.disabled = false;
  }
  async function withdrawUnits(id: bigint, wh: bigint, btn: HTMLButtonElement) {
    btn.disabled = true;
    await send(`Withdraw ${kwh(wh)} of certificate #${id}`, { contract: CX, functionName: "withdraw_units", args: [id, wh] }, txView());
    btn.disabled = false;
  }

  /** Draws the market for the member holding `mine` (the page's certificates, balances and records). */
  // a class change redraws at once, beside the page's own per-block refresh: only the newest run draws
  let runs = 0;
  async function refresh(mine: Held[], issued: { method: number; periodEnd: bigint }[]): Promise<void> {
    last = [mine, issued];
    const run = ++runs;
    const me = app.account!;
    const [placed, closed, trades, credited] = await Promise.all([
      logs(CX, "OrderPlaced"), logs(CX, "OrderClosed"), logs(CX, "Trade"), logs(CX, "UnitsCredited", { owner: me }),
    ]);
    if (run !== runs) return;
    // classes: every class with orders (OrderPlaced), every class of a certificate still claimable, counts of open orders
    const byId = new Map<bigint, Placed>();
    const closedIds = closedOrderIds(placed, closed, trades);
    const counts = new Map<string, [number, number]>(); // key -> [asks, bids] open
    for (const l of placed) {
      const p: Placed = { isBuy: l.args.is_buy, owner: l.args.owner, method: Number(l.args.method), vintage: Number(l.args.vintage), certificateId: l.args.certificate_id };
      byId.set(l.args.order_id as bigint, p);
      const k = classKey(p.method, p.vintage);
      const c = counts.get(k) ?? [0, 0];
      if (!closedIds.has(l.args.order_id)) c[p.isBuy ? 1 : 0]++;
      counts.set(k, c);
    }
    for (const c of issued) {
      if (c.periodEnd + m.claimWindowS < head.timestamp) continue;
      const k = classKey(c.method, vintageOfPeriod(c.periodEnd));
      if (!counts.has(k)) counts.set(k, [0, 0]);
    }
    const keys = [...counts.keys()].sort((a, b) => {
      const [ma, va] = parseClass(a), [mb, vb] = parseClass(b);
      return vb - va || ma - mb;
    });
    emptyEl.hidden = keys.length > 0;
    bodyEl.hidden = !keys.length;
    if (!keys.length) return;
    if (!counts.has(selected)) {
      // the class with the most open orders first
      selected = keys.reduce((best, k) => (counts.get(k)![0] + counts.get(k)![1] > counts.get(best)![0] + counts.get(best)![1] ? k : best), keys[0]);
    }
    const labels = keys.map((k) => {
      const [a, b] = counts.get(k)!;
      return [k, `${classLabel(...parseClass(k))} — ${a} ask${a === 1 ? "" : "s"}, ${b} bid${b === 1 ? "" : "s"}`] as [string, string];
    });
    const joined = JSON.stringify(labels);
    if (joined !== classLabels) {
      classLabels = joined;
      fill(classSel, labels.map(([v, t]) => h("option", { value: v }, t)));
    }
    classSel.value = selected;
    const [mt, vt] = parseClass(selected);
    const V = BigInt(vt);

    const creditedIds = [...new Set(credited.map((l) => l.args.certificate_id as bigint))];
    const [tick, floor, ceiling, minOrderWh, makerBps, takerBps, bb, ba, a, b, ids, proc, qb, ok, units, info] = await Promise.all([
      read(CX, "TICK"), read(CX, "floor_price"), read(CX, "ceiling_price"), read(CX, "min_order_wh"),
      read(CX, "maker_fee_bps"), read(CX, "taker_fee_bps"),
      read(CX, "best_bid", [mt, V]), read(CX, "best_ask", [mt, V]),
      read(CX, "depth", [mt, V, false, 12n]), read(CX, "depth", [mt, V, true, 12n]),
      read(CX, "open_orders", [me]), read(CX, "proceeds_of", [me]), read("QuoteToken", "balanceOf", [me]),
      read(CERT, "isApprovedForAll", [me, addr(CX)]),
      Promise.all(creditedIds.map((id) => read(CX, "units_of", [me, id]))),
      Promise.all(creditedIds.map((id) => read(CERT, "trade_info", [id]))),
    ]);
    if (run !== runs) return;
    P = { tick, floor, ceiling, minOrderWh, makerBps, takerBps };
    asks = a; bids = b; quoteBal = qb; proceeds = proc;
    if (ok !== approved || !approvalEl.firstChild) {
      approved = ok;
      drawApproval();
    }
    fill(bidEl, bb[1] > 0n ? `${pr(bb[0])} · ${kwh(bb[1])}` : "no bids");
    fill(askEl, ba[1] > 0n ? `${pr(ba[0])} · ${kwh(ba[1])}` : "no asks");
    fill(bandEl, `${pr(floor).replace(/ \S+$/, "")} – ${pr(ceiling)}`);
    fill(feesEl, `Fees: ${feeSplit(makerBps, takerBps)}`);
    const hint = `between ${pr(floor)} and ${pr(ceiling)} (${perMwh(floor)} – ${perMwh(ceiling)}), in steps of ${pr(tick)}`;
    if (sHint.textContent !== hint) {
      sHint.textContent = hint;
      bHint.textContent = hint;
    }

    const maxWh = [...a, ...b].reduce((x, l) => (l.amount_wh > x ? l.amount_wh : x), 1n);
    const bar = (l: Level, c: string) => h("span", { class: `bar ${c}`, style: `width:${Number((l.amount_wh * 100n) / maxWh)}%` });
    fill(depthEl,
      table(["Ask price", "kWh", ""], [...a].reverse().map((l) => [pr(l.price), kwh(l.amount_wh), bar(l, "ask")]), "Certificate asks (sellers), best last"),
      table(["Bid price", "kWh", ""], b.map((l) => [pr(l.price), kwh(l.amount_wh), bar(l, "bid")]), "Certificate bids (buyers), best first"));

    // recent trades of the class: a trade's certificate is its ask's (the maker's or the taker's)
    const lower = me.toLowerCase();
    const inClass = trades.filter((t) => {
      const p = byId.get(t.args.maker_order_id as bigint);
      return p && p.method === mt && p.vintage === vt;
    }).slice(-20).reverse();
    // one more round trip: block times of the trades and my open orders' records
    const [times, orders] = await Promise.all([
      Promise.all(inClass.map((t) => blockTime(t.blockNumber))),
      Promise.all(ids.map(async (id) => [id, await read(CX, "order", [id])] as const)),
    ]);
    if (run !== runs) return;
    fill(tradesEl, table(["When", "Certificate", "kWh", "Price", "Value", "Me"], inClass.map((t, i) => {
      const maker = byId.get(t.args.maker_order_id as bigint)!;
      const askId = maker.isBuy ? byId.get(t.args.taker_order_id as bigint)?.certificateId : maker.certificateId;
      // the taker is its order's owner (OrderPlaced, same transaction): the Trade does not repeat it
      const iMaker = (t.args.maker as string).toLowerCase() === lower, iTaker = byId.get(t.args.taker_order_id as bigint)?.owner.toLowerCase() === lower;
      const iBuy = iMaker ? maker.isBuy : !maker.isBuy;
      return [dateTime(times[i]), askId !== undefined ? `#${askId}` : "", kwh(t.args.amount_wh), pr(t.args.price), q(tradeQuote(t.args)),
        iMaker || iTaker ? (iBuy ? "bought" : "sold") : ""];
    }), `Recent trades: ${classLabel(mt, vt)}`));

    // my open orders (every class)
    myAsks = new Map(); myBids = new Map();
    for (const [, o] of orders) {
      if (o.method !== mt || Number(o.vintage) !== vt) continue;
      const side = o.is_buy ? myBids : myAsks;
      side.set(o.price, (side.get(o.price) ?? 0n) + o.remaining_wh);
    }
    fill(ordersEl, table(["#", "Side", "Class", "Certificate", "Price", "Left", ""], orders.map(([id, o]) => [
      `#${id}`, o.is_buy ? "buy" : "sell", classLabel(o.method, Number(o.vintage)), o.is_buy ? "any of the class" : `#${o.certificate_id}`,
      pr(o.price), kwh(o.remaining_wh),
      h("button", { type: "button", "aria-label": `Cancel certificate order ${id}`, onclick: (e: Event) => cancel(id, e.currentTarget as HTMLButtonElement) }, "Cancel"),
    ]), "My open certificate orders"));

    fill(proceedsAmt, q(proc));
    pBtn.disabled = proc === 0n;
    const withUnits = creditedIds.filter((_, i) => units[i] > 0n);
    fill(unitsEl, table(["Certificate", "kWh", ""], withUnits.map((id) => {
      const k = creditedIds.indexOf(id);
      const wh = units[k];
      const stuck = info[k][2] || isExpired(BigInt(info[k][3]), head.timestamp);
      return [`#${id}`, kwh(wh), stuck ? "revoked or expired: these units can no longer move" :
        h("button", { type: "button", "aria-label": `Withdraw units of certificate ${id}`, onclick: (e: Event) => withdrawUnits(id, wh, e.currentTarget as HTMLButtonElement) }, "Withdraw")];
    }), "Units held for me by the market (left in my closed asks, or refused by my contract's hook)"));

    // the sell form lists my certificates of the class that can still trade
    held = mine.filter((c) => c.method === mt && vintageOfPeriod(c.periodEnd) === vt && !c.revoked && !isExpired(c.expiresAt, head.timestamp) && c.bal > 0n);
    const opts = held.map((c) => [String(c.id), `#${c.id} — you hold ${kwh(c.bal)}`] as [string, string]);
    const want = pendingCert || certSel.value;
    if (JSON.stringify(opts) !== JSON.stringify([...certSel.options].map((o) => [o.value, o.text]))) {
      fill(certSel, opts.length ? opts.map(([v, t]) => h("option", { value: v }, t)) : h("option", { value: "" }, "no certificate of this class"));
    }
    if (want !== certSel.value && opts.some(([v]) => v === want)) certSel.value = want;
    if (certSel.value === pendingCert) pendingCert = "";
    certSel.disabled = !opts.length;

    const active = document.activeElement;
    if (![sAmt, sPrice].includes(active as HTMLInputElement) && (sAmt.value || sPrice.value) && !sBtn.disabled) drawSell();
    if (![bAmt, bPrice].includes(active as HTMLInputElement) && (bAmt.value || bPrice.value) && !bBtn.disabled) drawBuy();
    if (![cAmt, cPrice, cBen, cPur].includes(active as HTMLInputElement) && (cAmt.value || cPrice.value) && !cBtn.disabled) drawClaim();
  }

  /** A certificate card's "Sell on the market": its class, its id in the sell form. */
  let pendingCert = "";
  async function sell(c: Held): Promise<void> {
    selected = classKey(c.method, vintageOfPeriod(c.periodEnd));
    pendingCert = String(c.id);
    await refresh(...last);
    sellForm.scrollIntoView({ block: "start" });
    sAmt.focus();
  }

  return { el, refresh, sell };
}
