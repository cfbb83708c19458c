// Certificates: mine (generator, method, period, amount, expiry), transfer, claim for a beneficiary
// with a purpose; a claim proof page anyone can open by claim transaction or certificate id.
import type { Page } from "../main";
import { type Address, type Hash, decodeEventLog, getAddress, isAddress, isHash } from "viem";
import { type Returns, abi, addr, app, blockTime, has, head, logs, read, send } from "../chain";
import { fill, field, fullValue, h, message, table, txView } from "../ui";
import { InputError, dateTime, date, isExpired, kwh, method, parseKwh, period, short } from "../units";
import { type Held, certificateMarket } from "./certmarket";
import { auditLine } from "../audit";
import { consumptionOf, greenOf, score, unpack } from "../matching";

type Cert = Returns<"EnvironmentalCertificate", "certificate">;

const certCache = new Map<bigint, Cert>();
async function cert(id: bigint): Promise<Cert> {
  const c = await read("EnvironmentalCertificate", "certificate", [id]);
  certCache.set(id, c);
  return c;
}
const expiry = (c: Cert) => c.expires_at;

function certFacts(id: bigint, c: Cert): HTMLElement {
  const expired = isExpired(expiry(c), head.timestamp);
  return h("dl", { class: "facts" },
    h("dt", {}, "Generator"), h("dd", {}, c.generator_name, " ", fullValue(c.generator)),
    h("dt", {}, "Method"), h("dd", {}, method(c.method)),
    h("dt", {}, "Generation period"), h("dd", { "data-testid": "cert-period" }, period(c.period_start, c.period_end)),
    h("dt", {}, "Issued"), h("dd", {}, `${kwh(c.amount_wh)} on ${dateTime(c.issued_at)}`),
    h("dt", {}, "Claimed (retired)"), h("dd", {}, kwh(c.claimed_wh)),
    h("dt", {}, "Claimable until"), h("dd", {}, c.revoked ? "revoked by the operator" : `${date(expiry(c))}${expired ? " (expired)" : ""}`),
    h("dt", {}, "Meter"), h("dd", {}, fullValue(c.meter, "meter address")),
    h("dt", {}, "Certificate id"), h("dd", {}, `#${id}`));
}

let slotSeconds: bigint | undefined;
async function slotS(): Promise<bigint> {
  if (slotSeconds === undefined) slotSeconds = await read("EnvironmentalCertificate", "SLOT_S");
  return slotSeconds;
}
const kwhOf = (wh: bigint) => kwh(wh);
const slotTime = (slot: bigint, s: bigint) => dateTime(slot * s);

/** The certificate's per-slot profile: Wh generated in each slot, claimed by time-matched claims, left. */
function profileView(id: bigint): HTMLElement {
  const box = h("div", { "data-testid": "cert-profile" }, "Loading the per-slot profile…");
  void (async () => {
    const [profile] = await logs("EnvironmentalCertificate", "CertificateProfile", { id });
    if (!profile) { fill(box, h("p", { class: "note" }, "Issued without a per-slot profile: plain claims only.")); return; }
    const s = await slotS();
    const issued = unpack(profile.args.first_slot as bigint, profile.args.slot_wh as bigint[]);
    const claimed = new Map<bigint, bigint>();
    for (const c of await logs("EnvironmentalCertificate", "ClaimedSlots", { id })) {
      for (const [slot, wh] of unpack(c.args.first_slot as bigint, c.args.slot_wh as bigint[])) claimed.set(slot, (claimed.get(slot) ?? 0n) + wh);
    }
    const rows = [...issued].map(([slot, wh]) => [slotTime(slot, s), kwhOf(wh), kwhOf(claimed.get(slot) ?? 0n), kwhOf(wh - (claimed.get(slot) ?? 0n))]);
    fill(box, h("details", {}, h("summary", {}, `Generation per ${Number(s) / 60}-minute slot (${issued.size} slots)`),
      table(["Slot", "Generated", "Claimed by slot", "Left"], rows, "The certificate's per-slot profile")));
  })().catch((e) => fill(box, h("p", { role: "alert" }, `Profile not read: ${(e as Error).message}`)));
  return box;
}

/** A time-matched claim's 24/7 matching: the beneficiary's consumption per slot (its meters' readings)
 *  against the green Wh claimed for it per slot, over the claim's slots; the share matched is its score. */
function matchingView(claim: { args: any }): HTMLElement {
  const box = h("div", { "data-testid": "proof-matching" }, "Loading the half-hour matching…");
  void (async () => {
    const s = await slotS();
    const mine = unpack(claim.args.first_slot as bigint, claim.args.slot_wh as bigint[]);
    const slots = [...mine.keys()];
    const lo = slots.reduce((a, b) => (a < b ? a : b)), hi = slots.reduce((a, b) => (a > b ? a : b));
    const [consumed, green] = await Promise.all([consumptionOf(claim.args.beneficiary, s, lo, hi), greenOf(claim.args.beneficiary)]);
    const inRange = new Map([...green].filter(([slot]) => slot >= lo && slot <= hi));
    const m = score(consumed, inRange);
    const rows = m.rows.map((r) => [slotTime(r.slot, s), kwhOf(r.consumed), kwhOf(r.green), kwhOf(r.matched), kwhOf(mine.get(r.slot) ?? 0n)]);
    fill(box,
      h("p", { "data-testid": "proof-score" }, m.consumed
        ? `24/7 score: ${(m.score * 100).toFixed(1)} % of ${kwhOf(m.consumed)} consumed from ${slotTime(lo, s)} to ${slotTime(hi + 1n, s)} matched half-hour by half-hour (${kwhOf(m.matched)}).`
        : "The beneficiary has no meter with readings in these slots: the green Wh claimed per slot are shown."),
      table(["Slot", "Consumed", "Green claimed", "Matched", "This claim"], rows, "Consumption against green Wh claimed, per slot"));
  })().catch((e) => fill(box, h("p", { role: "alert" }, `Matching not read: ${(e as Error).message}`)));
  return box;
}

export function certificatesPage(): Page {
  const list = h("div", { id: "my-certificates" });
  const claims = h("div", {});
  const cx = has("CertificateExchange") ? certificateMarket() : null;
  const market = cx ? cx.el : h("section", {}, h("h2", {}, "Certificate market"), h("p", {}, "No certificate market on this deployment yet."));
  market.id = "cert-market";
  const jump = (href: string, text: string) => h("a", { href, onclick: (e: Event) => {
    e.preventDefault(); // the hash routes pages: scroll instead
    document.getElementById(href.slice(1))?.scrollIntoView({ block: "start" });
  } }, text);
  const el = h("section", {}, h("h1", {}, "Certificates"),
    h("p", { class: "note" }, "Each certificate proves renewable generation of one meter over one period; 1 unit = 1 Wh. ",
      "Claiming retires units for a beneficiary: the proof stays on chain for anyone to check."),
    h("p", { class: "jump" }, jump("#my-certificates", "Held by me"), jump("#cert-market", "Buy & sell"), jump("#my-claims", "Claims"),
      jump("#check-claim", "Check a claim")),
    list, market, h("h2", { id: "my-claims" }, "My claims"), claims,
    h("h2", { id: "check-claim" }, "Check a claim"), lookupForm());
  let mine: Held[] = [];
  const forms = new Map<bigint, HTMLElement>();

  function certCard(id: bigint): HTMLElement {
    const balEl = h("strong", { "data-testid": `cert-${id}-balance` });
    const factsEl = h("div", {});
    const [toF, toIn] = field("Send to (address)", { autocomplete: "off", spellcheck: false });
    const [tAmtF, tAmt] = field("Amount (kWh)", { inputmode: "decimal", autocomplete: "off" });
    const tMsg = message();
    const tForm = h("form", { "aria-label": `Transfer certificate #${id}` }, h("h4", {}, "Transfer"), toF, tAmtF, h("button", { type: "submit" }, "Transfer"), tMsg);
    const [benF, benIn] = field("Beneficiary (address)", { autocomplete: "off", spellcheck: false, value: app.account }, "who consumed the renewable energy");
    const [purF, purIn] = field("Purpose", { maxlength: 128, autocomplete: "off" }, "e.g. “electricity of our school, June”");
    const [cAmtF, cAmt] = field("Amount (kWh)", { inputmode: "decimal", autocomplete: "off" });
    const cMsg = message();
    const cForm = h("form", { "aria-label": `Claim certificate #${id}` }, h("h4", {}, "Claim for a beneficiary"), benF, purF, cAmtF, h("button", { type: "submit" }, "Claim"), cMsg);
    const sellBtn = cx ? h("button", { type: "button", class: "secondary", onclick: () => {
      const c = mine.find((x) => x.id === id);
      if (c) void cx.sell(c);
    } }, "Sell on the market") : null;
    const card = h("article", { class: "card", "aria-labelledby": `cert-${id}-title` },
      h("h3", { id: `cert-${id}-title` }, `Certificate #${id}`), factsEl, h("p", {}, "You hold ", balEl), sellBtn,
      h("details", {}, h("summary", {}, "Transfer or claim"), tForm, cForm));
    (card as any).update = (c: Cert, bal: bigint) => {
      fill(balEl, kwh(bal));
      fill(factsEl, certFacts(id, c));
      (card as any).bal = bal;
    };
    const amountOf = (input: HTMLInputElement) => {
      const wh = parseKwh(input.value);
      if (wh > (card as any).bal) throw new InputError(`You hold ${kwh((card as any).bal)} of certificate #${id}.`);
      return wh;
    };
    tForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        if (!isAddress(toIn.value.trim())) throw new InputError("Send to: not an address (0x… 40 hex digits).");
        const wh = amountOf(tAmt);
        const r = await send(`Transfer ${kwh(wh)} of certificate #${id}`, {
          contract: "EnvironmentalCertificate", functionName: "safeTransferFrom", args: [app.account!, toIn.value.trim() as Address, id, wh, "0x"],
        }, txView(tMsg));
        if (r.ok) tAmt.value = "";
      } catch (e) {
        tMsg.className = "msg refused";
        tMsg.textContent = `Not sent: ${(e as Error).message}`;
      }
    });
    cForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        if (!isAddress(benIn.value.trim())) throw new InputError("Beneficiary: not an address (0x… 40 hex digits).");
        const purpose = purIn.value.trim();
        if (!purpose) throw new InputError("Purpose: say what the energy was used for.");
        if (new TextEncoder().encode(purpose).length > 128) throw new InputError("Purpose: at most 128 bytes.");
        const wh = amountOf(cAmt);
        const r = await send(`Claim ${kwh(wh)} of certificate #${id}`, {
          contract: "EnvironmentalCertificate", functionName: "claim", args: [id, wh, benIn.value.trim() as Address, purpose],
        }, txView(cMsg));
        if (r.ok) {
          const hash = (r.logs ?? []).find((l) => l.address.toLowerCase() === addr("EnvironmentalCertificate").toLowerCase())?.transactionHash;
          cAmt.value = "";
          if (hash) fill(cMsg, "Claimed. ", h("a", { href: `#/proof/tx/${hash}` }, "Open the claim proof"));
        }
      } catch (e) {
        cMsg.className = "msg refused";
        cMsg.textContent = `Not sent: ${(e as Error).message}`;
      }
    });
    return card;
  }

  return {
    title: "Certificates", needsAccount: true, el,
    async refresh() {
      const me = app.account!;
      const [issued, byMe, forMe, byMarket, cxTrades, cxPlaced] = await Promise.all([
        logs("EnvironmentalCertificate", "CertificateIssued"),
        logs("EnvironmentalCertificate", "Claimed", { claimer: me }), logs("EnvironmentalCertificate", "Claimed", { beneficiary: me }),
        cx ? logs("EnvironmentalCertificate", "Claimed", { claimer: addr("CertificateExchange") }) : [],
        cx ? logs("CertificateExchange", "Trade") : [],
        // the market's own logs, fetched in the same round trip (cached: its refresh reads them back)
        cx ? logs("CertificateExchange", "OrderPlaced") : [], cx ? logs("CertificateExchange", "OrderClosed") : [],
        cx ? logs("CertificateExchange", "UnitsCredited", { owner: me }) : [],
      ]);
      const ids = issued.map((l) => l.args.id as bigint);
      const bals = ids.length ? await read("EnvironmentalCertificate", "balanceOfBatch", [ids.map(() => me), ids]) : [];
      const held = ids.filter((_, i) => bals[i] > 0n);
      const certs = await Promise.all(held.map(cert));
      const cards: HTMLElement[] = [];
      held.forEach((id, i) => {
        let card = forms.get(id);
        if (!card) forms.set(id, (card = certCard(id)));
        (card as any).update(certs[i], bals[ids.indexOf(id)]);
        cards.push(card);
      });
      mine = held.map((id, i) => ({
        id, bal: bals[ids.indexOf(id)], method: Number(certs[i].method), periodEnd: certs[i].period_end,
        expiresAt: expiry(certs[i]), revoked: certs[i].revoked,
      }));
      if (!cards.length) fill(list, h("p", {}, "You hold no certificates. Generators issue them from their meters' certified generation (Meters page)."));
      else if (list.children.length !== cards.length || cards.some((c, i) => list.children[i] !== c)) fill(list, cards);

      // buy-and-claim: the market is the claimer; mine when I took the trades of that transaction
      const lower = me.toLowerCase();
      // the taker of a Trade is its order's owner (OrderPlaced, same transaction)
      const myOrders = new Set(cxPlaced.filter((p) => (p.args.owner as string).toLowerCase() === lower).map((p) => p.args.order_id as bigint));
      const myTx = new Set(cxTrades.filter((t) => myOrders.has(t.args.taker_order_id as bigint)).map((t) => t.transactionHash));
      const seen = new Set<string>();
      const rows = [...byMe, ...forMe, ...byMarket.filter((l) => myTx.has(l.transactionHash))]
        .sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1)).filter((l) => !seen.has(`${l.transactionHash}:${l.logIndex}`) && seen.add(`${l.transactionHash}:${l.logIndex}`));
      fill(claims, table(["Certificate", "kWh", "Beneficiary", "Purpose", ""], rows.reverse().map((l) => [
        `#${l.args.id}`, kwh(l.args.amount), short(l.args.beneficiary), l.args.purpose,
        h("a", { href: `#/proof/tx/${l.transactionHash}` }, "proof"),
      ]), "Claims I made or that name me"));
      if (cx) await cx.refresh(mine, issued.map((l) => ({ method: Number(l.args.method), periodEnd: l.args.period_end as bigint })));
    },
  };
}

function lookupForm(): HTMLElement {
  const [f, input] = field("Claim transaction hash or certificate id", { autocomplete: "off", spellcheck: false });
  const msg = message();
  const form = h("form", { "aria-label": "Check a claim" }, f, h("button", { type: "submit" }, "Check"), msg);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (isHash(v)) location.hash = `#/proof/tx/${v}`;
    else if (/^\d+$/.test(v)) location.hash = `#/proof/id/${v}`;
    else msg.textContent = "Enter a transaction hash (0x… 64 hex digits) or a certificate id (a number).";
  });
  return form;
}

/** #/proof/tx/<hash> or #/proof/id/<id>: every Claimed event it names, checked against the chain. */
export function proofPage(arg: string): Page {
  const [kind, value] = arg.split("/");
  const out = h("div", {});
  const [audit, updateAudit] = auditLine(); // what a member shares a proof with may also ask: is the chain sound?
  const el = h("section", {}, h("h1", {}, "Claim proof"), out, audit, h("h2", {}, "Check another claim"), lookupForm());
  let done = false;
  return {
    title: "Claim proof", needsAccount: false, el,
    async refresh() {
      void updateAudit();
      if (done) return;
      done = true;
      const certAddr = addr("EnvironmentalCertificate").toLowerCase();
      let found: { args: any; transactionHash: Hash; blockNumber: bigint }[] = [];
      try {
        if (kind === "tx" && isHash(value)) {
          const receipt = await app.pub.getTransactionReceipt({ hash: value as Hash });
          for (const l of receipt.logs) {
            if (l.address.toLowerCase() !== certAddr) continue;
            try {
              const d = decodeEventLog({ abi: abi("EnvironmentalCertificate"), data: l.data, topics: l.topics });
              if (d.eventName === "Claimed" || d.eventName === "ClaimedSlots") found.push({ args: d.args, transactionHash: l.transactionHash, blockNumber: l.blockNumber });
            } catch { /* another event */ }
          }
        } else if (kind === "id" && /^\d+$/.test(value)) {
          found = [...await logs("EnvironmentalCertificate", "Claimed", { id: BigInt(value) }),
            ...await logs("EnvironmentalCertificate", "ClaimedSlots", { id: BigInt(value) })] as any;
        } else {
          fill(out, h("p", { role: "alert" }, "Open a proof by claim transaction (#/proof/tx/0x…) or certificate id (#/proof/id/12)."));
          return;
        }
      } catch (e) {
        fill(out, h("p", { role: "alert" }, `Not found on chain ${app.dep.chain_id}: ${(e as Error).message}`));
        return;
      }
      if (!found.length) {
        fill(out, h("p", { role: "alert", "data-testid": "proof-none" }, `No claim found for ${kind} ${value} on chain ${app.dep.chain_id}.`));
        return;
      }
      const blocks = await Promise.all(found.map((f) => blockTime(f.blockNumber)));
      // a buy-and-claim's claimer is the market: name the member who sent it
      const market = has("CertificateExchange") ? addr("CertificateExchange").toLowerCase() : "";
      const senders = await Promise.all(found.map((f) => ((f.args.claimer as string).toLowerCase() === market
        ? app.pub.getTransaction({ hash: f.transactionHash }).then((t) => getAddress(t.from)) : Promise.resolve(undefined))));
      const ids = [...new Set(found.map((f) => f.args.id as bigint))];
      const [certs, totals] = await Promise.all([Promise.all(ids.map(cert)),
        Promise.all(found.map((f) => read("EnvironmentalCertificate", "claimed_balance_of", [f.args.beneficiary, f.args.id])))]);
      const claimCards = found.map((f, i) => {
        const id = f.args.id as bigint;
        return h("article", { class: "card proof", "data-testid": "claim-proof" },
          h("h2", {}, h("span", { class: "ok", "aria-hidden": "true" }, "✔ "), `Verified on chain: ${kwh(f.args.amount)} of certificate #${id} claimed`),
          h("dl", { class: "facts" },
            h("dt", {}, "Beneficiary"), h("dd", { "data-testid": "proof-beneficiary" }, fullValue(f.args.beneficiary, "beneficiary address")),
            h("dt", {}, "Purpose"), h("dd", { "data-testid": "proof-purpose" }, f.args.purpose),
            h("dt", {}, "Claimed by"), h("dd", { "data-testid": "proof-claimer" }, senders[i]
              ? ["the certificate market in a buy-and-claim sent by ", fullValue(senders[i]!, "sender address")] : fullValue(f.args.claimer, "claimer address")),
            h("dt", {}, "Amount"), h("dd", { "data-testid": "proof-amount" }, kwh(f.args.amount)),
            h("dt", {}, "When"), h("dd", {}, `${dateTime(blocks[i])} (block ${f.blockNumber})`),
            h("dt", {}, "Transaction"), h("dd", {}, fullValue(f.transactionHash, "transaction hash")),
            h("dt", {}, "Claimed for this beneficiary in all"), h("dd", {}, kwh(totals[i]))),
          f.args.slot_wh ? [h("h3", {}, "Matched half-hour by half-hour"), matchingView(f)] : []);
      });
      // the certificate's record once, however many of its claims the proof lists
      const certCards = ids.map((id, i) => h("article", { class: "card proof", "data-testid": "proof-certificate" },
        h("h3", {}, `The certified generation: certificate #${id}`), certFacts(id, certs[i]), profileView(id)));
      const parts = [...claimCards, ...certCards,
        h("p", { class: "note" }, "Read from the certificate contract ", fullValue(addr("EnvironmentalCertificate"), "contract address"), ` on chain ${app.dep.chain_id}; `,
          "the Claimed and ClaimedSlots events, the profiles and the certificate records are on chain: anyone can check them with any node.")];
      fill(out, parts);
    },
  };
}
