"""The fetcher and the event store against a fake node serving a real (titanoboa) chain's logs:
a node that disappears mid-fetch, pages that are too large, a reorg; then a corrupted store (one
amount changed, one log dropped) produces findings."""

from __future__ import annotations

import random
import sqlite3

import boa
import pytest

from gridmint.audit.auditor import events_from_store, recompute
from gridmint.audit.compare import compare
from gridmint.audit.config import AuditConfig
from gridmint.audit.events import Decoder
from gridmint.audit.fetch import fetch
from gridmint.audit.findings import FAILING
from gridmint.audit.rpc import NodeUnreachable, RpcError
from gridmint.audit.store import EventStore, StoreMismatch
from gridmint.system import deploy_system
from tests.unit.audit.boa_capture import BoaLogCapture, boa_record_contracts, boa_views
from tests.unit.audit.driver import _DEPLOY, OPERATOR, PARAMS, T0, Driver


class FakeNode:
    """eth_getLogs / eth_getBlockByNumber / eth_blockNumber over captured raw logs; one block per
    captured call. `fail_after` getLogs calls it stops answering; `max_logs` refuses larger pages."""

    def __init__(self, raw, fail_after=None, max_logs=None):
        self.raw = raw
        self.head = max(r[0] for r in raw)
        self.times = {}
        for block, _, _, _, _, _, ts in raw:
            self.times[block] = ts
        last = min(self.times.values())
        for b in range(0, self.head + 1):
            last = self.times.setdefault(b, last)
        self.fail_after = fail_after
        self.max_logs = max_logs
        self.get_logs_ranges = []
        self.salt = ""

    def call(self, method, params):
        if method == "eth_blockNumber":
            return hex(self.head)
        if method == "eth_chainId":
            return hex(31337)
        if method == "eth_getBlockByNumber":
            n = int(params[0], 16)
            return {"timestamp": hex(self.times[n]), "hash": f"0x{n:064x}{self.salt}"}
        if method == "eth_getLogs":
            if self.fail_after is not None and len(self.get_logs_ranges) >= self.fail_after:
                raise NodeUnreachable("no answer from the fake node")
            f = params[0]
            lo, hi = int(f["fromBlock"], 16), int(f["toBlock"], 16)
            wanted = {a.lower() for a in f["address"]}
            out = [{"blockNumber": hex(b), "logIndex": hex(i), "transactionHash": tx, "address": a,
                    "topics": ["0x" + t.hex() for t in topics], "data": "0x" + data.hex(), "removed": False}
                   for b, i, tx, a, topics, data, _ in self.raw if lo <= b <= hi and a in wanted]
            if self.max_logs is not None and len(out) > self.max_logs:
                raise RpcError("eth_getLogs", {"code": -32005, "message": "query returned more than 10000 results"})
            self.get_logs_ranges.append((lo, hi))
            return out
        raise AssertionError(method)

    def batch(self, calls):
        return [self.call(m, p) for m, p in calls]


@pytest.fixture(scope="module")
def chain():
    """One captured chain for the module (each test still runs in its own anchor inside this one)."""
    saved = boa.env.timestamp
    with boa.env.anchor(), BoaLogCapture(boa.env) as capture:
        boa.env.timestamp = T0
        system = deploy_system(_DEPLOY, OPERATOR, PARAMS)
        driver = Driver(system, random.Random(11))
        for _ in range(80):
            driver.step()
        yield system, boa_record_contracts(system), list(capture.raw)
    boa.env.timestamp = saved


def test_fetch__node_vanishes_mid_fetch__resume_duplicates_nothing(chain, tmp_path):
    system, contracts, raw = chain
    decoder = Decoder(contracts)
    addresses = decoder.addresses(exclude=("QuoteToken",))
    wanted = {a.lower() for a in addresses}
    expected = [r for r in raw if r[3] in wanted]
    store = EventStore(tmp_path / "audit.sqlite")
    store.bind(31337, addresses, min(r[0] for r in raw))
    node = FakeNode(raw, fail_after=3, max_logs=40)
    with pytest.raises(NodeUnreachable):
        fetch(node, store, addresses, node.head, page_blocks=4)
    mark = store.fetched_to
    partial = store.count()
    assert 0 < mark < node.head and 0 < partial < len(expected)
    # the store holds exactly the whole pages before the failure
    assert partial == sum(1 for r in expected if r[0] <= mark)
    # the next run resumes after the mark and reads every later block once
    node.fail_after = None
    node.get_logs_ranges = []
    stats = fetch(node, store, addresses, node.head, page_blocks=4)
    assert node.get_logs_ranges[0][0] == mark + 1
    assert stats.logs == len(expected) - partial
    assert store.count() == len(expected)
    rows = store.db.execute("SELECT count(*), count(DISTINCT block || ':' || log_index) FROM logs").fetchone()
    assert rows[0] == rows[1] == len(expected)
    # nothing new: a third run asks for nothing
    node.get_logs_ranges = []
    assert fetch(node, store, addresses, node.head).logs == 0 and node.get_logs_ranges == []
    # the recompute over the store sees the chain as the views do
    names = {n: c["address"] for n, c in contracts.items()}
    ledger, _, _ = recompute(events_from_store(store, decoder, node.head), names, AuditConfig(), node.head,
                             boa.env.timestamp)
    found = ledger.findings + compare(ledger, boa_views(system), node.head, boa.env.timestamp, names)
    assert [f for f in found if f.kind in FAILING] == []
    store.close()


def test_fetch__too_many_results__page_halved(chain, tmp_path):
    _, contracts, raw = chain
    addresses = Decoder(contracts).addresses(exclude=("QuoteToken",))
    store = EventStore(tmp_path / "audit.sqlite")
    store.bind(31337, addresses, min(r[0] for r in raw))
    node = FakeNode(raw, max_logs=15)
    fetch(node, store, addresses, node.head, page_blocks=10_000)
    wanted = {a.lower() for a in addresses}
    assert store.count() == sum(1 for r in raw if r[3] in wanted)
    assert all(hi - lo < 10_000 for lo, hi in node.get_logs_ranges)


def test_fetch__reorg_at_the_mark__tail_read_again(chain, tmp_path):
    _, contracts, raw = chain
    addresses = Decoder(contracts).addresses(exclude=("QuoteToken",))
    store = EventStore(tmp_path / "audit.sqlite")
    store.bind(31337, addresses, min(r[0] for r in raw))
    node = FakeNode(raw)
    fetch(node, store, addresses, node.head)
    count = store.count()
    node.salt = "ff"  # every block hash changed: the stored mark's block is gone
    node.get_logs_ranges = []
    stats = fetch(node, store, addresses, node.head, reorg_window_blocks=10)
    assert stats.rewound_to == node.head - 10
    assert node.get_logs_ranges[0][0] == node.head - 9
    assert store.count() == count


def test_store__bound_to_one_deployment(tmp_path):
    store = EventStore(tmp_path / "s.sqlite")
    store.bind(31337, ["0x" + "1" * 40], 5)
    store.bind(31337, ["0x" + "1" * 40], 5)
    with pytest.raises(StoreMismatch):
        store.bind(1, ["0x" + "1" * 40], 5)


def test_corrupted_store__amount_changed_and_log_dropped__findings(chain, tmp_path):
    system, contracts, raw = chain
    decoder = Decoder(contracts)
    addresses = decoder.addresses(exclude=("QuoteToken",))
    path = tmp_path / "audit.sqlite"
    store = EventStore(path)
    store.bind(31337, addresses, min(r[0] for r in raw))
    node = FakeNode(raw)
    fetch(node, store, addresses, node.head)
    store.close()
    names = {n: c["address"] for n, c in contracts.items()}
    events = list(events_from_store(EventStore(path), decoder, node.head))
    # one amount changed: the exported Wh of a reading (4th data word of ReadingAccepted)
    reading = next(e for e in events if e.name == "ReadingAccepted" and e.args["exported_wh"] > 0)
    # one log dropped: a WATT mint
    mint = next(e for e in events if e.contract == "WattToken" and e.name == "Transfer" and e.block != reading.block
                and e.args["sender"] == "0x0000000000000000000000000000000000000000")
    db = sqlite3.connect(path)
    (data,) = db.execute("SELECT data FROM logs WHERE block = ? AND log_index = ?",
                         (reading.block, reading.log_index)).fetchone()
    word = int.from_bytes(data[96:128], "big") + 5
    db.execute("UPDATE logs SET data = ? WHERE block = ? AND log_index = ?",
               (data[:96] + word.to_bytes(32, "big") + data[128:], reading.block, reading.log_index))
    db.execute("DELETE FROM logs WHERE block = ? AND log_index = ?", (mint.block, mint.log_index))
    db.commit()
    db.close()
    store = EventStore(path)
    ledger, _, _ = recompute(events_from_store(store, decoder, node.head), names, AuditConfig(), node.head,
                             boa.env.timestamp)
    found = ledger.findings + compare(ledger, boa_views(system), node.head, boa.env.timestamp, names)
    failing = {(f.check, f.account) for f in found if f.kind in FAILING}
    assert ("inv1.export-not-credited", reading.args["meter"]) in failing  # changed amount
    assert ("MeterRegistry.last_reading", reading.args["meter"]) in failing
    assert ("WattToken.balanceOf", mint.args["receiver"]) in failing  # dropped mint
    assert ("WattToken.totalSupply", None) in failing
    store.close()
