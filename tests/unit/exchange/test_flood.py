"""Flood: with 1,000 orders resting at many prices, placing and taking cost what they cost on a thin book."""

from tests.utils.machine import announce_and_apply


def _gas(contract):
    return contract._computation.get_gas_used()


def test_flood__1000_resting_orders__place_and_take_stay_within_1_3x(exchange, watt, trader, operator):
    announce_and_apply(watt, "capacity_wh", 10**7, sender=operator)
    seller = trader("flood-seller", wh=400_000)
    # an account has at most 64 open asks: the flood's asks come from ten accounts
    flooders = [trader(f"flood-seller-{k}", wh=10_000) for k in range(10)]
    buyer = trader("flood-buyer", wh=1_000, cash=10**13)
    taker = trader("flood-taker", cash=10**12)

    def place_and_take(ask_price, bid_price):
        exchange.place_order(True, bid_price, 1_000, 0, 0, sender=buyer)  # rests at a new level
        place = _gas(exchange)
        exchange.place_order(False, ask_price, 1_000, 0, 0, sender=seller)
        exchange.place_order(True, ask_price, 1_000, 0, 0, sender=taker)  # takes one ask
        take = _gas(exchange)
        return place, take

    # warm up the accounts so both measurements see the same storage temperature
    exchange.place_order(False, 300_000, 100, 0, 0, sender=seller)
    exchange.place_order(True, 300_000, 100, 0, 0, sender=taker)
    shallow = place_and_take(200_000, 120_000)

    for i in range(1_000):
        if i % 2:
            exchange.place_order(False, 250_000 + (i % 900) * 100, 100, 0, 0, sender=flooders[(i // 2) % 10])
        else:
            exchange.place_order(True, 80_000 + (i % 350) * 100, 100, 0, 0, sender=buyer)
    depth = exchange.depth(False, 32)
    assert len(depth) == 32 and exchange.best_bid()[0] < exchange.best_ask()[0]
    deep = place_and_take(210_000, 121_000)
    assert deep[0] <= 1.3 * shallow[0], (shallow, deep)
    assert deep[1] <= 1.3 * shallow[1], (shallow, deep)
