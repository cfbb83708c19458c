// Home: what the sources' member app shows — WATT held (kWh stored), TSL deposit and days of storage
// left, arrears — and the energy the member's meters and trades moved today and this month.
import type { Page } from "../main";
import { app, head, logs, read } from "../chain";
import { fill, h, stat, table } from "../ui";
import { bps, quoteFor } from "../market";
import { date, dateTime, kwh, storageLeft, token } from "../units";
import { tradesOf } from "./market";
import { auditLine } from "../audit";
import { batteryDay, greenShare } from "../storage";

type Sums = { generated: bigint; consumed: bigint; exported: bigint; imported: bigint; bought: bigint; sold: bigint;
  saving: bigint };

function startOfDay(ts: bigint): bigint {
  const d = new Date(Number(ts) * 1000);
  d.setHours(0, 0, 0, 0);
  return BigInt(Math.floor(d.getTime() / 1000));
}
function startOfMonth(ts: bigint): bigint {
  const d = new Date(Number(ts) * 1000);
  d.setHours(0, 0, 0, 0);
  d.setDate(1);
  return BigInt(Math.floor(d.getTime() / 1000));
}

export function homePage(): Page {
  const m = app.meta;
  const [held, heldEl] = stat("WATT held (kWh stored)", "watt-held");
  const [esc, escEl] = stat("Escrowed in my sell orders", "watt-escrowed");
  const [dep, depEl] = stat("TSL storage-rent deposit", "tsl-deposit");
  const [left, leftEl] = stat("Storage left", "storage-left");
  const [quoteW, quoteWEl] = stat(`${m.quoteSymbol} in your wallet`, "quote-wallet");
  const [eth, ethEl] = stat("ETH in your wallet (pays gas)", "eth-wallet");
  const arrears = h("div", { id: "arrears" });
  const energy = h("div", { id: "energy" });
  const battery = h("div", { id: "battery" });
  const [audit, updateAudit] = auditLine();
  const el = h("section", {},
    h("h1", {}, "My energy"),
    h("dl", { class: "stats" }, held, esc, dep, left, quoteW, eth),
    arrears,
    h("h2", {}, "Today and this month"),
    energy,
    battery,
    h("p", { class: "note" }, "From your meters' accepted readings (ReadingAccepted) and your trades (Trade), in chain time. ",
      "Saving: what buying here saved against the utility's price, plus what selling here earned above the feed-in tariff, after fees."),
    audit);

  return {
    title: "Home", needsAccount: true, el,
    async refresh() {
      const me = app.account!;
      void updateAudit(); // beside the chain's numbers, never holding them up
      const [bal, escrowed, deposit, paidUntil, arr, readings, trades, quoteBal, ethBal] = await Promise.all([
        read("WattToken", "balanceOf", [me]), read("WattToken", "escrowed_of", [me]),
        read("WattToken", "rent_deposit", [me]), read("WattToken", "storage_paid_until", [me]),
        read("WattToken", "arrears_of", [me]),
        logs("MeterRegistry", "ReadingAccepted", { owner: me }), tradesOf(me),
        read("QuoteToken", "balanceOf", [me]), app.pub.getBalance({ address: me }),
      ]);
      fill(quoteWEl, token(quoteBal, m.quoteDecimals, m.quoteSymbol, 2));
      fill(ethEl, token(ethBal, 18, "ETH", 4));
      ethEl.classList.toggle("warn", ethBal === 0n);
      fill(heldEl, kwh(bal));
      fill(escEl, kwh(escrowed));
      fill(depEl, token(deposit, m.tslDecimals, m.tslSymbol));
      const s = storageLeft(paidUntil, head.timestamp);
      fill(leftEl, s.text);
      leftEl.classList.toggle("warn", s.days !== null && s.days < 14);
      if (arr[0] > 0n) {
        const releasable = arr[1] + m.graceS;
        fill(arrears, h("div", { class: "alert", role: "alert" },
          h("strong", {}, `Rent arrears: ${token(arr[0], m.tslDecimals, m.tslSymbol)} since ${dateTime(arr[1])}.`),
          h("p", {}, "While in arrears you cannot sell or transfer WATT. ",
            h("a", { href: "#/rent" }, "Deposit TSL on the Rent page"), ` to pay them. After ${dateTime(releasable)} anyone may `,
            `release just enough of your stored energy to settle them at ${token(m.releasePrice, m.tslDecimals, m.tslSymbol)} per kWh.`)));
      } else fill(arrears);

      const night = await batteryDay(me);
      if (night && night.drawnWh > 0n) {
        const share = greenShare(night);
        fill(battery, h("p", { class: "battery-share" },
          `From the community battery on ${date(night.day * 86_400n)} (UTC): ${kwh(night.drawnWh)} drawn, `,
          `${kwh(night.nightDrawnWh)} of it at night; `,
          share ? `${share} (discharge certificate${night.certificates.length > 1 ? "s" : ""} ` +
            `${night.certificates.map((i) => `#${i}`).join(", ")})` : "its green share is not claimed yet",
          night.unclaimedMeters ? ` — ${night.unclaimedMeters} meter(s) to claim: ape run storage claim METER` : ""));
      } else fill(battery);

      const day0 = startOfDay(head.timestamp), month0 = startOfMonth(head.timestamp);
      const sums = (from: bigint): Sums => {
        const out: Sums = { generated: 0n, consumed: 0n, exported: 0n, imported: 0n, bought: 0n, sold: 0n, saving: 0n };
        for (const r of readings) {
          if (BigInt(r.args.timestamp) <= from) continue; // a reading covers the time before its timestamp
          out.generated += r.args.generated_wh; out.consumed += r.args.consumed_wh;
          out.exported += r.args.exported_wh; out.imported += r.args.imported_wh;
        }
        for (const t of trades) {
          if (t.time < from) continue;
          const q = t.quote, wh = t.args.amount_wh as bigint;
          const myFee = bps(q, t.iAmMaker ? m.makerBps : m.takerBps);
          if (t.iBuy) {
            out.bought += wh;
            out.saving += quoteFor(wh, m.ceiling) - (q + myFee);
          } else {
            out.sold += wh;
            out.saving += q - myFee - quoteFor(wh, m.floor);
          }
        }
        return out;
      };
      const today = sums(day0), month = sums(month0);
      const q = (v: bigint) => token(v, m.quoteDecimals, m.quoteSymbol, 2);
      fill(energy, table(["", `Today (${date(head.timestamp)})`, "This month"], [
        ["Generated", kwh(today.generated), kwh(month.generated)],
        ["Consumed", kwh(today.consumed), kwh(month.consumed)],
        ["Exported to the battery", kwh(today.exported), kwh(month.exported)],
        ["Imported from the battery", kwh(today.imported), kwh(month.imported)],
        ["Bought on the market", kwh(today.bought), kwh(month.bought)],
        ["Sold on the market", kwh(today.sold), kwh(month.sold)],
        ["Saving vs utility / feed-in", q(today.saving), q(month.saving)],
      ], "My energy, today and this month"));
    },
  };
}
