"""Environmental-value certificates from the command line.

    ape run certificates list [--holder ADDR]        --network ethereum:local:foundry
    ape run certificates show ID                     (its data and its per-slot profile: Wh generated, claimed, left)
    ape run certificates issue METER [--no-profile | --months N] --account ALIAS
    ape run certificates transfer ID TO KWH --account ALIAS
    ape run certificates claim ID KWH --beneficiary ADDR --purpose TEXT --account ALIAS
    ape run certificates claim ID KWH --slots FROM..TO --beneficiary ADDR --purpose TEXT --account ALIAS
    ape run certificates matching BENEFICIARY --meter METER      (its consumption per slot against green Wh: the 24/7 score)
    ape run certificates metadata --out DIR           (ERC-1155 metadata JSON files for uri(id))

The certificate market (CertificateExchange: units against the quote token, price per kWh):

    ape run certificates market classes                           (classes with orders: best bid and ask)
    ape run certificates market book METHOD VINTAGE [--levels 10]
    ape run certificates market sell ID PRICE KWH [--ioc | --post-only] [--expires-in 2h] --account ALIAS
    ape run certificates market buy METHOD VINTAGE PRICE KWH [--ioc | --post-only] [--expires-in 2h] --account ALIAS
    ape run certificates market buy-and-claim METHOD VINTAGE MAX_PRICE KWH --beneficiary ADDR --purpose TEXT --account ALIAS
    ape run certificates market cancel ORDER_ID --account ALIAS
    ape run certificates market orders (--account ALIAS | --owner ADDR)
    ape run certificates market withdraw --account ALIAS          (proceeds, and units credited to you)

METHOD is solar, wind, hydro, geothermal or biomass; VINTAGE the UTC month of a certificate's period
end, 2026-06 or 202606. An ask sells units of one certificate id; a bid names a class (method and
vintage) and buys from any ask of it, cheapest first.

Per slot: `issue` gives the certificate its 30-minute profile, built from the meter's accepted
readings under every key it had (a rotated meter's retired keys included; a reading's Wh belong to
the slot of its last second); a period over a month end becomes one certificate per month. A period
too long for one profile (a member who has not issued for over 66 days) is issued one month at a
time, oldest first, one transaction each with a progress line; `--months N` issues only the oldest N
months and leaves the rest pending. `claim --slots FROM..TO` (UTC, e.g. 2026-06-10T17:00..2026-06-10T19:00) is a
time-matched claim: KWH drawn from those slots, earliest first, never beyond what a slot has left.

Amounts are kWh (1 certificate unit = 1 Wh; "250 Wh" with a suffix). Bad input (an unknown id, a
name where an address belongs, more than held, a revoked or expired id) is one line on stderr and
exit status 2 with nothing sent; `issue` and the rest are simulated first and refused with the
contract's reason (e.g. an account that is not the meter's owner: only the owner issues).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand

from gridmint.generated.contracts import CLOSE_FILLED
from gridmint.market import quote_for
from gridmint.metadata import certificate_metadata, id_hex, is_expired, status
from gridmint.units import (
    CLOSE_REASONS, certificate_class, kwh, parse_duration_s, parse_energy_wh, parse_price, parse_renewable_method,
    parse_vintage, price, tick_digits, token, when,
)

from . import tables
from .addresses import ZERO_ADDRESS, address_or_account, parse_address
from .context import LANDING_MARGIN_S, CliContext
from .errors import Group, Refused
from .orders import own_open_order
from .options import account_option, order_options, verbose_option


class Certs(CliContext):
    """The certificate contract, the registry, and the certificate market with the quote token."""

    cert = property(lambda self: self.contract("EnvironmentalCertificate"))
    registry = property(lambda self: self.contract("MeterRegistry"))


def _cert(network, verbose=False, account_spec=None) -> Certs:
    return Certs.open(network, verbose, account_spec)


def _id(text) -> int:
    if not str(text).isdigit():
        raise Refused(f"not a certificate id: {text!r}")
    return int(text)


def _get(cert, id):
    if not 1 <= id < cert.next_id():
        ids = f"ids run 1..{cert.next_id() - 1}" if cert.next_id() > 1 else "none issued yet"
        raise Refused(f"no certificate #{id} ({ids})")
    return cert.certificate(id)


def _check_usable(ctx: CliContext, c, id):
    """Refuses a revoked certificate, and one expired by the time the transaction lands."""
    if c.revoked:
        raise Refused(f"certificate #{id} is revoked")
    # the one expiry rule: live while block time < expires_at
    if is_expired(c.expires_at, ctx.landing_time()):
        expired = "expired" if is_expired(c.expires_at, ctx.now()) else "expires"
        raise Refused(f"certificate #{id} {expired} on {when(int(c.expires_at))}")


def _holder_of(ctx: Certs, id, wh):
    """The sending account, if it holds at least `wh` Wh of `id`; a clear error otherwise."""
    cert = ctx.cert
    c = _get(cert, id)
    _check_usable(ctx, c, id)
    sender = ctx.sender
    held = cert.balanceOf(sender.address, id)
    if wh > held:
        raise Refused(f"you hold {kwh(held)} of certificate #{id}, not {kwh(wh)}")
    return sender


@click.group(cls=Group)
def cli():
    """Issue, move, claim and inspect certificates."""


@cli.command("list", cls=ConnectedProviderCommand)
@click.option("--holder", default=None, help="also show this address's balance of each id")
@verbose_option
def list_(network, holder, verbose):
    """Every certificate: generator, method, period, kWh issued / outstanding / claimed, status."""
    ctx = _cert(network, verbose)
    cert = ctx.cert
    holder = address_or_account(holder, "--holder") if holder else None
    now = ctx.now()
    cols = ["id", "generator", "method", "period (UTC)", "kWh issued/left/claimed", "status"]
    if holder:
        cols.append("held kWh")
    table = tables.table("certificates", *cols, right=("id", "kWh issued/left/claimed", "held kWh"))
    for id in range(1, cert.next_id()):
        c = cert.certificate(id)
        meta = certificate_metadata(id, c, now)["properties"]
        start, end = meta["period_start"].replace("T", " ")[:16], meta["period_end"].replace("T", " ")[:16]
        row = [
            str(id),
            c.generator_name,
            meta["method"],
            f"{start} → {end[11:] if end[:10] == start[:10] else end}",
            f"{c.amount_wh / 1000:.3f}/{c.outstanding_wh / 1000:.3f}/{c.claimed_wh / 1000:.3f}",
            status(c, now),
        ]
        if holder:
            row.append(f"{cert.balanceOf(holder, id) / 1000:.3f}")
        table.add_row(*row)
    tables.show(table)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id")
@verbose_option
def show(network, id, verbose):
    """One certificate's data (its ERC-1155 metadata JSON)."""
    ctx = _cert(network, verbose)
    id = _id(id)
    c = _get(ctx.cert, id)
    tables.console().print_json(json.dumps(certificate_metadata(id, c, ctx.now())))
    first, last, profiled = ctx.cert.slots_of(id)
    if not profiled:
        click.echo(f"certificate #{id} has no per-slot profile (plain claims only)")
        return
    from gridmint import profile as P

    slot_s = int(ctx.cert.SLOT_S())
    issued = _profile_of(ctx, id)
    left = _unclaimed_of(ctx, id)
    table = tables.table(f"certificate #{id}: Wh per {slot_s // 60}-minute slot (UTC)", "slot", "generated Wh",
                         "claimed Wh", "left Wh", right=("generated Wh", "claimed Wh", "left Wh"))
    for slot in range(first, last + 1):
        wh = issued.get(slot, 0)
        if wh:
            table.add_row(when(slot * slot_s), str(wh), str(wh - left.get(slot, 0)), str(left.get(slot, 0)))
    tables.show(table)
    click.echo(f"vintage {ctx.cert.vintage(id)}; {sum(issued.values())} Wh in {len(issued)} slots; "
               f"commitment {'matches' if ctx.cert.profile_commitment(id) == P.commitment(id, P.pack(first, last, left)) else 'DIFFERS from'} the events")


def _logs(ctx: Certs, name: str, **topics) -> list[dict]:
    """Decoded events of the certificate or registry contract (by name), as argument dicts in chain order."""
    contract = ctx.cert if hasattr(ctx.cert, name) else ctx.registry
    head = int(ctx.head().number)
    return [dict(log.event_arguments) for log in getattr(contract, name).range(0, head + 1, search_topics=topics or None)]


def _history(ctx: Certs, meter: str):
    """The meter's accepted readings under every key it had (gridmint/meter_history.py): a retired
    key's readings ride along to its successor, as the registry carries their Wh."""
    from gridmint.meter_history import MeterHistory, lineage_keys

    def rotated_from(key):
        got = _logs(ctx, "MeterKeyRotated", new_meter=key)
        return got[0]["old_meter"] if got else None

    history = MeterHistory()
    keys = lineage_keys(meter, rotated_from)
    for old, new in zip(keys, keys[1:]):
        history.rotated(old, new)
    for key in keys:
        for e in _logs(ctx, "ReadingAccepted", meter=key):
            history.apply("ReadingAccepted", e)
    return history


def _profile_of(ctx: Certs, id: int) -> dict[int, int]:
    from gridmint import profile as P

    logs = _logs(ctx, "CertificateProfile", id=id)
    if not logs:
        raise Refused(f"certificate #{id} has no CertificateProfile event")
    return P.unpack(int(logs[0]["first_slot"]), [int(w) for w in logs[0]["slot_wh"]])


def _unclaimed_of(ctx: Certs, id: int) -> dict[int, int]:
    from gridmint.matching import unclaimed_from_events

    profiles = [{"id": id, **e} for e in _logs(ctx, "CertificateProfile", id=id)]
    claims = [{"id": id, **e} for e in _logs(ctx, "ClaimedSlots", id=id)]
    return unclaimed_from_events(profiles, claims).get(id, {})


@cli.command(cls=ConnectedProviderCommand)
@click.argument("meter")
@click.option("--no-profile", is_flag=True, help="issue without the per-slot profile (one month only; plain claims only)")
@click.option("--months", type=click.IntRange(min=1), default=None,
              help="issue only the oldest N calendar months of the pending period (default: all of it)")
@account_option
@verbose_option
def issue(network, meter, no_profile, months, account_spec, verbose):
    """Certify a meter's renewable generation since its last issuance, with its per-slot profile (the meter's owner).

    A period too long for one profile (over 66 days of 30-minute slots) is issued one month at a
    time, oldest first, one transaction per month, until all of it (or --months N of it) is issued."""
    ctx = _cert(network, verbose, account_spec)
    cert, registry = ctx.cert, ctx.registry
    meter = parse_address(meter, "meter")
    if str(registry.meters(meter).owner) == ZERO_ADDRESS:
        raise Refused(f"no meter {meter} is registered")
    sender = ctx.sender
    wh, start, end = registry.certifiable(meter)
    if wh == 0:
        raise Refused(f"meter {meter} has no certifiable generation to issue")
    if no_profile:
        if months is not None:
            raise Refused("--months needs the per-slot profile: drop --no-profile")
        _report_issued(cert, sender.send(cert.issue, meter, what="issue"))
        return
    from gridmint import profile as P

    slot_s = int(cert.SLOT_S())
    wanted = P.months_touched(int(start), int(end), slot_s) if months is None else months
    slot_wh, read_until, done = {}, None, 0
    while wh and done < wanted:
        start, end = int(start), int(end)
        if read_until != end:  # the meter's readings (every key's) up to the period's end, again if new ones came in
            readings = _history(ctx, meter).generated(meter, start, end)
            slot_wh, read_until = _less_stored(ctx, meter, P.profile_from_readings(readings, slot_s), start, end), end
        touched = P.months_touched(start, end, slot_s)
        until = P.next_part_end(start, end, slot_s)
        if not until and touched > wanted - done:
            until = P.month_of(P.slot_range(start, end, slot_s)[0] * slot_s)[2]  # --months: the oldest month only
        month = P.month_of(start if until else end - 1)[0]
        if until or done:
            click.echo(f"month {done + 1} of {min(wanted, done + touched)}: issuing "
                       f"{when(start)} .. {when(until or end)}" + (" (the rest stays pending)" if until else ""))
        if until:
            words = P.issue_words(start, until, slot_wh, slot_s)
            tx = sender.send(cert.issue, meter, words, until, what=f"issue {month // 100}-{month % 100:02d}")
            if not _report_issued(cert, tx):
                click.echo(f"  no generation credited in it: the pending period now starts {when(until)}")
            done += 1
        else:
            words = P.issue_words(start, end, slot_wh, slot_s)
            if len(words) > P.MAX_PROFILE_WORDS:  # never: next_part_end cuts a period longer than this
                raise Refused(f"the period since the last issuance is too long for one profile ({len(words)} words)")
            _report_issued(cert, sender.send(cert.issue, meter, words, what="issue"))
            done += touched
        wh, start, end = registry.certifiable(meter)
    if wh:
        click.echo(f"{kwh(int(wh))} stay pending, {when(int(start))} .. {when(int(end))}: "
                   f"`certificates issue {meter}` issues the rest")


def _less_stored(ctx, meter: str, slot_wh: dict[int, int], start: int, end: int) -> dict[int, int]:
    """The generation per slot less what the battery stored of it (issue 26): the StorageLedger took those Wh
    from the meter's certifiable generation, so the profile leaves them out (it then sums to `certifiable`)."""
    if not ctx.has("StorageLedger"):
        return slot_wh
    from gridmint.storage_day import stored_profile
    from gridmint.storage_ledger import less_stored

    from .storage import storage_chain

    stored = stored_profile(storage_chain(ctx), meter, start, end)
    try:
        return less_stored(slot_wh, stored) if stored else slot_wh
    except ValueError as err:
        raise Refused(f"the battery's takes do not fit meter {meter}'s generation: {err}") from None


def _report_issued(cert, tx) -> int:
    """Prints each certificate a receipt issued; returns how many."""
    issued = list(tx.decode_logs(cert.CertificateIssued))
    for ev in issued:
        click.echo(f"issued certificate #{ev.id}: {kwh(ev.amount_wh)} generated {when(int(ev.period_start))} .. "
                   f"{when(int(ev.period_end))}, vintage {cert.vintage(ev.id)}, to {ev.generator}")
    return len(issued)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id")
@click.argument("to")
@click.argument("amount", metavar="KWH")
@account_option
@verbose_option
def transfer(network, id, to, amount, account_spec, verbose):
    """Move KWH of certificate ID to another address (or test:N, or an ape account alias)."""
    ctx = _cert(network, verbose, account_spec)
    id, to, wh = _id(id), address_or_account(to, "recipient"), parse_energy_wh(amount)
    sender = _holder_of(ctx, id, wh)
    sender.send(ctx.cert.safeTransferFrom, sender.address, to, id, wh, b"", what="safeTransferFrom")
    click.echo(f"moved {kwh(wh)} of certificate #{id} to {to}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("id")
@click.argument("amount", metavar="KWH")
@click.option("--beneficiary", required=True, help="the address of the consumer the zero-carbon claim is for")
@click.option("--purpose", required=True, help="what the claim covers (up to 128 bytes)")
@click.option("--slots", default=None, metavar="FROM..TO",
              help="a time-matched claim from these slots (UTC times, e.g. 2026-06-10T17:00..2026-06-10T19:00)")
@account_option
@verbose_option
def claim(network, id, amount, beneficiary, purpose, slots, account_spec, verbose):
    """Retire KWH of certificate ID for a beneficiary: the proof of zero-carbon consumption."""
    if len(purpose.encode()) > 128:
        raise Refused("the purpose is limited to 128 bytes")
    ctx = _cert(network, verbose, account_spec)
    id, wh = _id(id), parse_energy_wh(amount)
    beneficiary = address_or_account(beneficiary, "beneficiary")
    sender = _holder_of(ctx, id, wh)
    if slots is None:
        sender.send(ctx.cert.claim, id, wh, beneficiary, purpose, what="claim")
        click.echo(f"claimed {kwh(wh)} of certificate #{id} for {beneficiary}: {purpose}")
        return
    from gridmint import matching

    first, last, profiled = ctx.cert.slots_of(id)
    if not profiled:
        raise Refused(f"certificate #{id} has no per-slot profile: claim it without --slots")
    slot_s = int(ctx.cert.SLOT_S())
    lo, hi = _slot_window(slots, slot_s)
    lo, hi = max(lo, first), min(hi, last)
    left = _unclaimed_of(ctx, id)
    window = {s: w for s, w in left.items() if lo <= s <= hi and w > 0}
    if sum(window.values()) < wh:
        raise Refused(f"those slots of certificate #{id} have {kwh(sum(window.values()))} left, not {kwh(wh)}")
    need, rest = {}, wh
    for s in sorted(window):  # earliest first
        need[s] = min(window[s], rest)
        rest -= need[s]
        if not rest:
            break
    plan = matching.plan_slot_claims(need, {id: left}, {id: wh})
    txs = matching.claim_by_slot(_SendingCert(ctx.cert, sender), None, beneficiary, plan, {id: left}, purpose)
    (ev,) = txs[0].decode_logs(ctx.cert.ClaimedSlots)
    click.echo(f"claimed {kwh(ev.amount)} of certificate #{id} for {beneficiary} in {len(plan[id])} slot{'s' if len(plan[id]) != 1 else ''} "
               f"from {when(min(plan[id]) * slot_s)} to {when((max(plan[id]) + 1) * slot_s)}: {purpose}")


class _SendingCert:
    """The certificate contract as matching.claim_by_slot calls it, each write simulated and sent by `sender`."""

    def __init__(self, cert, sender):
        self._cert, self._sender = cert, sender

    def slots_of(self, id):
        return self._cert.slots_of(id)

    def claim_slots(self, *args, sender=None):
        return self._sender.send(self._cert.claim_slots, *args, what="claim_slots")


def _slot_window(text: str, slot_s: int) -> tuple[int, int]:
    """FROM..TO (UTC ISO times) -> (first slot, last slot): the slots that start in [FROM, TO)."""
    from datetime import datetime, timezone

    try:
        a, b = text.split("..")
        t0, t1 = (int(datetime.fromisoformat(x.strip()).replace(tzinfo=timezone.utc).timestamp()) for x in (a, b))
    except ValueError:
        raise Refused(f"--slots must read FROM..TO in UTC, e.g. 2026-06-10T17:00..2026-06-10T19:00, not {text!r}")
    if t1 <= t0:
        raise Refused(f"--slots: {b.strip()} is not after {a.strip()}")
    return -(-t0 // slot_s), t1 // slot_s - 1


@cli.command(cls=ConnectedProviderCommand)
@click.argument("beneficiary")
@click.option("--meter", required=True, help="the beneficiary's meter: its readings give the consumption per slot")
@click.option("--json", "as_json", is_flag=True, help="print the matching as JSON")
@verbose_option
def matching(network, beneficiary, meter, as_json, verbose):
    """The 24/7 score: a beneficiary's consumption per slot against the green Wh claimed for it per slot."""
    from gridmint import matching as M

    ctx = _cert(network, verbose)
    beneficiary = address_or_account(beneficiary, "beneficiary")
    meter = parse_address(meter, "meter")
    slot_s = int(ctx.cert.SLOT_S())
    consumed = M.consumption_by_slot(_history(ctx, meter).consumed(meter), slot_s)
    result = M.score(consumed, M.green_by_slot(_logs(ctx, "ClaimedSlots", beneficiary=beneficiary), beneficiary))
    if as_json:
        click.echo(json.dumps(result.as_dict(slot_s)))
        return
    table = tables.table(f"24/7 matching of {beneficiary}", "slot (UTC)", "consumed Wh", "green Wh", "matched Wh",
                         right=("consumed Wh", "green Wh", "matched Wh"))
    for r in result.rows:
        table.add_row(r.start_utc(slot_s), str(r.consumed_wh), str(r.green_wh), str(r.matched_wh))
    tables.show(table)
    click.echo(f"24/7 score: {result.score:.1%} of {kwh(result.consumed_wh)} consumed matched slot by slot "
               f"({kwh(result.matched_wh)})")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/metadata"), show_default=True)
@verbose_option
def metadata(network, out, verbose):
    """Write the ERC-1155 metadata JSON file of every certificate (serve them at the uri() template)."""
    ctx = _cert(network, verbose)
    cert = ctx.cert
    out.mkdir(parents=True, exist_ok=True)
    now = ctx.now()
    for id in range(1, cert.next_id()):
        (out / f"{id_hex(id)}.json").write_text(json.dumps(certificate_metadata(id, cert.certificate(id), now), indent=2))
    click.echo(f"wrote {cert.next_id() - 1} metadata files to {out} (serve them at the uri() template)")


# ================================================================ the certificate market

MARKET = "CertificateExchange"
# settlement words carry a certificate id in 39 bits (CertificateExchange: "id out of range")
MAX_TRADABLE_ID = 2**39 - 1
# the largest order the book takes (56 bits of Wh)
MAX_ORDER_WH = 2**56 - 1


class Market(Certs):
    """The certificate market (CertificateExchange), the certificate contract and the quote token, and
    how their numbers read: prices per kWh to the market's tick, money to the token's base unit."""

    cx = property(lambda self: self.contract(MARKET))
    quote = property(lambda self: self.contract("QuoteToken"))

    def _units(self) -> dict:
        if "_units_cache" not in self.__dict__:
            decimals, tick = int(self.quote.decimals()), int(self.cx.TICK())
            self.__dict__["_units_cache"] = {"decimals": decimals, "symbol": self.quote.symbol(), "tick": tick,
                                             "digits": tick_digits(tick, decimals)}
        return self.__dict__["_units_cache"]

    decimals = property(lambda self: self._units()["decimals"])
    symbol = property(lambda self: self._units()["symbol"])
    tick = property(lambda self: self._units()["tick"])
    digits = property(lambda self: self._units()["digits"])

    def price(self, units: int) -> str:
        return price(units, self.decimals, self.symbol, self.digits)

    def money(self, units: int) -> str:
        return token(units, self.decimals, self.symbol, self.decimals)

    def new_order(self, price_text: str, amount: str, expires_in: str | None) -> tuple[int, int, int]:
        """The checks every new order passes on chain, made first: (price, Wh, expires_at)."""
        cx = self.cx
        p, wh = parse_price(price_text, self.decimals, self.symbol), parse_energy_wh(amount)
        floor, ceiling = int(cx.floor_price()), int(cx.ceiling_price())
        if not floor <= p <= ceiling:
            raise Refused(f"price {self.price(p)} is outside the band {self.price(floor)} .. {self.price(ceiling)}")
        if p % self.tick:
            raise Refused(f"price {price_text} is not on the tick of {self.price(self.tick)}")
        minimum = int(cx.min_order_wh())
        if wh < minimum:
            raise Refused(f"{kwh(wh)} is below the minimum order of {kwh(minimum)}")
        if wh > MAX_ORDER_WH:
            raise Refused(f"{kwh(wh)} is more than one order can hold")
        expires_s = parse_duration_s(expires_in) if expires_in else None
        if expires_s is not None and expires_s <= LANDING_MARGIN_S:
            raise Refused(f"--expires-in must be more than {LANDING_MARGIN_S} s (the time an order may take to land)")
        if cx.paused():
            raise Refused("the certificate market is paused: no new orders (cancels and withdrawals still work)")
        return p, wh, self.now() + expires_s if expires_s else 0

    def refuse_crossing(self, method: int, vintage: int, is_buy: bool, p: int) -> None:
        best = self.cx.best_ask(method, vintage) if is_buy else self.cx.best_bid(method, vintage)
        if best[1] and (p >= best[0] if is_buy else p <= best[0]):
            side = "ask" if is_buy else "bid"
            raise Refused(f"post-only order at {self.price(p)} would cross the best {side} {self.price(best[0])}")

    def fund_bid(self, s, wh: int, p: int) -> None:
        """A bid escrows price x amount plus the 1 % fee cap (the unused part is refunded), out of the sender's
        proceeds on the market first: the sender must hold the rest, and the exchange gets an allowance for it
        (simulated, then sent) if it has less."""
        from gridmint.market import bid_escrow, from_wallet as wallet_part

        need = bid_escrow(wh, p)
        from_wallet = wallet_part(need, int(self.cx.proceeds_of(s.address)))
        held = int(self.quote.balanceOf(s.address))
        if held < from_wallet:
            raise Refused(f"buying {kwh(wh)} at up to {self.price(p)} needs {self.money(need)}; your proceeds here cover "
                          f"{self.money(need - from_wallet)} and you hold {self.money(held)}")
        if from_wallet and int(self.quote.allowance(s.address, self.cx.address)) < from_wallet:
            s.send(self.quote.approve, self.cx.address, from_wallet, what=f"{self.symbol} approve")

    def report_trades(self, tx, verb: str) -> None:
        for t in tx.decode_logs(self.cx.Trade):
            q = quote_for(t.amount_wh, t.price)
            click.echo(f"{verb} {kwh(t.amount_wh)} at {self.price(t.price)} = {self.money(q)} "
                       f"(fees {self.money(t.fee)})")

    def report_unfilled(self, tx, wh: int, verb: str) -> None:
        """The part of the sender's own order that neither filled nor rests, and why (the makers' orders
        the book closed on the way are their owners' business)."""
        placed = tx.decode_logs(self.cx.OrderPlaced)
        if not placed:
            return
        own = int(placed[0].order_id)
        filled = sum(int(t.amount_wh) for t in tx.decode_logs(self.cx.Trade) if int(t.taker_order_id) == own)
        for ev in tx.decode_logs(self.cx.OrderClosed):
            if int(ev.order_id) == own and int(ev.reason) != CLOSE_FILLED:
                click.echo(f"{kwh(wh - filled)} not {verb}: {CLOSE_REASONS.get(int(ev.reason), ev.reason)} "
                           f"(nothing of it was escrowed)")


def _market(network, verbose=False, account_spec=None) -> Market:
    m = Market.open(network, verbose, account_spec)
    if not m.has(MARKET):
        raise Refused("the deployment record has no CertificateExchange: deploy again (`ape run deploy`)")
    return m


def _order_flags(ioc: bool, post_only: bool) -> int:
    from gridmint.market import order_flags

    return order_flags(ioc, post_only)


def _market_class(method: str, vintage: str) -> tuple[int, int]:
    return parse_renewable_method(method), parse_vintage(vintage)


def _rests(m: Market, tx, side: str) -> None:
    placed = tx.decode_logs(m.cx.OrderPlaced)
    order_id = placed[0].order_id if placed else 0
    view = m.cx.order(order_id) if order_id else None
    if view is not None and view.open:
        what = f"of certificate #{view.certificate_id} " if view.certificate_id else ""
        click.echo(f"order {order_id} rests: {side} {kwh(view.remaining_wh)} {what}({certificate_class(view.method, view.vintage)})"
                   f" at {m.price(view.price)}, expires {when(int(view.expires_at))}")
    else:
        click.echo("nothing rests")


def _credited_ids(m: Market, owner: str) -> list[int]:
    """Certificate ids the exchange has ever credited to `owner` (UnitsCredited), oldest first."""
    logs = m.cx.UnitsCredited.range(0, m.head().number + 1, search_topics={"owner": owner})
    return list(dict.fromkeys(int(log.certificate_id) for log in logs))


@cli.group(cls=Group)
def market():
    """Trade certificates on the certificate market: asks sell one id, bids buy a class (method, vintage)."""


@market.command(cls=ConnectedProviderCommand)
@verbose_option
def classes(network, verbose):
    """Classes (method, vintage) that have had orders, with their best bid and ask now."""
    m = _market(network, verbose)
    seen = dict.fromkeys((int(ev.method), int(ev.vintage)) for ev in m.cx.OrderPlaced.range(0, m.head().number + 1))
    cols = ("class", "bids kWh", f"best bid {m.symbol}/kWh", f"best ask {m.symbol}/kWh", "asks kWh")
    table = tables.table(f"certificate classes on the market (price in {m.symbol} per kWh)", *cols, right=cols[1:])
    for method, vint in sorted(seen, key=lambda c: (c[1], c[0])):
        bid, ask = m.cx.best_bid(method, vint), m.cx.best_ask(method, vint)
        bids = sum(level.amount_wh for level in m.cx.depth(method, vint, True, 32)) if bid[1] else 0
        asks = sum(level.amount_wh for level in m.cx.depth(method, vint, False, 32)) if ask[1] else 0
        table.add_row(certificate_class(method, vint), f"{bids / 1000:,.3f}" if bids else "",
                      m.price(bid[0]) if bid[1] else "", m.price(ask[0]) if ask[1] else "", f"{asks / 1000:,.3f}" if asks else "")
    tables.show(table)
    if not seen:
        tables.show("no orders yet")


@market.command(cls=ConnectedProviderCommand)
@click.argument("method")
@click.argument("vintage")
@click.option("--levels", type=click.IntRange(1, 32), default=10, show_default=True)
@verbose_option
def book(network, method, vintage, levels, verbose):
    """The book of one class: price levels on each side (METHOD solar|wind|hydro|geothermal|biomass, VINTAGE 2026-06)."""
    method, vint = _market_class(method, vintage)
    m = _market(network, verbose)
    cx = m.cx
    cols = ("bids kWh", f"bid {m.symbol}/kWh", f"ask {m.symbol}/kWh", "asks kWh")
    table = tables.table(f"certificates {certificate_class(method, vint)} (price in {m.symbol} per kWh)", *cols, right=cols)
    bids, asks = cx.depth(method, vint, True, levels), cx.depth(method, vint, False, levels)
    for i in range(max(len(bids), len(asks), 1)):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        table.add_row(f"{b.amount_wh / 1000:,.3f}" if b else "", m.price(b.price) if b else "",
                      m.price(a.price) if a else "", f"{a.amount_wh / 1000:,.3f}" if a else "")
    tables.show(table)
    tables.show(
        f"band {m.price(cx.floor_price())} .. {m.price(cx.ceiling_price())}, tick {m.price(m.tick)}, "
        f"minimum order {kwh(cx.min_order_wh())}, fees maker {cx.maker_fee_bps()} / taker {cx.taker_fee_bps()} bps"
    )


@market.command(cls=ConnectedProviderCommand)
@click.argument("id")
@click.argument("price_text", metavar="PRICE")
@click.argument("amount", metavar="KWH")
@order_options
@account_option
@verbose_option
def sell(network, id, price_text, amount, ioc, post_only, expires_in, account_spec, verbose):
    """Offer KWH of certificate ID at PRICE per kWh (approves the exchange for your certificates first if needed)."""
    flags = _order_flags(ioc, post_only)
    id = _id(id)
    m = _market(network, verbose, account_spec)
    p, wh, expires_at = m.new_order(price_text, amount, expires_in)
    c = _get(m.cert, id)
    _check_usable(m, c, id)
    if id > MAX_TRADABLE_ID:
        raise Refused(f"certificate #{id} is beyond the ids the market can trade")
    s = m.sender
    held = int(m.cert.balanceOf(s.address, id))
    if wh > held:
        raise Refused(f"you hold {kwh(held)} of certificate #{id}, not {kwh(wh)}")
    method, vint = m.cx.class_of(id)
    if post_only:
        m.refuse_crossing(method, vint, False, p)
    if not m.cert.isApprovedForAll(s.address, m.cx.address):
        s.send(m.cert.setApprovalForAll, m.cx.address, True, what="setApprovalForAll")
        click.echo("approved the certificate exchange to escrow your certificate units (setApprovalForAll)")
    tx = s.send(m.cx.place_ask, id, p, wh, expires_at, flags, what="place_ask")
    m.report_trades(tx, "sold")
    m.report_unfilled(tx, wh, "sold")
    _rests(m, tx, "sell")


@market.command(cls=ConnectedProviderCommand)
@click.argument("method")
@click.argument("vintage")
@click.argument("price_text", metavar="PRICE")
@click.argument("amount", metavar="KWH")
@order_options
@account_option
@verbose_option
def buy(network, method, vintage, price_text, amount, ioc, post_only, expires_in, account_spec, verbose):
    """Bid for KWH of a class at up to PRICE per kWh: buys from its asks, cheapest first; the rest rests unless --ioc."""
    flags = _order_flags(ioc, post_only)
    method, vint = _market_class(method, vintage)
    m = _market(network, verbose, account_spec)
    p, wh, expires_at = m.new_order(price_text, amount, expires_in)
    if post_only:
        m.refuse_crossing(method, vint, True, p)
    s = m.sender
    m.fund_bid(s, wh, p)
    tx = s.send(m.cx.place_bid, method, vint, p, wh, expires_at, flags, what="place_bid")
    m.report_trades(tx, "bought")
    delivered: dict[int, int] = {}
    for ev in tx.decode_logs(m.cert.TransferSingle):
        args = ev.event_arguments
        if str(args["_to"]) == s.address:
            delivered[int(args["_id"])] = delivered.get(int(args["_id"]), 0) + int(args["_value"])
    if delivered:
        click.echo("received " + ", ".join(f"{kwh(w)} of certificate #{i}" for i, w in delivered.items()))
    m.report_unfilled(tx, wh, "bought")
    _rests(m, tx, "buy")


@market.command("buy-and-claim", cls=ConnectedProviderCommand)
@click.argument("method")
@click.argument("vintage")
@click.argument("price_text", metavar="MAX_PRICE")
@click.argument("amount", metavar="KWH")
@click.option("--beneficiary", required=True, help="the address of the consumer the zero-carbon claim is for")
@click.option("--purpose", required=True, help="what the claim covers (up to 128 bytes)")
@account_option
@verbose_option
def buy_and_claim(network, method, vintage, price_text, amount, beneficiary, purpose, account_spec, verbose):
    """Buy up to KWH of a class at up to MAX_PRICE per kWh and claim them for a beneficiary, in one transaction."""
    if len(purpose.encode()) > 128:
        raise Refused("the purpose is limited to 128 bytes")
    method, vint = _market_class(method, vintage)
    beneficiary = address_or_account(beneficiary, "beneficiary")
    m = _market(network, verbose, account_spec)
    p, wh, _ = m.new_order(price_text, amount, None)
    best = m.cx.best_ask(method, vint)
    if not best[1] or best[0] > p:
        offer = f"the best ask is {m.price(best[0])}" if best[1] else "there are no asks"
        raise Refused(f"nothing of {certificate_class(method, vint)} is offered at or below {m.price(p)} ({offer})")
    s = m.sender
    m.fund_bid(s, wh, p)
    if s.check(m.cx.buy_and_claim, method, vint, p, wh, beneficiary, purpose, what="buy_and_claim") == 0:
        raise Refused(f"nothing of {certificate_class(method, vint)} can be bought at or below {m.price(p)} now "
                      f"(the asks met are closed instead: expired, revoked or your own)")
    tx = s.send(m.cx.buy_and_claim, method, vint, p, wh, beneficiary, purpose, what="buy_and_claim")
    trades = tx.decode_logs(m.cx.Trade)
    bought = sum(int(t.amount_wh) for t in trades)
    paid = sum(quote_for(int(t.amount_wh), int(t.price)) for t in trades)
    claims = ", ".join(f"#{ev.id} {kwh(ev.amount)}" for ev in tx.decode_logs(m.cert.Claimed))
    short = f" (only {kwh(bought)} of {kwh(wh)} were offered at or below {m.price(p)})" if bought < wh else ""
    click.echo(f"bought and claimed {kwh(bought)} of {certificate_class(method, vint)} for {beneficiary} at "
               f"{m.price(paid * 1000 // bought)} on average = {m.money(paid)}{short}: {purpose}")
    click.echo(f"claimed certificates: {claims}")


@market.command("cancel", cls=ConnectedProviderCommand)
@click.argument("order_id")
@account_option
@verbose_option
def cancel_(network, order_id, account_spec, verbose):
    """Cancel one of your open orders: an ask's units come back, a bid's escrow goes to your proceeds."""
    if not str(order_id).isdigit() or int(order_id) == 0:
        raise Refused(f"not an order id: {order_id!r}")  # before connecting: a typo needs no node
    m = _market(network, verbose, account_spec)
    s = m.sender
    order_id, view = own_open_order(m.cx, order_id, s.address)
    tx = s.send(m.cx.cancel_order, order_id, what="cancel_order")
    for ev in tx.decode_logs(m.cx.OrderClosed):
        if view.is_buy:
            click.echo(f"order {order_id} cancelled; refunded {m.money(ev.refunded)} "
                       f"(to withdraw with `certificates market withdraw`)")
        elif tx.decode_logs(m.cx.UnitsCredited):
            click.echo(f"order {order_id} cancelled; {kwh(ev.refunded)} of certificate #{view.certificate_id} "
                       f"credited to you at the exchange (they cannot move now)")
        else:
            click.echo(f"order {order_id} cancelled; {kwh(ev.refunded)} of certificate #{view.certificate_id} returned to you")


@market.command("orders", cls=ConnectedProviderCommand)
@click.option("--owner", default=None, help="an address (instead of --account)")
@account_option
@verbose_option
def orders_(network, owner, account_spec, verbose):
    """Open orders of an account on the certificate market, and what it can withdraw."""
    m = _market(network, verbose, account_spec)
    who = m.who(owner)
    cols = ("id", "side", "class", "certificate", f"{m.symbol}/kWh", "kWh left", "expires")
    table = tables.table(f"open certificate orders of {who}", *cols, right=("id", "certificate", cols[4], "kWh left"))
    for order_id in m.cx.open_orders(who):
        v = m.cx.order(order_id)
        table.add_row(str(order_id), "buy" if v.is_buy else "sell", certificate_class(v.method, v.vintage),
                      f"#{v.certificate_id}" if v.certificate_id else "any", m.price(v.price),
                      f"{v.remaining_wh / 1000:,.3f}", when(int(v.expires_at)))
    tables.show(table)
    units = [(i, int(m.cx.units_of(who, i))) for i in _credited_ids(m, who)]
    units = ", ".join(f"{kwh(w)} of #{i}" for i, w in units if w)
    tables.show(f"to withdraw: {m.money(m.cx.proceeds_of(who))}" + (f"; certificate units {units}" if units else ""))


@market.command("withdraw", cls=ConnectedProviderCommand)
@account_option
@verbose_option
def withdraw_(network, account_spec, verbose):
    """Withdraw your proceeds and refunds, and the certificate units the exchange holds for you."""
    m = _market(network, verbose, account_spec)
    s = m.sender
    now = m.now()
    plan, stuck = [], []
    for i in _credited_ids(m, s.address):
        wh = int(m.cx.units_of(s.address, i))
        if not wh:
            continue
        c = m.cert.certificate(i)
        if c.revoked or is_expired(c.expires_at, now):
            stuck.append(f"{kwh(wh)} of certificate #{i} ({'revoked' if c.revoked else 'expired'})")
        else:
            plan.append((i, wh))
    proceeds = int(m.cx.proceeds_of(s.address))
    if not proceeds and not plan:
        held = f" ({'; '.join(stuck)} cannot move)" if stuck else ""
        raise Refused(f"nothing to withdraw{held}")
    # every withdrawal simulated before the first is sent
    if proceeds:
        s.check(m.cx.withdraw_proceeds, proceeds, what="withdraw_proceeds")
    for i, wh in plan:
        s.check(m.cx.withdraw_units, i, wh, what="withdraw_units")
    if proceeds:
        s.send(m.cx.withdraw_proceeds, proceeds, what="withdraw_proceeds")
        click.echo(f"withdrew {m.money(proceeds)}")
    for i, wh in plan:
        s.send(m.cx.withdraw_units, i, wh, what="withdraw_units")
        click.echo(f"withdrew {kwh(wh)} of certificate #{i}")
    for line in stuck:
        click.echo(f"{line} stays with the exchange: it can no longer move", err=True)
