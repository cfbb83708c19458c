// Announced parameter changes (rent, fees, price band, …): every `<Thing>Announced(..., effective_at)`
// event any deployed contract declares in its ABI, with when it applies; and the changes applied so far.
import type { Page } from "../main";
import type { AbiEvent } from "viem";
import { ABIS, type Name, abi, app, blockTime, head, logs } from "../chain";
import { fill, h, table } from "../ui";
import { dateTime, kwh, price, token } from "../units";

function events(pred: (e: AbiEvent) => boolean): [Name, AbiEvent][] {
  const out: [Name, AbiEvent][] = [];
  for (const name of Object.keys(app.dep.contracts).filter((n): n is Name => n in ABIS))
    for (const item of abi(name) as readonly (AbiEvent | { type: string })[])
      if (item.type === "event" && pred(item as AbiEvent)) out.push([name, item as AbiEvent]);
  return out;
}

const raw = (v: unknown): string => (typeof v === "bigint" ? v.toLocaleString() : Array.isArray(v) ? v.map(raw).join(", ") : String(v));

function duration(s: bigint): string {
  const n = Number(s);
  return n >= 86_400 ? `${(n / 86_400).toFixed(n % 86_400 ? 2 : 0)} days` : n >= 3_600 ? `${(n / 3_600).toFixed(1)} h` : `${n} s`;
}

/** A parameter's value in the unit its name gives (DESIGN.md), raw only when the name says nothing. */
function show(field: string, v: unknown): string {
  if (typeof v !== "bigint") return raw(v);
  const m = app.meta;
  if (field === "release_price") return `${token(v, m.tslDecimals, m.tslSymbol, 4)} per kWh`;
  if (field.endsWith("_price")) return price(v, m.quoteDecimals, m.quoteSymbol);
  if (field === "rent_rate") return `${token(v, m.tslDecimals, m.tslSymbol, 6)} per kWh per day`;
  if (field.endsWith("_wh")) return kwh(v);
  if (field.endsWith("_bps")) return `${v} bps (${(Number(v) / 100).toFixed(2)} %)`;
  if (field.endsWith("_period") || field.endsWith("_skew") || field.endsWith("_s")) return duration(v);
  return raw(v);
}
const label = (field: string) => field.replace(/_/g, " ");

export function changesPage(): Page {
  const announced = h("div", {});
  const applied = h("div", {});
  const el = h("section", {}, h("h1", {}, "Parameter changes"),
    h("p", { class: "note" }, "The operator must announce a change that can cost members value and wait out the notice period before it applies, ",
      "so you can withdraw or cancel first."),
    h("h2", {}, "Announced"), announced, h("h2", {}, "Applied"), applied);
  return {
    title: "Changes", needsAccount: false, el,
    async refresh() {
      const ann = events((e) => e.name.endsWith("Announced"));
      const upd = events((e) => /^Update/.test(e.name) && !e.name.endsWith("Announced"));
      const annRows = (await Promise.all(ann.map(async ([c, e]) => (await logs(c, e.name as never)).map((l) => {
        const { effective_at, ...rest } = l.args;
        const at = effective_at !== undefined ? BigInt(effective_at) : undefined;
        const when = at === undefined ? "—" : at > head.timestamp
          ? `${dateTime(at)} (in ${((Number(at - head.timestamp)) / 86_400).toFixed(1)} days)` : `${dateTime(at)} (notice over)`;
        return { bn: l.blockNumber, row: [`${c}.${e.name.replace(/Announced$/, "")}`, Object.entries(rest).map(([k, v]) => `${label(k)} ${show(k, v)}`).join("; "), when] };
      })))).flat().sort((a, b) => Number(b.bn - a.bn));
      fill(announced, annRows.length ? table(["Parameter", "New value", "Applies"], annRows.map((r) => r.row), "Announced changes")
        : h("p", {}, ann.length ? "No change announced." : "These contracts do not announce changes yet (no …Announced events in their ABIs)."));
      const updRows = (await Promise.all(upd.map(async ([c, e]) => Promise.all((await logs(c, e.name as never)).map(async (l) => ({
        bn: l.blockNumber,
        row: [`${c}.${e.name.replace(/^Update/, "")}`, Object.entries(l.args).map(([k, v]) => `${label(k)} ${show(k, v)}`).join("; "), dateTime(await blockTime(l.blockNumber))],
      })))))).flat().sort((a, b) => Number(b.bn - a.bn)).slice(0, 30);
      fill(applied, table(["Parameter", "Value", "When"], updRows.map((r) => r.row), "Applied changes (most recent first)"));
    },
  };
}
