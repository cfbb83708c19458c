"""The compare step: reads the chain's views at the audited block and sets them beside what the
events recomputed. Every difference is a `compare` finding (contract, account, block, expected =
recomputed, actual = chain).

`views(contract, fn, *args)` is any callable answering a view at the audited block: web3 in
production (`web3_views`), titanoboa in the in-process tests.
"""

from __future__ import annotations

from typing import Any, Callable

from .findings import COMPARE, INVARIANT, Finding
from .recompute import CERTIFICATE, MARKETS, REGISTRY, TSL, WATT, ZERO, Ledger, rent_charge

View = Callable[..., Any]


def web3_views(w3, contracts: dict[str, dict], block: int) -> View:
    """A view reader over web3.py at `block`, with the record's ABIs."""
    handles = {name: w3.eth.contract(address=c["address"], abi=c["abi"]) for name, c in contracts.items()}

    def view(contract: str, fn: str, *args):
        return getattr(handles[contract].functions, fn)(*args).call(block_identifier=block)

    return view


def compare(ledger: Ledger, view: View, block: int, timestamp: int, addresses: dict[str, str]) -> list[Finding]:
    """All differences between the ledger (folded up to `block`, whose time is `timestamp`) and the
    chain's views at `block`."""
    out: list[Finding] = []

    def check(contract: str, what: str, account, expected, actual, unit: str) -> None:
        if isinstance(actual, (list, tuple)) and not isinstance(expected, (list, tuple)):
            actual = actual[0]
        if expected != actual:
            out.append(Finding(COMPARE, f"{contract}.{what}", contract, account, block, expected, actual, unit))

    # ---- WATT: supply, balances, escrow, rent
    check(WATT, "totalSupply", None, ledger.supply, view(WATT, "totalSupply"), "Wh")
    check(WATT, "capacity_wh", None, ledger.capacity_wh, view(WATT, "capacity_wh"), "Wh")
    check(WATT, "rent_revenue", None, ledger.revenue, view(WATT, "rent_revenue"), "TSL base units")
    check(WATT, "rent_rate", None, ledger.rent_rate, view(WATT, "rent_rate"), "TSL base units per kWh per day")
    index = ledger.index_at(timestamp)
    check(WATT, "rent_index", None, index, view(WATT, "rent_index"), "TSL base units per kWh per day x s")
    for account, acct in sorted(ledger.accounts.items()):
        if account == ZERO:
            continue
        check(WATT, "balanceOf", account, acct.balance, view(WATT, "balanceOf", account), "Wh")
        check(WATT, "escrowed_of", account, acct.escrow, view(WATT, "escrowed_of", account), "Wh")
        owed = rent_charge(acct.balance + acct.escrow, index - acct.snapshot)
        check(WATT, "rent_deposit", account, acct.deposit - min(owed, acct.deposit),
              view(WATT, "rent_deposit", account), "TSL base units")
        check(WATT, "rent_due", account, acct.arrears + owed - min(owed, acct.deposit),
              view(WATT, "rent_due", account), "TSL base units")
    # ---- TSL held by WATT (invariant 2 against the token's own books)
    if ledger.tsl:
        watt = addresses[WATT]
        check(TSL, "balanceOf", watt, ledger.tsl.get(watt, 0), view(TSL, "balanceOf", watt), "TSL base units")
        check(TSL, "totalSupply", None, ledger.tsl_supply, view(TSL, "totalSupply"), "TSL base units")
    # ---- registry: every meter's registers, last reading time, certifiable generation
    for address, meter in sorted(ledger.meters.items()):
        if meter.retired:
            continue
        info = view(REGISTRY, "meters", address)
        check(REGISTRY, "meters", address,
              [meter.owner, meter.method, meter.active, meter.accepted, meter.rated_power_w],
              [info[0], info[1], info[2], info[3], info[4]], "owner, method, active, accepted, W")
        last = view(REGISTRY, "last_reading", address)
        check(REGISTRY, "last_reading", address, [meter.last_ts, *meter.registers],
              [last[0], last[2], last[3], last[4], last[5]], "s, Wh x 4")
        certifiable = view(REGISTRY, "certifiable", address)
        check(REGISTRY, "certifiable", address, meter.certifiable_wh, certifiable[0], "Wh")
    # ---- certificates: issued, outstanding, claimed per id; holders' units; beneficiaries' claims
    for cid, cert in sorted(ledger.certificates.items()):
        data = view(CERTIFICATE, "certificate", cid)
        # CertificateData: meter, generator, name, method, start, end, amount, issued_at, expires, revoked,
        # outstanding, claimed
        check(CERTIFICATE, "certificate", f"#{cid}",
              [cert.meter, cert.generator, cert.method, cert.period_start, cert.period_end, cert.issued, cert.revoked,
               cert.outstanding, cert.claimed],
              [data[0], data[1], data[3], data[4], data[5], data[6], data[9], data[10], data[11]],
              "meter, generator, method, period (s), issued, revoked, outstanding, claimed (Wh)")
    for (holder, cid), units in sorted(ledger.units.items()):
        if holder != ZERO:
            check(CERTIFICATE, "balanceOf", holder, units, view(CERTIFICATE, "balanceOf", holder, cid), f"Wh of #{cid}")
    for (beneficiary, cid), wh in sorted(ledger.claimed_by.items()):
        check(CERTIFICATE, "claimed_balance_of", beneficiary, wh,
              view(CERTIFICATE, "claimed_balance_of", beneficiary, cid), f"Wh of #{cid}")
    # ---- markets: open orders, bid escrow, fees, proceeds, units held for accounts, quote held
    for name in MARKETS:
        if name not in addresses:
            continue
        m = ledger.markets[name]
        check(name, "bid_escrow_total", None, m.escrow_total(), view(name, "bid_escrow_total"), "quote base units")
        check(name, "fees_accrued", None, m.fees, view(name, "fees_accrued"), "quote base units")
        for owner, amount in sorted(m.proceeds.items()):
            check(name, "proceeds_of", owner, amount, view(name, "proceeds_of", owner), "quote base units")
        for oid, order in sorted(m.orders.items()):
            o = view(name, "order", oid)
            remaining, escrow, is_open = (o[6], o[8], o[9]) if name == "CertificateExchange" else (o[3], o[5], o[6])
            check(name, "order", f"#{oid}", [order.owner, order.remaining, order.escrow, True],
                  [o[0], remaining, escrow, is_open], "owner, Wh, quote base units, open")
        for (owner, cid), units in sorted(m.units_of.items()):
            check(name, "units_of", owner, units, view(name, "units_of", owner, cid), f"Wh of #{cid}")
        if "QuoteToken" in addresses:
            # invariant 4: the market holds at least the escrow of its open bids + fees + proceeds
            held = view("QuoteToken", "balanceOf", addresses[name])
            owed = m.escrow_total() + m.fees + sum(m.proceeds.values())
            if held < owed:
                out.append(Finding(INVARIANT, "inv4.quote-held", name, addresses[name], block, owed, held,
                                   "quote base units", "the market holds less quote than it owes"))
    return out
