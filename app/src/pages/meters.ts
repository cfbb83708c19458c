// Meters: my meters (registered to me), accept a meter, last accepted reading, certifiable generation
// (issue certificates with their per-slot profile, a long pending period one month at a time), recent
// rejections with reasons.
import type { Page } from "../main";
import { type Address, decodeEventLog } from "viem";
import { type Returns, abi, app, logs, read, send } from "../chain";
import { currentKey, generationOf, monthOf, monthsTouched, nextPartEnd, pack, slotRange } from "../matching";
import { lessStored, storedOf } from "../storage";
import { fill, h, message, table, txView } from "../ui";
import { dateTime, kwh, method, rejection } from "../units";

type Info = Returns<"MeterRegistry", "meters">;
type Last = Returns<"MeterRegistry", "last_reading">;

export function metersPage(): Page {
  const list = h("div", {});
  const rejections = h("div", {});
  const el = h("section", {}, h("h1", {}, "My meters"), list, h("h2", {}, "Recent rejected readings"), rejections);
  const cards = new Map<string, { card: HTMLElement; update: (i: Info, l: Last, c: readonly [bigint, bigint, bigint]) => void }>();

  function meterCard(meter: Address) {
    const body = h("div", {});
    const actions = h("div", { class: "actions" });
    const msg = message();
    const card = h("article", { class: "card" }, h("h3", {}, h("code", {}, meter)), body, actions, msg);
    const update = (info: Info, last: Last, cert: readonly [bigint, bigint, bigint]) => {
      const state = !info.active ? "deactivated by the operator"
        : !info.accepted ? "waiting for you to accept it (its readings are rejected until then)" : "active";
      fill(body, h("dl", { class: "facts" },
        h("dt", {}, "Name"), h("dd", {}, info.name),
        h("dt", {}, "Generation"), h("dd", {}, method(info.method)),
        h("dt", {}, "Rated power"), h("dd", {}, `${(Number(info.rated_power_w) / 1000).toLocaleString()} kW`),
        h("dt", {}, "State"), h("dd", { "data-testid": "meter-state" }, state),
        h("dt", {}, "Last accepted reading"), h("dd", {}, last.timestamp > 0n ? dateTime(last.timestamp) : "none yet"),
        h("dt", {}, "Registers (PQ1–PQ4)"), h("dd", {}, `generated ${kwh(last.generated_wh)} · consumed ${kwh(last.consumed_wh)} · `,
          `exported ${kwh(last.exported_wh)} · imported ${kwh(last.imported_wh)}`),
        info.method ? [h("dt", {}, "Certifiable, not yet issued"), h("dd", {}, cert[0] > 0n ? `${kwh(cert[0])} (${dateTime(cert[1])} – ${dateTime(cert[2])})` : "nothing")] : null));
      const buttons: HTMLElement[] = [];
      if (!info.accepted)
        buttons.push(h("button", { type: "button", onclick: () => send(`Accept meter ${info.name}`, { contract: "MeterRegistry", functionName: "accept_meter", args: [meter] }, txView(msg)) }, "Accept this meter"));
      if (info.method && cert[0] > 0n)
        buttons.push(h("button", { type: "button", "data-testid": "issue", onclick: () => issueAll(meter, msg) }, "Issue certificates"));
      fill(actions, buttons);
    };
    return { card, update };
  }

  /** Issues all the meter's certifiable generation with its per-slot profile (built from its accepted
   *  readings under every key it had, as `ape run certificates issue` does): in one transaction when the
   *  period fits one profile (one certificate per calendar month), else the oldest month first, one
   *  transaction each. */
  async function issueAll(meter: Address, msg: HTMLElement) {
    const slotS = await read("EnvironmentalCertificate", "SLOT_S");
    let [wh, start, end] = await read("MeterRegistry", "certifiable", [meter]);
    const months = monthsTouched(start, end, slotS);
    // the whole pending period's profile, once (as `ape run certificates issue`): the generation per slot
    // less what the battery's settlement took of it (StorageLedger: that green value went with the energy)
    let profile: Map<bigint, bigint>;
    try {
      profile = lessStored(await generationOf(meter, slotS, start, end), await storedOf(meter, slotS, start, end));
    } catch (e) {
      msg.textContent = `the battery's takes do not fit this meter's generation: ${(e as Error).message}`;
      return;
    }
    for (let done = 0; wh > 0n && done < months; done++) {
      const until = nextPartEnd(start, end, slotS);
      const [first, last] = slotRange(start, until || end, slotS);
      const words = pack(first, last, profile);
      const ym = monthOf(start)[0];
      const label = until
        ? `Issue ${Math.floor(ym / 100)}-${String(ym % 100).padStart(2, "0")} (month ${done + 1} of ${months}; the rest stays pending)`
        : `Issue ${kwh(wh)} with its per-slot profile` + (done ? ` (the last ${months - done} months)` : "");
      const args = until ? ([meter, words, until] as const) : ([meter, words] as const);
      const sent = await send(label, { contract: "EnvironmentalCertificate", functionName: "issue", args }, txView(msg),
        (receiptLogs) => {
          const ids = receiptLogs.flatMap((l) => {
            try {
              const d = decodeEventLog({ abi: abi("EnvironmentalCertificate"), data: l.data, topics: l.topics }) as { eventName: string; args: any };
              return d.eventName === "CertificateIssued" ? [`#${d.args.id}`] : [];
            } catch {
              return []; // the registry's and the token's own events
            }
          });
          return ids.length ? `issued certificate${ids.length > 1 ? "s" : ""} ${ids.join(", ")}` : "no generation in it: nothing minted";
        });
      if (!sent.ok || !until) return;
      [wh, start, end] = await read("MeterRegistry", "certifiable", [meter]);
    }
  }

  return {
    title: "Meters", needsAccount: true, el,
    async refresh() {
      const me = app.account!;
      const registered = await logs("MeterRegistry", "MeterRegistered", { owner: me });
      // follow key rotations: the record moves to the new key (its profile reads every key's readings: generationOf)
      const meters = [...new Set(await Promise.all(registered.map((r) => currentKey(r.args.meter as string))))] as Address[];
      const data = await Promise.all(meters.map((m) => Promise.all([
        read("MeterRegistry", "meters", [m]), read("MeterRegistry", "last_reading", [m]),
        read("MeterRegistry", "certifiable", [m]),
      ])));
      const shown: HTMLElement[] = [];
      meters.forEach((m, i) => {
        const [info, last, cert] = data[i];
        if (info.owner.toLowerCase() !== me.toLowerCase()) return;
        let c = cards.get(m);
        if (!c) cards.set(m, (c = meterCard(m)));
        c.update(info, last, cert);
        shown.push(c.card);
      });
      if (!shown.length) fill(list, h("p", {}, "No meter is registered to this account. The operator registers meters; you then accept them here."));
      else if (list.children.length !== shown.length || shown.some((c, i) => list.children[i] !== c)) fill(list, shown);

      const rej = (await Promise.all(meters.map((m) => logs("MeterRegistry", "ReadingRejected", { meter: m })))).flat()
        .sort((a, b) => Number(b.blockNumber - a.blockNumber)).slice(0, 20);
      fill(rejections, table(["Meter", "Reading time", "Reason"], rej.map((r) => [
        `${(r.args.meter as string).slice(0, 10)}…`, dateTime(r.args.timestamp), rejection(r.args.reason),
      ]), "Readings the chain refused"));
    },
  };
}
