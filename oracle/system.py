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
    # storage rent, TSL base units (1e-18 TSL) per kWh per day: the member app in the
    # sources kept 2018.23 kWh for 88 days with 617.9 TSL -> 0.003479 TSL/kWh/day
    rent_rate: int = 3_479_000_000_000_000
    # how long an account may stay in arrears before its storage can be released
    rent_grace_period_s: int = 7 * 86_400
    # TSL base units per kWh credited against arrears when storage is released
    release_price: int = 50_000_000_000_000_000
    # how long after its period a certificate can be claimed (Guarantees of Origin: 12 months)
    claim_window_s: int = 365 * 86_400
    # ERC-1155 metadata URI template; `{id}` is the id as 64 hex digits (files from scripts/certificates.py)
    certificate_base_uri: str = "ipfs://gridmint-certificates/{id}.json"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class System:
    """Handles to the deployed contracts (boa or ape contract objects)."""

    tsl: Any
    watt: Any
    registry: Any
    certificate: Any
    params: SystemParams = field(default_factory=SystemParams)

    def addresses(self) -> dict[str, str]:
        return {name: str(contract.address) for name, contract in self.contracts().items()}

    def contracts(self) -> dict[str, Any]:
        return {
            "StorageRentToken": self.tsl,
            "WattToken": self.watt,
            "MeterRegistry": self.registry,
            "EnvironmentalCertificate": self.certificate,
        }


Deployer = Callable[..., Any]


def deploy_system(deploy: Deployer, operator: Any, params: SystemParams = SystemParams()) -> System:
    """Deploys every contract from `operator` and wires them together.

    Order matters: WATT needs TSL's address, the registry needs WATT's, and
    WATT then names the registry as its only minter; the certificate contract
    needs the registry's, which then names it as the only taker of
    certifiable generation (one-time calls both)."""
    tsl = deploy("StorageRentToken")
    watt = deploy(
        "WattToken",
        params.capacity_wh,
        tsl.address,
        params.rent_rate,
        params.rent_grace_period_s,
        params.release_price,
    )
    registry = deploy("MeterRegistry", watt.address, params.max_clock_skew_s)
    watt.set_registry(registry.address, sender=operator)
    certificate = deploy(
        "EnvironmentalCertificate", registry.address, params.claim_window_s, params.certificate_base_uri
    )
    registry.set_certificate(certificate.address, sender=operator)
    return System(tsl=tsl, watt=watt, registry=registry, certificate=certificate, params=params)


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
