// The slot auction's section of the Market page: the current slot's countdown, its aggregate supply
// and demand (one-shot orders plus standing orders in force), my orders and standing orders, and
// recent clearing prices as a chart. Orders are placed and claimed with `ape run auction ...`
// (docs/cli.md); this view reads the chain only.
import type { Address } from "viem";
import { app, has, head, logs, read } from "../chain";
import { fill, h, stat, table } from "../ui";
import { countdown, curves, indicative, secondsLeft } from "../auction";
import { kwh, price } from "../units";

export type AuctionView = { el: HTMLElement; refresh(me: Address | undefined): Promise<void> };

export function auctionView(): AuctionView {
  const m = app.meta;
  const pr = (v: bigint) => price(v, m.quoteDecimals, m.quoteSymbol);
  const [slot, slotEl] = stat("Current slot ends in", "auction-countdown");
  const [ind, indEl] = stat("Indicative clearing", "auction-indicative");
  const curveEl = h("div", { class: "auction-curves", "data-testid": "auction-curves" });
  const mineEl = h("div", { class: "auction-mine", "data-testid": "auction-mine" });
  const chartEl = h("figure", { class: "chart", "data-testid": "auction-prices" });
  const el = h("section", { class: "auction", "data-testid": "auction" },
    h("h2", {}, "Slot auction: one price per slot"),
    h("dl", { class: "stats" }, slot, ind),
    h("h3", {}, "Supply and demand in this slot"), curveEl,
    h("h3", {}, "My auction orders"), mineEl,
    h("h3", {}, "Recent clearing prices"), chartEl);

  return {
    el,
    async refresh(me) {
      if (!has("EnergyAuction")) {
        el.hidden = true;
        return;
      }
      const [current, slotS] = await Promise.all([read("EnergyAuction", "current_slot"), read("EnergyAuction", "SLOT_S")]);
      fill(slotEl, countdown(secondsLeft(head.timestamp, slotS)), ` (slot ${current})`);
      const [b1, a1, b2, a2] = await Promise.all([
        read("EnergyAuction", "levels", [current, true, 32n]), read("EnergyAuction", "levels", [current, false, 32n]),
        read("EnergyAuction", "standing_levels", [true, 32n]), read("EnergyAuction", "standing_levels", [false, 32n]),
      ]);
      const pts = curves([...b1, ...b2], [...a1, ...a2]);
      const best = indicative(pts);
      fill(indEl, best ? `${kwh(best.wh)} at ${pr(best.price)}` : "no crossing orders yet");
      fill(curveEl, pts.length
        ? table(["Price", "Bids", "Asks", "Demand (at or above)", "Supply (at or below)"],
          pts.map((p) => [pr(p.price), kwh(p.bidsWh), kwh(p.asksWh), kwh(p.demandWh), kwh(p.supplyWh)]))
        : h("p", { class: "note" }, "No orders in this slot yet."));
      if (me) {
        const placed = await logs("EnergyAuction", "OrderPlaced", { owner: me });
        const rows: string[][] = [];
        for (const ev of placed.slice(-20)) {
          const id = ev.args.order_id as bigint;
          const o = await read("EnergyAuction", "order", [id]);
          const slots = o.standing ? `slots ${o.first_slot}..${o.last_slot} (next to claim ${o.next_claim_slot})` : `slot ${o.first_slot}`;
          rows.push([String(id), o.standing ? "standing" : "one slot", ev.args.is_buy ? "buy" : "sell",
            pr(ev.args.price as bigint), `${kwh(ev.args.amount_wh as bigint)}${o.standing ? " per slot" : ""}`, slots,
            o.open ? "open" : "settled"]);
        }
        fill(mineEl, rows.length ? table(["Id", "Kind", "Side", "Limit", "Amount", "Slots", "State"], rows)
          : h("p", { class: "note" }, "No auction orders yet."));
      }
      const cleared = (await logs("EnergyAuction", "AuctionCleared")).filter((e) => (e.args.matched_wh as bigint) > 0n).slice(-48);
      fill(chartEl, cleared.length ? priceChart(cleared.map((e) => ({ slot: e.args.slot as bigint, p: e.args.price as bigint })), pr)
        : h("p", { class: "note" }, "No slot has traded yet."));
    },
  };
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
  const label = document.createElementNS(NS, "text");
  label.setAttribute("x", String(W - right));
  label.setAttribute("y", String(top - 4));
  label.setAttribute("text-anchor", "end");
  label.setAttribute("class", "label last");
  label.textContent = `last ${pr(last.p)} (slot ${last.slot})`;
  svg.append(label);
  return svg;
}
