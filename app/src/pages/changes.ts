// Announced parameter changes (rent, fees, price band, …): every `<Thing>Announced(..., effective_at)`
// event any deployed contract declares in its ABI, with when it applies; and the changes applied so far.
import type { Page } from "../main";
import type { AbiEvent } from "viem";
import { ABIS, type Name, abi, app, blockTime, head, logs } from "../chain";
import { fill, h, table } from "../ui";
import { dateTime, kwh, price, short, token } from "../units";

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
function show(contract: Name, field: string, v: unknown): string {
  if (typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v)) return short(v);
  if (typeof v !== "bigint") return raw(v);
  const m = app.meta;
  if (field === "release_price") return `${token(v, m.tslDecimals, m.tslSymbol, 4)} per kWh`;
  // certificate prices are quoted to the certificate market's finer tick (TEUR/kWh with 5 decimals)
  if (field.endsWith("_price")) return price(v, m.quoteDecimals, m.quoteSymbol, contract === "CertificateExchange" ? 5 : 4);
  if (field === "rent_rate") return `${token(v, m.tslDecimals, m.tslSymbol, 6)} per kWh per day`;
  if (field.endsWith("_wh")) return kwh(v);
  if (field.endsWith("_bps")) return `${(Number(v) / 100).toFixed(2)} % (${v} bps)`;
  if (field.endsWith("_period") || field.endsWith("_skew") || field.endsWith("_s")) return duration(v);
  return raw(v);
}

// the words a member reads for each contract and parameter (the event names are the contracts')
const CONTRACT_WORDS: Record<string, string> = {
  EnergyExchange: "energy market", CertificateExchange: "certificate market", WattToken: "storage",
  MeterRegistry: "meters", EnvironmentalCertificate: "certificates", StorageRentToken: "TSL token",
};
// a market's parameters read "<market> <thing>"; the others have their own name
const THING_WORDS: Record<string, string> = {
  PriceBand: "price band", Fees: "fees", MinOrder: "minimum order", MaxFills: "fills per order", Treasury: "treasury",
};
const NAMES: Record<string, string> = {
  "WattToken.RentRate": "storage rent rate", "WattToken.RentGracePeriod": "grace period before unpaid storage is released",
  "WattToken.ReleasePrice": "price of released unpaid storage", "WattToken.Capacity": "battery capacity",
  "WattToken.Treasury": "storage rent treasury", "WattToken.Exchange": "energy market holding escrowed WATT",
  "WattToken.Registry": "meter registry minting WATT", "MeterRegistry.MaxClockSkew": "meter clock tolerance",
  "MeterRegistry.Certificate": "certificate contract the meters issue through", "EnvironmentalCertificate.BaseUri": "certificate metadata address",
};
const FIELD_WORDS: Record<string, string> = {
  floor_price: "floor (feed-in tariff)", ceiling_price: "ceiling (utility price)", min_order_wh: "minimum", capacity_wh: "capacity",
  max_clock_skew: "clock tolerance", rent_grace_period: "grace period", base_uri: "address", max_fills: "at most",
};
/** "CertificateExchange", "UpdatePriceBandAnnounced" -> "certificate market price band" */
function parameter(contract: string, event: string): string {
  const thing = event.replace(/^Update/, "").replace(/Announced$/, "");
  const own = NAMES[`${contract}.${thing}`];
  if (own) return own;
  const words = THING_WORDS[thing] ?? thing.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return `${CONTRACT_WORDS[contract] ?? contract} ${words}`;
}
/** "maker_fee_bps" -> "maker fee" (the unit goes with the value) */
const label = (contract: Name, field: string) =>
  (contract !== "EnergyExchange" && field.endsWith("_price") && field !== "release_price" ? field.replace(/^floor_price$/, "lowest price").replace(/^ceiling_price$/, "highest price") : null)
  ?? FIELD_WORDS[field] ?? field.replace(/_(bps|wh|s)$/, "").replace(/_/g, " ");
const values = (contract: Name, args: Record<string, unknown>) =>
  Object.entries(args).map(([k, v]) => `${label(contract, k)} ${show(contract, k, v)}`).join("; ");

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
        return { bn: l.blockNumber, row: [parameter(c, e.name), values(c, rest), when] };
      })))).flat().sort((a, b) => Number(b.bn - a.bn));
      fill(announced, annRows.length ? table(["Parameter", "New value", "Applies"], annRows.map((r) => r.row), "Announced changes")
        : h("p", {}, ann.length ? "No change announced." : "These contracts do not announce changes yet (no …Announced events in their ABIs)."));
      const updRows = (await Promise.all(upd.map(async ([c, e]) => Promise.all((await logs(c, e.name as never)).map(async (l) => ({
        bn: l.blockNumber,
        row: [parameter(c, e.name), values(c, l.args), dateTime(await blockTime(l.blockNumber))],
      })))))).flat().sort((a, b) => Number(b.bn - a.bn)).slice(0, 30);
      fill(applied, table(["Parameter", "Value", "When"], updRows.map((r) => r.row), "Applied changes (most recent first)"));
    },
  };
}
