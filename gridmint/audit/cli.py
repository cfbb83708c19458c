"""`gridmint-audit`: the public auditor's command line.

    gridmint-audit deployments/ethereum-local-31337.json --rpc-url http://127.0.0.1:8545
    gridmint-audit RECORD --json                  # the whole report as JSON on stdout
    gridmint-audit RECORD --follow                # keep auditing new blocks; Prometheus on 127.0.0.1

Exit status: 0 no differences, 1 a compare or invariant difference (or, with --strict, any
plausibility finding), 2 bad input or an unusable node (one line on stderr).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from .auditor import AuditInputError, audit
from .config import AuditConfig, ConfigError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("record", type=click.Path(path_type=Path))
@click.option("--rpc-url", default=lambda: os.environ.get("GRIDMINT_RPC_URL", "http://127.0.0.1:8545"),
              show_default="$GRIDMINT_RPC_URL or http://127.0.0.1:8545", help="the node to audit through")
@click.option("--store", "store_path", type=click.Path(path_type=Path), default=None,
              help="the incremental event store (SQLite) [default: .gridmint-audit/<record>.sqlite]")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML audit config: location, panels, thresholds (docs/audit.md)")
@click.option("--from-block", type=click.IntRange(min=0), default=None,
              help="first block to read [default: the record's deploy block, else the first block with code]")
@click.option("--to-block", type=click.IntRange(min=0), default=None, help="audit up to this block [default: head]")
@click.option("--confirmations", type=click.IntRange(min=0), default=None,
              help="blocks below the head left unread (reorg safety) [default: 0 on local chains, 12 elsewhere]")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON on stdout")
@click.option("--html", "html_path", type=click.Path(path_type=Path), default=Path("out/audit.html"),
              show_default=True, help="where to write the HTML report with the meters' day plots")
@click.option("--no-html", is_flag=True, help="write no HTML report")
@click.option("--strict", is_flag=True, help="exit 1 on plausibility findings too")
@click.option("--follow", is_flag=True, help="keep auditing new blocks; serve Prometheus metrics on 127.0.0.1")
@click.option("--interval", type=click.FloatRange(min=0.1), default=12.0, show_default=True,
              help="seconds between audits with --follow")
@click.option("--metrics-port", type=click.IntRange(0, 65_535), default=9_465, show_default=True,
              help="Prometheus port on 127.0.0.1 with --follow")
def cli(record, rpc_url, store_path, config_path, from_block, to_block, confirmations, as_json, html_path,
        no_html, strict, follow, interval, metrics_port):
    """Recompute every gridmint balance, escrow, certificate and claim of RECORD's deployment from the
    chain's events, compare with the contracts' views, check the invariants and flag implausible
    generation."""
    from rich.console import Console

    out = Console()
    err = Console(stderr=True)
    config = AuditConfig.load(config_path)
    kwargs = dict(config=config, from_block=from_block, to_block=to_block, confirmations=confirmations,
                  html_path=None if no_html else html_path)
    if follow:
        return _follow(record, rpc_url, store_path, kwargs, interval, metrics_port, strict, err)
    report = _run(record, rpc_url, store_path, kwargs, err)
    if as_json:
        click.echo(report.to_json())
    else:
        report.render_summary(out)
    return report.exit_code(strict)


def _run(record, rpc_url, store_path, kwargs, err):
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("fetching events"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} blocks"),
                  TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("fetch", total=1)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return audit(record, rpc_url, store_path, progress=progress, **kwargs)


def _follow(record, rpc_url, store_path, kwargs, interval, port, strict, err) -> int:
    """Audits, waits `interval` s, audits the new blocks again, until interrupted; exposes
    gridmint_audit_* gauges on 127.0.0.1:`port`."""
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    from .fetch import head_block
    from .rpc import HttpRpc

    registry = CollectorRegistry()
    findings = Gauge("gridmint_audit_findings", "findings of the last audit", ["kind"], registry=registry)
    audited = Gauge("gridmint_audit_audited_block", "the block the last audit reached", registry=registry)
    behind = Gauge("gridmint_audit_blocks_behind", "blocks between the node's head and the last audited block",
                   registry=registry)
    ok = Gauge("gridmint_audit_last_run_ok", "1 if the last audit ran, 0 if it failed (node, input)",
               registry=registry)
    try:
        server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    except OSError as e:
        raise AuditInputError(f"cannot serve metrics on 127.0.0.1:{port}: {e.strerror or e}") from None
    rpc = HttpRpc(rpc_url)
    err.print(f"following; metrics on http://127.0.0.1:{server.server_port}/metrics (Ctrl-C stops)")
    status = 0
    try:
        while True:
            try:
                report = audit(record, rpc_url, store_path, **kwargs)
                ok.set(1)
                audited.set(report.block)
                for kind in ("compare", "invariant", "plausibility"):
                    findings.labels(kind).set(sum(1 for f in report.findings if f.kind == kind))
                behind.set(max(head_block(rpc) - report.block, 0))
                status = report.exit_code(strict)
                err.print(report.headline())
            except AuditInputError as e:
                ok.set(0)
                err.print(f"gridmint-audit: {e}")
            time.sleep(interval)
    except KeyboardInterrupt:
        return status
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    try:
        status = cli.main(args=argv, prog_name="gridmint-audit", standalone_mode=False)
    except click.exceptions.Abort:
        print("gridmint-audit: aborted", file=sys.stderr)
        return 2
    except click.ClickException as e:
        print(f"gridmint-audit: {e.format_message()}", file=sys.stderr)
        return 2
    except AuditInputError as e:
        print(f"gridmint-audit: {e}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"gridmint-audit: {e}", file=sys.stderr)
        return 2
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
