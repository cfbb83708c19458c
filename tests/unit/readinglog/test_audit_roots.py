"""gridmint/audit/roots.py: every committed root checked against its published data."""

import boa
from eth_hash.auto import keccak

from gridmint.audit.events import Event
from gridmint.audit.roots import check_roots, fetch_published
from gridmint.onboarding import Registers
from gridmint.slots import end_of, slot_of
from oracle.relay import Relay, RelayStore
from tests.unit.readinglog.test_relay import BoaChain

SLOT_S = 1_800


def _events(logs):
    out = []
    for i, e in enumerate(logs):
        if type(e).__name__ == "RootCommitted":
            args = {k: getattr(e, k) for k in ("committer", "slot", "root", "leaf_count", "data_kind", "data_ref", "data_uri")}
            args["committer"] = str(args["committer"])
            out.append(Event("ReadingLog", "RootCommitted", args, 1, i, "0x", 0))
    return out


def _relay_slot(system, operator, register, meter_owner, domain, now, tmp_path):
    relay_addr = boa.env.generate_address("audited-relay")
    system.reading_log.set_relay(relay_addr, True, sender=operator)
    relay = Relay(RelayStore(tmp_path / "r.sqlite"), BoaChain(system, relay_addr), domain, tmp_path / "archive", SLOT_S)
    t = now()
    for i in range(3):
        m = register(f"audited-{i}", meter_owner, commissioning=Registers(t - 3_600))
        r = m.reading(t, gen=10 * i, exp=5 * i)
        assert relay.receive(r, m.signer.sign(r, domain)).ok
    slot = slot_of(t, SLOT_S)
    boa.env.evm.patch.timestamp = end_of(slot, SLOT_S)
    assert relay.commit_ready() == [slot]
    return relay, slot, _events(relay.chain.commit_logs)


def test_committed_root__matches_its_archive__no_finding(system, operator, register, meter_owner, domain, now, tmp_path):
    relay, slot, events = _relay_slot(system, operator, register, meter_owner, domain, now, tmp_path)
    assert len(events) == 1
    assert check_roots(events, domain.separator, fetch_published()) == []


def test_tampered_archive_or_lying_root__found(system, operator, register, meter_owner, domain, now, tmp_path):
    relay, slot, events = _relay_slot(system, operator, register, meter_owner, domain, now, tmp_path)
    path = tmp_path / "archive" / f"slot-{slot}.jsonl"
    body = path.read_bytes()
    path.write_bytes(body.replace(b'"exportedWh":5', b'"exportedWh":6'))
    (f,) = check_roots(events, domain.separator, fetch_published())
    assert f.check == "roots.data-hash"
    # a relay that commits a root its published data does not build
    path.write_bytes(body)
    liar = boa.env.generate_address("liar")
    system.reading_log.set_relay(liar, True, sender=operator)
    system.reading_log.commit(slot, b"\7" * 32, 3, 3, keccak(body), path.as_uri(), sender=liar)
    lie = _events(system.reading_log.get_logs())
    findings = check_roots(events + lie, domain.separator, fetch_published())
    assert [(x.check, x.account) for x in findings] == [("roots.root", liar)]
    # data nobody can fetch is named, not faked
    (g,) = check_roots(events, domain.separator, lambda kind, uri, ref: None)
    assert g.check == "roots.data-unavailable" and g.kind == "not derivable"
