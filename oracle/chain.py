"""The chain side of the daemon: web3.py access to the registry and the batching submitter.

The meter keys sign readings; a separate funded account (the payer) signs
and pays for the `submit_readings` transactions. The submitter keeps up to
`max_in_flight` batches outstanding with consecutive nonces, so batches are
mined in the order they were sent and a meter's readings reach the chain in
time order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import TransactionNotFound

from gridmint.deployments import Deployment
from gridmint.generated.contracts import REJECT_REASONS, REJECT_STALE, SELECTORS, TOPICS, abi
from .eip712 import Domain, Reading, domain_from_contract
from .outbox import REASONS, Outbox, Row

log = logging.getLogger("gridmint.oracle.chain")

REGISTRY_ABI = abi("MeterRegistry")
# gas limit per batch: 25k base + 75k per reading covers the worst path measured by `make gas`
# (`registry.first_reading`: ~66k beyond the 21k transaction base) with a margin; only gas used
# is paid. A batch that still runs out is retried with the node's estimate.
GAS_BASE, GAS_PER_READING = 25_000, 75_000


def _abi_type(param: dict) -> str:
    """An ABI parameter's canonical type, tuples spelled out ("(address,uint64)[]")."""
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def _abi_item(kind: str, name: str) -> dict:
    (item,) = [i for i in REGISTRY_ABI if i.get("type") == kind and i.get("name") == name]
    return item


# `submit_readings(readings, signatures)`: its selector and argument types from the generated ABI
_SUBMIT_TYPES = [_abi_type(p) for p in _abi_item("function", "submit_readings")["inputs"]]
SUBMIT_SELECTOR = bytes.fromhex(SELECTORS["MeterRegistry"][f"submit_readings({','.join(_SUBMIT_TYPES)})"][2:])


def _log_layout(event: str, fields: tuple[str, ...]) -> tuple[bytes, dict[str, tuple[str, int]]]:
    """topic 0 of a registry event and where each of `fields` sits in its logs: ("topic", index)
    or ("data", 32-byte word), from the generated ABI (every data field must be static: one word)."""
    topic, data, where = 1, 0, {}
    for p in _abi_item("event", event)["inputs"]:
        if p["indexed"]:
            where[p["name"]] = ("topic", topic)
            topic += 1
        else:
            if p["type"] in ("bytes", "string") or p["type"].endswith("]") or p["type"].startswith("tuple"):
                raise TypeError(f"{event}.{p['name']} is not one word: decode it with eth_abi")
            where[p["name"]] = ("data", data)
            data += 1
    return bytes.fromhex(TOPICS["MeterRegistry"][event][2:]), {f: where[f] for f in fields}


TOPIC_ACCEPTED, _ACCEPTED_AT = _log_layout("ReadingAccepted", ("meter", "timestamp"))
TOPIC_REJECTED, _REJECTED_AT = _log_layout("ReadingRejected", ("meter", "timestamp", "reason"))


def _field(topics, data: bytes, at: tuple[str, int]) -> int:
    kind, i = at
    word = bytes(topics[i]) if kind == "topic" else data[32 * i:32 * i + 32]
    return int.from_bytes(word, "big")


def submit_calldata(rows: list[Row]) -> bytes:
    """ABI-encoded `submit_readings` call: eth_abi directly with the generated ABI's types (web3's
    contract encoder costs ~60 ms per 64-reading batch in pure-Python recursion)."""
    readings = [row.reading.as_call_arg() for row in rows]
    signatures = [row.signature for row in rows]
    return SUBMIT_SELECTOR + abi_encode(_SUBMIT_TYPES, [readings, signatures])


def decode_outcomes(receipt) -> tuple[set[tuple[str, int]], dict[tuple[str, int], int]]:
    """(accepted keys, rejected key -> reason) from a receipt's registry logs, each field read from
    the word the generated ABI places it in (no full decode on the hot path)."""
    accepted: set[tuple[str, int]] = set()
    rejected: dict[tuple[str, int], int] = {}
    for entry in receipt["logs"]:
        topics = entry["topics"]
        if not topics:
            continue
        topic0 = bytes(topics[0])
        if topic0 == TOPIC_ACCEPTED:
            at = _ACCEPTED_AT
        elif topic0 == TOPIC_REJECTED:
            at = _REJECTED_AT
        else:
            continue
        data = bytes(entry["data"])
        meter = to_checksum_address(_field(topics, data, at["meter"]).to_bytes(32, "big")[-20:])
        key = (meter, _field(topics, data, at["timestamp"]))
        if topic0 == TOPIC_ACCEPTED:
            accepted.add(key)
        else:
            rejected[key] = _field(topics, data, at["reason"])
    return accepted, rejected


class ChainError(Exception):
    """The chain does not match the configuration (wrong domain, wrong chain id, no code)."""


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


@dataclass
class Registry:
    w3: Web3
    contract: object
    from_block: int = 0

    @classmethod
    def from_deployment(cls, w3: Web3, deployment: Deployment) -> "Registry":
        # the ABI of this code's contracts (generated), the address from the deployment record
        contract = w3.eth.contract(address=to_checksum_address(deployment.address("MeterRegistry")), abi=REGISTRY_ABI)
        return cls(w3, contract, int(deployment.params.get("deployed_at_block", 0)))

    def check_domain(self, expected_chain_id: int | None) -> Domain:
        """Startup check: the registry answers `eip712Domain()` with gridmint's domain on the
        configured chain; anything else means the config points at the wrong chain or contract."""
        if not self.w3.eth.get_code(self.contract.address):
            raise ChainError(f"no contract at {self.contract.address}")
        try:
            domain = domain_from_contract(_Caller(self.contract))
        except ValueError as exc:
            raise ChainError(str(exc)) from None
        if expected_chain_id is not None and domain.chain_id != expected_chain_id:
            raise ChainError(f"registry domain is on chain {domain.chain_id}, config says {expected_chain_id}")
        if domain.chain_id != self.w3.eth.chain_id:
            raise ChainError(f"registry domain chain {domain.chain_id} != node chain {self.w3.eth.chain_id}")
        if to_checksum_address(domain.verifying_contract) != self.contract.address:
            raise ChainError("registry domain names another verifying contract")
        return domain

    def _struct(self, name: str, *args) -> dict:
        """A view returning one struct, as a dict by the ABI's field names (so the registry may add
        fields without breaking the daemon)."""
        fn = getattr(self.contract.functions, name)(*args)
        value = fn.call()
        outputs = fn.abi["outputs"]
        if len(outputs) == 1 and outputs[0].get("components"):
            names = [c["name"] for c in outputs[0]["components"]]
        else:
            names = [o["name"] for o in outputs]
        return dict(zip(names, value))

    def meter_info(self, meter: str) -> dict:
        """`meters(meter)`: owner, method, active, accepted, rated power, name."""
        return self._struct("meters", to_checksum_address(meter))

    def last_reading(self, meter: str) -> Reading | None:
        """The chain's last accepted reading of `meter` (or its commissioning values), None if it has none."""
        doc = self._struct("last_reading", to_checksum_address(meter))
        if not int(doc.get("timestamp", 0)):
            return None
        return Reading(
            to_checksum_address(meter), int(doc["timestamp"]),
            *(int(doc.get(key, 0)) for key in ("generated_wh", "consumed_wh", "exported_wh", "imported_wh")),
        )

    def rotated_to(self, meter: str) -> str | None:
        """The key `meter` was rotated to (`MeterKeyRotated`), if it was."""
        event = self.contract.events.MeterKeyRotated()
        logs = event.get_logs(from_block=self.from_block, argument_filters={"old_meter": to_checksum_address(meter)})
        return to_checksum_address(logs[-1]["args"]["new_meter"]) if logs else None

    def accepted_at(self, meter: str, timestamp: int) -> str | None:
        """The hash of the transaction in which the chain accepted (meter, timestamp), if it did."""
        event = self.contract.events.ReadingAccepted()
        logs = event.get_logs(from_block=self.from_block, argument_filters={"meter": to_checksum_address(meter)})
        for entry in logs:
            if int(entry["args"]["timestamp"]) == timestamp:
                return entry["transactionHash"].to_0x_hex()
        return None


class _Caller:
    """Adapts a web3 contract to the `registry.eip712Domain()` call shape of boa/ape objects."""

    def __init__(self, contract):
        self._contract = contract

    def eip712Domain(self):  # noqa: N802 - the ABI name
        return self._contract.functions.eip712Domain().call()


class Submitter:
    """Moves signed readings from the outbox to the chain and settles them from receipts."""

    def __init__(
        self,
        outbox: Outbox,
        registry: Registry,
        payer: LocalAccount,
        *,
        batch_size: int = 64,
        max_in_flight: int = 4,
        lost_after_s: float = 30.0,
        metrics=None,
    ):
        if not 1 <= batch_size <= 64:
            raise ValueError("batch_size must be 1..64 (the registry's batch limit)")
        self.outbox = outbox
        self.registry = registry
        self.w3 = registry.w3
        self.payer = payer
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.lost_after_s = lost_after_s
        self.metrics = metrics
        self._nonce: int | None = None
        self._fee_cache: tuple[float, dict] | None = None
        self._chain_id: int | None = None
        self._estimate_next = False

    # ------------------------------------------------------------------ public

    def pump(self) -> int:
        """One round: settle what was mined, then send due batches up to the in-flight limit.
        Returns the number of readings sent."""
        self.confirm()
        sent = 0
        in_flight = len(self.outbox.in_flight())
        while in_flight < self.max_in_flight:
            rows = self.outbox.next_batch(self.batch_size)
            if not rows:
                break
            if not self._send(rows):
                break
            sent += len(rows)
            in_flight += 1
        if sent:
            self.confirm()
        return sent

    def confirm(self) -> None:
        """Settles every in-flight batch that has a receipt; requeues batches the node lost."""
        for tx_hash, _nonce, sent_at in self.outbox.in_flight():
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                receipt = None
            if receipt is not None:
                self._settle(tx_hash, receipt)
                continue
            if self._node_knows(tx_hash) and time.time() - sent_at < self.lost_after_s:
                continue  # still pending
            n = self.outbox.requeue_tx(tx_hash)
            self._nonce = None  # resync: the node dropped our transaction(s)
            log.warning("batch lost, requeued", extra={"tx": tx_hash, "readings": n})

    def drain(self, timeout_s: float) -> bool:
        """Sends and settles until nothing is signed or submitted (or the timeout passes)."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            self.pump()
            counts = self.outbox.counts()
            if counts["signed"] == 0 and counts["submitted"] == 0:
                return True
            time.sleep(0.05)
        return False

    # ---------------------------------------------------------------- internal

    def _node_knows(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)
            return True
        except TransactionNotFound:
            return False

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.payer.address, "pending")
        return self._nonce

    def _fees(self) -> dict:
        """EIP-1559 fees: tip from the node, max fee 2 x base + tip (survives six full blocks of
        base-fee growth); refreshed every 3 s."""
        now = time.time()
        if self._fee_cache is None or now - self._fee_cache[0] > 3.0:
            base = self.w3.eth.get_block("latest")["baseFeePerGas"]
            tip = self.w3.eth.max_priority_fee
            self._fee_cache = (now, {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip})
        return self._fee_cache[1]

    def _send(self, rows: list[Row]) -> bool:
        data = submit_calldata(rows)
        nonce = self._next_nonce()
        try:
            if self._chain_id is None:
                self._chain_id = self.w3.eth.chain_id
            if self._estimate_next:
                gas = self.w3.eth.estimate_gas(
                    {"from": self.payer.address, "to": self.registry.contract.address, "data": data}
                ) * 6 // 5
            else:
                gas = GAS_BASE + GAS_PER_READING * len(rows)
            tx = {
                "type": 2,
                "to": self.registry.contract.address,
                "data": data,
                "value": 0,
                "nonce": nonce,
                "gas": gas,
                "chainId": self._chain_id,
                **self._fees(),
            }
            signed = self.payer.sign_transaction(tx)
            tx_hash = HexBytes(signed.hash).to_0x_hex()
            # recorded before sending: a crash between the two leaves a batch the node may or
            # may not know; `confirm` settles it either way
            self.outbox.mark_submitted([row.id for row in rows], tx_hash, nonce)
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:  # node down, nonce race, revert in estimation (e.g. paused)
            self._nonce = None
            log.warning("send failed, will retry", extra={"error": exc.__class__.__name__, "detail": str(exc)[:200]})
            for tx_hash, *_ in self.outbox.in_flight():
                if not self._node_knows(tx_hash):
                    self.outbox.requeue_tx(tx_hash, delay_s=min(2 ** max(r.attempts for r in rows), 30))
            if self.metrics:
                self.metrics.send_errors.inc()
            return False
        self._nonce = nonce + 1
        if self.metrics:
            self.metrics.batches.inc()
        return True

    def _settle(self, tx_hash: str, receipt) -> None:
        rows = self.outbox.rows_of_tx(tx_hash)
        if receipt["status"] != 1:
            # the whole batch reverted (paused registry, out of gas): nothing was credited
            self._estimate_next = True  # next time ask the node (an estimate reverts while paused)
            self.outbox.requeue_tx(tx_hash, delay_s=5.0)
            log.warning("batch reverted, requeued", extra={"tx": tx_hash, "readings": len(rows)})
            return
        self._estimate_next = False
        accepted, rejected = decode_outcomes(receipt)
        outcomes: dict[tuple[str, int], int | None] = {}
        for row in rows:
            key = (row.reading.meter, row.reading.timestamp)
            if key in accepted:
                outcomes[key] = None
            elif key in rejected:
                reason = rejected[key]
                if reason == REJECT_STALE and self.registry.accepted_at(*key) is not None:
                    # an earlier copy of this batch was mined before a crash or a lost receipt
                    outcomes[key] = None
                else:
                    outcomes[key] = reason
                    log.warning(
                        "reading rejected",
                        extra={
                            "meter": key[0],
                            "timestamp": key[1],
                            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key[1])),
                            "reason": reason,
                            "reason_name": REASONS.get(reason, str(reason)),
                            "reason_text": REJECT_REASONS[reason].words if reason in REJECT_REASONS else "unknown reason",
                            "tx": tx_hash,
                        },
                    )
            else:  # not in the receipt: the node answered for another transaction
                continue
        self.outbox.settle(tx_hash, outcomes, int(receipt["gasUsed"]), int(receipt["status"]))
        self.outbox.requeue_tx(tx_hash)  # rows the receipt did not mention (none, unless the node lied)
        if self.metrics:
            self.metrics.batch_gas.observe(int(receipt["gasUsed"]))
            for reason in outcomes.values():
                if reason is not None:
                    self.metrics.rejects.labels(REASONS.get(reason, str(reason))).inc()
            self.metrics.accepted.inc(sum(1 for r in outcomes.values() if r is None))
