// Rent: deposit and withdraw TSL for storage rent; days of storage left before and after.
import type { Page } from "../main";
import { addr, app, head, read, reason, send, signPermit } from "../chain";
import { fill, field, h, message, onSubmit, stat, txView } from "../ui";
import { InputError, daysLeft, kwh, parseAmount, secondsPaid, storageLeft, token } from "../units";

export function rentPage(): Page {
  const m = app.meta;
  const t = (v: bigint) => token(v, m.tslDecimals, m.tslSymbol);
  const [stored, storedEl] = stat("Stored (WATT + escrow)", "rent-stored");
  const [dep, depEl] = stat("Deposit", "rent-deposit");
  const [left, leftEl] = stat("Storage left", "rent-days-left");
  const [due, dueEl] = stat("Rent due (not covered)", "rent-due");
  const [wal, walEl] = stat(`${m.tslSymbol} in your wallet`, "tsl-wallet");
  const [rate, rateEl] = stat("Rent rate", "rent-rate");

  const [depF, depIn] = field(`Deposit (${m.tslSymbol})`, { inputmode: "decimal", autocomplete: "off" });
  const depAfter = h("p", { class: "preview", "data-testid": "deposit-after", "aria-live": "polite" });
  const depMsg = message();
  const depBtn = h("button", { type: "submit" }, "Deposit");
  const depForm = h("form", { "aria-label": "Deposit rent" }, h("h2", {}, "Deposit"), depF, depAfter, depBtn, depMsg);

  const [wdF, wdIn] = field(`Withdraw (${m.tslSymbol})`, { inputmode: "decimal", autocomplete: "off" });
  const wdAfter = h("p", { class: "preview", "aria-live": "polite" });
  const wdMsg = message();
  const wdBtn = h("button", { type: "submit" }, "Withdraw");
  const wdForm = h("form", { "aria-label": "Withdraw rent" }, h("h2", {}, "Withdraw"), wdF, wdAfter, wdBtn, wdMsg);

  const el = h("section", {}, h("h1", {}, "Storage rent"),
    h("dl", { class: "stats" }, stored, dep, left, due, wal, rate),
    h("p", { class: "note" }, "Everything you store — WATT held and WATT escrowed in your sell orders — pays rent from this deposit. ",
      "When it runs dry the shortfall becomes arrears: you cannot sell until you pay them."),
    h("div", { "data-testid": "tsl-source" }), depForm, wdForm);

  let s = { stored: 0n, deposit: 0n, due: 0n, wallet: 0n };
  const after = (deposit: bigint) => {
    const secs = secondsPaid(deposit, s.stored, m.rentRate);
    return secs === null ? "nothing stored: no rent due" : daysLeft(secs, head.timestamp).text;
  };
  function parse(input: HTMLInputElement, what: string) {
    return parseAmount(input.value, m.tslDecimals, what);
  }
  function drawDeposit() {
    if (!depIn.value.trim()) return fill(depAfter);
    try {
      const a = parse(depIn, "Deposit");
      if (a > s.wallet) throw new InputError(`You hold ${t(s.wallet)}.`);
      const paid = a < s.due ? a : s.due;
      fill(depAfter, paid > 0n ? `${t(paid)} pays your arrears first. ` : "", `Storage left after: ${after(s.deposit + a - paid)}`);
    } catch (e) {
      fill(depAfter, h("span", { class: "msg refused" }, (e as Error).message));
    }
  }
  function drawWithdraw() {
    if (!wdIn.value.trim()) return fill(wdAfter);
    try {
      const a = parse(wdIn, "Withdrawal");
      if (a > s.deposit) throw new InputError(`Your unspent deposit is ${t(s.deposit)}.`);
      fill(wdAfter, `Storage left after: ${after(s.deposit - a)}`);
    } catch (e) {
      fill(wdAfter, h("span", { class: "msg refused" }, (e as Error).message));
    }
  }
  depIn.addEventListener("input", drawDeposit);
  wdIn.addEventListener("input", drawWithdraw);

  onSubmit(depForm, depBtn, depMsg, (): bigint => {
    const amount = parse(depIn, "Deposit");
    if (amount > s.wallet) throw new InputError(`You hold ${t(s.wallet)}.`);
    return amount;
  }, async (amount) => {
    try {
      const view = txView(depMsg);
      const watt = addr("WattToken");
      const deadline = head.timestamp + 3_600n;
      // one transaction: the TSL approval is an EIP-2612 signature
      view.set("signing", "Sign the TSL permit in your wallet…");
      const sig = await signPermit("StorageRentToken", watt, amount, deadline);
      const r = await send(`Deposit ${t(amount)}`, { contract: "WattToken", functionName: "deposit_rent_with_permit", args: [amount, deadline, sig.v, sig.r, sig.s] }, view);
      if (r.ok) depIn.value = "";
    } catch (e) {
      depMsg.className = "msg failed";
      depMsg.textContent = `Not sent: ${reason(e)}`;
    }
  });

  onSubmit(wdForm, wdBtn, wdMsg, (): bigint => parse(wdIn, "Withdrawal"), async (amount) => {
    const r = await send(`Withdraw ${t(amount)}`, { contract: "WattToken", functionName: "withdraw_rent", args: [amount] }, txView(wdMsg));
    if (r.ok) wdIn.value = "";
  });

  return {
    title: "Rent", needsAccount: true, el,
    async refresh() {
      const me = app.account!;
      const [st, deposit, d, paidUntil, w] = await Promise.all([
        read("WattToken", "stored_of", [me]), read("WattToken", "rent_deposit", [me]),
        read("WattToken", "rent_due", [me]), read("WattToken", "storage_paid_until", [me]),
        read("StorageRentToken", "balanceOf", [me]),
      ]);
      s = { stored: st, deposit, due: d, wallet: w };
      fill(storedEl, kwh(st));
      fill(depEl, t(deposit));
      fill(leftEl, storageLeft(paidUntil, head.timestamp).text);
      fill(dueEl, t(d));
      fill(walEl, t(w));
      const source = el.querySelector<HTMLElement>("[data-testid=tsl-source]")!;
      if (w === 0n) fill(source, h("div", { class: "alert" },
        h("strong", {}, `You hold no ${m.tslSymbol}. `),
        `${m.tslSymbol} is the community's storage-rent token: the operator mints it and sells it to members. Ask your community's operator for some `,
        `(they send it with `, h("code", {}, `operator mint-tsl ${app.account}`), `). On a local test chain, `,
        h("code", {}, `operator faucet ${app.account} --tsl 100`), ` gives you some.`));
      else fill(source);
      fill(rateEl, `${token(m.rentRate, m.tslDecimals, m.tslSymbol, 6)} per kWh per day`);
      if (depIn.value && document.activeElement !== depIn) drawDeposit();
      if (wdIn.value && document.activeElement !== wdIn) drawWithdraw();
    },
  };
}
