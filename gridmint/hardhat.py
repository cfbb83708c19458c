"""ape on a Hardhat node: one workaround that long runs (`make demo CHAIN=hardhat`, a test session) need.

After every transaction to a contract ape prints the contract's console logs, which it extracts
from the transaction's trace. ape-foundry gets that trace cheaply from Anvil; ape-hardhat 0.8.5
can only ask Hardhat for its full struct-log trace (Hardhat 2 refuses `callTracer`), megabytes per
transaction, and ape keeps each one with the receipt in `chain.history`: the full demo day grew
past 12 GB before it was stopped. gridmint's contracts print nothing, so on Hardhat the extraction
is skipped; ape's "Confirmed <hash>" line stays, and a trace is still fetched when something
asks for one (a revert, `receipt.trace`).
"""

from __future__ import annotations


def skip_console_log_traces() -> None:
    """Idempotent; affects only transactions sent through ape's Hardhat provider."""
    import ape  # noqa: F401  (first: importing ape_ethereum before ape is a circular import)
    import ape_ethereum.provider as provider_module

    original = provider_module._post_send_transaction
    if getattr(original, "_gridmint_hardhat", False):
        return

    def post_send_transaction(tx, receipt):
        if getattr(receipt.provider, "name", None) == "hardhat":
            provider_module.logger.info(f"Confirmed {receipt.txn_hash} (total fees paid = {receipt.total_fees_paid})")
            return
        original(tx, receipt)

    post_send_transaction._gridmint_hardhat = True  # type: ignore[attr-defined]
    provider_module._post_send_transaction = post_send_transaction
