"""The demo's hook on a real Anvil: meters in gateway mode, a commit every slot, credit on demand;
the same WATT as crediting every reading, for a fraction of the gas."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from gridmint.audit.events import Event
from gridmint.audit.roots import check_roots, fetch_published
from gridmint.deployments import Deployment
from oracle.eip712 import MeterSigner
from oracle.gateway import EdgeCommunity
from tests.utils.anvil import Anvil, dev_account
from tools.bench_scale import web3_reading_system

pytestmark = pytest.mark.integration
SLOT_S = 1_800


@pytest.fixture
def anvil():
    node = Anvil().start()
    yield node
    node.stop()


@pytest.mark.parametrize("data", ["archive", "blob"])
def test_edge_community__commits_every_slot_credits_on_demand(anvil, tmp_path, data):
    w3 = anvil.w3()
    operator, owner, relay = dev_account(0), dev_account(1), dev_account(2)
    s = web3_reading_system(w3, operator)
    s.log.set_relay(relay.address, True, sender=operator)
    signers = [MeterSigner(keccak(f"edge-demo-{i}".encode())) for i in range(4)]
    t0 = (w3.eth.get_block("latest")["timestamp"] // SLOT_S + 1) * SLOT_S
    for m in signers:
        s.registry.register_meter(m.address, owner.address, 1, 10_000, "pv", (t0 - 3_600, 0, 0, 0, 0), sender=operator)
        s.registry.accept_meter(m.address, sender=owner)
    record = Deployment("ethereum:local", w3.eth.chain_id, {
        "MeterRegistry": {"address": s.registry.address, "abi": s.registry.abi},
        "ReadingLog": {"address": s.log.address, "abi": s.log.abi}}, {})
    edge = EdgeCommunity(w3, relay, record, signers, tmp_path / "relay", data=data)
    try:
        slots = 6
        for k in range(slots):
            ts = t0 + k * SLOT_S + 60
            w3.provider.make_request("evm_setNextBlockTimestamp", [ts + 1])
            w3.provider.make_request("evm_mine", [])
            assert edge.hand(ts, {m.address: (300 * (k + 1), 100 * (k + 1), 200 * (k + 1), 10 * (k + 1)) for m in signers}) == 4
            edge.end_slot()
        assert edge.refused == []
        assert s.watt.balanceOf(owner.address) == 0  # on demand: nothing credited yet
        assert edge.credit() == 4
        assert s.watt.balanceOf(owner.address) == 4 * (200 * slots - 10 * slots)
        g = edge.gas()
        assert all(x <= 60_000 for x in g["commit"]), g
        assert len(g["commit"]) == slots - 1, (g, edge.relay.status())
        assert len(g["credit"]) == 1
        per_member_day = edge.gas_per_member_per_day(4, slots * SLOT_S)
        assert 0 < per_member_day < 3_700_000 / 2
        # the auditor checks every root against its published data (blob: its versioned hash)
        logs = s.log.contract.events.RootCommitted().get_logs(from_block=0)
        assert {e.args.data_kind for e in logs} == {2 if data == "blob" else 3}
        events = [Event("ReadingLog", "RootCommitted", dict(e.args), e.blockNumber, e.logIndex, "0x", 0) for e in logs]
        assert check_roots(events, edge.relay.separator, fetch_published(w3)) == []
    finally:
        edge.close()
