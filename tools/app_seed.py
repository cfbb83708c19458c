"""Seeds a local chain for the member app: deploys gridmint, registers the demo community's meters
on Anvil's unlocked development accounts, and runs the community through the morning of a June day
(simulated meters -> signed readings -> WATT), with members trading on the way, so the app opens on
a real book, stored energy and certificates, some of them offered on the certificate market.

    python -m tools.app_seed --rpc http://127.0.0.1:8545 [--members 20] [--slots 24] [--out deployments]

Plain web3.py against any node that holds the members' accounts unlocked (Anvil does): no ape
needed, so `make app` and the browser tests seed in seconds. Contracts come from ape's build
manifest (`ape compile`); the record is written through gridmint.deployments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import namedtuple
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from eth_hash.auto import keccak
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD

from gridmint import deployments
from gridmint import community_day as engine
from gridmint.community import COMMUNITY, Member, next_june_day
from gridmint.generated.contracts import FLAG_POST_ONLY
from gridmint.system import SystemParams, deploy_system, web3_deployer, web3_deployment_record
from oracle.eip712 import Domain, MeterSigner, Reading

# Anvil's well-known development mnemonic ("test test ... junk"): public test keys, not secrets
DEV_MNEMONIC = "test test test test test test test test test test test junk"
RENT_TSL = engine.RENT_TSL  # each member's first storage-rent deposit
QUOTE_EUR = engine.QUOTE_EUR  # each member's mock EUR (6 decimals; local chains only)
SPARE_TSL = 60 * 10**18  # TSL left in each wallet for the app's rent page
FIRST_MEMBER = 2  # accounts 0 (operator) and 1 (relayer) are not members


@dataclass
class Seeded:
    deployment: Path
    rpc_url: str
    chain_id: int
    members: list[dict] = field(default_factory=list)  # name, kind, account, meter
    trades: int = 0
    certificates: list[int] = field(default_factory=list)
    head_timestamp: int = 0

    def as_dict(self) -> dict:
        return {
            "deployment": str(self.deployment), "rpc_url": self.rpc_url, "chain_id": self.chain_id,
            "members": self.members, "trades": self.trades, "certificates": self.certificates,
            "head_timestamp": self.head_timestamp,
        }


def dev_key(index: int) -> str:
    """The private key of Anvil's development account `index` (public test keys)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key.to_0x_hex()




class _Receipt:
    """A web3 receipt with ape's receipt shape: `gas_used`, `decode_logs(handle.EventName)`."""

    def __init__(self, receipt):
        self.receipt = receipt
        self.gas_used = int(receipt["gasUsed"])

    def decode_logs(self, event) -> list:
        return [log["args"] for log in event.process_receipt(self.receipt, errors=DISCARD)]


class _Handle:
    """A web3 contract with ape's call shape, which gridmint.community_day drives: `c.fn(*args)` reads
    (structs as named tuples), `c.fn(*args, sender=address)` sends from the node's unlocked account and
    returns a `_Receipt`, `c.EventName` is the event for `decode_logs`."""

    def __init__(self, w3: Web3, address: str, abi: list):
        self.w3, self.address, self.abi = w3, Web3.to_checksum_address(address), abi
        self.contract = w3.eth.contract(address=self.address, abi=abi)
        self._events = {item["name"] for item in abi if item["type"] == "event"}
        # a function that returns one struct -> the struct as a named tuple (web3's decode_tuples drops
        # every output but the first of a function with several unnamed ones)
        self._structs = {
            item["name"]: namedtuple(item["name"], [c["name"] for c in item["outputs"][0]["components"]])
            for item in abi
            if item["type"] == "function" and len(item["outputs"]) == 1 and item["outputs"][0]["type"] == "tuple"
        }

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._events:
            return getattr(self.contract.events, name)()
        function = getattr(self.contract.functions, name)

        def invoke(*args, sender=None):
            call = function(*(getattr(a, "address", a) for a in args))
            if sender is None:
                result = call.call()
                return self._structs[name](*result) if name in self._structs else result
            receipt = self.w3.eth.wait_for_transaction_receipt(call.transact({"from": getattr(sender, "address", sender)}))
            if receipt["status"] != 1:
                raise RuntimeError(f"{name} reverted")
            return _Receipt(receipt)

        return invoke


class _RelayerReadings:
    """Readings for gridmint.community_day: each meter's key signs its reading and the relayer (an
    unlocked account) submits them, 64 to a transaction; every reading credits at once."""

    def __init__(self, w3: Web3, registry: _Handle, relayer: str, meters: list[MeterSigner]):
        self.w3, self.registry, self.relayer, self.meters = w3, registry, relayer, meters
        self.domain = Domain(w3.eth.chain_id, registry.address)

    def relay(self, ts: int, counters: dict, credit: bool) -> None:
        rows = [Reading(m.address, ts, *counters[m.address]) for m in self.meters]
        sigs = [m.sign(r, self.domain) for m, r in zip(self.meters, rows)]
        for i in range(0, len(rows), 64):
            tx = self.registry.contract.functions.submit_readings(
                [r.as_call_arg() for r in rows[i:i + 64]], sigs[i:i + 64]).transact({"from": self.relayer, "gas": 15_000_000})
            if self.w3.eth.wait_for_transaction_receipt(tx)["status"] != 1:
                raise RuntimeError("submit_readings reverted")

    def finish(self) -> None:
        pass


def seed(rpc_url: str, members: list[Member] = COMMUNITY, slots: int = 24,
         directory: Path | None = None, trade: bool = True) -> Seeded:
    """Deploys, registers `members`, runs `slots` half-hour slots from midnight of a June day on the
    continuous book (gridmint.community_day), then sets up the app's fixtures: both sides of the book,
    certificates, a claim and the certificate market."""
    from oracle.sources.simulator import Simulator

    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    accounts = w3.eth.accounts
    if len(accounts) < FIRST_MEMBER + len(members):
        raise SystemExit(f"the node holds {len(accounts)} unlocked accounts; {FIRST_MEMBER + len(members)} needed "
                         "(start anvil with --accounts)")
    from eth_account import Account

    operator = Account.from_key(dev_key(0))
    if operator.address != accounts[0]:
        raise SystemExit("the node's first account is not Anvil's development account 0")
    relayer = accounts[1]
    owners = accounts[FIRST_MEMBER:FIRST_MEMBER + len(members)]
    start_block = w3.eth.block_number
    day = next_june_day(w3.eth.get_block("latest")["timestamp"])
    t0 = int(day.timestamp())
    # chain time jumps to the simulated day's eve before the deploy: the slot auction's first slot to clear
    # is its deploy slot, so a deploy months earlier would leave months of empty slots to clear
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0 - 3_600])
    w3.provider.make_request("evm_mine", [])
    deployed = deploy_system(web3_deployer(w3, operator), operator, SystemParams(capacity_wh=5_000_000))
    record = web3_deployment_record(deployed, "ethereum:local", w3.eth.chain_id)
    record.params["deploy_block"] = start_block  # where the app and the auditor start reading events
    path = deployments.write(record, directory) if directory else deployments.write(record)
    system = replace(deployed, **{f.name: _Handle(w3, c.address, c.abi) for f in fields(deployed)
                                  if (c := getattr(deployed, f.name)) is not None and hasattr(c, "abi")})

    meters = [MeterSigner(keccak(f"demo-meter:{m.name}".encode())) for m in members]
    sim = Simulator({m.address: mem.site for m, mem in zip(meters, members)}, day)
    # chain time jumps to just before the simulated day: commissioning values are read "now"
    commissioned_at = t0 - 600
    w3.provider.make_request("evm_setNextBlockTimestamp", [commissioned_at])
    w3.provider.make_request("evm_mine", [])
    c = engine.onboard(system, members, owners, meters, operator.address, commissioned_at, sim.counters(),
                       rent_tsl=RENT_TSL, quote_eur=QUOTE_EUR, spare_tsl=SPARE_TSL)
    w3.provider.make_request("evm_setNextBlockTimestamp", [t0])
    w3.provider.make_request("evm_mine", [])
    readings = _RelayerReadings(w3, system.registry, relayer, meters)
    the_day = engine.run_day(c, w3, t0, slots, sim, readings, "book" if trade else None, close=False)
    trades = the_day.trade_count

    if trade:
        two_sided_book(c)
    # generators certify the morning's renewable generation; the company takes half of the largest
    # certificate and claims part of it
    issued = list(engine.issue_certificates(c, None, profile=False)[0].values())
    kinds = [m.kind for m in members]
    cert = system.certificate
    if issued and "company" in kinds:
        company = owners[kinds.index("company")]
        largest = max(issued, key=lambda i: cert.certificate(i).amount_wh)
        data = cert.certificate(largest)
        holder, amount = data.generator, data.amount_wh // 2
        if holder != company:
            cert.safeTransferFrom(holder, company, largest, amount, b"", sender=holder)
        cert.claim(largest, amount // 2, company, "own consumption, 15 June", sender=company)

    if trade and issued:
        trades += seed_certificate_market(c, issued)

    out = Seeded(path, rpc_url, w3.eth.chain_id, trades=trades, certificates=issued,
                 head_timestamp=w3.eth.get_block("latest")["timestamp"])
    for i, (member, meter, owner) in enumerate(zip(members, meters, owners)):
        out.members.append({"name": member.name, "kind": member.kind, "account": owner,
                            "account_index": FIRST_MEMBER + i, "meter": meter.address})
    return out


def two_sided_book(c: engine.Community) -> None:
    """The morning's buyers took every ask: PV members offer part of what they store for the afternoon
    (post-only, above the bids), and a few members bid low, so the book has two sides."""
    ex, watt = c.system.exchange, c.system.watt
    floor, ceiling, tick = ex.floor_price(), ex.ceiling_price(), ex.TICK()
    min_wh, offered = ex.min_order_wh(), 0
    for i, owner in enumerate(c.owners):
        if offered == 5 or not c.members[i].method or ex.open_orders(owner):
            continue
        wh = watt.balanceOf(owner) // 3 // 100 * 100
        if wh >= max(min_wh, 300) and watt.arrears_of(owner)[0] == 0:
            price = (floor + (ceiling - floor) * (55 + 5 * offered) // 100) // tick * tick
            ex.place_order(False, price, wh, 0, FLAG_POST_ONLY, sender=owner)
            offered += 1
    for j, owner in enumerate(c.owners[-3:]):
        price = (floor + (ceiling - floor) * (20 + 5 * j) // 100) // tick * tick
        ex.place_order(True, price, 1_000 * (j + 1), 0, FLAG_POST_ONLY, sender=owner)


def seed_certificate_market(c: engine.Community, issued: list[int]) -> int:
    """Generators other than the company offer a third of their certificates on the certificate market
    (up to four asks, 4.0–5.5 mEUR/kWh: each approves the market as operator of its certificates first,
    ERC-1155 has no permit); the company bids low for more and buys and claims 1 kWh for its own
    consumption, so the market opens with both sides and a trade. Returns the trades."""
    cx, cert, quote = c.system.certificate_exchange, c.system.certificate, c.system.quote
    floor, ceiling, tick = cx.floor_price(), cx.ceiling_price(), cx.TICK()
    min_wh = cx.min_order_wh()
    kinds = [m.kind for m in c.members]
    company = c.owners[kinds.index("company")] if "company" in kinds else None
    asks, trades, cls = 0, 0, None
    for id in issued:
        holder = cert.certificate(id).generator
        if holder == company or asks == 4:
            continue
        wh = cert.balanceOf(holder, id) // 3 // 100 * 100
        if wh < min_wh:
            continue
        price = max(floor, min(ceiling, (4_000 + 500 * asks) // tick * tick))
        if not cert.isApprovedForAll(holder, cx.address):
            cert.setApprovalForAll(cx.address, True, sender=holder)
        cx.place_ask(id, price, wh, 0, 0, sender=holder)
        cls = cls or cx.class_of(id)
        asks += 1
    if company and cls:
        quote.approve(cx.address, 2**256 - 1, sender=company)
        cx.place_bid(cls[0], cls[1], max(floor, 2_500 // tick * tick), 5 * min_wh, 0, 0, sender=company)
        receipt = cx.buy_and_claim(cls[0], cls[1], min(ceiling, 6_000 // tick * tick), min_wh, company,
                                   "own consumption, 15 June (bought on the certificate market)", sender=company)
        trades += len(receipt.decode_logs(cx.Trade))
    return trades


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rpc", default="http://127.0.0.1:8545")
    ap.add_argument("--members", type=int, default=len(COMMUNITY))
    ap.add_argument("--slots", type=int, default=24, help="30-minute slots from midnight (24 = until noon)")
    ap.add_argument("--out", type=Path, default=None, help="deployments directory (default: gridmint's)")
    ap.add_argument("--json", type=Path, default=None, help="write the seeded members here")
    args = ap.parse_args(argv)
    if not 1 <= args.members <= len(COMMUNITY) or not 0 <= args.slots <= 48:
        print("app_seed: --members must be 1..20 and --slots 0..48", file=sys.stderr)
        return 2
    seeded = seed(args.rpc, COMMUNITY[:args.members], args.slots, args.out)
    if args.json:
        args.json.write_text(json.dumps(seeded.as_dict(), indent=2) + "\n")
    print(f"deployment written to {seeded.deployment}; {len(seeded.members)} members, {seeded.trades} trades, "
          f"{len(seeded.certificates)} certificates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
