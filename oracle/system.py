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

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class System:
    """Handles to the deployed contracts (boa or ape contract objects)."""

    watt: Any
    registry: Any
    params: SystemParams = field(default_factory=SystemParams)

    def addresses(self) -> dict[str, str]:
        return {"WattToken": str(self.watt.address), "MeterRegistry": str(self.registry.address)}


Deployer = Callable[..., Any]


def deploy_system(deploy: Deployer, operator: Any, params: SystemParams = SystemParams()) -> System:
    """Deploys every contract from `operator` and wires them together.

    Order matters: the registry needs WATT's address, and WATT then names
    the registry as its only minter (a one-time call)."""
    watt = deploy("WattToken", params.capacity_wh)
    registry = deploy("MeterRegistry", watt.address, params.max_clock_skew_s)
    watt.set_registry(registry.address, sender=operator)
    return System(watt=watt, registry=registry, params=params)


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
