"""Putting a meter on chain: registration by the operator with its commissioning values, then
acceptance by its owner (MeterRegistry.vy; docs/meters.md).

Works with every contract handle the project uses: titanoboa, ape and `gridmint.system.Web3Contract`
all share the call shape `contract.fn(*args, sender=account)`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence


class Registers(NamedTuple):
    """A meter's four cumulative registers (Wh) read at `timestamp` (s): the contract's `Registers`
    struct, in its field order, so an instance is passed to a contract call as it is."""

    timestamp: int
    generatedWh: int = 0
    consumedWh: int = 0
    exportedWh: int = 0
    importedWh: int = 0


def commissioning(timestamp: int, registers: Sequence[int] = (0, 0, 0, 0)) -> Registers:
    """Commissioning values from a time (s) and the four registers (generated, consumed,
    exported, imported Wh) as a meter shows them, e.g. the simulator's `counters()`."""
    generated, consumed, exported, imported = (int(v) for v in registers)
    return Registers(int(timestamp), generated, consumed, exported, imported)


def registration_args(
    meter_address: str, owner_address: str, method: int, rated_power_w: int, name: str,
    commissioning: Registers | Sequence[int],
) -> tuple:
    """`MeterRegistry.register_meter`'s arguments, in its order: the one place the CLI, the demo, the
    seed and the tests build them."""
    return (meter_address, owner_address, method, rated_power_w, name, tuple(commissioning))


def onboard_meter(
    registry: Any,
    operator: Any,
    owner: Any,
    meter_address: str,
    method: int,
    rated_power_w: int,
    name: str,
    commissioning: Registers | Sequence[int],
    *,
    accept: bool = True,
) -> list[Any]:
    """Registers `meter_address` for `owner` (sent by `operator`) and, with `accept`, has `owner`
    accept it, so its readings credit. Returns the receipts (ape/web3) or results (boa) of the
    calls sent, registration first. `owner` is the account that signs the acceptance; the owner
    recorded on chain is its address."""
    owner_address = getattr(owner, "address", owner)
    sent = [
        registry.register_meter(
            *registration_args(meter_address, owner_address, method, rated_power_w, name, commissioning),
            sender=operator,
        )
    ]
    if accept:
        sent.append(registry.accept_meter(meter_address, sender=owner))
    return sent
