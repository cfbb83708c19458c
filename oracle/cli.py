"""`gridmint-oracle`: run the meter oracle, inspect it, manage its keys, backfill files.

    gridmint-oracle run --config oracle.toml
    gridmint-oracle status --config oracle.toml [--json]
    gridmint-oracle keys new --dir keys [--count 3]
    gridmint-oracle keys list --dir keys
    gridmint-oracle backfill readings.csv --config oracle.toml
    gridmint-oracle unhalt METER --config oracle.toml [--drop-unsent]

docs/oracle.md is the user documentation (every config key, meter examples, re-commissioning).

Keystore passwords come from GRIDMINT_KEY_PASSWORD / GRIDMINT_PAYER_PASSWORD
(or a hidden prompt for `keys new`); keys are never printed or logged.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from . import config as config_mod
from .outbox import Outbox

_STD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS:
                doc[key] = value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("web3", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _config(path: str | None) -> config_mod.Config:
    try:
        return config_mod.load(path)
    except config_mod.ConfigError as exc:
        _fail(str(exc))


def _connect(cfg: config_mod.Config, need_payer: bool = True):
    """Chain, domain check, keys: everything `run` and `backfill` need before touching data."""
    from gridmint import deployments

    from . import keys
    from .chain import ChainError, Registry, connect

    if not cfg.deployment.exists():
        _fail(f"no deployment file at {cfg.deployment} (run `ape run deploy` first)")
    deployment = deployments.read(cfg.deployment)
    w3 = connect(cfg.rpc_url)
    try:
        w3.eth.chain_id
    except Exception as exc:
        _fail(f"cannot reach {cfg.rpc_url}: {exc.__class__.__name__}")
    registry = Registry.from_deployment(w3, deployment)
    try:
        domain = registry.check_domain(cfg.chain_id if cfg.chain_id is not None else deployment.chain_id)
    except ChainError as exc:
        _fail(f"startup check failed: {exc}")
    try:
        password = cfg.key_password()
        signers = {m.address: keys.load_signer(cfg.keystore_dir, m.address, password) for m in cfg.meters}
        payer = None
        if need_payer:
            if cfg.payer is None:
                _fail("oracle.payer (the account that pays gas) is not configured")
            payer = keys.load_account(cfg.keystore_dir, cfg.payer, cfg.payer_password())
    except (keys.KeystoreError, config_mod.ConfigError) as exc:
        _fail(str(exc))
    return registry, domain, signers, payer


@click.group()
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def main(log_level: str) -> None:
    """gridmint meter oracle: signs smart-meter readings (EIP-712) and submits them on chain."""
    setup_logging(log_level)


_PASS_THROUGH = dict(ignore_unknown_options=True, allow_extra_args=True, help_option_names=[])


@main.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def gateway(args) -> None:
    """Keys at the edge: sign one meter's readings with its key (no gas key) and hand them to the relay
    (`gridmint-oracle gateway --help`)."""
    from oracle.gateway import main as gateway_main

    sys.exit(gateway_main(list(args)))


@main.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def relay(args) -> None:
    """The community's relay: check gateways' signed readings, commit each slot's root, credit by policy,
    serve proofs on 127.0.0.1 (`gridmint-oracle relay --help`)."""
    from oracle.relay_http import main as relay_main

    sys.exit(relay_main(list(args)))


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True)
def run(config_path: str) -> None:
    """Collects, signs, stores and submits readings until SIGTERM, then drains and exits."""
    import signal
    import threading

    # a SIGTERM during startup still means "stop cleanly": remember it from the first moment
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    from .daemon import Daemon
    from .metrics import Metrics
    from .sources import SourceError

    cfg = _config(config_path)
    if not cfg.meters:
        _fail("no [[meters]] configured")
    try:
        cfg.mqtt_password()
    except config_mod.ConfigError as exc:
        _fail(str(exc))
    registry, domain, signers, payer = _connect(cfg)
    _check_meters(registry, cfg)
    outbox = Outbox(cfg.database)
    seeds = _seeds(registry, outbox, cfg)
    # the owner may accept a meter while the daemon runs: registration is left to the chain
    rules = _rules(registry, cfg, registration=False)
    metrics = Metrics()
    if cfg.metrics_port:
        metrics.serve(cfg.metrics_port, cfg.metrics_addr)
    daemon = Daemon(cfg, outbox, registry, domain, signers, payer, metrics, stop_event=stop, seeds=seeds, rules=rules)
    try:
        daemon.start()
    except SourceError as exc:
        _fail(str(exc))
    code = daemon.run()
    if daemon.fatal:
        click.echo(f"Error: {daemon.fatal}", err=True)
    sys.exit(code)


def _check_meters(registry, cfg) -> None:
    """A configured key that was rotated away is a config error (its readings could never count);
    an unregistered or not yet accepted meter is logged: its readings are rejected until it is."""
    log = logging.getLogger("gridmint.oracle")
    for m in cfg.meters:
        try:
            info = registry.meter_info(m.address)
        except Exception as exc:
            _fail(f"cannot read meters({m.address}) from the registry: {exc.__class__.__name__}")
        if int(info["owner"], 16) == 0:
            new = registry.rotated_to(m.address)
            if new is not None:
                _fail(f"meter {m.address} was re-commissioned on chain as {new}: put {new} in its [[meters]] entry")
            log.warning("meter not registered on chain: its readings will be rejected (reason 1)",
                        extra={"meter": m.address})
        elif not info.get("accepted", True):
            log.warning("the owner has not accepted the meter yet: its readings will be rejected (reason 2)",
                        extra={"meter": m.address, "owner": info["owner"]})


def _seeds(registry, outbox, cfg, every_meter: bool = False) -> dict:
    """The chain's last reading (the commissioning values, before any reading) of every meter the
    outbox has no sample of (with `every_meter`, of every meter: readings accepted on chain from
    elsewhere count too): a signed reading must not fall below or precede it."""
    seeds = {}
    for m in cfg.meters:
        if not every_meter and outbox.last_sample(m.address) is not None:
            continue
        try:
            last = registry.last_reading(m.address)
        except Exception as exc:
            _fail(f"cannot read last_reading({m.address}) from the registry: {exc.__class__.__name__}")
        if last is not None:
            seeds[m.address] = last
    return seeds


def _rules(registry, cfg, registration: bool):
    """The registry's limits (`oracle.checks.ChainRules`) for the configured meters, read from the
    chain: max_clock_skew, MAX_TIMESTAMP, MAX_REGISTER_WH and each meter's rated power; with
    `registration`, also whether each meter is registered, active and accepted by its owner."""
    from .checks import ChainRules, MeterRules

    functions = registry.contract.functions
    try:
        skew_s = int(functions.max_clock_skew().call())
        max_ts = int(functions.MAX_TIMESTAMP().call())
        max_wh = int(functions.MAX_REGISTER_WH().call())
        meters = {}
        for m in cfg.meters:
            info = registry.meter_info(m.address)
            registered = int(info["owner"], 16) != 0
            meters[m.address] = MeterRules(
                rated_power_w=int(info["rated_power_w"]) if registered else None,
                registered=registered if registration else None,
                active_and_accepted=bool(info["active"] and info["accepted"]) if registration and registered else None,
            )
    except Exception as exc:
        _fail(f"cannot read the registry's limits (max_clock_skew, meters) from the chain: {exc.__class__.__name__}")
    return ChainRules(skew_s, max_ts, max_wh, meters)


def _chain_time_s(w3) -> int:
    """The earliest block time (s) a transaction sent now can land in: the pending block's time where
    the node tells it (Anvil, geth), else the latest block's."""
    latest = int(w3.eth.get_block("latest")["timestamp"])
    try:
        return max(latest, int(w3.eth.get_block("pending")["timestamp"]))
    except Exception:
        return latest


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--offline", is_flag=True, help="do not ask the chain (owner acceptance) at all")
def status(config_path: str, as_json: bool, offline: bool) -> None:
    """Backlog and, per meter: last accepted and last rejected reading (with its reason), whether
    its owner accepted it (from the chain, when reachable), halts and the inputs it waits for."""
    cfg = _config(config_path)
    if not cfg.database.exists():
        _fail(f"no outbox at {cfg.database} (the daemon has not run yet)")
    outbox = Outbox(cfg.database)
    doc = status_doc(cfg, outbox, None if offline else _chain_view(cfg))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from gridmint.units import REJECT_REASONS

    def at(ts):
        return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))

    console = Console() if sys.stdout.isatty() else Console(width=240)  # a pipe or file gets every column
    counts = doc["readings"]
    console.print(f"backlog {doc['backlog']}  " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    if not doc["chain_reachable"]:
        console.print("chain: not reachable (owner acceptance unknown)")
    table = Table("meter", "owner accepted", "last accepted (UTC)", "last rejected (UTC)", "reason", "backlog", "alert")
    for meter, m in doc["meters"].items():
        acc, rej = m["last_accepted"], m["last_rejected"]
        accepted = {True: "yes", False: "NO", None: "?"}[m["owner_accepted"]]
        alert = ""
        if not m["configured"]:
            alert = "not configured (a retired key?)"
        elif m["halted"]:
            h = m["halted"]
            alert = f"HALTED: {h['register']} fell {h['was_wh']} -> {h['now_wh']} Wh"
        elif m["waiting_for"]:
            alert = "waiting for " + ", ".join(m["waiting_for"])
        table.add_row(
            meter, accepted, at(acc and acc["timestamp"]), at(rej and rej["timestamp"]),
            "" if rej is None else REJECT_REASONS.get(rej["reason"], str(rej["reason"])), str(m["backlog"]), alert,
        )
    console.print(table)
    offline_devices = [d for d, v in doc["devices"].items() if not v["online"]]
    if offline_devices:
        console.print("devices offline: " + ", ".join(offline_devices))
    if doc["rejects"]:
        console.print("rejects: " + ", ".join(f"{k} {v}" for k, v in sorted(doc["rejects"].items())))


def _chain_view(cfg):
    """A registry to ask, or None when the chain is not reachable (status works without it)."""
    from gridmint import deployments

    from .chain import Registry, connect

    try:
        if not cfg.deployment.exists():
            return None
        w3 = connect(cfg.rpc_url, timeout=3.0)
        w3.eth.chain_id
        return Registry.from_deployment(w3, deployments.read(cfg.deployment))
    except Exception:
        return None


def status_doc(cfg, outbox: Outbox, registry) -> dict:
    """Everything `status` shows, as one JSON-able dict."""
    from .ingest import plans_of

    counts = outbox.counts()
    summary = outbox.meters_summary()
    halts = outbox.halts()
    plans = plans_of(cfg.meters)
    meters = {}
    for address in [m.address for m in cfg.meters] + sorted(set(summary) - {m.address for m in cfg.meters}):
        entry = summary.get(address, {"last_accepted": None, "last_rejected": None, "backlog": 0})
        waiting = []
        if address in plans:
            have = outbox.inputs_of(address)
            waiting = sorted(set(plans[address].inputs) - set(have))
        accepted = None
        if registry is not None:
            try:
                info = registry.meter_info(address)
                accepted = bool(info["accepted"]) if "accepted" in info else bool(info.get("active"))
            except Exception:
                accepted = None
        meters[address] = {
            "configured": any(m.address == address for m in cfg.meters),
            **entry,
            "owner_accepted": accepted,
            "halted": halts.get(address),
            "waiting_for": waiting,
        }
    return {
        "readings": counts,
        "backlog": counts["signed"] + counts["submitted"],
        "chain_reachable": registry is not None,
        "meters": meters,
        "last_accepted": outbox.last_accepted(),
        "rejects": outbox.rejects_by_reason(),
        "devices": outbox.devices(),
        "last_batch_gas": outbox.last_batch_gas(),
    }


@main.group()
def keys() -> None:
    """Encrypted meter keystores (Web3 Secret Storage)."""


def _password(confirm: bool) -> str:
    import os

    value = os.environ.get("GRIDMINT_KEY_PASSWORD")
    if value:
        return value
    return click.prompt("keystore password", hide_input=True, confirmation_prompt=confirm)


@keys.command("new")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="keys", show_default=True)
@click.option("--count", type=click.IntRange(1, 1000), default=1, show_default=True)
def keys_new(directory: str, count: int) -> None:
    """Creates COUNT fresh meter keys; prints their addresses only."""
    from .keys import new_key

    password = _password(confirm=True)
    if len(password) < 8:
        _fail("use a password of at least 8 characters")
    for _ in range(count):
        click.echo(new_key(Path(directory), password))


@keys.command("list")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="keys", show_default=True)
def keys_list(directory: str) -> None:
    """Addresses of the keystores in DIR (nothing is decrypted)."""
    from .keys import list_keys

    found = list_keys(Path(directory))
    if not found:
        _fail(f"no keystores in {directory}")
    for address in found:
        click.echo(address)


def _refused(message: str) -> None:
    """A user error: one line on stderr, exit status 2."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _progress(length: int, label: str):
    """A progress bar on a terminal; nothing where stderr is a pipe or file (it carries the refusals)."""
    import contextlib

    if sys.stderr.isatty():
        return click.progressbar(length=length, label=label, file=sys.stderr)

    class _Silent:
        def update(self, n: int) -> None:
            pass

    return contextlib.nullcontext(_Silent())


def _when(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class _NoRejectLogs(logging.Filter):
    """The backfill names each rejected row itself, one line each."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "reading rejected"


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True)
@click.option("--no-submit", is_flag=True, help="only sign and store; the running daemon submits")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="seconds to wait for the chain")
def backfill(file: str, config_path: str, no_submit: bool, timeout: float) -> None:
    """Signs and stores a CSV / JSON-lines file of readings, then submits them (idempotent).

    Rows the chain would refuse (unknown or not accepted meter, not after the last reading, beyond
    the chain's clock skew, a falling counter, more energy than the meter's rated power allows) are
    refused before signing, each named in one line on stderr; the exit status is then 2."""
    from .chain import Submitter
    from .ingest import Ingestor, halt_hint
    from .outbox import REASONS, states_of
    from .sources.replay import ReplayError, check_replay, replay

    cfg = _config(config_path)
    registry, domain, signers, payer = _connect(cfg, need_payer=not no_submit)
    name = Path(file).name
    try:
        total = check_replay(Path(file), set(signers))  # the whole file, before anything is signed
    except ReplayError as exc:
        _fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {file}: {exc.__class__.__name__}")
    rules = _rules(registry, cfg, registration=True)
    chain_now_s = _chain_time_s(registry.w3)
    outbox = Outbox(cfg.database)
    ingestor = Ingestor(outbox, domain, signers, seeds=_seeds(registry, outbox, cfg, every_meter=True), rules=rules,
                        clock_s=lambda: chain_now_s, log_refusals=False)
    with _progress(total, "signing") as bar:
        results = replay(Path(file), ingestor, bar.update)
    for r in results:
        if not r.stored:
            line = f"{name} line {r.line}: meter {r.meter} at {_when(r.timestamp)}: refused, {r.kind}: {r.detail}"
            if r.halted:
                line += f"; meter HALTED, nothing more is signed for it; {halt_hint(r.meter, config_path)}"
            click.echo(line, err=True)
    ours = [r for r in results if r.stored]
    keys = [(r.meter, r.timestamp) for r in ours]
    signed_now = sum(1 for r in ours if r.signed)
    refused = len(results) - len(ours)
    head = f"{name}: {len(results)} rows: {signed_now} signed, {len(ours) - signed_now} stored before, {refused} refused"
    if no_submit:
        click.echo(head + "; the running daemon submits them")
        sys.exit(2 if refused else 0)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoRejectLogs())
    submitter = Submitter(outbox, registry, payer, batch_size=cfg.batch_size, max_in_flight=cfg.max_in_flight)

    def unsettled() -> int:
        states = states_of(outbox, keys)
        return sum(1 for state, _reason in states.values() if state not in ("accepted", "rejected"))

    with _progress(len(keys), "submitting") as bar:
        deadline = time.time() + timeout
        done = 0
        while time.time() < deadline:
            submitter.pump()
            left = unsettled()
            bar.update(max(len(keys) - left - done, 0))
            done = max(done, len(keys) - left)
            if left == 0:
                break
            time.sleep(0.05)
    states = states_of(outbox, keys)
    accepted = sum(1 for state, _ in states.values() if state == "accepted")
    rejected = [(r, states[(r.meter, r.timestamp)][1]) for r in ours if states.get((r.meter, r.timestamp), ("",))[0] == "rejected"]
    for r, reason in rejected:
        click.echo(f"{name} line {r.line}: meter {r.meter} at {_when(r.timestamp)}: rejected on chain, reason {reason}"
                   f" {REASONS.get(reason, '?')}", err=True)
    left = len(keys) - accepted - len(rejected)
    click.echo(f"{head}; accepted {accepted}, rejected {len(rejected)}, not settled {left}")
    if left:
        _fail(f"the chain did not settle {left} of this file's readings within {timeout:.0f} s (they stay in the outbox)")
    if refused or rejected:
        sys.exit(2)


@main.command()
@click.argument("meter")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True)
@click.option("--drop-unsent", is_flag=True,
              help="also delete the meter's signed readings that were never sent and its devices' stored values")
def unhalt(meter: str, config_path: str, drop_unsent: bool) -> None:
    """Clears the halt of METER that a falling counter caused, when the sample was wrong (a typo in a
    backfill row, a device glitch) and the chain never saw it. Nothing is signed. A counter that
    really fell (a reset, a new device) halts the meter again at its next sample: re-commission it."""
    from eth_utils import is_address, to_checksum_address

    from .outbox import InFlight, clear_halt, unsent_of

    if not is_address(meter):
        _refused(f"not a meter address: {meter!r}")
    meter = to_checksum_address(meter)
    cfg = _config(config_path)
    if not cfg.database.exists():
        _refused(f"no outbox at {cfg.database} (nothing has halted)")
    outbox = Outbox(cfg.database)
    halt = outbox.halts().get(meter)
    if halt is None:
        _refused(f"meter {meter} is not halted")
    try:
        dropped = clear_halt(outbox, meter, drop_unsent)
    except InFlight:
        _refused(f"meter {meter} has readings sent and not settled yet: wait until `status` shows no backlog for it")
    what = f"{halt['register']} fell {halt['was_wh']} -> {halt['now_wh']} Wh"
    if drop_unsent:
        kept = f"dropped {dropped.readings} unsent readings and {dropped.inputs} stored device values"
    else:
        left = unsent_of(outbox, meter)
        kept = f"kept {left.readings} unsent readings and {left.inputs} stored device values"
    click.echo(f"meter {meter}: halt cleared ({what}); {kept}; nothing was signed")


if __name__ == "__main__":
    main()
