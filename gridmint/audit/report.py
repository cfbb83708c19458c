"""The audit's result: findings, totals and timings; rendered as a terminal table, JSON or HTML."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .findings import COMPARE, FAILING, INVARIANT, NOT_DERIVABLE, PLAUSIBILITY, Finding

# quantities events do not carry: named in every report, never faked
NOT_DERIVABLE_NOTES = [
    Finding(NOT_DERIVABLE, "inv6.operator-calls", "", None, None, None, None, "",
            "events do not name a transaction's sender, so 'no operator call changes a member's balance' is "
            "checked as: every change of a balance, escrow, deposit or proceeds follows a rule-bound event "
            "(mint for a credited export, burn for a covered import or released storage, trade, refund)"),
    Finding(NOT_DERIVABLE, "quote.token-flows", "QuoteToken", None, None, None, None, "",
            "the quote token is any stablecoin and its transfers are not fetched; what each market holds is "
            "read with balanceOf at the audited block and must cover escrow + fees + proceeds"),
    Finding(NOT_DERIVABLE, "inv4.crossed-after-every-call", "", None, None, None, None, "",
            "the book's best bid and ask after each call are not in events; the book is checked not crossed "
            "at the audited block"),
]


@dataclass
class Report:
    network: str
    chain_id: int
    from_block: int
    block: int  # audited block
    timestamp: int  # its time, s
    events: int
    findings: list[Finding]
    plausibility_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    totals: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)
    html_path: str | None = None

    # ---- verdict
    @property
    def differences(self) -> list[Finding]:
        return [f for f in self.findings if f.kind in FAILING]

    @property
    def plausibility(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == PLAUSIBILITY]

    def exit_code(self, strict: bool = False) -> int:
        if self.differences or (strict and self.plausibility):
            return 1
        return 0

    def headline(self) -> str:
        n = len(self.differences)
        p = sum(self.plausibility_counts.values())
        diff = "no differences" if n == 0 else f"{n} difference{'s' if n != 1 else ''}"
        return f"audited up to block {self.block}: {diff}, {p} plausibility finding{'s' if p != 1 else ''}"

    # ---- JSON
    def to_dict(self) -> dict:
        return {
            "headline": self.headline(),
            "network": self.network,
            "chain_id": self.chain_id,
            "from_block": self.from_block,
            "block": self.block,
            "timestamp": self.timestamp,
            "events": self.events,
            "differences": len(self.differences),
            "plausibility_findings": sum(self.plausibility_counts.values()),
            "plausibility_counts": [{"meter": m, "check": c, "count": n}
                                    for (m, c), n in sorted(self.plausibility_counts.items())],
            "findings": [f.as_dict() for f in self.findings],
            "not_derivable": [f.as_dict() for f in NOT_DERIVABLE_NOTES],
            "totals": self.totals,
            "timings": self.timings,
            "html": self.html_path,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    # ---- terminal
    def render_summary(self, console, max_rows: int = 30) -> None:
        from rich.table import Table

        t = Table(title=f"gridmint audit, {self.network} (chain {self.chain_id}), blocks {self.from_block}..{self.block}")
        t.add_column("quantity")
        t.add_column("value", justify="right")
        for key, value in self.totals.items():
            t.add_row(key, _fmt(value))
        for key, value in self.timings.items():
            t.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
        console.print(t)
        if self.findings:
            f_table = Table(title="findings")
            for col in ("kind", "check", "contract", "account / meter", "block / slot", "expected / bound", "actual",
                        "unit"):
                f_table.add_column(col)
            shown = sorted(self.findings, key=lambda f: (f.kind not in FAILING, f.kind, f.check))[:max_rows]
            for f in shown:
                where = str(f.block) if f.slot is None else _when(f.slot)
                f_table.add_row(f.kind, f.check, f.contract, _short(f.account), where, _fmt(f.expected),
                                _fmt(f.actual), f.unit)
            console.print(f_table)
            if len(self.findings) > max_rows:
                console.print(f"... and {len(self.findings) - max_rows} more (--json lists them all)")
        if self.plausibility_counts:
            counts = Table(title="plausibility findings per meter")
            for col in ("meter", "check", "slots flagged"):
                counts.add_column(col)
            for (m, c), n in sorted(self.plausibility_counts.items(), key=lambda kv: -kv[1])[:max_rows]:
                counts.add_row(m, c, str(n))
            console.print(counts)
        for note in NOT_DERIVABLE_NOTES:
            console.print(f"[dim]not derivable from events ({note.check}): {note.detail}[/dim]")
        style = "bold red" if self.differences else "bold green"
        console.print(f"[{style}]{self.headline()}[/{style}]" + (f" - report: {self.html_path}" if self.html_path else ""))

    # ---- HTML
    def write_html(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = "".join(
            f"<tr class='{f.kind.replace(' ', '-')}'><td>{f.kind}</td><td>{html.escape(f.check)}</td>"
            f"<td>{html.escape(f.contract)}</td><td>{html.escape(str(f.account or ''))}</td>"
            f"<td>{f.block if f.slot is None else _when(f.slot)}</td><td>{html.escape(_fmt(f.expected))}</td>"
            f"<td>{html.escape(_fmt(f.actual))}</td><td>{html.escape(f.unit)}</td>"
            f"<td>{html.escape(f.detail)}</td></tr>"
            for f in sorted(self.findings, key=lambda f: (f.kind not in FAILING, f.kind, f.check)))
        totals = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(_fmt(v))}</td></tr>" for k, v in self.totals.items())
        notes = "".join(f"<li><b>{n.check}</b>: {html.escape(n.detail)}</li>" for n in NOT_DERIVABLE_NOTES)
        plots = "".join(
            f"<figure><img alt='day profile of {html.escape(p.meter)}' src='data:image/png;base64,{_plot(p)}'>"
            f"<figcaption>{html.escape(p.name)} ({html.escape(p.meter)}), {_when(p.day_start)[:10]}: "
            f"{p.findings} plausibility finding(s); reference power {p.reference_w / 1000:,.2f} kW</figcaption></figure>"
            for p in self.profiles.values())
        verdict = "bad" if self.differences else "good"
        path.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gridmint audit, block {self.block}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}} .good{{color:#060}} .bad{{color:#a00}}
tr.compare td,tr.invariant td{{background:#fee}} tr.plausibility td{{background:#ffd}}
figure{{display:inline-block;margin:0.5em}} img{{width:36em}}</style></head><body>
<h1>gridmint audit</h1>
<p class="{verdict}"><b>{html.escape(self.headline())}</b></p>
<p>{html.escape(self.network)} (chain {self.chain_id}), blocks {self.from_block} to {self.block}
({_when(self.timestamp)}), {self.events:,} events recomputed without calling a contract, then compared
with the chain's views at block {self.block}.</p>
<h2>Totals</h2><table>{totals}</table>
<h2>Findings</h2><table><tr><th>kind</th><th>check</th><th>contract</th><th>account / meter</th>
<th>block / slot</th><th>expected / bound</th><th>actual</th><th>unit</th><th>detail</th></tr>{rows}</table>
<h2>Not derivable from events</h2><ul>{notes}</ul>
<h2>Meters: the day's generation against its clear-sky bound and the neighbours</h2>{plots}
</body></html>
""")
        self.html_path = str(path)
        return path


def _plot(p) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(p.generated_wh)
    hours = [(i + 0.5) * 24 / n for i in range(n)]
    fig, ax = plt.subplots(figsize=(6, 2.6), dpi=80)
    ax.bar(hours, [w / 1000 for w in p.generated_wh], width=24 / n * 0.9, color="#2a7", label="generated")
    ax.plot(hours, [w / 1000 for w in p.reference_clear_sky_wh], ":", color="#d80",
            label=f"clear sky x {p.reference_w / 1000:,.1f} kW reference", zorder=3)
    ax.plot(hours, [w / 1000 for w in p.neighbours_wh], color="#333", label="neighbours' median x reference", zorder=3)
    top = max(max(p.generated_wh), max(p.reference_clear_sky_wh), max(p.neighbours_wh), 1.0) * 1.3 / 1000
    if max(p.clear_sky_wh) / 1000 <= top:
        ax.plot(hours, [w / 1000 for w in p.clear_sky_wh], "--", color="#a40", label="clear-sky bound", zorder=3)
    ax.set_ylim(0, top)
    ax.set_xlabel("hour of the day (UTC)")
    ax.set_ylabel("kWh per 30 min")
    ax.set_xlim(0, 24)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _when(ts: int | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _short(a) -> str:
    s = str(a or "")
    return s[:10] + "…" + s[-4:] if len(s) == 42 else s


def _fmt(v) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if v is None:
        return ""
    return str(v)


__all__ = ["Report", "NOT_DERIVABLE_NOTES", "COMPARE", "INVARIANT"]
