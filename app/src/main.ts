import "./style.css";
import { app, connect, discover, head, load, refreshMeta, updateHead, wallets } from "./chain";
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
    fill(main, h("h1", {}, current.title), h("p", {}, "Connect your wallet to see your account."), connectButtons());
    return;
  }
  fill(main, current.el);
  void refresh();
}

function connectButtons(): HTMLElement {
  const box = h("div", { class: "connect" });
  if (!wallets.length) {
    fill(box, h("p", {}, "No browser wallet found. Install MetaMask, Rabby or Frame, or open this page in a wallet's browser."));
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
  if (app.account) fill(bar, h("span", { class: "account", title: app.account, "data-testid": "account" }, short(app.account)));
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
  route();
  // live: every new block redraws the open page (polling; works with any node)
  app.pub.watchBlockNumber({ onBlockNumber: () => { void refreshMeta().then(refresh, refresh); }, pollingInterval: 500, emitOnBegin: false });
  const g = ((window as any).__gridmint ??= {});
  g.ready = performance.now(); // ms since navigation start: deployment loaded, wallets asked, page routed
  g.loadMs = performance.now() - t0;
}

void start();
