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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from eth_hash.auto import keccak
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD

from gridmint import deployments
from gridmint import community
from gridmint.community import COMMUNITY, SLOT_S, Member, next_june_day
from gridmint.generated.contracts import FLAG_IOC
from gridmint.system import SystemParams, deploy_system, web3_deployer, web3_deployment_record
from oracle.eip712 import Domain, MeterSigner, Reading

BERLIN = ZoneInfo("Europe/Berlin")
# Anvil's well-known development mnemonic ("test test ... junk"): public test keys, not secrets
DEV_MNEMONIC = "test test test test test test test test test test test junk"
RENT_TSL = 40 * 10**18  # each member's first storage-rent deposit
QUOTE_EUR = 200 * 10**6  # each member's mock EUR (6 decimals; local chains only)
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




class _Chain:
    def __init__(self, w3: Web3, record: deployments.Deployment):
        self.w3 = w3
        self.c = {
            name: w3.eth.contract(address=Web3.to_checksum_address(info["address"]), abi=info["abi"])
            for name, info in record.contracts.items()
        }

    def send(self, contract: str, fn: str, *args, sender: str):
        tx = getattr(self.c[contract].functions, fn)(*args).transact({"from": sender})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise RuntimeError(f"{contract}.{fn} reverted")
        return receipt

    def call(self, contract: str, fn: str, *args):
        return getattr(self.c[contract].functions, fn)(*args).call()



def seed(rpc_url: str, members: list[Member] = COMMUNITY, slots: int = 24,
         directory: Path | None = None, trade: bool = True) -> Seeded:
    """Deploys, registers `members`, runs `slots` half-hour slots from midnight of a June day."""
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
    system = deploy_system(web3_deployer(w3, operator), operator, SystemParams(capacity_wh=5_000_000))
    record = web3_deployment_record(system, "ethereum:local", w3.eth.chain_id)
    record.params["deploy_block"] = start_block  # where the app and the auditor start reading events
    path = deployments.write(record, directory) if directory else deployments.write(record)
    ch = _Chain(w3, record)
    op = operator.address

    day = next_june_day(w3.eth.get_block("latest")["timestamp"])
    t0 = int(day.timestamp())
    meters = [MeterSigner(keccak(f"demo-meter:{m.name}".encode())) for m in members]
    sim = Simulator({m.address: mem.site for m, mem in zip(meters, members)}, day)
    start = sim.counters()
    # chain time jumps to just before the simulated day: commissioning values are read "now"
    commissioned_at = t0 - 600
    w3.provider.make_request("evm_setNextBlockTimestamp", [commissioned_at])
    w3.provider.make_request("evm_mine", [])
    for member, meter, owner in zip(members, meters, owners):
        ch.send("MeterRegistry", "register_meter", meter.address, owner, member.method, member.rated_power_w,
                member.name, (commissioned_at, *start[meter.address]), sender=op)
        ch.send("MeterRegistry", "accept_meter", meter.address, sender=owner)
        ch.send("StorageRentToken", "mint", owner, RENT_TSL + SPARE_TSL, sender=op)
        ch.send("StorageRentToken", "approve", ch.c["WattToken"].address, RENT_TSL, sender=owner)
        ch.send("WattToken", "deposit_rent", RENT_TSL, sender=owner)
        ch.send("QuoteToken", "mint", owner, QUOTE_EUR, sender=op)
        ch.send("QuoteToken", "approve", ch.c["EnergyExchange"].address, 2**256 - 1, sender=owner)

    domain = Domain(w3.eth.chain_id, ch.c["MeterRegistry"].address)
    registry = ch.c["MeterRegistry"]

    def relay(ts: int, counters: dict) -> None:
        rows = [Reading(m.address, ts, *counters[m.address]) for m in meters]
        sigs = [m.sign(r, domain) for m, r in zip(meters, rows)]
        for i in range(0, len(rows), 64):
            tx = registry.functions.submit_readings(
                [r.as_call_arg() for r in rows[i:i + 64]], sigs[i:i + 64]).transact({"from": relayer, "gas": 15_000_000})
            if w3.eth.wait_for_transaction_receipt(tx)["status"] != 1:
                raise RuntimeError("submit_readings reverted")

    w3.provider.make_request("evm_setNextBlockTimestamp", [t0])
    w3.provider.make_request("evm_mine", [])
    relay(t0, start)
    prev = start
    floor, ceiling, tick = ch.call("EnergyExchange", "floor_price"), ch.call("EnergyExchange", "ceiling_price"), \
        ch.call("EnergyExchange", "TICK")
    open_asks: dict[int, int] = {}
    trades = 0
    trade_topic = ch.c["EnergyExchange"].events.Trade()
    for k in range(1, slots + 1):
        ts = t0 + k * SLOT_S
        w3.provider.make_request("evm_setNextBlockTimestamp", [ts])
        counters = sim.advance(datetime.fromtimestamp(ts, BERLIN))
        relay(ts, counters)
        if not trade:
            prev = counters
            continue
        for i, (meter, owner) in enumerate(zip(meters, owners)):
            imported = counters[meter.address][3] - prev[meter.address][3]
            if i in open_asks and not ch.call("EnergyExchange", "order", open_asks[i])[6]:
                del open_asks[i]
            stored = ch.call("WattToken", "balanceOf", owner)
            # sellers: half of what they store, below the utility's price, one ask at a time (as the demo)
            offer = community.ask(stored, i, floor, ceiling, tick)
            if i not in open_asks and offer and ch.call("WattToken", "arrears_of", owner)[0] == 0:
                receipt = ch.send("EnergyExchange", "place_order", False, *offer, 0, 0, sender=owner)
                trades += len(trade_topic.process_receipt(receipt, errors=DISCARD))
                ids = ch.call("EnergyExchange", "open_orders", owner)
                if ids:
                    open_asks[i] = ids[-1]
            # buyers: what they imported last slot, bid above the feed-in price (IOC)
            want = community.bid(imported, floor, ceiling, tick)
            if want and ch.call("EnergyExchange", "best_ask")[1] > 0:
                receipt = ch.send("EnergyExchange", "place_order", True, *want, 0, FLAG_IOC, sender=owner)
                trades += len(trade_topic.process_receipt(receipt, errors=DISCARD))
        prev = counters

    # the morning's buyers took every ask: PV members offer part of what they store for the
    # afternoon (post-only, above the bids), and a few members bid low, so the book has two sides
    if trade:
        min_wh, offered = ch.call("EnergyExchange", "min_order_wh"), 0
        for i, owner in enumerate(owners):
            if offered == 5 or not members[i].method or ch.call("EnergyExchange", "open_orders", owner):
                continue
            wh = ch.call("WattToken", "balanceOf", owner) // 3 // 100 * 100
            if wh >= max(min_wh, 300) and ch.call("WattToken", "arrears_of", owner)[0] == 0:
                price = (floor + (ceiling - floor) * (55 + 5 * offered) // 100) // tick * tick
                ch.send("EnergyExchange", "place_order", False, price, wh, 0, 2, sender=owner)
                offered += 1
        for j, owner in enumerate(owners[-3:]):
            price = (floor + (ceiling - floor) * (20 + 5 * j) // 100) // tick * tick
            ch.send("EnergyExchange", "place_order", True, price, 1_000 * (j + 1), 0, 2, sender=owner)

    # generators certify the morning's renewable generation; the company buys some and claims part
    issued = []
    cert = ch.c["EnvironmentalCertificate"]
    for member, meter, owner in zip(members, meters, owners):
        if member.method and ch.call("MeterRegistry", "certifiable", meter.address)[0]:
            receipt = ch.send("EnvironmentalCertificate", "issue", meter.address, sender=owner)
            issued.append(int(cert.events.CertificateIssued().process_receipt(receipt, errors=DISCARD)[0]["args"]["id"]))
    kinds = [m.kind for m in members]
    if issued and "company" in kinds:
        company = owners[kinds.index("company")]
        largest = max(issued, key=lambda i: ch.call("EnvironmentalCertificate", "certificate", i)[6])
        data = ch.call("EnvironmentalCertificate", "certificate", largest)
        holder, amount = data[1], data[6] // 2
        if holder != company:
            ch.send("EnvironmentalCertificate", "safeTransferFrom", holder, company, largest, amount, b"", sender=holder)
        ch.send("EnvironmentalCertificate", "claim", largest, amount // 2, company, "own consumption, 15 June",
                sender=company)

    if trade and issued:
        trades += seed_certificate_market(ch, members, owners, issued)

    out = Seeded(path, rpc_url, w3.eth.chain_id, trades=trades, certificates=issued,
                 head_timestamp=w3.eth.get_block("latest")["timestamp"])
    for i, (member, meter, owner) in enumerate(zip(members, meters, owners)):
        out.members.append({"name": member.name, "kind": member.kind, "account": owner,
                            "account_index": FIRST_MEMBER + i, "meter": meter.address})
    return out


def seed_certificate_market(ch: _Chain, members: list[Member], owners: list[str], issued: list[int]) -> int:
    """Generators other than the company offer a third of their certificates on the certificate market
    (up to four asks, 4.0–5.5 mEUR/kWh: each approves the market as operator of its certificates first,
    ERC-1155 has no permit); the company bids low for more and buys and claims 1 kWh for its own
    consumption, so the market opens with both sides and a trade. Returns the trades."""
    cx, cert = ch.c["CertificateExchange"], ch.c["EnvironmentalCertificate"]
    floor, ceiling, tick = ch.call("CertificateExchange", "floor_price"), ch.call("CertificateExchange", "ceiling_price"), \
        ch.call("CertificateExchange", "TICK")
    min_wh = ch.call("CertificateExchange", "min_order_wh")
    kinds = [m.kind for m in members]
    company = owners[kinds.index("company")] if "company" in kinds else None
    trade_topic = cx.events.Trade()
    asks, trades, cls = 0, 0, None
    for id in issued:
        holder = cert.functions.certificate(id).call()[1]  # the generator
        if holder == company or asks == 4:
            continue
        wh = ch.call("EnvironmentalCertificate", "balanceOf", holder, id) // 3 // 100 * 100
        if wh < min_wh:
            continue
        price = max(floor, min(ceiling, (4_000 + 500 * asks) // tick * tick))
        if not ch.call("EnvironmentalCertificate", "isApprovedForAll", holder, cx.address):
            ch.send("EnvironmentalCertificate", "setApprovalForAll", cx.address, True, sender=holder)
        ch.send("CertificateExchange", "place_ask", id, price, wh, 0, 0, sender=holder)
        cls = cls or ch.call("CertificateExchange", "class_of", id)
        asks += 1
    if company and cls:
        ch.send("QuoteToken", "approve", cx.address, 2**256 - 1, sender=company)
        ch.send("CertificateExchange", "place_bid", cls[0], cls[1], max(floor, 2_500 // tick * tick), 5 * min_wh, 0, 0,
                sender=company)
        receipt = ch.send("CertificateExchange", "buy_and_claim", cls[0], cls[1], min(ceiling, 6_000 // tick * tick), min_wh,
                          company, "own consumption, 15 June (bought on the certificate market)", sender=company)
        trades += len(trade_topic.process_receipt(receipt, errors=DISCARD))
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
