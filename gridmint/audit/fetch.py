"""Paged `eth_getLogs` over every gridmint contract into the event store.

Adaptive pages: a page the node refuses as too large is halved and asked again; a page that comes
back light doubles the next one (up to `max_page_blocks`). Transport errors are retried with backoff
by the RPC client. Each page is committed with its blocks' timestamps and the new high-water mark
(see store.py), so a fetch that dies resumes at the last whole page. Blocks newer than
`head - confirmations` are not read; if the block at the stored mark changed hash (a reorg), the last
`reorg_window_blocks` are dropped and read again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .rpc import RpcError, too_much
from .store import EventStore


@dataclass
class FetchStats:
    from_block: int = 0
    to_block: int = 0
    logs: int = 0
    pages: int = 0
    seconds: float = 0.0
    rewound_to: int | None = None

    @property
    def logs_per_s(self) -> float:
        return self.logs / self.seconds if self.seconds > 0 else 0.0


class NoContract(ValueError):
    """The record's contract has no code on this node."""


def head_block(rpc) -> int:
    return int(rpc.call("eth_blockNumber", []), 16)


def find_deploy_block(rpc, address: str, head: int) -> int:
    """The first block at which `address` has code (binary search over eth_getCode; needs a node
    that keeps historical state, which local nodes and archive nodes do)."""
    if rpc.call("eth_getCode", [address, hex(head)]) in ("0x", "0x0", None):
        raise NoContract(f"no contract at {address} on this node: wrong --rpc-url or record?")
    lo, hi = 0, head
    while lo < hi:
        mid = (lo + hi) // 2
        if rpc.call("eth_getCode", [address, hex(mid)]) in ("0x", "0x0", None):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _headers(rpc, numbers: list[int]) -> dict[int, tuple[int, str]]:
    out: dict[int, tuple[int, str]] = {}
    for i in range(0, len(numbers), 100):
        chunk = numbers[i:i + 100]
        for n, block in zip(chunk, rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in chunk])):
            if block is None:
                raise RpcError("eth_getBlockByNumber", {"message": f"block {n} not found"})
            out[n] = (int(block["timestamp"], 16), block["hash"])
    return out


def fetch(rpc, store: EventStore, addresses: list[str], to_block: int, *, page_blocks: int = 2_000,
          max_page_blocks: int = 100_000, light_page_logs: int = 2_000, reorg_window_blocks: int = 64,
          progress: Callable[[int, int], None] | None = None) -> FetchStats:
    """Reads every log of `addresses` from the store's mark + 1 up to `to_block` into `store`."""
    stats = FetchStats()
    t0 = time.perf_counter()
    mark, mark_hash = store.fetched_to, store.fetched_to_hash
    if mark_hash is not None and mark >= store.from_block:
        (now_hash,) = [h for _, h in _headers(rpc, [mark]).values()]
        if now_hash != mark_hash:
            back = max(mark - reorg_window_blocks, store.from_block - 1)
            store.rewind(back)
            stats.rewound_to = back
    start = store.fetched_to + 1
    stats.from_block, stats.to_block = start, to_block
    block = start
    while block <= to_block:
        end = min(block + page_blocks - 1, to_block)
        try:
            logs = rpc.call("eth_getLogs", [{"address": addresses, "fromBlock": hex(block), "toBlock": hex(end)}])
        except RpcError as e:
            if too_much(e) and page_blocks > 1:
                page_blocks = max(page_blocks // 2, 1)
                continue
            raise
        wanted = {int(log["blockNumber"], 16) for log in logs}
        missing = sorted((wanted - store.known_blocks(wanted)) | {end})
        headers = _headers(rpc, missing)
        store.add_page(logs, headers, end, headers[end][1])
        stats.logs += len(logs)
        stats.pages += 1
        if progress is not None:
            progress(end - start + 1, to_block - start + 1)
        block = end + 1
        if len(logs) < light_page_logs:
            page_blocks = min(page_blocks * 2, max_page_blocks)
    stats.seconds = time.perf_counter() - t0
    return stats
