"""Test meters: deterministic keys, cumulative registers, signing against the chain's domain."""

from __future__ import annotations

from dataclasses import dataclass

from eth_hash.auto import keccak

from oracle.eip712 import Domain, MeterSigner, Reading, domain_from_contract


domain_of = domain_from_contract  # the daemon's own reader of the chain's domain


def meter_signer(label: str) -> MeterSigner:
    return MeterSigner(keccak(b"gridmint-test-meter:" + label.encode()))


@dataclass
class TestMeter:
    signer: MeterSigner
    owner: str
    method: int
    rated_power_w: int
    name: str
    generated_wh: int = 0
    consumed_wh: int = 0
    exported_wh: int = 0
    imported_wh: int = 0

    __test__ = False  # not a pytest class

    @property
    def address(self) -> str:
        return self.signer.address

    def reading(self, timestamp: int, gen: int = 0, cons: int = 0, exp: int = 0, imp: int = 0) -> Reading:
        """Advances the registers by the given Wh and returns the reading."""
        self.generated_wh += gen
        self.consumed_wh += cons
        self.exported_wh += exp
        self.imported_wh += imp
        return Reading(
            self.address, timestamp, self.generated_wh, self.consumed_wh, self.exported_wh, self.imported_wh
        )


def signed(readings: list[Reading], signers: dict[str, MeterSigner], domain: Domain):
    """(call args, signatures) for submit_readings."""
    sep = domain.separator
    return [r.as_call_arg() for r in readings], [signers[r.meter].sign(r, domain, sep) for r in readings]


def submit_one(registry, signer: MeterSigner, reading: Reading, domain: Domain, **tx):
    """Submits one reading signed by `signer` (boa or ape: `tx` passes `sender=` through); returns what
    `submit_readings` returns (boa: the number accepted; ape: the receipt)."""
    return registry.submit_readings(*signed([reading], {reading.meter: signer}, domain), **tx)
