"""The slot auction's commands: one clearing price per 30-minute slot, standing orders, lazy claims.

    ape run auction book [--slot N]                                     --network ethereum:local:foundry
    ape run auction place buy|sell PRICE KWH --account ALIAS            (joins the current slot's auction)
    ape run auction standing buy|sell PRICE KWH --for 1d --account ALIAS   (KWH every slot, no tx per slot)
    ape run auction cancel ORDER_ID --account ALIAS
    ape run auction clear                                                (clears every ended slot: 48 per tx)
    ape run auction claim [ORDER_ID ...] --account ALIAS                (default: all of your open orders)
    ape run auction deposit AMOUNT --account ALIAS                      (a budget your bids escrow from)
    ape run auction results [--last 10]

PRICE is in the quote token per kWh, KWH in kWh (to the Wh), AMOUNT in the quote token. A bid escrows
out of your balance in the auction first (proceeds, refunds, deposits: `proceeds_of`), and only the
rest is pulled from your wallet. Bad input — a price outside the band or
off the tick, an amount below the minimum or above what you hold, an unknown order or someone else's —
is one line on stderr and exit status 2, with nothing sent; every transaction is simulated first.
"""

from __future__ import annotations

import click
from ape.cli import ConnectedProviderCommand

from gridmint.auction import catch_up_calls
from gridmint.market import bid_escrow
from gridmint.generated.contracts import MAX_CLAIMS
from gridmint.units import kwh, parse_duration_s, parse_energy_wh, parse_price, parse_token, when

from . import tables
from .errors import Group, Refused
from .options import account_option, verbose_option
from .trade import Trade, refuse_unpaid_storage

LONG_SIDES = {0: "balanced", 1: "bids rationed", 2: "asks rationed"}


class Auction(Trade):
    """The member's view of the slot auction (and, through Trade, WATT and the quote token)."""

    auction = property(lambda self: self.contract("EnergyAuction"))
    # the price levels (AuctionLens); a deployment from before the lens reads them from the auction itself
    lens = property(lambda self: self.contract("AuctionLens") if self.has("AuctionLens") else self.auction)


def _check_order(c: Auction, side: str, price_text: str, amount: str) -> tuple[bool, int, int]:
    a = c.auction
    p, wh = parse_price(price_text, c.decimals, c.symbol), parse_energy_wh(amount)
    floor, ceiling, tick = a.floor_price(), a.ceiling_price(), a.TICK()
    if not floor <= p <= ceiling:
        raise Refused(f"price {c.price(p)} is outside the band {c.price(floor)} .. {c.price(ceiling)}")
    if p % tick:
        raise Refused(f"price {price_text} is not on the tick of {c.money(tick)}")
    if wh < a.min_order_wh():
        raise Refused(f"{kwh(wh)} is below the minimum order of {kwh(a.min_order_wh())}")
    if a.paused():
        raise Refused("the auction is paused: no new orders (cancels, clearing and claims still work)")
    return side == "buy", p, wh


def _escrow(c: Auction, is_buy: bool, p: int, wh: int, slots: int) -> None:
    """Refuses an order its sender cannot escrow; approves the quote a bid pulls from the wallet
    (its escrow beyond the sender's balance in the auction)."""
    s, a = c.sender, c.auction
    if is_buy:
        need = bid_escrow(wh, p) * slots
        balance = int(a.proceeds_of(s.address))
        pull = max(need - balance, 0)
        held = c.quote.balanceOf(s.address)
        if held < pull:
            raise Refused(f"this bid escrows {c.money(need)} (price x amount + 1% fee cap, per slot); your balance in the "
                          f"auction covers {c.money(min(balance, need))} and you hold {c.money(held)}")
        if pull and c.quote.allowance(s.address, a.address) < pull:
            s.send(c.quote.approve, a.address, pull, what=f"{c.symbol} approve")
        return
    held = c.watt.balanceOf(s.address)
    if held < wh * slots:
        raise Refused(f"you hold {kwh(held)} of free WATT; this ask escrows {kwh(wh * slots)}")
    refuse_unpaid_storage(c, s.address)


def _slot_line(c: Auction, slot: int) -> str:
    slot_s = int(c.auction.SLOT_S())
    return f"slot {slot} ({when(slot * slot_s)} .. {when((slot + 1) * slot_s)})"


@click.group(cls=Group)
def cli():
    """The slot auction: WATT against the stablecoin at one clearing price per slot."""


@cli.command(cls=ConnectedProviderCommand)
@click.option("--slot", type=int, default=None, help="a slot number (default: the current slot)")
@verbose_option
def book(network, slot, verbose):
    """A slot's aggregate supply and demand (its one-shot orders plus the standing orders in force)."""
    c = Auction.open(network, verbose)
    a = c.auction
    slot = int(a.current_slot()) if slot is None else slot
    levels: dict[int, list[int]] = {}
    for is_buy, col in ((True, 0), (False, 1)):
        for lv in list(c.lens.levels(slot, is_buy, 32)) + list(c.lens.standing_levels(is_buy, 32)):
            levels.setdefault(int(lv.price), [0, 0])[col] += int(lv.amount_wh)
    sym = c.symbol
    table = tables.table(f"auction of {_slot_line(c, slot)}", f"price {sym}/kWh", "bids kWh", "asks kWh",
                         "demand kWh (>= price)", "supply kWh (<= price)", right=(f"price {sym}/kWh", "bids kWh", "asks kWh",
                                                                                 "demand kWh (>= price)", "supply kWh (<= price)"))
    prices = sorted(levels)
    for p in prices:
        demand = sum(levels[q][0] for q in prices if q >= p)
        supply = sum(levels[q][1] for q in prices if q <= p)
        table.add_row(c.price(p), f"{levels[p][0] / 1000:,.3f}", f"{levels[p][1] / 1000:,.3f}",
                      f"{demand / 1000:,.3f}", f"{supply / 1000:,.3f}")
    tables.show(table)
    end = (int(a.current_slot()) + 1) * int(a.SLOT_S())
    tables.show(f"the current slot ends in {max(end - c.now(), 0)} s; band {c.price(a.floor_price())} .. "
                f"{c.price(a.ceiling_price())}, minimum order {kwh(a.min_order_wh())}, fee {a.taker_fee_bps()} bps each side")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("price_text", metavar="PRICE")
@click.argument("amount", metavar="KWH")
@account_option
@verbose_option
def place(network, side, price_text, amount, account_spec, verbose):
    """Place an order in the current slot's auction (cancellable until the slot ends)."""
    c = Auction.open(network, verbose, account_spec)
    is_buy, p, wh = _check_order(c, side, price_text, amount)
    _escrow(c, is_buy, p, wh, 1)
    tx = c.sender.send(c.auction.place_order, is_buy, p, wh, what="place_order")
    ev = tx.decode_logs(c.auction.OrderPlaced)[0]
    click.echo(f"order {ev.order_id}: {side} {kwh(wh)} at {c.price(p)} or better in {_slot_line(c, int(ev.first_slot))}")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("price_text", metavar="PRICE")
@click.argument("amount", metavar="KWH")
@click.option("--for", "duration", default="1d", show_default=True, help="how long it stands (e.g. 6h, 1d, 7d)")
@account_option
@verbose_option
def standing(network, side, price_text, amount, duration, account_spec, verbose):
    """A standing order: up to KWH in every slot's auction at PRICE or better, with no transaction per slot."""
    c = Auction.open(network, verbose, account_spec)
    a = c.auction
    is_buy, p, wh = _check_order(c, side, price_text, amount)
    slot_s = int(a.SLOT_S())
    current = int(a.current_slot())
    if int(a.next_to_clear()) < current:
        raise Refused("ended slots are not cleared yet: run `ape run auction clear` first")
    until = c.landing_time() + parse_duration_s(duration)
    slots = until // slot_s - current
    if slots < 1:
        raise Refused(f"--for {duration} ends before the current slot does")
    if slots > int(a.MAX_STANDING_SLOTS()):
        raise Refused(f"a standing order joins at most {a.MAX_STANDING_SLOTS()} slots; --for {duration} is {slots}")
    _escrow(c, is_buy, p, wh, slots)
    tx = c.sender.send(a.place_standing, is_buy, p, wh, until, what="place_standing")
    ev = tx.decode_logs(a.OrderPlaced)[0]
    click.echo(f"standing order {ev.order_id}: {side} up to {kwh(wh)} per slot at {c.price(p)} or better, "
               f"slots {ev.first_slot} .. {ev.last_slot} (until {when((int(ev.last_slot) + 1) * slot_s)})")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("order_id", type=int)
@account_option
@verbose_option
def cancel(network, order_id, account_spec, verbose):
    """Cancel your order: a one-shot order while its slot is open, a standing order from now on."""
    c = Auction.open(network, verbose, account_spec)
    a, s = c.auction, c.sender
    view = a.order(order_id)
    if not view.open or str(view.owner).lower() != str(s.address).lower():
        raise Refused(f"order {order_id} is not an open order of {s.address}")
    tx = s.send(a.cancel_order, order_id, what="cancel_order")
    for ev in tx.decode_logs(a.OrderCancelled):
        refund = c.money(ev.refund_quote) + " (to withdraw)" if view.is_buy else kwh(ev.refund_wh) + " of WATT"
        click.echo(f"order {order_id} cancelled; refunded {refund}")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--max", "most", type=click.IntRange(1, 96), default=48, show_default=True, help="most slots to clear")
@account_option
@verbose_option
def clear(network, most, account_spec, verbose):
    """Clear every ended slot's auction, in order (anyone may; it moves no token). On a local chain the
    sender defaults to the deployer (test:0)."""
    c = Auction.open(network, verbose, account_spec, operator=True)
    a, s = c.auction, c.sender
    done = 0
    # one transaction clears up to 48 ended slots (clear(k) catches up on those before k)
    for upto in catch_up_calls(int(a.next_to_clear()), int(a.current_slot()), most):
        first = int(a.next_to_clear())
        s.send(a.clear, upto, what=f"clear({upto})")
        for slot in range(first, upto + 1):
            r = a.result(slot)
            click.echo(f"{_slot_line(c, slot)}: {kwh(r.matched_wh)} at {c.price(r.price)} ({LONG_SIDES[int(r.long_side)]})"
                       if r.matched_wh else f"{_slot_line(c, slot)}: no trade")
            done += 1
    if not done:
        click.echo("nothing to clear: the current slot has not ended")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("order_ids", type=int, nargs=-1)
@account_option
@verbose_option
def claim(network, order_ids, account_spec, verbose):
    """Settle orders of cleared slots (default: all of yours); then withdraw the WATT bought."""
    c = Auction.open(network, verbose, account_spec)
    a, s = c.auction, c.sender
    ids = list(order_ids) or _own_orders(c, s.address)
    if not ids and not int(a.watt_of(s.address)):
        raise Refused(f"{s.address} has no open auction orders and no WATT bought to withdraw")
    for i in range(0, len(ids), MAX_CLAIMS):
        tx = s.send(a.claim, ids[i : i + MAX_CLAIMS], what="claim")
        for ev in tx.decode_logs(a.OrderClaimed):
            click.echo(f"order {ev.order_id}: filled {kwh(ev.filled_wh)} for {c.money(ev.quote)} (fee {c.money(ev.fee)}); "
                       f"refunded {c.money(ev.refund_quote)} and {kwh(ev.refund_wh)}")
    owed = int(a.watt_of(s.address))
    held = int(c.watt.balanceOf(a.address))
    if owed and held:
        wh = min(owed, held)
        s.send(a.withdraw_watt, wh, what="withdraw_watt")
        click.echo(f"withdrew {kwh(wh)} of WATT bought" + (f"; {kwh(owed - wh)} waits for its sellers' claims" if owed > wh else ""))
    elif owed:
        click.echo(f"{kwh(owed)} of WATT bought waits for its sellers' claims (anyone may claim their orders; "
                   f"run `ape run auction claim` again later)")


@cli.command(cls=ConnectedProviderCommand)
@click.argument("amount_text", metavar="AMOUNT")
@account_option
@verbose_option
def deposit(network, amount_text, account_spec, verbose):
    """Deposit quote into your balance in the auction: your bids escrow from it before anything is pulled
    from your wallet (withdraw it with the app's withdraw, or `withdraw_proceeds`)."""
    c = Auction.open(network, verbose, account_spec)
    a, s = c.auction, c.sender
    amount = parse_token(amount_text, c.decimals, c.symbol)
    held = c.quote.balanceOf(s.address)
    if held < amount:
        raise Refused(f"you hold {c.money(held)}; cannot deposit {c.money(amount)}")
    if c.quote.allowance(s.address, a.address) < amount:
        s.send(c.quote.approve, a.address, amount, what=f"{c.symbol} approve")
    s.send(a.deposit_quote, amount, what="deposit_quote")
    click.echo(f"deposited {c.money(amount)}; your balance in the auction is {c.money(int(a.proceeds_of(s.address)))}")


def _own_orders(c: Auction, owner: str) -> list[int]:
    """Open orders of `owner`, newest first: its OrderPlaced events (ids are not consecutive, settled
    order words being reused; a settled id reads as closed)."""
    from ape import chain  # ape's managers load on use, not at import (tests/unit/auction/test_auction_cli.py)

    a = c.auction
    placed = [int(ev.order_id) for ev in a.OrderPlaced.range(0, int(chain.blocks.head.number) + 1, search_topics={"owner": owner})]
    return [i for i in dict.fromkeys(reversed(placed)) if a.order(i).open]


@cli.command(cls=ConnectedProviderCommand)
@click.option("--last", type=click.IntRange(1, 96), default=10, show_default=True)
@verbose_option
def results(network, last, verbose):
    """Recent clearing prices and volumes."""
    c = Auction.open(network, verbose)
    a = c.auction
    nxt = int(a.next_to_clear())
    table = tables.table("cleared slots", "slot", "starts", f"price {c.symbol}/kWh", "matched kWh", "rationing",
                         right=("slot", f"price {c.symbol}/kWh", "matched kWh"))
    slot_s = int(a.SLOT_S())
    for slot in range(nxt - 1, max(nxt - 1 - last, -1), -1):
        r = a.result(slot)
        if not r.cleared:
            break
        table.add_row(str(slot), when(slot * slot_s), c.price(r.price) if r.matched_wh else "-",
                      f"{r.matched_wh / 1000:,.3f}", LONG_SIDES[int(r.long_side)])
    tables.show(table)
