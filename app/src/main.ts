import "./style.css";
import { app, connect, disconnect, discover, head, load, refreshMeta, updateHead, wallets } from "./chain";
import { fill, h } from "./ui";
import { short } from "./units";
import { homePage } from "./pages/home";
import { marketPage } from "./pages/market";
import { rentPage } from "./pages/rent";
import { certificatesPage, proofPage } from "./pages/certificates";
import { metersPage } from "./pages/meters";
import { changesPage } from "./pages/changes";

export type Page = { title: string; needsAccount: boolean; el: HTMLElement; refresh(): Promise<void> };

const routes: Record<string, (arg: string) => Page> = {
  home: homePage, market: marketPage, rent: rentPage, certificates: certificatesPage, proof: proofPage,
  meters: metersPage, changes: changesPage,
};

let current: Page | null = null;
let refreshing = false;
let again = false;

async function refresh(): Promise<void> {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    do {
      again = false;
      await updateHead();
      const page = current;
      if (!page || (page.needsAccount && !app.account)) continue;
      await page.refresh();
      const bar = document.getElementById("status");
      if (bar?.textContent) bar.textContent = "";
      page.el.dataset.block = String(head.number); // tests wait for a page drawn at a given block
      const g = ((window as any).__gridmint ??= {});
      g.firstDraw ??= performance.now(); // ms since navigation start
    } while (again);
  } catch (e) {
    console.error(e);
    const bar = document.getElementById("status");
    if (bar) bar.textContent = `cannot reach the chain: ${(e as Error).message}`;
  } finally {
    refreshing = false;
  }
}

function route(): void {
  const [name = "home", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const make = routes[name] ?? routes.home;
  const main = document.getElementById("page")!;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("#nav a"))
    a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${name}`);
  current = make(rest.join("/"));
  document.title = `${current.title} — gridmint`;
  if (current.needsAccount && !app.account) {
    fill(main, h("h1", {}, current.title), name === "home" || !routes[name] ? intro() : null,
      h("p", {}, "Connect your wallet to see your account."), connectButtons(true));
    return;
  }
  fill(main, current.el);
  void refresh();
}

/** What gridmint is, for someone who has not connected yet. */
function intro(): HTMLElement {
  return h("div", { class: "intro", "data-testid": "intro" },
    h("p", {}, h("strong", {}, "gridmint is your energy community's market and battery account. "),
      "Your meters sign their readings; energy you put into the shared battery is held as WATT (1 WATT = 1 kWh), ",
      "which you sell to your neighbours or keep for later while a small storage rent in TSL pays for the battery. ",
      "Renewable generation becomes certificates that you sell, or claim for whoever used the energy."),
    h("p", {}, "Everything is on a blockchain: the app reads it directly, and your wallet signs what you send. ",
      "Anyone can check a claim proof or the announced parameter changes without a wallet."));
}

/** The wallets' connect buttons; `inPage`: the page asks for a wallet (the header stays quiet without one). */
function connectButtons(inPage = false): HTMLElement {
  const box = h("div", { class: "connect" });
  if (!wallets.length) {
    if (inPage) fill(box, h("p", {}, "No browser wallet found. Install MetaMask, Rabby or Frame, or open this page in a wallet's browser."));
    return box;
  }
  for (const w of wallets) {
    box.append(h("button", {
      type: "button",
      onclick: async () => {
        try {
          await connect(w, () => { walletBar(); route(); });
          walletBar();
          route();
        } catch (e) {
          fill(box, h("p", { class: "msg failed", role: "alert" }, `Could not connect: ${(e as Error).message}`));
        }
      },
    }, w.info.icon ? h("img", { src: w.info.icon, alt: "", width: 20, height: 20 }) : null, `Connect ${w.info.name}`));
  }
  return box;
}

function walletBar(): void {
  const bar = document.getElementById("wallet")!;
  if (app.account) fill(bar,
    h("span", { class: "network", "data-testid": "network", title: `chain id ${app.chain.id}` }, app.chain.name),
    h("span", { class: "account", title: app.account, "data-testid": "account" }, short(app.account)),
    h("button", { type: "button", class: "disconnect", onclick: () => { disconnect(); walletBar(); route(); } }, "Disconnect"));
  else fill(bar, connectButtons());
}

async function start(): Promise<void> {
  const t0 = performance.now();
  document.body.append(h("p", { id: "status", class: "status", role: "status" }));
  try {
    await load();
  } catch (e) {
    fill(document.getElementById("page")!, h("p", { role: "alert" }, `Could not load the deployment: ${(e as Error).message}`));
    return;
  }
  let resumed = false;
  discover(() => {
    // a reload reconnects the wallet the member chose in this tab (no prompt for an authorised site)
    const chosen = wallets.find((w) => w.info.rdns === sessionStorage.getItem("gridmint.wallet"));
    if (chosen && !resumed && !app.account) {
      resumed = true;
      void connect(chosen, () => { walletBar(); route(); }).then(() => { walletBar(); route(); }, () => walletBar());
    }
    walletBar();
    if (!app.account) route();
  });
  walletBar();
  window.addEventListener("hashchange", route);
  // a "Not sent: …" line answers the input as it was: changing the input clears it
  document.addEventListener("input", (e) => {
    const form = (e.target as Element | null)?.closest?.("form");
    if (form) for (const m of form.querySelectorAll<HTMLElement>(".msg.refused[role=status]")) { m.textContent = ""; m.className = "msg"; }
  });
  route();
  // live: every new block redraws the open page (polling; works with any node)
  app.pub.watchBlockNumber({ onBlockNumber: () => { void refreshMeta().then(refresh, refresh); }, pollingInterval: 500, emitOnBegin: false });
  const g = ((window as any).__gridmint ??= {});
  g.ready = performance.now(); // ms since navigation start: deployment loaded, wallets asked, page routed
  g.loadMs = performance.now() - t0;
}

void start();
