// Plain DOM helpers: no UI library (the pages are forms, tables and numbers).
import type { TxView } from "./chain";
import { short } from "./units";

type Child = Node | string | number | null | undefined | false;
type Props = Record<string, any>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Child | Child[])[]) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") (el as any)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Replaces an element's children (a live value being redrawn). */
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
}

/** A definition row: label, value (value element gets a data-testid for tests and screen readers) */
export function stat(label: string, id: string): [HTMLElement, HTMLElement] {
  const dd = h("dd", { "data-testid": id, id });
  return [h("div", { class: "stat" }, h("dt", {}, label), dd), dd];
}

let fieldSeq = 0;
/** A labelled input: returns [wrapper, input] */
export function field(label: string, props: Props = {}, hint?: string): [HTMLElement, HTMLInputElement] {
  const id = `f${++fieldSeq}`;
  const input = h("input", { id, ...props });
  const hintEl = hint ? h("small", { id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return [h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl), input];
}

export function select(label: string, options: [string, string][]): [HTMLElement, HTMLSelectElement] {
  const id = `f${++fieldSeq}`;
  const sel = h("select", { id }, options.map(([v, t]) => h("option", { value: v }, t)));
  return [h("div", { class: "field" }, h("label", { for: id }, label), sel), sel];
}

/** A form-local message line (refusals, previews) */
export function message(): HTMLElement {
  return h("p", { class: "msg", role: "status" });
}

/** A form's submit: `parse` reads its inputs and throws on bad input, which is refused in one line in `msg`
 * ("Not sent: …") with nothing sent; otherwise `act` runs with `button` disabled until it is done. */
export function onSubmit<T>(form: HTMLFormElement, button: HTMLButtonElement, msg: HTMLElement, parse: () => T,
  act: (parsed: T) => Promise<void>): void {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let parsed: T;
    try {
      parsed = parse();
    } catch (e) {
      msg.className = "msg refused";
      msg.textContent = `Not sent: ${(e as Error).message}`;
      return;
    }
    button.disabled = true;
    try {
      await act(parsed);
    } finally {
      button.disabled = false;
    }
  });
}

const STATES: Record<string, string> = {
  simulating: "checking", signing: "waiting for wallet", pending: "pending", confirmed: "confirmed", failed: "failed", refused: "refused",
};

/** A transaction's line in the activity panel, mirrored in the form's own message line. */
export function txView(local?: HTMLElement): TxView {
  const panel = document.getElementById("activity")!;
  let row: HTMLElement | null = null;
  return {
    set(state, text) {
      if (local) {
        local.className = `msg ${state}`;
        local.textContent = text;
      }
      if (state === "refused" || state === "simulating") return; // nothing sent: no activity row
      if (!row) {
        row = h("p", { class: "tx", role: "status" });
        panel.prepend(row);
        while (panel.children.length > 6) panel.lastElementChild!.remove();
      }
      row.className = `tx ${state}`;
      fill(row, h("b", {}, STATES[state]), " ", text);
    },
  };
}

/** A table in a sideways-scrolling box (a phone shows wide tables without widening the page). */
export function table(head: string[], rows: (Child | Child[])[][], caption?: string): HTMLElement {
  return h("div", { class: "scroll" }, h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
      : h("tr", {}, h("td", { colspan: head.length, class: "empty" }, "none yet")))));
}

/** An address or hash shown short (0x1234…abcd) with the full value in its title, and a button that
 *  copies it: a phone shows it on one line, anyone can still check the whole value. */
export function fullValue(value: string, what = "address"): HTMLElement {
  const copy = h("button", { type: "button", class: "copy", "aria-label": `Copy the full ${what}`, title: `Copy ${value}` }, "copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
      copy.textContent = "copied";
    } catch {
      // no clipboard (an insecure origin): show the whole value to copy by hand
      window.prompt(`The full ${what}:`, value);
    }
    setTimeout(() => { copy.textContent = "copy"; }, 1500);
  });
  const code = h("code", { title: value, "data-value": value, class: "full" }, short(value));
  return h("span", { class: "value-copy" }, code, " ", copy);
}
