"""Deploys and wires the whole gridmint system: one function for tests, scripts and the demo.

`deploy_system(deploy, operator, params)` takes a `deploy(name, *args)`
callable that deploys `contracts/<name>.vy` from the operator account, so
the same wiring runs on titanoboa's in-process EVM (fast property tests)
and on any chain through ape (`ape_deployer`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"


@dataclass(frozen=True)
class SystemParams:
    """Deployment parameters, in the units their names give."""

    # the shared battery's usable size: 1 MWh
    capacity_wh: int = 1_000_000
    # how far a reading's timestamp may lie ahead of block time (meter clock drift)
    max_clock_skew_s: int = 300
    # the most `max_clock_skew_s` can ever be announced to (MeterRegistry's immutable MAX_CLOCK_SKEW_LIMIT_S)
    max_clock_skew_limit_s: int = 3_600
    # the largest rated power a meter may be registered with (immutable MAX_RATED_POWER_W): 2 MW
    max_rated_power_w: int = 2_000_000
    # seconds between the announcement of a parameter change that can cost members value and the
    # earliest time it may apply (each contract's NOTICE_S immutable; DESIGN.md "Operator bounds")
    notice_s: int = 7 * 86_400
    # the oldest a reading may be when it is credited (MeterRegistry's immutable MAX_CREDIT_LAG_S):
    # exports credited on demand stay rent-free in the battery for at most this long
    max_credit_lag_s: int = 2 * 86_400
    # storage rent, TSL base units (1e-18 TSL) per kWh per day: the member app in the
    # sources kept 2018.23 kWh for 88 days with 617.9 TSL -> 0.003479 TSL/kWh/day
    rent_rate: int = 3_479_000_000_000_000
    # how long an account may stay in arrears before its storage can be released
    rent_grace_period_s: int = 7 * 86_400
    # TSL base units per kWh credited against arrears when storage is released
    release_price: int = 50_000_000_000_000_000
    # WATT's deploy-time limits (immutable) on what the operator may announce: rent at most 10x the
    # default, a grace period of at least 3 days, release at no less than half the default price,
    # a battery between 10 kWh and 10 GWh (never below the energy stored)
    max_rent_rate: int = 34_790_000_000_000_000
    min_rent_grace_period_s: int = 3 * 86_400
    min_release_price: int = 25_000_000_000_000_000
    min_capacity_wh: int = 10_000
    max_capacity_wh: int = 10_000_000_000
    # how long after its period a certificate can be claimed (Guarantees of Origin: 12 months)
    claim_window_s: int = 365 * 86_400
    # exchange, prices in quote base units per kWh (the local mock stablecoin has 6 decimals:
    # 100_000 = 0.10 EUR/kWh). Feed-in tariff <= price <= retail price, on a 0.0001 EUR tick.
    quote_token: str | None = None  # None: deploy the mock stablecoin (local chains only)
    tick: int = 100
    floor_price: int = 80_000
    ceiling_price: int = 350_000
    min_order_wh: int = 100
    max_fills: int = 16
    maker_fee_bps: int = 10
    taker_fee_bps: int = 20
    # EnergyExchange's deploy-time limits (immutable): fees at most 50 bps each (DESIGN.md caps at 100),
    # a band within 0.05 .. 0.50 EUR/kWh, a minimum order of at most 1 kWh
    max_fee_bps: int = 50
    min_floor_price: int = 50_000
    max_ceiling_price: int = 500_000
    max_min_order_wh: int = 1_000
    # CertificateExchange: environmental value (certificate units, 1 unit = 1 Wh) against the same quote
    # token, prices in quote base units per kWh: 0.0001 .. 0.02 EUR/kWh (0.10 .. 20 EUR/MWh, where
    # Guarantees of Origin trade) on a 0.00001 EUR tick; orders of at least 1 kWh
    cert_tick: int = 10
    cert_floor_price: int = 100
    cert_ceiling_price: int = 20_000
    cert_min_order_wh: int = 1_000
    cert_max_fills: int = 16
    cert_maker_fee_bps: int = 10
    cert_taker_fee_bps: int = 20
    # its deploy-time limits (immutable): fees at most 50 bps, a band within 0.00001 .. 0.10 EUR/kWh,
    # a minimum order of at most 100 kWh
    cert_max_fee_bps: int = 50
    cert_min_floor_price: int = 10
    cert_max_ceiling_price: int = 100_000
    cert_max_min_order_wh: int = 100_000
    # ERC-1155 metadata URI template; `{id}` is the id as 64 hex digits (files from scripts/certificates.py)
    certificate_base_uri: str = "ipfs://gridmint-certificates/{id}.json"

    # the settlement slot in seconds (contracts/modules/slots.vy: 1,800 or 900); ReadingLog commits one root per slot
    slot_s: int = 1_800
    # WATT names the auction as its second escrow market at deploy; the in-process tests leave it unwired so
    # that tests/unit/watt/test_watt_markets.py can wire a stand-in (the auction's tests call wire_auction)
    wire_auction: bool = True
    # deploy the ReadingLog (it needs a Cancun chain: BLOBHASH)
    reading_log: bool = True
    # deploy the slot auction (its Paris build is over EIP-170's 24,576 bytes: a Paris community trades on the book)
    slot_auction: bool = True
    # the shared battery's round-trip efficiency in ppm (StorageLedger's immutable ETA_PPM, 1..1,000,000:
    # 0.90), for the green share of what members draw from it (docs/rules.md "Green energy through the battery")
    eta_ppm: int = 900_000
    # deploy the StorageLedger (discharge certificates, issue 26) and wire it to the registry and certificates
    storage_ledger: bool = True
    # the account appointed, at deploy, to record charges and settle days on the StorageLedger (None: nobody yet;
    # the operator appoints one later with `set_settler`)
    storage_settler: str | None = None
    # TSL the operator mints and deposits, when wiring the auction, for the rent of the WATT the auction holds
    # between a seller's claim and the buyer's withdrawal (without it a buyer's `withdraw_watt` is refused)
    auction_rent_tsl: int = 10**20

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class System:
    """Handles to the deployed contracts (boa or ape contract objects)."""

    tsl: Any
    watt: Any
    registry: Any
    certificate: Any
    quote: Any
    exchange: Any
    certificate_exchange: Any
    params: SystemParams = field(default_factory=SystemParams)
    # one Merkle root per slot of every signed reading (contracts/ReadingLog.vy)
    reading_log: Any = None
    # one clearing price per slot (contracts/EnergyAuction.vy)
    auction: Any = None
    # the auction's price levels for the app and the CLI (contracts/AuctionLens.vy: views moved out for EIP-170)
    auction_lens: Any = None
    # the battery's green content and discharge certificates (contracts/StorageLedger.vy)
    storage_ledger: Any = None

    def addresses(self) -> dict[str, str]:
        return {name: str(contract.address) for name, contract in self.contracts().items()}

    def contracts(self) -> dict[str, Any]:
        return {
            "StorageRentToken": self.tsl,
            "WattToken": self.watt,
            "MeterRegistry": self.registry,
            "EnvironmentalCertificate": self.certificate,
            "QuoteToken": self.quote,
            "EnergyExchange": self.exchange,
            "CertificateExchange": self.certificate_exchange,
            **({"ReadingLog": self.reading_log} if self.reading_log is not None else {}),
            **({"EnergyAuction": self.auction} if self.auction is not None else {}),
            **({"AuctionLens": self.auction_lens} if self.auction_lens is not None else {}),
            **({"StorageLedger": self.storage_ledger} if self.storage_ledger is not None else {}),
        }


Deployer = Callable[..., Any]


def deploy_system(
    deploy: Deployer, operator: Any, params: SystemParams = SystemParams(), at: Callable[..., Any] | None = None
) -> System:
    """Deploys every contract from `operator` and wires them together.

    Order matters: WATT needs TSL's address, the registry needs WATT's, and
    WATT then names the registry as its only minter; the certificate contract
    needs the registry's, which then names it as the only taker of
    certifiable generation; the exchange needs WATT and the quote token, and
    WATT names it as the only mover of escrow (one-time calls all).
    `at(name, address)` attaches an existing quote token on live networks."""
    if params.quote_token is not None and at is None:
        raise ValueError("an existing quote token needs an `at` attacher")
    tsl = deploy("StorageRentToken")
    watt = deploy(
        "WattToken",
        params.capacity_wh,
        tsl.address,
        params.rent_rate,
        params.rent_grace_period_s,
        params.release_price,
        params.max_rent_rate,
        params.min_rent_grace_period_s,
        params.min_release_price,
        params.min_capacity_wh,
        params.max_capacity_wh,
        params.notice_s,
    )
    registry = deploy(
        "MeterRegistry",
        watt.address,
        params.max_clock_skew_s,
        params.max_clock_skew_limit_s,
        params.max_rated_power_w,
        params.notice_s,
        params.max_credit_lag_s,
    )
    watt.set_registry(registry.address, sender=operator)
    certificate = deploy(
        "EnvironmentalCertificate", registry.address, params.claim_window_s, params.certificate_base_uri, params.slot_s
    )
    registry.set_certificate(certificate.address, sender=operator)
    quote = deploy("MockStablecoin") if params.quote_token is None else at("MockStablecoin", params.quote_token)
    exchange = deploy(
        "EnergyExchange",
        watt.address,
        quote.address,
        params.tick,
        params.floor_price,
        params.ceiling_price,
        params.min_order_wh,
        params.max_fills,
        params.maker_fee_bps,
        params.taker_fee_bps,
        params.max_fee_bps,
        params.min_floor_price,
        params.max_ceiling_price,
        params.max_min_order_wh,
        params.notice_s,
    )
    watt.set_exchange(exchange.address, sender=operator)
    certificate_exchange = deploy(
        "CertificateExchange",
        certificate.address,
        quote.address,
        params.cert_tick,
        params.cert_floor_price,
        params.cert_ceiling_price,
        params.cert_min_order_wh,
        params.cert_max_fills,
        params.cert_maker_fee_bps,
        params.cert_taker_fee_bps,
        params.cert_max_fee_bps,
        params.cert_min_floor_price,
        params.cert_max_ceiling_price,
        params.cert_max_min_order_wh,
        params.notice_s,
    )
    # the reading log records blob commitments (BLOBHASH, Cancun): a build for an older chain leaves it out
    # (`evm_version: paris`, docs/chains.md), and the community then credits every reading directly
    reading_log = deploy("ReadingLog", registry.address, params.slot_s) if params.reading_log else None
    # the slot auction: the book's band, tick, minimum and limits; each side pays the taker fee
    auction = None if not params.slot_auction else deploy(
        "EnergyAuction",
        watt.address,
        quote.address,
        params.slot_s,
        params.tick,
        params.floor_price,
        params.ceiling_price,
        params.min_order_wh,
        params.taker_fee_bps,
        params.max_fee_bps,
        params.min_floor_price,
        params.max_ceiling_price,
        params.max_min_order_wh,
        params.notice_s,
    )
    # the storage ledger: takes stored Wh from the registry and issues discharge certificates (one-time wiring)
    storage_ledger = None
    if params.storage_ledger:
        storage_ledger = deploy("StorageLedger", registry.address, certificate.address, params.eta_ppm, params.slot_s)
        registry.set_storage_ledger(storage_ledger.address, sender=operator)
        certificate.set_storage_ledger(storage_ledger.address, sender=operator)
        if params.storage_settler is not None:
            storage_ledger.set_settler(params.storage_settler, True, sender=operator)
    system = System(
        storage_ledger=storage_ledger,
        reading_log=reading_log,
        auction=auction,
        auction_lens=None if auction is None else deploy("AuctionLens", auction.address),
        tsl=tsl,
        watt=watt,
        registry=registry,
        certificate=certificate,
        quote=quote,
        exchange=exchange,
        certificate_exchange=certificate_exchange,
        params=params,
    )
    if params.wire_auction and auction is not None:
        wire_auction(system, operator)
    return system


def wire_auction(system: System, operator: Any, rent_tsl: int | None = None) -> None:
    """Names the system's EnergyAuction as WATT's second escrow market (the operator's one-time call) and
    funds the rent of the WATT the auction holds between claims and withdrawals (`rent_tsl`, by default
    `params.auction_rent_tsl`, minted to the operator and deposited); each step only when not done yet."""
    if int(str(system.watt.auction()), 16) == 0:
        system.watt.set_auction(system.auction.address, sender=operator)
    rent_tsl = system.params.auction_rent_tsl if rent_tsl is None else rent_tsl
    if rent_tsl and int(system.watt.rent_deposit(system.auction.address)) == 0:
        system.tsl.mint(getattr(operator, "address", operator), rent_tsl, sender=operator)
        system.tsl.approve(system.auction.address, rent_tsl, sender=operator)
        system.auction.fund_rent(rent_tsl, sender=operator)


def boa_deployer(operator: str) -> Deployer:
    """A deployer for titanoboa's in-process EVM (compiles once per process)."""
    import boa

    cache: dict[str, Any] = {}

    def deploy(name: str, *args: Any) -> Any:
        if name not in cache:
            cache[name] = boa.load_partial(str(CONTRACTS_DIR / f"{name}.vy"))
        with boa.env.prank(operator):
            return cache[name].deploy(*args)

    return deploy


def ape_deployer(operator: Any) -> Deployer:
    """A deployer through ape's connected provider (Anvil locally, any network otherwise)."""
    from ape import project

    def deploy(name: str, *args: Any) -> Any:
        return getattr(project, name).deploy(*args, sender=operator)

    return deploy


class Web3Contract:
    """A web3.py contract with the call shape `deploy_system` uses: `c.fn(*args)` reads,
    `c.fn(*args, sender=account)` signs with a local account, sends and waits for the receipt."""

    def __init__(self, w3, address: str, abi: list):
        self.w3 = w3
        self.address = address
        self.abi = abi
        self.contract = w3.eth.contract(address=address, abi=abi)

    def __getattr__(self, name: str):
        function = getattr(self.contract.functions, name)

        def invoke(*args: Any, sender: Any = None) -> Any:
            call = function(*args)
            if sender is None:
                return call.call()
            return _transact(self.w3, sender, call.build_transaction(_tx_base(self.w3, sender)))

        return invoke


def _tx_base(w3, sender) -> dict:
    return {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address, "pending"), "chainId": w3.eth.chain_id}


def _transact(w3, sender, tx: dict):
    signed = sender.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction reverted: {receipt['transactionHash'].hex()}")
    return receipt


def compiled_artifacts(build_manifest: Path | None = None) -> dict[str, dict]:
    """ABI and deployment bytecode per contract from ape's build manifest (`ape compile`)."""
    import json

    path = build_manifest or CONTRACTS_DIR.parent / ".build" / "__local__.json"
    types = json.loads(path.read_text())["contractTypes"]
    return {name: {"abi": t["abi"], "bytecode": t["deploymentBytecode"]["bytecode"]} for name, t in types.items()}


def web3_deployer(w3, operator) -> Deployer:
    """A deployer through plain web3.py with a local account (no ape): used by the oracle's tests
    against a standalone Anvil and by tools that should not need ape."""
    artifacts = compiled_artifacts()

    def deploy(name: str, *args: Any) -> Web3Contract:
        art = artifacts[name]
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = _transact(w3, operator, factory.constructor(*args).build_transaction(_tx_base(w3, operator)))
        return Web3Contract(w3, receipt["contractAddress"], art["abi"])

    return deploy


def web3_deployment_record(system: System, network: str, chain_id: int):
    """The deployments/<network>.json record of a web3-deployed system."""
    from .deployments import Deployment

    contracts = {name: {"address": c.address, "abi": c.abi} for name, c in system.contracts().items()}
    return Deployment(network, chain_id, contracts, system.params.as_dict())
