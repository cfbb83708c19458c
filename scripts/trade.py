"""The trader CLI: the WATT order book from the command line.

    ape run trade book [--levels 10]                                   --network ethereum:local:foundry
    ape run trade place buy|sell PRICE KWH [--ioc | --post-only] [--expires-in S] --account ALIAS
    ape run trade cancel ORDER_ID --account ALIAS
    ape run trade orders (--account ALIAS | --owner ADDR)
    ape run trade trades [--last 20]
    ape run trade balances (--account ALIAS | --owner ADDR)
    ape run trade withdraw [AMOUNT] --account ALIAS                    (proceeds and refunds)

PRICE is in the quote token per kWh (EUR with the local mock), KWH in kWh (down
to 1 Wh). Bad input — a price outside the band or off the tick, an amount below
the minimum, more than you hold, an unknown order or someone else's — is
refused with a clear message before anything is sent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from ape import chain
from ape.cli import ConnectedProviderCommand
from rich.console import Console
from rich.table import Table

from gridmint.ape_support import account_option, load_contracts, resolve_account
from gridmint.units import storage_days_left

console = Console(width=150)
CLOSE_REASONS = {1: "filled", 2: "cancelled", 3: "expired", 4: "ioc remainder", 5: "self-trade", 6: "uncrossable"}


class Ctx:
    def __init__(self, network):
        self.ex, self.watt, self.quote = load_contracts(network, ["EnergyExchange", "WattToken", "QuoteToken"])
        self.decimals = self.quote.decimals()
        self.symbol = self.quote.symbol()

    def money(self, units: int) -> str:
        return f"{Decimal(units) / Decimal(10**self.decimals):,.{min(self.decimals, 4)}f}"

    def price_units(self, text: str) -> int:
        try:
            value = Decimal(text) * Decimal(10**self.decimals)
        except InvalidOperation:
            raise click.BadParameter(f"not a price: {text!r}") from None
        if value != value.to_integral_value() or value <= 0:
            raise click.BadParameter(f"price {text} is not a positive multiple of 1e-{self.decimals} {self.symbol}")
        return int(value)


def _wh(text: str) -> int:
    try:
        value = Decimal(text) * 1000
    except InvalidOperation:
        raise click.BadParameter(f"not an amount of kWh: {text!r}") from None
    if value != value.to_integral_value() or value <= 0:
        raise click.BadParameter(f"{text} kWh is not a positive whole number of Wh")
    return int(value)


def _who(account_spec: str | None, owner: str | None) -> str:
    if owner:
        return owner
    return resolve_account(account_spec).address


@click.group()
def cli():
    """Trade WATT (stored energy) against the community's stablecoin."""


@cli.command(cls=ConnectedProviderCommand)
@click.option("--levels", type=click.IntRange(1, 32), default=10, show_default=True)
def book(network, levels):
    """The order book: price levels on each side, the band and the spread."""
    c = Ctx(network)
    ex = c.ex
    table = Table(title=f"WATT order book (price in {c.symbol} per kWh)")
    for col in ("bids kWh", "bid", "ask", "asks kWh"):
        table.add_column(col, justify="right")
    bids, asks = ex.depth(True, levels), ex.depth(False, levels)
    for i in range(max(len(bids), len(asks), 1)):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        table.add_row(
            f"{b.amount_wh / 1000:,.3f}" if b else "",
            c.money(b.price) if b else "",
            c.money(a.price) if a else "",
            f"{a.amount_wh / 1000:,.3f}" if a else "",
        )
    console.print(table)
    console.print(
        f"band {c.money(ex.floor_price())} (feed-in) .. {c.money(ex.ceiling_price())} (retail), "
        f"tick {c.money(ex.TICK())}, minimum {ex.min_order_wh() / 1000:.3f} kWh, "
        f"fees maker {ex.maker_fee_bps()} / taker {ex.taker_fee_bps()} bps"
    )


@cli.command(cls=ConnectedProviderCommand)
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("price")
@click.argument("kwh")
@click.option("--ioc", is_flag=True, help="immediate-or-cancel: never rests")
@click.option("--post-only", is_flag=True, help="only rest; refuse to take")
@click.option("--expires-in", type=click.IntRange(min=1), default=None, help="seconds until the order expires")
@account_option
def place(network, side, price, kwh, ioc, post_only, expires_in, account_spec):
    """Place a limit order; prints its trades and, if it rests, its id."""
    c = Ctx(network)
    ex, watt, quote = c.ex, c.watt, c.quote
    if ioc and post_only:
        raise click.UsageError("--ioc and --post-only exclude each other")
    p, wh = c.price_units(price), _wh(kwh)
    floor, ceiling, tick = ex.floor_price(), ex.ceiling_price(), ex.TICK()
    if not floor <= p <= ceiling:
        raise click.ClickException(f"price {price} is outside the band {c.money(floor)} .. {c.money(ceiling)}")
    if p % tick:
        raise click.ClickException(f"price {price} is not on the tick of {c.money(tick)}")
    if wh < ex.min_order_wh():
        raise click.ClickException(f"{kwh} kWh is below the minimum order of {ex.min_order_wh() / 1000:.3f} kWh")
    sender = resolve_account(account_spec)
    is_buy = side == "buy"
    if is_buy:
        base = (wh * p + 999) // 1000
        need = base + (base * 100 + 9_999) // 10_000  # escrow: price x amount + the 1 % fee cap, refunded if unused
        held = quote.balanceOf(sender.address)
        if held < need:
            raise click.ClickException(f"a bid of {kwh} kWh at {price} escrows {c.money(need)} {c.symbol}; you hold {c.money(held)}")
        if quote.allowance(sender.address, ex.address) < need:
            quote.approve(ex.address, need, sender=sender)
    else:
        if watt.arrears_of(sender.address)[0]:
            raise click.ClickException("your storage rent is in arrears: deposit TSL before selling")
        held = watt.balanceOf(sender.address)
        if held < wh:
            raise click.ClickException(f"you hold {held / 1000:.3f} kWh of free WATT, not {wh / 1000:.3f}")
    expires_at = chain.blocks.head.timestamp + expires_in if expires_in else 0
    flags = (1 if ioc else 0) | (2 if post_only else 0)
    if post_only:
        best = ex.best_ask() if is_buy else ex.best_bid()
        if best[1] and ((is_buy and p >= best[0]) or (not is_buy and p <= best[0])):
            raise click.ClickException(f"post-only order at {price} would cross the best {'ask' if is_buy else 'bid'} {c.money(best[0])}")
    tx = ex.place_order(is_buy, p, wh, expires_at, flags, sender=sender)
    for t in tx.decode_logs(ex.Trade):
        console.print(f"traded {t.amount_wh / 1000:.3f} kWh at {c.money(t.price)} = {c.money(t.quote_amount)} {c.symbol} (fee {c.money(t.fee)})")
    placed = tx.decode_logs(ex.OrderPlaced)
    order_id = placed[0].order_id if placed else 0
    if order_id and ex.order(order_id).open:
        view = ex.order(order_id)
        console.print(f"order {order_id} rests: {side} {view.remaining_wh / 1000:.3f} kWh at {c.money(view.price)}")
    else:
        console.print("nothing rests")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("order_id", type=click.IntRange(min=1))
@account_option
def cancel(network, order_id, account_spec):
    """Cancel one of your open orders; what is left is refunded."""
    c = Ctx(network)
    view = c.ex.order(order_id)
    if view.owner == "0x0000000000000000000000000000000000000000" or not view.open:
        if order_id < c.ex.next_order_id():
            raise click.ClickException(f"order {order_id} is already closed (filled, cancelled or expired)")
        raise click.ClickException(f"no order {order_id}")
    sender = resolve_account(account_spec)
    if view.owner != sender.address:
        raise click.ClickException(f"order {order_id} belongs to {view.owner}, not to you")
    tx = c.ex.cancel_order(order_id, sender=sender)
    for ev in tx.decode_logs(c.ex.OrderClosed):
        console.print(f"order {order_id} cancelled; refunded {ev.refunded}")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--owner", default=None, help="an address (instead of --account)")
@account_option
def orders(network, owner, account_spec):
    """Open orders of an account."""
    c = Ctx(network)
    who = _who(account_spec, owner)
    table = Table(title=f"open orders of {who}")
    for col in ("id", "side", f"price {c.symbol}/kWh", "kWh left", "expires (UTC)"):
        table.add_column(col, justify="left" if col == "side" else "right")
    for order_id in c.ex.open_orders(who):
        v = c.ex.order(order_id)
        expires = "never" if v.expires_at == 0 else _utc(v.expires_at)
        table.add_row(str(order_id), "buy" if v.is_buy else "sell", c.money(v.price), f"{v.remaining_wh / 1000:.3f}", expires)
    console.print(table)


@cli.command(cls=ConnectedProviderCommand)
@click.option("--last", type=click.IntRange(1, 10_000), default=20, show_default=True)
def trades(network, last):
    """The latest trades."""
    c = Ctx(network)
    logs = list(c.ex.Trade.range(0, chain.blocks.head.number + 1))[-last:]
    table = Table(title=f"last {len(logs)} trades")
    for col in ("block", "maker order", "taker order", "seller/buyer", "kWh", f"price {c.symbol}/kWh", c.symbol):
        table.add_column(col, justify="left" if col == "seller/buyer" else "right")
    for t in logs:
        table.add_row(str(t.block_number), str(t.maker_order_id), str(t.taker_order_id),
                      f"{t.maker[:10]}…/{t.taker[:10]}…", f"{t.amount_wh / 1000:.3f}", c.money(t.price), c.money(t.quote_amount))
    console.print(table)
    traded = sum(t.amount_wh for t in logs)
    if traded:
        avg = sum(t.quote_amount for t in logs) * 1000 // traded
        console.print(f"{traded / 1000:.3f} kWh at {c.money(avg)} {c.symbol}/kWh on average "
                      f"(retail {c.money(c.ex.ceiling_price())}, feed-in {c.money(c.ex.floor_price())})")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--owner", default=None, help="an address (instead of --account)")
@account_option
def balances(network, owner, account_spec):
    """WATT, escrow, storage rent deposit and days of storage left, stablecoin and proceeds."""
    c = Ctx(network)
    who = _who(account_spec, owner)
    watt = c.watt
    now = chain.blocks.head.timestamp
    days = storage_days_left(watt.storage_paid_until(who), now)
    arrears = watt.arrears_of(who)[0]
    table = Table(title=f"balances of {who}")
    table.add_column("")
    table.add_column("value", justify="right")
    for row in (
        ("WATT free (kWh)", f"{watt.balanceOf(who) / 1000:,.3f}"),
        ("WATT in sell orders (kWh)", f"{watt.escrowed_of(who) / 1000:,.3f}"),
        ("TSL rent deposit", f"{watt.rent_deposit(who) / 1e18:,.4f}"),
        ("rent due now (TSL)", f"{watt.rent_due(who) / 1e18:,.6f}"),
        ("rent arrears (TSL)", f"{arrears / 1e18:,.6f}"),
        ("days of storage left", days),
        (f"{c.symbol} in wallet", c.money(c.quote.balanceOf(who))),
        (f"{c.symbol} proceeds to withdraw", c.money(c.ex.proceeds_of(who))),
    ):
        table.add_row(*row)
    console.print(table)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("amount", required=False)
@account_option
def withdraw(network, amount, account_spec):
    """Withdraw sale proceeds and refunds (all of them unless AMOUNT is given)."""
    c = Ctx(network)
    sender = resolve_account(account_spec)
    available = c.ex.proceeds_of(sender.address)
    units = available if amount is None else c.price_units(amount)
    if units == 0:
        raise click.ClickException("no proceeds to withdraw")
    if units > available:
        raise click.ClickException(f"you can withdraw {c.money(available)} {c.symbol}, not {amount}")
    c.ex.withdraw_proceeds(units, sender=sender)
    console.print(f"withdrew {c.money(units)} {c.symbol}")


def _utc(ts: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))
