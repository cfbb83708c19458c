"""The member's CLI: the WATT order book, storage rent, and accepting one's meters.

    ape run trade book [--levels 10]                                   --network ethereum:local:foundry
    ape run trade place buy|sell PRICE KWH [--ioc | --post-only] [--expires-in 1h] --account ALIAS
    ape run trade cancel ORDER_ID --account ALIAS
    ape run trade orders (--account ALIAS | --owner ADDR)
    ape run trade trades [--last 20]
    ape run trade balances (--account ALIAS | --owner ADDR)
    ape run trade withdraw [AMOUNT] --account ALIAS                    (sale proceeds and refunds)
    ape run trade deposit-rent TSL --account ALIAS                     (days of storage before and after)
    ape run trade withdraw-rent TSL --account ALIAS
    ape run trade accept-meter METER --account ALIAS                   (a meter the operator registered for you)

PRICE is in the quote token per kWh, KWH in kWh (to the Wh; "250 Wh" with a suffix). Bad input — a
price outside the band or off the tick, an amount below the minimum or above what you hold, an
unknown order or someone else's — is one line on stderr and exit status 2, with nothing sent; every
transaction is simulated first and refused with the contract's reason.
"""

from __future__ import annotations

import click
from ape import chain
from ape.cli import ConnectedProviderCommand
from rich.console import Console
from rich.table import Table

from gridmint.ape_support import (
    ZERO_ADDRESS, Group, Refused, Sender, account_option, order_options, has_function, head, load_contracts, parse_address, quiet,
    resolve_account, verbose_option,
)
from gridmint.units import (
    CLOSE_REASONS, METHOD_NAMES, kwh, parse_duration_s, parse_energy_wh, parse_price, parse_token, price,
    storage_days_left, token, tsl, when,
)

# quiet before ape connects: a provider's INFO lines ("Connecting to existing 'Hardhat node' process.")
# are noise to a user; the command's -v turns ape's INFO lines back on
quiet()

console = Console(width=150)


class Ctx:
    def __init__(self, network, verbose=False, extra=()):
        quiet(verbose)
        self.verbose = verbose
        names = ["EnergyExchange", "WattToken", "QuoteToken", *extra]
        loaded = load_contracts(network, names)
        self.ex, self.watt, self.quote = loaded[:3]
        self.extra = loaded[3:]
        self.decimals = int(self.quote.decimals())
        self.symbol = self.quote.symbol()

    def money(self, units: int) -> str:
        return token(units, self.decimals, self.symbol)

    def price(self, units: int) -> str:
        return price(units, self.decimals, self.symbol)

    def sender(self, account_spec) -> Sender:
        return Sender(resolve_account(account_spec), self.verbose)


def _who(account_spec: str | None, owner: str | None) -> str:
    if owner:
        return parse_address(owner, "--owner")
    return str(resolve_account(account_spec).address)


@click.group(cls=Group)
def cli():
    """Trade WATT (stored energy) against the community's stablecoin; pay storage rent; accept meters."""


@cli.command(cls=ConnectedProviderCommand)
@click.option("--levels", type=click.IntRange(1, 32), default=10, show_default=True)
@verbose_option
def book(network, levels, verbose):
    """The order book: price levels on each side, the band and the spread."""
    c = Ctx(network, verbose)
    ex = c.ex
    table = Table(title=f"WATT order book (price in {c.symbol} per kWh)")
    for col in ("bids kWh", f"bid {c.symbol}/kWh", f"ask {c.symbol}/kWh", "asks kWh"):
        table.add_column(col, justify="right")
    bids, asks = ex.depth(True, levels), ex.depth(False, levels)
    for i in range(max(len(bids), len(asks), 1)):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        table.add_row(
            f"{b.amount_wh / 1000:,.3f}" if b else "",
            c.price(b.price) if b else "",
            c.price(a.price) if a else "",
            f"{a.amount_wh / 1000:,.3f}" if a else "",
        )
    console.print(table)
    console.print(
        f"band {c.price(ex.floor_price())} (feed-in) .. {c.price(ex.ceiling_price())} (retail), "
        f"tick {c.money(ex.TICK())}, minimum order {kwh(ex.min_order_wh())}, "
        f"fees maker {ex.maker_fee_bps()} / taker {ex.taker_fee_bps()} bps"
    )


@cli.command(cls=ConnectedProviderCommand)
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("price_text", metavar="PRICE")
@click.argument("amount", metavar="KWH")
@order_options
@account_option
@verbose_option
def place(network, side, price_text, amount, ioc, post_only, expires_in, account_spec, verbose):
    """Place a limit order; prints its trades and, if it rests, its id."""
    c = Ctx(network, verbose)
    ex, watt, quote = c.ex, c.watt, c.quote
    if ioc and post_only:
        raise Refused("--ioc and --post-only exclude each other")
    p, wh = parse_price(price_text, c.decimals, c.symbol), parse_energy_wh(amount)
    floor, ceiling, tick = ex.floor_price(), ex.ceiling_price(), ex.TICK()
    if not floor <= p <= ceiling:
        raise Refused(f"price {c.price(p)} is outside the band {c.price(floor)} .. {c.price(ceiling)}")
    if p % tick:
        raise Refused(f"price {price_text} is not on the tick of {c.money(tick)}")
    if wh < ex.min_order_wh():
        raise Refused(f"{kwh(wh)} is below the minimum order of {kwh(ex.min_order_wh())}")
    expires_s = parse_duration_s(expires_in) if expires_in else None
    if expires_s == 0:
        raise Refused("--expires-in must be more than 0 s")
    s = c.sender(account_spec)
    is_buy = side == "buy"
    need = 0
    if is_buy:
        base = (wh * p + 999) // 1000
        need = base + (base * 100 + 9_999) // 10_000  # escrow: price x amount + the 1 % fee cap, refunded if unused
        held = quote.balanceOf(s.address)
        if held < need:
            raise Refused(f"a bid of {kwh(wh)} at {c.price(p)} escrows {c.money(need)}; you hold {c.money(held)}")
    else:
        if watt.arrears_of(s.address)[0]:
            raise Refused("your storage rent is in arrears: deposit TSL first (`ape run trade deposit-rent TSL`)")
        held = watt.balanceOf(s.address)
        if held < wh:
            raise Refused(f"you hold {kwh(held)} of free WATT, not {kwh(wh)}")
    expires_at = head().timestamp + expires_s if expires_s else 0
    flags = (1 if ioc else 0) | (2 if post_only else 0)
    if post_only:
        best = ex.best_ask() if is_buy else ex.best_bid()
        if best[1] and ((is_buy and p >= best[0]) or (not is_buy and p <= best[0])):
            raise Refused(f"post-only order at {c.price(p)} would cross the best {'ask' if is_buy else 'bid'} {c.price(best[0])}")
    if is_buy and quote.allowance(s.address, ex.address) < need:
        s.check(quote.approve, ex.address, need, what=f"{c.symbol} approve")
        s.send(quote.approve, ex.address, need, what=f"{c.symbol} approve")
    tx = s.send(ex.place_order, is_buy, p, wh, expires_at, flags, what="place_order")
    for t in tx.decode_logs(ex.Trade):
        click.echo(f"traded {kwh(t.amount_wh)} at {c.price(t.price)} = {c.money(t.quote_amount)} (fee {c.money(t.fee)})")
    placed = tx.decode_logs(ex.OrderPlaced)
    order_id = placed[0].order_id if placed else 0
    if order_id and ex.order(order_id).open:
        view = ex.order(order_id)
        click.echo(f"order {order_id} rests: {side} {kwh(view.remaining_wh)} at {c.price(view.price)}, "
                   f"expires {when(int(view.expires_at))}")
    else:
        for ev in tx.decode_logs(ex.OrderClosed):
            if ev.refunded:
                unit = kwh(ev.refunded) + " of WATT" if not is_buy else c.money(ev.refunded) + " (to withdraw)"
                click.echo(f"order {ev.order_id} closed ({CLOSE_REASONS.get(int(ev.reason), ev.reason)}); refunded {unit}")
        click.echo("nothing rests")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("order_id")
@account_option
@verbose_option
def cancel(network, order_id, account_spec, verbose):
    """Cancel one of your open orders; what is left is refunded."""
    c = Ctx(network, verbose)
    if not str(order_id).isdigit() or int(order_id) == 0:
        raise Refused(f"not an order id: {order_id!r}")
    order_id = int(order_id)
    view = c.ex.order(order_id)
    if str(view.owner) == ZERO_ADDRESS or not view.open:
        if order_id < c.ex.next_order_id():
            raise Refused(f"order {order_id} is already closed (filled, cancelled or expired)")
        raise Refused(f"no order {order_id}")
    s = c.sender(account_spec)
    if str(view.owner) != s.address:
        raise Refused(f"order {order_id} belongs to {view.owner}, not to you")
    tx = s.send(c.ex.cancel_order, order_id, what="cancel_order")
    for ev in tx.decode_logs(c.ex.OrderClosed):
        refunded = c.money(ev.refunded) + " (to withdraw with `trade withdraw`)" if view.is_buy else kwh(ev.refunded) + " of WATT"
        click.echo(f"order {order_id} cancelled; refunded {refunded}")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--owner", default=None, help="an address (instead of --account)")
@account_option
@verbose_option
def orders(network, owner, account_spec, verbose):
    """Open orders of an account."""
    c = Ctx(network, verbose)
    who = _who(account_spec, owner)
    table = Table(title=f"open orders of {who}")
    for col in ("id", "side", f"price {c.symbol}/kWh", "kWh left", "expires"):
        table.add_column(col, justify="left" if col == "side" else "right")
    for order_id in c.ex.open_orders(who):
        v = c.ex.order(order_id)
        table.add_row(str(order_id), "buy" if v.is_buy else "sell", c.price(v.price), f"{v.remaining_wh / 1000:,.3f}",
                      when(int(v.expires_at)))
    console.print(table)


@cli.command(cls=ConnectedProviderCommand)
@click.option("--last", type=click.IntRange(1, 10_000), default=20, show_default=True)
@verbose_option
def trades(network, last, verbose):
    """The latest trades."""
    c = Ctx(network, verbose)
    logs = list(c.ex.Trade.range(0, chain.blocks.head.number + 1))[-last:]
    table = Table(title=f"last {len(logs)} trades")
    for col in ("block", "maker order", "taker order", "maker/taker", "kWh", f"price {c.symbol}/kWh", c.symbol):
        table.add_column(col, justify="left" if col == "maker/taker" else "right")
    for t in logs:
        table.add_row(str(t.block_number), str(t.maker_order_id), str(t.taker_order_id),
                      f"{t.maker[:10]}…/{t.taker[:10]}…", f"{t.amount_wh / 1000:,.3f}", c.price(t.price),
                      c.money(t.quote_amount))
    console.print(table)
    traded = sum(t.amount_wh for t in logs)
    if traded:
        avg = sum(t.quote_amount for t in logs) * 1000 // traded
        console.print(f"{kwh(traded)} at {c.price(avg)} on average "
                      f"(retail {c.price(c.ex.ceiling_price())}, feed-in {c.price(c.ex.floor_price())})")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--owner", default=None, help="an address (instead of --account)")
@account_option
@verbose_option
def balances(network, owner, account_spec, verbose):
    """WATT, escrow, storage rent deposit and days of storage left, stablecoin and proceeds."""
    c = Ctx(network, verbose, extra=["StorageRentToken"])
    (tsl_token,) = c.extra
    who = _who(account_spec, owner)
    watt = c.watt
    now = head().timestamp
    arrears = watt.arrears_of(who)[0]
    table = Table(title=f"balances of {who}")
    table.add_column("")
    table.add_column("value", justify="right")
    for row in (
        ("WATT free", kwh(watt.balanceOf(who))),
        ("WATT in sell orders", kwh(watt.escrowed_of(who))),
        ("TSL rent deposit", tsl(watt.rent_deposit(who))),
        ("rent due now", tsl(watt.rent_due(who), 6)),
        ("rent arrears", tsl(arrears, 6)),
        ("storage left", storage_days_left(watt.storage_paid_until(who), now)),
        ("TSL in wallet", tsl(tsl_token.balanceOf(who))),
        (f"{c.symbol} in wallet", c.money(c.quote.balanceOf(who))),
        (f"{c.symbol} proceeds to withdraw", c.money(c.ex.proceeds_of(who))),
    ):
        table.add_row(*row)
    console.print(table)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("amount", required=False)
@account_option
@verbose_option
def withdraw(network, amount, account_spec, verbose):
    """Withdraw sale proceeds and refunds (all of them unless AMOUNT is given)."""
    c = Ctx(network, verbose)
    s = c.sender(account_spec)
    available = c.ex.proceeds_of(s.address)
    units = available if amount is None else parse_token(amount, c.decimals, c.symbol)
    if units == 0:
        raise Refused("no proceeds to withdraw")
    if units > available:
        raise Refused(f"you can withdraw {c.money(available)}, not {c.money(units)}")
    s.send(c.ex.withdraw_proceeds, units, what="withdraw_proceeds")
    click.echo(f"withdrew {c.money(units)}")


def _storage_line(watt, who: str, now: int) -> str:
    return storage_days_left(watt.storage_paid_until(who), now)


@cli.command("deposit-rent", cls=ConnectedProviderCommand)
@click.argument("amount")
@account_option
@verbose_option
def deposit_rent(network, amount, account_spec, verbose):
    """Deposit TSL for storage rent (an EIP-2612 permit where WATT takes one: a single transaction)."""
    c = Ctx(network, verbose, extra=["StorageRentToken"])
    (tsl_token,) = c.extra
    units = parse_token(amount, 18, "TSL")
    s = c.sender(account_spec)
    held = tsl_token.balanceOf(s.address)
    if held < units:
        raise Refused(f"you hold {tsl(held)}, not {tsl(units)} (the operator mints TSL: `ape run operator mint-tsl`)")
    now = head().timestamp
    before = _storage_line(c.watt, s.address, now)
    if has_function(c.watt, "deposit_rent_with_permit") and has_function(tsl_token, "permit"):
        deadline = now + 3_600
        v, r, sig_s = s.sign_permit(tsl_token, c.watt.address, units, deadline)
        s.send(c.watt.deposit_rent_with_permit, units, deadline, v, r, sig_s, what="deposit_rent_with_permit")
    else:
        if tsl_token.allowance(s.address, c.watt.address) < units:
            s.send(tsl_token.approve, c.watt.address, units, what="TSL approve")
        s.send(c.watt.deposit_rent, units, what="deposit_rent")
    after = _storage_line(c.watt, s.address, head().timestamp)
    click.echo(f"deposited {tsl(units)}; deposit {tsl(c.watt.rent_deposit(s.address))}; storage left: {before} -> {after}")


@cli.command("withdraw-rent", cls=ConnectedProviderCommand)
@click.argument("amount")
@account_option
@verbose_option
def withdraw_rent(network, amount, account_spec, verbose):
    """Withdraw unspent TSL from your rent deposit."""
    c = Ctx(network, verbose)
    s = c.sender(account_spec)
    deposit = c.watt.rent_deposit(s.address)
    stored = c.watt.balanceOf(s.address) + c.watt.escrowed_of(s.address)
    if str(amount).strip().lower() == "all":
        # rent keeps accruing until the transaction is mined: leave 10 minutes of it in the deposit
        margin = -(-stored * int(c.watt.rent_rate()) * 600 // 86_400_000)
        units = max(deposit - margin, 0)
    else:
        units = parse_token(amount, 18, "TSL")
    if units == 0:
        raise Refused("your rent deposit is empty")
    if units > deposit:
        raise Refused(f"your rent deposit is {tsl(deposit)}, not {tsl(units)}")
    now = head().timestamp
    before = _storage_line(c.watt, s.address, now)
    s.send(c.watt.withdraw_rent, units, what="withdraw_rent")
    after = _storage_line(c.watt, s.address, head().timestamp)
    left = c.watt.rent_deposit(s.address)
    click.echo(f"withdrew {tsl(units)}; deposit {tsl(left)}; storage left: {before} -> {after}")
    if stored and left == 0:
        click.echo(f"you store {kwh(stored)} with no deposit: rent now runs into arrears", err=True)


@cli.command("accept-meter", cls=ConnectedProviderCommand)
@click.argument("meter")
@account_option
@verbose_option
def accept_meter(network, meter, account_spec, verbose):
    """Accept a meter the operator registered for you: only then do its readings credit or debit you."""
    c = Ctx(network, verbose, extra=["MeterRegistry"])
    (registry,) = c.extra
    meter = parse_address(meter, "meter")
    info = registry.meters(meter)
    if str(info.owner) == ZERO_ADDRESS:
        raise Refused(f"no meter {meter} is registered")
    s = c.sender(account_spec)
    if str(info.owner) != s.address:
        raise Refused(f"meter {meter} is registered for {info.owner}, not for you")
    if getattr(info, "accepted", False):
        raise Refused(f"you have already accepted meter {meter}")
    s.send(registry.accept_meter, meter, what="accept_meter")
    click.echo(f"accepted meter {meter} ({info.name}, {METHOD_NAMES.get(int(info.method), info.method)}, "
               f"{info.rated_power_w / 1000:,.3f} kW): its readings now credit your account")
