"""The operator's commands: onboard meters, change parameters with notice, mint TSL, collect, pause; on a
local chain, fund accounts, list the test accounts and move the chain's time.

    ape run operator register METER OWNER --method solar --rated-power 10 --name "Berger roof" \\
            [--commissioned-at 2026-06-15T06:00:00Z] [--generated 0 --consumed 0 --exported 0 --imported 0]
    ape run operator register-csv meters.csv            (header: see `CSV_HEADER`; all rows checked first)
    ape run operator deactivate|activate METER
    ape run operator rotate OLD NEW [--commissioned-at T] [--generated ...]
    ape run operator announce rent-rate 0.004           (then `apply rent-rate` once its notice is over)
    ape run operator apply rent-rate
    ape run operator params                             (values in force, announced changes and when they apply)
    ape run operator mint-tsl MEMBER 100
    ape run operator arrears [--settle] [--release]     (accounts in arrears; record them; release those past the grace period)
    ape run operator collect                            (rent revenue and both markets' fees to the treasury)
    ape run operator pause|unpause [registry|exchange|certificate-market|all]
    ape run operator status [--wide]                    (meters: owner, accepted, last reading, rejects)
    ape run operator faucet ADDRESS [--eth 10] [--tsl 100] [--quote 500]   (local chains only)
    ape run operator accounts                           (local chains: the test accounts test:N and their addresses)
    ape run operator advance-time 1h                    (local chains: move the chain's clock and mine a block)

Every command takes --network; the operator is --account (default test:0 on a local chain, the
deployer). Energy is typed in kWh (or Wh with a suffix), power in kW, times as ISO 8601 (UTC) or epoch
seconds. A user error is one line and exit status 2 with nothing sent; every transaction is simulated
first, for the block it will land in, and refused with the contract's reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand

from gridmint.units import (
    METHOD_NAMES, REJECT_REASONS, UnitError, duration, kwh, parse_duration_s, parse_energy_wh, parse_kw_to_w,
    parse_method, parse_price, parse_timestamp, parse_token, price, tick_digits, token, tsl, when,
)
from gridmint.onboarding import registration_args

from . import tables
from .addresses import ZERO_ADDRESS, address_or_account, parse_address, short
from .context import CliContext
from .errors import Group, Refused
from .options import account_option, verbose_option

CSV_HEADER = [
    "address", "owner", "method", "rated_power_kw", "name",
    "commissioned_at", "generated_kwh", "consumed_kwh", "exported_kwh", "imported_kwh",
]


class Operator(CliContext):
    """The operator's view of the deployment: every contract, the quote token's units, and the
    sending account checked to be the operator (the contracts' owner)."""

    tsl = property(lambda self: self.contract("StorageRentToken"))
    watt = property(lambda self: self.contract("WattToken"))
    registry = property(lambda self: self.contract("MeterRegistry"))
    cert = property(lambda self: self.contract("EnvironmentalCertificate"))
    quote = property(lambda self: self.contract("QuoteToken"))
    ex = property(lambda self: self.contract("EnergyExchange"))
    cx = property(lambda self: self.contract("CertificateExchange"))

    def _units(self) -> tuple[int, str]:
        """The quote token's decimals and symbol (read once)."""
        if "_quote_units" not in self.__dict__:
            self.__dict__["_quote_units"] = (int(self.quote.decimals()), self.quote.symbol())
        return self.__dict__["_quote_units"]

    qdec = property(lambda self: self._units()[0])
    qsym = property(lambda self: self._units()[1])

    def operator(self):
        """The sending account, refused unless it is the operator (owner of the contracts)."""
        s = self.sender
        if str(self.registry.owner()) != s.address:
            raise Refused(f"{s.address} is not the operator ({self.registry.owner()}): pass the operator's --account")
        return s


def _open(network, account_spec, verbose) -> Operator:
    return Operator.open(network, verbose, account_spec, operator=True)


def common(f):
    f = account_option(f)
    f = verbose_option(f)
    return f


@click.group(cls=Group)
def cli():
    """Operate a gridmint community: meters, parameters, TSL, collections, pauses; a local chain's accounts and time."""


# ---------------------------------------------------------------- meters


@dataclass
class MeterRow:
    meter: str
    owner: str
    method: int
    rated_power_w: int
    name: str
    commissioning: tuple  # (timestamp, generatedWh, consumedWh, exportedWh, importedWh)


def _registers(at, generated, consumed, exported, imported, default_ts: int) -> tuple:
    ts = parse_timestamp(at) if at not in (None, "") else default_ts
    return (
        ts,
        *(parse_energy_wh(v, allow_zero=True) if v not in (None, "") else 0 for v in (generated, consumed, exported, imported)),
    )


def _check_row(c: Operator, row: MeterRow, now: int, where: str = "") -> None:
    limit = int(c.registry.MAX_RATED_POWER_W())
    if row.rated_power_w > limit:
        raise Refused(f"{where}rated power {row.rated_power_w / 1000:,.3f} kW is above this community's limit of {limit / 1000:,.3f} kW")
    if len(row.name.encode()) > 64:
        raise Refused(f"{where}name {row.name!r} is longer than 64 bytes")
    if not row.name.strip():
        raise Refused(f"{where}the meter needs a name (the generator's name on its certificates)")
    if row.commissioning[0] > now + 3_600:
        raise Refused(f"{where}commissioning time {when(row.commissioning[0])} lies in the future")
    if str(c.registry.meters(row.meter).owner) != ZERO_ADDRESS:
        raise Refused(f"{where}meter {row.meter} is already registered")


def _register_args(row: MeterRow) -> tuple:
    return registration_args(row.meter, row.owner, row.method, row.rated_power_w, row.name, row.commissioning)


def _register_options(f):
    for opt in reversed([
        click.option("--commissioned-at", "at", default=None, help="when the registers were read (ISO 8601 UTC or epoch s; default: now)"),
        click.option("--generated", default=None, help="generated register at commissioning, kWh (default 0)"),
        click.option("--consumed", default=None, help="consumed register at commissioning, kWh"),
        click.option("--exported", default=None, help="exported register at commissioning, kWh"),
        click.option("--imported", default=None, help="imported register at commissioning, kWh"),
    ]):
        f = opt(f)
    return f


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter")
@click.argument("owner")
@click.option("--method", required=True, help="solar, wind, hydro, geothermal, biomass, or none (consumption only)")
@click.option("--rated-power", "rated_kw", required=True, help="the most power any register can move, kW")
@click.option("--name", required=True, help="the generator's name on its certificates (up to 64 bytes)")
@_register_options
@common
def register(network, meter, owner, method, rated_kw, name, at, generated, consumed, exported, imported, account_spec, verbose):
    """Register one meter for its owner (an address, test:N or an ape account alias); the owner then
    accepts it (`ape run trade accept-meter`)."""
    c = _open(network, account_spec, verbose)
    now = c.now()
    row = MeterRow(
        parse_address(meter, "meter"), address_or_account(owner, "owner"), parse_method(method),
        parse_kw_to_w(rated_kw), name, _registers(at, generated, consumed, exported, imported, now),
    )
    _check_row(c, row, now)
    s = c.operator()
    s.send(c.registry.register_meter, *_register_args(row), what="register_meter")
    click.echo(
        f"registered meter {row.meter} ({METHOD_NAMES[row.method]}, {row.rated_power_w / 1000:,.3f} kW, {row.name!r}) "
        f"for {row.owner}, commissioned {when(row.commissioning[0])}; it credits nothing until the owner accepts it"
    )


def read_meter_csv(path: Path, now: int, owner=address_or_account) -> list[tuple[str, MeterRow]]:
    """Every row parsed and checked, or one line naming the first bad row. The owner column takes what
    `register`'s OWNER takes (`owner`: an address, test:N or an ape account alias)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise Refused(f"cannot read {path}: {err.strerror}") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise Refused(f"{path} is empty")
    if [h.strip().lower() for h in header] != CSV_HEADER:
        raise Refused(f"{path}: the header must be exactly {','.join(CSV_HEADER)}")
    rows, seen = [], set()
    for n, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        where = f"{path}:{n}: "
        if len(cells) != len(CSV_HEADER):
            raise Refused(f"{where}{len(cells)} columns, not {len(CSV_HEADER)}")
        d = dict(zip(CSV_HEADER, (cell.strip() for cell in cells)))
        try:
            row = MeterRow(
                parse_address(d["address"], "meter"), owner(d["owner"], "owner"), parse_method(d["method"]),
                parse_kw_to_w(d["rated_power_kw"]), d["name"],
                _registers(d["commissioned_at"], d["generated_kwh"], d["consumed_kwh"], d["exported_kwh"], d["imported_kwh"], now),
            )
        except (Refused, UnitError) as err:
            raise Refused(f"{where}{err.format_message() if isinstance(err, Refused) else err}") from None
        if row.meter in seen:
            raise Refused(f"{where}meter {row.meter} appears twice")
        seen.add(row.meter)
        rows.append((where, row))
    if not rows:
        raise Refused(f"{path} has a header but no meters")
    return rows


@cli.command("register-csv", cls=ConnectedProviderCommand)
@click.argument("path", type=click.Path(path_type=Path))
@common
def register_csv(network, path, account_spec, verbose):
    """Register many meters from a CSV file; every row is checked and simulated before the first is sent."""
    from rich.progress import Progress

    c = _open(network, account_spec, verbose)
    now = c.now()
    rows = read_meter_csv(path, now)
    for where, row in rows:
        _check_row(c, row, now, where)
    s = c.operator()
    for where, row in rows:
        s.check(c.registry.register_meter, *_register_args(row), what=f"{where}register_meter")
    with Progress(console=tables.console(stderr=True), transient=True, disable=verbose) as progress:
        task = progress.add_task("registering meters", total=len(rows))
        for where, row in rows:
            s.send(c.registry.register_meter, *_register_args(row), what=f"{where}register_meter")
            progress.advance(task)
    by_method: dict[str, int] = {}
    for _, row in rows:
        by_method[METHOD_NAMES[row.method]] = by_method.get(METHOD_NAMES[row.method], 0) + 1
    kinds = ", ".join(f"{n} {m}" for m, n in sorted(by_method.items()))
    click.echo(f"registered {len(rows)} meters ({kinds}); each credits nothing until its owner accepts it")


def _known_meter(c: Operator, text: str):
    meter = parse_address(text, "meter")
    info = c.registry.meters(meter)
    if str(info.owner) == ZERO_ADDRESS:
        raise Refused(f"no meter {meter} is registered")
    return meter, info


def _set_active(network, meter, account_spec, verbose, active: bool):
    c = _open(network, account_spec, verbose)
    meter, info = _known_meter(c, meter)
    if bool(info.active) == active:
        raise Refused(f"meter {meter} is already {'active' if active else 'inactive'}")
    c.operator().send(c.registry.set_meter_active, meter, active, what="set_meter_active")
    click.echo(f"meter {meter} ({info.name}) is now {'active' if active else 'inactive: its readings are rejected (reason 2)'}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter")
@common
def deactivate(network, meter, account_spec, verbose):
    """Stop crediting a meter's readings (they are rejected with reason 2 until reactivated)."""
    _set_active(network, meter, account_spec, verbose, False)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter")
@common
def activate(network, meter, account_spec, verbose):
    """Credit a deactivated meter's readings again."""
    _set_active(network, meter, account_spec, verbose, True)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("old")
@click.argument("new")
@_register_options
@common
def rotate(network, old, new, at, generated, consumed, exported, imported, account_spec, verbose):
    """Move a meter's record to a new key (hardware replaced), with the new hardware's commissioning values."""
    c = _open(network, account_spec, verbose)
    old, info = _known_meter(c, old)
    new = parse_address(new, "new meter")
    if new == old:
        raise Refused("the new key is the old one")
    if str(c.registry.meters(new).owner) != ZERO_ADDRESS:
        raise Refused(f"meter {new} is already registered")
    regs = _registers(at, generated, consumed, exported, imported, c.now())
    c.operator().send(c.registry.rotate_meter_key, old, new, regs, what="rotate_meter_key")
    click.echo(
        f"meter {info.name!r} moved from {old} to {new}, commissioned {when(regs[0])}; "
        f"{old} is retired; the owner {info.owner} must accept the new key"
    )


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter")
@_register_options
@common
def recommission(network, meter, at, generated, consumed, exported, imported, account_spec, verbose):
    """Re-commission a meter with its same key (its counters on chain went ahead of the device: a device
    reset, or a typo that reached the chain): new commissioning values, the owner accepts again, and no
    reading signed before this ever counts (they are stale)."""
    c = _open(network, account_spec, verbose)
    meter, info = _known_meter(c, meter)
    regs = _registers(at, generated, consumed, exported, imported, c.now())
    c.operator().send(c.registry.recommission_meter, meter, regs, what="recommission_meter")
    click.echo(
        f"meter {info.name!r} ({meter}) re-commissioned at {when(regs[0])}; readings signed before now are stale; "
        f"the owner {info.owner} must accept it again (`ape run trade accept-meter {meter}`)"
    )


# ---------------------------------------------------------------- parameters with notice


@dataclass(frozen=True)
class Param:
    contract: str  # attribute of Operator
    thing: str  # announce_<thing> / apply_<thing>
    param_id: str  # the contract's PARAM_<...> constant for pending_change
    args: tuple[str, ...]  # what is typed, with its unit
    help: str


PARAMS = {
    "rent-rate": Param("watt", "rent_rate", "PARAM_RENT_RATE", ("TSL per kWh per day",), "storage rent"),
    "grace-period": Param("watt", "rent_grace_period", "PARAM_RENT_GRACE_PERIOD", ("duration, e.g. 7d",), "time in arrears before release"),
    "release-price": Param("watt", "release_price", "PARAM_RELEASE_PRICE", ("TSL per kWh",), "TSL per kWh credited against arrears on release"),
    "capacity": Param("watt", "capacity_wh", "PARAM_CAPACITY", ("kWh",), "the shared battery's usable size"),
    "fees": Param("ex", "fees", "PARAM_FEES", ("maker bps", "taker bps"), "exchange fees in basis points"),
    "price-band": Param("ex", "price_band", "PARAM_PRICE_BAND", ("floor per kWh", "ceiling per kWh"), "feed-in .. retail price band"),
    "min-order": Param("ex", "min_order_wh", "PARAM_MIN_ORDER", ("kWh",), "the smallest order that may rest"),
    "cert-fees": Param("cx", "fees", "PARAM_FEES", ("maker bps", "taker bps"), "certificate market fees in basis points"),
    "cert-price-band": Param("cx", "price_band", "PARAM_PRICE_BAND", ("floor per kWh", "ceiling per kWh"), "certificate market price band"),
    "cert-min-order": Param("cx", "min_order_wh", "PARAM_MIN_ORDER", ("kWh",), "the smallest certificate order that may rest"),
    "clock-skew": Param("registry", "max_clock_skew", "PARAM_MAX_CLOCK_SKEW", ("duration, e.g. 300s",), "how far a reading may lie ahead of block time"),
}


def _param_values(c: Operator, name: str, values: tuple[str, ...]) -> list[int]:
    p = PARAMS[name]
    if len(values) != len(p.args):
        raise Refused(f"{name} takes {len(p.args)} value(s): {', '.join(p.args)}")
    if name in ("rent-rate", "release-price"):
        return [parse_token(values[0], 18, "TSL/kWh")] if values[0].strip() not in ("0",) else [0]
    if name == "grace-period" or name == "clock-skew":
        return [parse_duration_s(values[0])]
    if name in ("capacity", "min-order", "cert-min-order"):
        return [parse_energy_wh(values[0])]
    if name in ("fees", "cert-fees"):
        out = []
        for v in values:
            if not v.strip().isdigit():
                raise Refused(f"a fee is a whole number of basis points, not {v!r}")
            out.append(int(v))
        return out
    return [parse_price(v, c.qdec, c.qsym) for v in values]


def _show_value(c: Operator, name: str, values) -> str:
    if name in ("rent-rate", "release-price"):
        return f"{tsl(values[0], 6)} per kWh" + (" per day" if name == "rent-rate" else "")
    if name in ("grace-period", "clock-skew"):
        return duration(values[0])
    if name in ("capacity", "min-order", "cert-min-order"):
        return kwh(values[0])
    if name in ("fees", "cert-fees"):
        return f"maker {values[0]} bps, taker {values[1]} bps"
    digits = tick_digits(int(c.cx.TICK()), c.qdec) if name == "cert-price-band" else None
    return f"{price(values[0], c.qdec, c.qsym, digits)} .. {price(values[1], c.qdec, c.qsym, digits)}"


def _current(c: Operator, name: str) -> list[int]:
    contract = getattr(c, PARAMS[name].contract)
    return {
        "rent-rate": lambda: [contract.rent_rate()],
        "grace-period": lambda: [contract.rent_grace_period()],
        "release-price": lambda: [contract.release_price()],
        "capacity": lambda: [contract.capacity_wh()],
        "fees": lambda: [contract.maker_fee_bps(), contract.taker_fee_bps()],
        "price-band": lambda: [contract.floor_price(), contract.ceiling_price()],
        "min-order": lambda: [contract.min_order_wh()],
        "cert-fees": lambda: [contract.maker_fee_bps(), contract.taker_fee_bps()],
        "cert-price-band": lambda: [contract.floor_price(), contract.ceiling_price()],
        "cert-min-order": lambda: [contract.min_order_wh()],
        "clock-skew": lambda: [contract.max_clock_skew()],
    }[name]()


def _pending(c: Operator, name: str) -> tuple[list[int], int] | None:
    """The announced values and the time they may apply, or None."""
    p = PARAMS[name]
    contract = getattr(c, p.contract)
    value, effective_at = contract.pending_change(getattr(contract, p.param_id)())
    if not effective_at:
        return None
    if len(p.args) == 2:  # two values packed by the contract: the first in the low 128 bits
        return [int(value) & (2**128 - 1), int(value) >> 128], int(effective_at)
    return [int(value)], int(effective_at)


def _param_name(name: str) -> str:
    if name not in PARAMS:
        raise Refused(f"unknown parameter {name!r} (one of: {', '.join(PARAMS)})")
    return name


@cli.command(cls=ConnectedProviderCommand)
@click.argument("name")
@click.argument("values", nargs=-1)
@common
def announce(network, name, values, account_spec, verbose):
    """Announce a parameter change; it may apply once the notice period (NOTICE_S) is over."""
    c = _open(network, account_spec, verbose)
    name = _param_name(name)
    p = PARAMS[name]
    parsed = _param_values(c, name, values)
    contract = getattr(c, p.contract)
    fn = f"announce_{p.thing}"
    receipt = c.operator().send(getattr(contract, fn), *parsed, what=fn)
    effective_at = None
    for log in receipt.decode_logs():
        if log.event_name.endswith("Announced") and "effective_at" in log.event_arguments:
            effective_at = int(log.event_arguments["effective_at"])
    if effective_at is None:
        effective_at = c.now() + int(contract.NOTICE_S())
    click.echo(
        f"announced {name} = {_show_value(c, name, parsed)} (now {_show_value(c, name, _current(c, name))}); "
        f"it may apply from {when(effective_at)}: `ape run operator apply {name}`"
    )


@cli.command("apply", cls=ConnectedProviderCommand)
@click.argument("name")
@common
def apply_(network, name, account_spec, verbose):
    """Apply an announced parameter change whose notice is over."""
    c = _open(network, account_spec, verbose)
    name = _param_name(name)
    p = PARAMS[name]
    contract = getattr(c, p.contract)
    fn = f"apply_{p.thing}"
    pending = _pending(c, name)
    if pending is not None and c.now() < pending[1]:
        raise Refused(f"{name} = {_show_value(c, name, pending[0])} may apply only from {when(pending[1])}")
    before = _current(c, name)
    c.operator().send(getattr(contract, fn), what=fn)
    click.echo(f"{name}: {_show_value(c, name, before)} -> {_show_value(c, name, _current(c, name))}")


@cli.command(cls=ConnectedProviderCommand)
@common
def params(network, account_spec, verbose):
    """Every parameter that can cost members value: in force, and any announced change with its time."""
    c = _open(network, account_spec, verbose)
    table = tables.table("parameters (changes apply only after their notice)", "parameter", "in force", "announced",
                         "applies from")
    for name in PARAMS:
        pending = _pending(c, name)
        table.add_row(name, _show_value(c, name, _current(c, name)),
                      _show_value(c, name, pending[0]) if pending else "-", when(pending[1]) if pending else "-")
    tables.show(table)
    tables.show(f"notice period {duration(int(c.watt.NOTICE_S()))}")


# ---------------------------------------------------------------- TSL, arrears, revenue, pause


@cli.command("mint-tsl", cls=ConnectedProviderCommand)
@click.argument("member")
@click.argument("amount")
@common
def mint_tsl(network, member, amount, account_spec, verbose):
    """Mint AMOUNT TSL (storage-rent token) to a member (an address, test:N or an ape account alias)."""
    c = _open(network, account_spec, verbose)
    who = address_or_account(member, "member")
    units = parse_token(amount, 18, "TSL")
    c.operator().send(c.tsl.mint, who, units, what="TSL mint")
    click.echo(f"minted {tsl(units)} to {who} (balance {tsl(c.tsl.balanceOf(who))})")


def _accounts_with_watt(c: Operator) -> list[str]:
    seen: dict[str, None] = {}
    for log in c.watt.Transfer.range(0, c.head().number + 1):
        if str(log.receiver) != ZERO_ADDRESS:
            seen[str(log.receiver)] = None
    return list(seen)


@cli.command(cls=ConnectedProviderCommand)
@click.option("--settle", is_flag=True, help="record the arrears of accounts whose deposit ran dry (starts their grace period)")
@click.option("--release", is_flag=True, help="release the storage of every account past its grace period")
@click.option("--wide", is_flag=True, help="whole addresses (wider than 100 columns)")
@common
def arrears(network, settle, release, wide, account_spec, verbose):
    """Accounts whose rent deposit ran dry. Arrears are recorded when an account is touched (--settle does
    it); once recorded for the grace period, --release burns just enough of its WATT to pay them."""
    c = _open(network, account_spec, verbose)
    now = c.now()
    grace = int(c.watt.rent_grace_period())
    recorded, unrecorded = [], []
    for who in _accounts_with_watt(c):
        owed, since = c.watt.arrears_of(who)
        if owed:
            recorded.append((who, int(owed), int(since)))
        elif int(c.watt.storage_paid_until(who)) < now:
            unrecorded.append((who, int(c.watt.rent_due(who)), int(c.watt.storage_paid_until(who))))
    if not recorded and not unrecorded:
        if settle or release:
            raise Refused("no account is in arrears")
        click.echo("no account is in arrears")
        return
    # refusals first: a refused command prints nothing but its one line
    if settle and not unrecorded:
        raise Refused("every account in arrears is recorded already")
    due = [(who, owed) for who, owed, since in recorded if now >= since + grace]
    if release and not due:
        raise Refused("no account is past its grace period yet")
    s = c.sender  # anyone may settle and release; every call simulated before anything is printed or sent
    for who, _, _ in unrecorded if settle else ():
        s.check(c.watt.settle_rent, who, what=f"settle_rent({who})")
    for who, _ in due if release else ():
        s.check(c.watt.release_unpaid, who, what=f"release_unpaid({who})")
    addr = str if wide else short
    table = tables.table(f"accounts in arrears (grace period {duration(grace)})", "account", "arrears", "ran dry",
                         "releasable from", "WATT stored", right=("arrears", "WATT stored"))
    for who, owed, since in recorded:
        table.add_row(addr(who), tsl(owed, 6), when(since), "now" if now >= since + grace else when(since + grace),
                      kwh(c.watt.balanceOf(who) + c.watt.escrowed_of(who)))
    for who, owed, dry in unrecorded:
        table.add_row(addr(who), tsl(max(owed, 0), 6), when(dry), "not recorded yet (--settle)",
                      kwh(c.watt.balanceOf(who) + c.watt.escrowed_of(who)))
    tables.show(table, wide=wide)
    if settle:
        for who, _, _ in unrecorded:
            s.send(c.watt.settle_rent, who, what=f"settle_rent({who})")
            owed, since = c.watt.arrears_of(who)
            click.echo(f"recorded {tsl(int(owed), 6)} of arrears of {who}; releasable from {when(int(since) + grace)}")
    if not release:
        return
    for who, owed in due:
        receipt = s.send(c.watt.release_unpaid, who, what=f"release_unpaid({who})")
        left = int(c.watt.arrears_of(who)[0])
        for ev in receipt.decode_logs(c.watt.StorageReleased):
            click.echo(f"released {kwh(ev.wh)} of {who}, paying {tsl(ev.tsl, 6)} of its arrears"
                       + (f"; {tsl(left, 6)} remain (it stores nothing more)" if left else "; none remain"))


@cli.command(cls=ConnectedProviderCommand)
@common
def collect(network, account_spec, verbose):
    """Send collected storage rent and both markets' fees to the treasury."""
    c = _open(network, account_spec, verbose)
    s = c.operator()
    rent, fees, cert_fees = int(c.watt.rent_revenue()), int(c.ex.fees_accrued()), int(c.cx.fees_accrued())
    if not rent and not fees and not cert_fees:
        raise Refused("nothing to collect: no rent revenue and no market fees")
    if rent:
        s.send(c.watt.claim_rent_revenue, what="claim_rent_revenue")
        click.echo(f"rent revenue {tsl(rent, 6)} sent to the treasury {c.watt.treasury()}")
    if fees:
        s.send(c.ex.claim_fees, what="claim_fees")
        click.echo(f"exchange fees {_q(c, fees)} sent to the treasury {c.ex.treasury()}")
    if cert_fees:
        s.send(c.cx.claim_fees, what="claim_fees")
        click.echo(f"certificate market fees {token(cert_fees, c.qdec, c.qsym, 6)} sent to the treasury {c.cx.treasury()}")


def _q(c: Operator, units: int) -> str:
    return token(units, c.qdec, c.qsym)


# the pausable contracts (WATT is not: transfers, rent and escrow releases always work)
PAUSABLE = {"registry": "registry", "exchange": "ex", "certificate-market": "cx"}


def _pause(network, which, account_spec, verbose, on: bool):
    c = _open(network, account_spec, verbose)
    if which not in (*PAUSABLE, "all"):
        raise Refused(f"unknown contract {which!r} ({', '.join(PAUSABLE)} or all)")
    targets = list(PAUSABLE) if which == "all" else [which]
    s = c.operator()
    fn = "pause" if on else "unpause"
    plan, already = [], []
    for name in targets:
        contract = getattr(c, PAUSABLE[name])
        if bool(contract.paused()) == on:
            already.append(name)
            continue
        s.check(getattr(contract, fn), what=f"{name}.{fn}")
        plan.append((name, getattr(contract, fn)))
    if not plan and which != "all":
        raise Refused(f"{which} is already {'paused' if on else 'running'}")
    for name in already:
        click.echo(f"{name} is already {'paused' if on else 'running'}")
    for name, method in plan:
        s.send(method, what=f"{name}.{fn}")
        click.echo(f"{name} {'paused: no new readings or orders; withdrawals, cancels and claims still work' if on else 'running again'}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("which", default="all")
@common
def pause(network, which, account_spec, verbose):
    """Pause the registry, the exchange, the certificate market, or all (withdrawals, cancels and claims keep working)."""
    _pause(network, which, account_spec, verbose, True)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("which", default="all")
@common
def unpause(network, which, account_spec, verbose):
    """Undo `pause`."""
    _pause(network, which, account_spec, verbose, False)


# ---------------------------------------------------------------- status


@cli.command(cls=ConnectedProviderCommand)
@click.option("--wide", is_flag=True, help="whole addresses (wider than 100 columns)")
@common
def status(network, wide, account_spec, verbose):
    """Every meter: name, owner, method, whether its owner accepted it and it is active, last reading,
    rejected readings and the last reason."""
    c = _open(network, account_spec, verbose)
    end = c.head().number + 1
    meters: dict[str, None] = {}
    for log in c.registry.MeterRegistered.range(0, end):
        meters[str(log.meter)] = None
    for log in c.registry.MeterKeyRotated.range(0, end):
        meters[str(log.new_meter)] = None
        meters.pop(str(log.old_meter), None)
    rejects: dict[str, list] = {}
    for log in c.registry.ReadingRejected.range(0, end):
        rejects.setdefault(str(log.meter), []).append((int(log.timestamp), int(log.reason)))
    addr = str if wide else short
    table = tables.table(f"{len(meters)} meters", "meter", "name", "owner", "method", "kW", "state",
                         "last reading (UTC)", "rejects", right=("kW", "rejects"))
    last_rejects = []
    for m in meters:
        info = c.registry.meters(m)
        last = c.registry.last_reading(m)
        rj = rejects.get(m, [])
        state = "not accepted" if not info.accepted else ("active" if info.active else "inactive")
        table.add_row(
            addr(m), info.name, addr(str(info.owner)), METHOD_NAMES.get(int(info.method), str(info.method)),
            f"{info.rated_power_w / 1000:,.1f}", state,
            when(int(last.timestamp)).removesuffix(" UTC") if last.has_baseline else "none yet", str(len(rj)),
        )
        if rj:
            last_rejects.append(f"{addr(m)} ({info.name}): last reject {REJECT_REASONS.get(rj[-1][1], rj[-1][1])} "
                                f"at {when(rj[-1][0])}")
    tables.show(table, wide=wide)
    for line in last_rejects:
        tables.show(line)
    if any(not c.registry.meters(m).accepted for m in meters):
        tables.show("not accepted: the owner must accept the meter (`ape run trade accept-meter METER`) before it credits")
    paused = [n for n, a in PAUSABLE.items() if getattr(c, a).paused()]
    tables.show(f"paused: {', '.join(paused)}" if paused else "nothing is paused")


# ---------------------------------------------------------------- local chains: faucet, accounts, time


@cli.command(cls=ConnectedProviderCommand)
@click.argument("address")
@click.option("--eth", default="10", show_default=True, help="ETH for gas")
@click.option("--tsl", "tsl_amount", default="100", show_default=True, help="TSL, minted by the operator")
@click.option("--quote", default="500", show_default=True, help="mock stablecoin, minted")
@common
def faucet(network, address, eth, tsl_amount, quote, account_spec, verbose):
    """Local chains only: fund a payer or a member (an address, test:N or an ape account alias) with ETH,
    TSL and the mock stablecoin."""
    c = _open(network, account_spec, verbose)
    if not c.is_local:
        raise Refused(f"the faucet works on local chains only, not on {network.ecosystem.name}:{network.name}")
    who = address_or_account(address, "the recipient")
    wei = parse_token(eth, 18, "ETH") if eth.strip() != "0" else 0
    t = parse_token(tsl_amount, 18, "TSL") if tsl_amount.strip() != "0" else 0
    q = parse_token(quote, c.qdec, c.qsym) if quote.strip() != "0" else 0
    s = c.operator()
    if wei:
        if s.account.balance < wei:
            raise Refused(f"the operator holds less than {eth} ETH")
        s.unlock()
        receipt = s.account.transfer(who, wei)
        if verbose:
            click.echo(f"  tx {receipt.txn_hash} ETH transfer")
    if t:
        s.send(c.tsl.mint, who, t, what="TSL mint")
    if q:
        s.send(c.quote.mint, who, q, what=f"{c.qsym} mint")
    from ape import chain

    bal = chain.provider.get_balance(who)
    click.echo(
        f"{who} now holds {bal / 1e18:,.4f} ETH, {tsl(c.tsl.balanceOf(who))}, {_q(c, c.quote.balanceOf(who))}"
    )


@cli.command(cls=ConnectedProviderCommand)
@click.option("--count", type=click.IntRange(1, 1_000), default=10, show_default=True, help="how many to list")
@verbose_option
def accounts(network, count, verbose):
    """Local chains only: the funded test accounts (`test:N` in every command) and their addresses."""
    from ape import accounts as ape_accounts
    from ape import chain

    c = CliContext.open(network, verbose)
    if not c.is_local:
        raise Refused(f"test accounts exist on local chains only, not on {network.ecosystem.name}:{network.name}")
    test = ape_accounts.test_accounts
    table = tables.table("local test accounts (test:0 deployed the contracts: the operator)", "account", "address", "ETH",
                         right=("ETH",))
    for i in range(min(count, len(test))):
        a = test[i]
        table.add_row(f"test:{i}", str(a.address), f"{chain.provider.get_balance(a.address) / 1e18:,.4f}")
    tables.show(table)


@cli.command("advance-time", cls=ConnectedProviderCommand)
@click.argument("by", metavar="DURATION")
@verbose_option
def advance_time(network, by, verbose):
    """Local chains only: move the chain's clock DURATION ahead (e.g. 600, 90min, 1h, 7d) and mine a block then."""
    c = CliContext.open(network, verbose)
    seconds = parse_duration_s(by)
    if seconds == 0:
        raise Refused("the duration must be more than 0 s")
    before = c.now()
    after = c.advance_time(seconds)
    click.echo(f"chain time {when(before)} -> {when(after)} (block {c.head().number})")
