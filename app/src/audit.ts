// The public auditor's verdict (gridmint-audit, docs/audit.md) when the server hands one out: config.json
// names its JSON next to the app ("audit": "audit/audit.json", as it names the deployment record), and the
// JSON's "html" names the report beside it. A server without an auditor names none: nothing is shown.
import { app } from "./chain";
import { fill, h } from "./ui";

/** What the app reads of the auditor's JSON (Report.to_json): the audited block and the counts. */
export type AuditSummary = { block: number; differences: number; plausibility: number; report: string | null };

/** the auditor re-runs every 30 s under `make app`; a page redraws every block: fetch at most this often */
const REFETCH_MS = 10_000;
let cached: { at: number; summary: Promise<AuditSummary | null> } | null = null;

async function fetchSummary(url: string): Promise<AuditSummary | null> {
  try {
    const res = await fetch(url, { cache: "no-store" });
    if (!res.ok) return null;
    const d = await res.json();
    if (!Number.isSafeInteger(d?.block) || !Number.isSafeInteger(d?.differences)) return null;
    const base = new URL(url, location.href);
    return {
      block: d.block, differences: d.differences,
      plausibility: Number.isSafeInteger(d.plausibility_findings) ? d.plausibility_findings : 0,
      report: typeof d.html === "string" && d.html ? new URL(d.html, base).href : null,
    };
  } catch {
    return null; // an unreachable or malformed audit is not the member's problem: show none
  }
}

/** The latest audit the server names, or null when it names none or it cannot be read. */
export function auditSummary(): Promise<AuditSummary | null> {
  const url = app.cfg?.audit;
  if (!url) return Promise.resolve(null);
  const now = performance.now();
  if (!cached || now - cached.at > REFETCH_MS) cached = { at: now, summary: fetchSummary(url) };
  return cached.summary;
}

const WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
/** 0 -> "no differences", 1 -> "one difference", 3 -> "three differences", 1234 -> "1,234 differences" */
export function countInWords(n: number, noun: string): string {
  const number = n < WORDS.length ? WORDS[n] : n.toLocaleString("en-GB");
  return `${number} ${noun}${n === 1 ? "" : "s"}`;
}

/** The audit line of a page: [element (hidden until there is an audit), update() to call on each refresh]. */
export function auditLine(): [HTMLElement, () => Promise<void>] {
  const el = h("p", { class: "audit", "data-testid": "audit", role: "status", hidden: true });
  let shown = "";
  const update = async () => {
    const s = await auditSummary();
    const key = JSON.stringify(s);
    if (key === shown) return; // redraw only when the audit moved (a screen reader hears it once)
    shown = key;
    el.hidden = !s;
    if (!s) return fill(el);
    const bad = s.differences > 0;
    el.classList.toggle("alert", bad);
    fill(el,
      bad ? h("strong", {}, `⚠ Audited up to block ${s.block}: ${countInWords(s.differences, "difference")} `,
        "between what the chain's events add up to and what its contracts say.")
        : [h("span", { class: "ok", "aria-hidden": "true" }, "✔ "), h("strong", {}, `Audited up to block ${s.block}: no differences.`),
          " Every balance, escrow, certificate and claim, recomputed from the chain's events by the public auditor, equals what the contracts say."],
      s.plausibility > 0 ? ` ${capital(countInWords(s.plausibility, "half-hour meter reading"))} flagged as implausible.` : null,
      s.report ? [" ", h("a", { href: s.report, target: "_blank", rel: "noopener" }, "Read the audit report")] : null);
  };
  return [el, update];
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
