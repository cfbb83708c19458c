"""The member's commands: the WATT order book, storage rent, and accepting one's meters.

    ape run trade book [--levels 10]                                   --network ethereum:local:foundry
    ape run trade place buy|sell PRICE KWH [--ioc | --post-only] [--expires-in 1h] --account ALIAS
    ape run trade amend ORDER_ID PRICE KWH --account ALIAS              (new price and kWh left, same id)
    ape run trade cancel ORDER_ID --account ALIAS
    ape run trade orders (--account ALIAS | --owner ADDR)
    ape run trade trades [--last 20]
    ape run trade balances (--account ALIAS | --owner ADDR)
    ape run trade withdraw [AMOUNT] --account ALIAS                    (sale proceeds and refunds)
    ape run trade deposit AMOUNT --account ALIAS                       (a balance your bids pay out of first)
    ape run trade deposit-rent TSL --account ALIAS                     (days of storage before and after)
    ape run trade withdraw-rent TSL --account ALIAS
    ape run trade accept-meter METER --account ALIAS                   (a meter the operator registered for you)

PRICE is in the quote token per kWh, KWH in kWh (to the Wh; "250 Wh" with a suffix). Bad input — a
price outside the band or off the tick, an amount below the minimum or above what you hold, an
unknown order or someone else's, a sale whose rent deposit runs out before it lands — is one line on
stderr and exit status 2, with nothing sent; every transaction is simulated first, for the block it
will land in, and refused with the contract's reason.
"""

from __future__ import annotations

import click
from ape.cli import ConnectedProviderCommand

from gridmint.market import bid_escrow, from_wallet as wallet_part, quote_for, takers_of
from gridmint.units import (
    CLOSE_REASONS, METHOD_NAMES, kwh, parse_duration_s, parse_energy_wh, parse_price, parse_token, price,
    storage_days_left, token, tsl, when,
)

from . import tables
from .addresses import ZERO_ADDRESS, parse_address
from .context import LANDING_MARGIN_S, CliContext
from .errors import Group, Refused
from .orders import own_open_order
from .options import account_option, order_options, verbose_option


class Trade(CliContext):
    """The member's view of the deployment: the exchange, WATT and the quote token, and how money reads."""

    ex = property(lambda self: self.contract("EnergyExchange"))
    watt = property(lambda self: self.contract("WattToken"))
    quote = property(lambda self: self.contract("QuoteToken"))

    def _units(self) -> tuple[int, str]:
        """The quote token's decimals and symbol (read once)."""
        if "_quote_units" not in self.__dict__:
            self.__dict__["_quote_units"] = (int(self.quote.decimals()), self.quote.symbol())
        return self.__dict__["_quote_units"]

    decimals = property(lambda self: self._units()[0])
    symbol = property(lambda self: self._units()[1])

    def money(self, units: int) -> str:
        return token(units, self.decimals, self.symbol)

    def price(self, units: int) -> str:
        return price(units, self.decimals, self.symbol)


@click.group(cls=Group)
def cli():
    """Trade WATT (stored energy) against the community's stablecoin; pay storage rent; accept meters."""


@cli.command(cls=ConnectedProviderCommand)
@click.option("--levels", type=click.IntRange(1, 32), default=10, show_default=True)
@verbose_option
def book(network, levels, verbose):
    """The order book: price levels on each side, the band and the spread."""
    c = Trade.open(network, verbose)
    ex = c.ex
    table = tables.table(f"WATT order book (price in {c.symbol} per kWh)", "bids kWh", f"bid {c.symbol}/kWh",
                         f"ask {c.symbol}/kWh", "asks kWh", right=("bids kWh", f"bid {c.symbol}/kWh", f"ask {c.symbol}/kWh", "asks kWh"))
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
    tables.show(table)
    tables.show(
        f"band {c.price(ex.floor_price())} (feed-in) .. {c.price(ex.ceiling_price())} (retail), "
        f"tick {c.money(ex.TICK())}, minimum order {kwh(ex.min_order_wh())}, "
        f"fees maker {ex.maker_fee_bps()} / taker {ex.taker_fee_bps()} bps"
    )


def refuse_unpaid_storage(c: Trade, who: str) -> None:
    """A seller whose rent deposit will not cover its storage when the order lands is refused: WATT in
    arrears cannot be escrowed, so the order would be sent, mined and reverted ("account in arrears")."""
    owed, since = c.watt.arrears_of(who)
    if owed:
        raise Refused(f"your storage rent is in arrears ({tsl(int(owed), 6)} since {when(int(since))}): "
                      f"deposit TSL first (`ape run trade deposit-rent TSL`)")
    paid_until = int(c.watt.storage_paid_until(who))
    landing = c.landing_time()
    if paid_until < landing:
        runs_out = "ran out" if paid_until <= c.now() else "runs out"
        raise Refused(f"your rent deposit {runs_out} at {when(paid_until)}, before this order can land "
                      f"(rent {tsl(int(c.watt.rent_due(who)), 6)} owed now): deposit TSL first "
                      f"(`ape run trade deposit-rent TSL`)")


def terms(c: Trade, price_text: str, amount: str) -> tuple[int, int]:
    """(price in quote base units per kWh, Wh) of an order's terms, refused unless in the band, on the
    tick and at least the minimum order (the rules of a new or an amended order)."""
    ex = c.ex
    p, wh = parse_price(price_text, c.decimals, c.symbol), parse_energy_wh(amount)
    floor, ceiling, tick = ex.floor_price(), ex.ceiling_price(), ex.TICK()
    if not floor <= p <= ceiling:
        raise Refused(f"price {c.price(p)} is outside the band {c.price(floor)} .. {c.price(ceiling)}")
    if p % tick:
        raise Refused(f"price {price_text} is not on the tick of {c.money(tick)}")
    if wh < ex.min_order_wh():
        raise Refused(f"{kwh(wh)} is below the minimum order of {kwh(ex.min_order_wh())}")
    return p, wh


@cli.command(cls=ConnectedProviderCommand)
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("price_text", metavar="PRICE")
@click.argument("amount", metavar="KWH")
@order_options
@account_option
@verbose_option
def place(network, side, price_text, amount, ioc, post_only, expires_in, account_spec, verbose):
    """Place a limit order; prints its trades and, if it rests, its id."""
    c = Trade.open(network, verbose, account_spec)
    ex, watt, quote = c.ex, c.watt, c.quote
    if ioc and post_only:
        raise Refused("--ioc and --post-only exclude each other")
    p, wh = terms(c, price_text, amount)
    expires_s = parse_duration_s(expires_in) if expires_in else None
    if expires_s is not None and expires_s <= LANDING_MARGIN_S:
        raise Refused(f"--expires-in must be more than {LANDING_MARGIN_S} s (the time an order may take to land)")
    if ex.paused():
        raise Refused("the exchange is paused: no new orders (cancels and withdrawals still work)")
    s = c.sender
    is_buy = side == "buy"
    from_wallet = 0
    if is_buy:
        need = bid_escrow(wh, p)  # price x amount + the fee cap, the unused part refunded
        from_wallet = wallet_part(need, int(ex.proceeds_of(s.address)))
        held = quote.balanceOf(s.address)
        if held < from_wallet:
            raise Refused(f"a bid of {kwh(wh)} at {c.price(p)} escrows {c.money(need)}; your balance on the book "
                          f"covers {c.money(need - from_wallet)} and you hold {c.money(held)}")
    else:
        held = watt.balanceOf(s.address)
        if held < wh:
            raise Refused(f"you hold {kwh(held)} of free WATT, not {kwh(wh)}")
        refuse_unpaid_storage(c, s.address)
    expires_at = c.now() + expires_s if expires_s else 0
    flags = (1 if ioc else 0) | (2 if post_only else 0)
    if post_only:
        best = ex.best_ask() if is_buy else ex.best_bid()
        if best[1] and ((is_buy and p >= best[0]) or (not is_buy and p <= best[0])):
            raise Refused(f"post-only order at {c.price(p)} would cross the best {'ask' if is_buy else 'bid'} {c.price(best[0])}")
    if from_wallet and quote.allowance(s.address, ex.address) < from_wallet:
        s.send(quote.approve, ex.address, from_wallet, what=f"{c.symbol} approve")
    tx = s.send(ex.place_order, is_buy, p, wh, expires_at, flags, what="place_order")
    for t in tx.decode_logs(ex.Trade):
        q = quote_for(t.amount_wh, t.price)
        click.echo(f"traded {kwh(t.amount_wh)} at {c.price(t.price)} = {c.money(q)} (fee {c.money(t.fee)})")
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
@click.argument("price_text", metavar="PRICE")
@click.argument("amount", metavar="KWH")
@account_option
@verbose_option
def amend(network, order_id, price_text, amount, account_spec, verbose):
    """Change one of your open orders in place: a new price and kWh left, same id. A new price or more
    kWh puts it at the back of its price's queue; fewer kWh at the same price keep its place. An
    amended order never trades: a new price that would cross the other side is refused."""
    c = Trade.open(network, verbose, account_spec)
    ex, s = c.ex, c.sender
    order_id, view = own_open_order(ex, order_id, s.address)
    p, wh = terms(c, price_text, amount)
    if p == view.price and wh == view.remaining_wh:
        raise Refused(f"order {order_id} already rests with {kwh(wh)} at {c.price(p)}: nothing to change")
    if int(view.expires_at) <= c.landing_time():
        raise Refused(f"order {order_id} expires at {when(int(view.expires_at))}, before this change can land")
    if ex.paused():
        raise Refused("the exchange is paused: no changes to orders (cancels and withdrawals still work)")
    if p != view.price:
        best = ex.best_ask() if view.is_buy else ex.best_bid()
        if best[1] and ((view.is_buy and p >= best[0]) or (not view.is_buy and p <= best[0])):
            raise Refused(f"a price of {c.price(p)} would cross the best {'ask' if view.is_buy else 'bid'} "
                          f"{c.price(best[0])}: an amend never trades (place a new order to trade)")
    if view.is_buy:
        more = bid_escrow(wh, p) - int(view.escrow_quote)  # the escrow of a new bid on these terms
        from_wallet = wallet_part(more, int(ex.proceeds_of(s.address))) if more > 0 else 0
        if from_wallet:
            held = c.quote.balanceOf(s.address)
            if held < from_wallet:
                raise Refused(f"the new terms escrow {c.money(more)} more; your balance on the book covers "
                              f"{c.money(more - from_wallet)} and you hold {c.money(held)}")
            if c.quote.allowance(s.address, ex.address) < from_wallet:
                s.send(c.quote.approve, ex.address, from_wallet, what=f"{c.symbol} approve")
    elif wh > view.remaining_wh:
        held = c.watt.balanceOf(s.address)
        if held < wh - view.remaining_wh:
            raise Refused(f"you hold {kwh(held)} of free WATT, not the {kwh(wh - view.remaining_wh)} more this escrows")
        refuse_unpaid_storage(c, s.address)
    s.send(ex.amend_order, order_id, p, wh, what="amend_order")
    kept = p == view.price and wh < view.remaining_wh
    click.echo(f"order {order_id} now rests: {'buy' if view.is_buy else 'sell'} {kwh(wh)} at {c.price(p)}"
               f" ({'kept its place' if kept else 'at the back of the queue'})")
    if view.is_buy and bid_escrow(wh, p) < int(view.escrow_quote):
        click.echo(f"refunded {c.money(int(view.escrow_quote) - bid_escrow(wh, p))} (to withdraw with `trade withdraw`)")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("order_id")
@account_option
@verbose_option
def cancel(network, order_id, account_spec, verbose):
    """Cancel one of your open orders; what is left is refunded."""
    c = Trade.open(network, verbose, account_spec)
    s = c.sender
    order_id, view = own_open_order(c.ex, order_id, s.address)
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
    c = Trade.open(network, verbose, account_spec)
    who = c.who(owner)
    cols = ("id", "side", f"price {c.symbol}/kWh", "kWh left", "expires")
    table = tables.table(f"open orders of {who}", *cols, right=("id", cols[2], "kWh left"))
    for order_id in c.ex.open_orders(who):
        v = c.ex.order(order_id)
        table.add_row(str(order_id), "buy" if v.is_buy else "sell", c.price(v.price), f"{v.remaining_wh / 1000:,.3f}",
                      when(int(v.expires_at)))
    tables.show(table)


@cli.command(cls=ConnectedProviderCommand)
@click.option("--last", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--wide", is_flag=True, help="whole addresses (wider than 100 columns)")
@verbose_option
def trades(network, last, wide, verbose):
    """The latest trades."""
    c = Trade.open(network, verbose)
    logs = list(c.ex.Trade.range(0, c.head().number + 1))[-last:]
    # each taker placed its order in its trades' transaction: its OrderPlaced is in the same blocks
    takers = {}
    if logs:
        takers = takers_of(c.ex.OrderPlaced.range(logs[0].block_number, logs[-1].block_number + 1))
    addr = str if wide else tables_short
    cols = ("block", "maker/taker order", "maker/taker", "kWh", f"{c.symbol}/kWh", c.symbol)
    table = tables.table(f"last {len(logs)} trades", *cols, right=("block", "kWh", cols[4], cols[5]))
    quotes = [quote_for(t.amount_wh, t.price) for t in logs]
    for t, q in zip(logs, quotes):
        taker = takers[int(t.taker_order_id)]
        table.add_row(str(t.block_number), f"{t.maker_order_id}/{t.taker_order_id}", f"{addr(t.maker)}/{addr(taker)}",
                      f"{t.amount_wh / 1000:,.3f}", c.price(t.price), c.money(q))
    tables.show(table, wide=wide)
    traded = sum(t.amount_wh for t in logs)
    if traded:
        avg = sum(quotes) * 1000 // traded
        tables.show(f"{kwh(traded)} at {c.price(avg)} on average "
                    f"(retail {c.price(c.ex.ceiling_price())}, feed-in {c.price(c.ex.floor_price())})")


def tables_short(address) -> str:
    from .addresses import short

    return short(str(address))


@cli.command(cls=ConnectedProviderCommand)
@click.option("--owner", default=None, help="an address (instead of --account)")
@account_option
@verbose_option
def balances(network, owner, account_spec, verbose):
    """WATT, escrow, storage rent deposit, the rent arrears now and days of storage left, stablecoin and proceeds."""
    c = Trade.open(network, verbose, account_spec)
    tsl_token = c.contract("StorageRentToken")
    who = c.who(owner)
    watt = c.watt
    now = c.now()
    # what the account owes now: recorded arrears plus rent accrued to the latest block that its deposit
    # does not cover (`rent_due`); `arrears_of` alone shows only what was last recorded
    due_now = int(watt.rent_due(who))
    recorded, since = watt.arrears_of(who)
    paid_until = int(watt.storage_paid_until(who))
    stored = int(watt.balanceOf(who)) + int(watt.escrowed_of(who))
    if due_now or (stored and paid_until <= now):
        storage = f"none: in arrears since {when(paid_until if not recorded else int(since))} (selling is refused)"
    else:
        storage = storage_days_left(paid_until, now)
    table = tables.table(f"balances of {who}", "", "value", right=("value",))
    for row in (
        ("WATT free", kwh(watt.balanceOf(who))),
        ("WATT in sell orders", kwh(watt.escrowed_of(who))),
        ("TSL rent deposit", tsl(watt.rent_deposit(who))),
        ("rent arrears now", tsl(due_now, 6) + (f" ({tsl(int(recorded), 6)} recorded)" if recorded else "")),
        ("storage left", storage),
        ("TSL in wallet", tsl(tsl_token.balanceOf(who))),
        (f"{c.symbol} in wallet", c.money(c.quote.balanceOf(who))),
        (f"{c.symbol} proceeds to withdraw", c.money(c.ex.proceeds_of(who))),
    ):
        table.add_row(*row)
    tables.show(table)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("amount", required=False)
@account_option
@verbose_option
def withdraw(network, amount, account_spec, verbose):
    """Withdraw sale proceeds and refunds (all of them unless AMOUNT is given)."""
    c = Trade.open(network, verbose, account_spec)
    s = c.sender
    available = c.ex.proceeds_of(s.address)
    units = available if amount is None else parse_token(amount, c.decimals, c.symbol)
    if units == 0:
        raise Refused("no proceeds to withdraw")
    if units > available:
        raise Refused(f"you can withdraw {c.money(available)}, not {c.money(units)}")
    s.send(c.ex.withdraw_proceeds, units, what="withdraw_proceeds")
    click.echo(f"withdrew {c.money(units)}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("amount")
@account_option
@verbose_option
def deposit(network, amount, account_spec, verbose):
    """Deposit quote into your balance on the book: your bids pay out of it before anything leaves your wallet
    (withdraw it any time with `trade withdraw`)."""
    c = Trade.open(network, verbose, account_spec)
    s = c.sender
    units = parse_token(amount, c.decimals, c.symbol)  # refuses 0 and sub-unit amounts
    held = c.quote.balanceOf(s.address)
    if held < units:
        raise Refused(f"you hold {c.money(held)}; cannot deposit {c.money(units)}")
    if c.quote.allowance(s.address, c.ex.address) < units:
        s.send(c.quote.approve, c.ex.address, units, what=f"{c.symbol} approve")
    s.send(c.ex.deposit_quote, units, what="deposit_quote")
    click.echo(f"deposited {c.money(units)}; your balance on the book is {c.money(int(c.ex.proceeds_of(s.address)))}")


def _storage_line(watt, who: str, now: int) -> str:
    return storage_days_left(watt.storage_paid_until(who), now)


@cli.command("deposit-rent", cls=ConnectedProviderCommand)
@click.argument("amount")
@account_option
@verbose_option
def deposit_rent(network, amount, account_spec, verbose):
    """Deposit TSL for storage rent (one transaction: an EIP-2612 permit instead of an approve)."""
    c = Trade.open(network, verbose, account_spec)
    tsl_token = c.contract("StorageRentToken")
    units = parse_token(amount, 18, "TSL")
    s = c.sender
    held = tsl_token.balanceOf(s.address)
    if held < units:
        raise Refused(f"you hold {tsl(held)}, not {tsl(units)} (the operator mints TSL: `ape run operator mint-tsl`)")
    now = c.now()
    before = _storage_line(c.watt, s.address, now)
    deadline = now + 3_600
    v, r, sig_s = s.sign_permit(tsl_token, c.watt.address, units, deadline)
    s.send(c.watt.deposit_rent_with_permit, units, deadline, v, r, sig_s, what="deposit_rent_with_permit")
    after = _storage_line(c.watt, s.address, c.now())
    click.echo(f"deposited {tsl(units)}; deposit {tsl(c.watt.rent_deposit(s.address))}; storage left: {before} -> {after}")


@cli.command("withdraw-rent", cls=ConnectedProviderCommand)
@click.argument("amount")
@account_option
@verbose_option
def withdraw_rent(network, amount, account_spec, verbose):
    """Withdraw unspent TSL from your rent deposit."""
    c = Trade.open(network, verbose, account_spec)
    s = c.sender
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
    now = c.now()
    before = _storage_line(c.watt, s.address, now)
    s.send(c.watt.withdraw_rent, units, what="withdraw_rent")
    after = _storage_line(c.watt, s.address, c.now())
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
    c = Trade.open(network, verbose, account_spec)
    registry = c.contract("MeterRegistry")
    meter = parse_address(meter, "meter")
    info = registry.meters(meter)
    if str(info.owner) == ZERO_ADDRESS:
        raise Refused(f"no meter {meter} is registered")
    s = c.sender
    if str(info.owner) != s.address:
        raise Refused(f"meter {meter} is registered for {info.owner}, not for you")
    if info.accepted:
        raise Refused(f"you have already accepted meter {meter}")
    s.send(registry.accept_meter, meter, what="accept_meter")
    click.echo(f"accepted meter {meter} ({info.name}, {METHOD_NAMES.get(int(info.method), info.method)}, "
               f"{info.rated_power_w / 1000:,.3f} kW): its readings now credit your account")
