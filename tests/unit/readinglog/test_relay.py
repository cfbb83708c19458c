"""oracle/relay.py + relay_http.py + gateway.py on titanoboa: gateways sign at the edge, the relay
refuses a wrong key or a replay before any gas, commits each slot once (also across a crash), serves
proofs that verify on chain, and credits by policy with the same totals."""

import pickle

import boa
import pytest

from gridmint import merkle
from gridmint.onboarding import Registers
from gridmint.slots import end_of, slot_of
from oracle.gateway import Gateway, post_reading
from oracle.relay import Relay, RelayStore
from oracle.relay_http import serve
from tests.utils.meters import meter_signer

SLOT_S = 1_800


class BoaChain:
    """The relay's chain port on boa; counts every transaction it sends (gas spent)."""

    def __init__(self, system, relay):
        self.registry, self.log, self.address = system.registry, system.reading_log, relay
        self.txs = 0
        self._sent: dict[str, bool] = {}
        self.commit_logs: list = []  # the decoded logs of every commit sent
        self._n = 0

    def now(self):
        return boa.env.evm.patch.timestamp

    def meter_status(self, meter):
        info = self.registry.meters(meter)
        last = self.registry.last_reading(meter)
        return bool(info[2] and info[3]), int(last[0]), tuple(int(x) for x in last[2:6])

    def root_of(self, slot):
        return bytes(self.log.root_of(self.address, slot))

    def prepare_commit(self, slot, root, count, kind, ref, uri):
        self._n += 1
        tx = f"0xtx{self._n}"
        return tx, pickle.dumps((tx, slot, root, count, kind, ref, uri))

    def broadcast(self, raw):
        tx, *args = pickle.loads(raw)
        if tx in self._sent:  # a node takes one signed transaction once
            return
        self._sent[tx] = True
        self.txs += 1
        self.log.commit(*args, sender=self.address)
        self.commit_logs.extend(self.log.get_logs())

    def receipt_status(self, tx_hash):
        return 1 if tx_hash in self._sent else None

    def submit(self, readings, signatures):
        self.txs += 1
        self.registry.submit_readings([r.as_call_arg() for r in readings], signatures, sender=self.address)
        out = {(r.meter, r.timestamp): 0 for r in readings}
        for e in self.registry.get_logs():
            if type(e).__name__ == "ReadingRejected":
                out[(str(e.meter), e.timestamp)] = e.reason
        return out


class Crash(Exception):
    pass


@pytest.fixture
def relay_addr(system, operator):
    addr = boa.env.generate_address("relay")
    system.reading_log.set_relay(addr, True, sender=operator)
    return addr


@pytest.fixture
def make_relay(system, relay_addr, domain, tmp_path):
    def _make(policy="demand", chain=None):
        chain = chain or BoaChain(system, relay_addr)
        store = RelayStore(tmp_path / "relay.sqlite")
        return Relay(store, chain, domain, tmp_path / "archive", SLOT_S, 300, policy), chain

    return _make


@pytest.fixture
def meters(register, meter_owner, now):
    # commissioned a day ago so half-hourly readings of a few kWh are plausible
    return [register(f"edge-{i}", meter_owner, commissioning=Registers(now() - 86_400)) for i in range(3)]


def _step(meters, t, exp=100):
    return [m.reading(t, gen=exp, exp=exp) for m in meters]


def test_gateway__wrong_key_or_replay__refused_before_any_gas(make_relay, meters, domain, now, register, meter_owner):
    relay, chain = make_relay()
    server = serve(relay, port=0)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        good = Gateway(meters[0].signer, domain, url)
        r = meters[0].reading(now(), exp=50)
        assert [h.status for h in good.hand(r)] == [202]
        # the same signed reading again
        assert post_reading(url, r, good.sign(r)) == (409, "replayed")
        # a gateway holding another key signs for meter 0
        thief = Gateway(meter_signer("thief"), domain, url)
        forged = meters[0].reading(now() + 1, exp=5_000)
        assert post_reading(url, forged, thief.signer.sign_digest(b"\x01" * 32)) == (403, "bad_signature")
        # a key the registry does not know, signing its own reading
        stranger_meter = meter_signer("unregistered")
        r2 = r._replace(meter=stranger_meter.address)
        assert post_reading(url, r2, stranger_meter.sign(r2, domain)) == (403, "unknown_meter")
        # an older reading, a falling counter, one from the future
        older = r._replace(timestamp=r.timestamp - 10)
        assert post_reading(url, older, good.sign(older))[1] == "stale"
        down = r._replace(timestamp=r.timestamp + 5, exported_wh=r.exported_wh - 1)
        assert post_reading(url, down, good.sign(down)) == (422, "counter_down")
        # below the registry's commissioning values (on chain), with nothing held here for that meter
        installed = register("edge-installed", meter_owner, commissioning=Registers(now() - 86_400, 1_000, 0, 0, 0))
        below = installed.reading(now())._replace(generated_wh=999)
        assert post_reading(url, below, installed.signer.sign(below, domain)) == (422, "counter_down")
        huge = r._replace(timestamp=r.timestamp + 6, generated_wh=2**48)
        assert post_reading(url, huge, good.sign(huge)) == (422, "malformed")
        future = r._replace(timestamp=now() + 10_000, exported_wh=r.exported_wh + 1)
        assert post_reading(url, future, good.sign(future)) == (422, "future")
        assert chain.txs == 0  # nothing sent, no gas spent
        assert relay.status()["readings"] == 1
    finally:
        server.shutdown()


def test_commit__each_slot_once__proof_served_verifies_on_chain(make_relay, meters, system, domain, now):
    relay, chain = make_relay()
    t = now()
    slot = slot_of(t, SLOT_S)
    signed = []
    for r, m in zip(_step(meters, t), meters):
        sig = m.signer.sign(r, domain)
        assert relay.receive(r, sig).ok
        signed.append((r, sig))
    assert relay.commit_ready() == []  # the slot has not ended
    boa.env.evm.patch.timestamp = end_of(slot, SLOT_S)
    assert relay.commit_ready() == [slot]
    assert relay.commit_ready() == []  # nothing twice
    assert chain.txs == 1
    # the slot is closed: a late reading of it is refused
    late = meters[0].reading(t + 1, exp=1)
    assert relay.receive(late, meters[0].signer.sign(late, domain)).reason == "slot_closed"
    expected = merkle.build_root(merkle.reading_leaf(r, s) for r, s in signed)
    assert system.reading_log.root_of(chain.address, slot) == expected
    server = serve(relay, port=0)
    try:
        import json
        import urllib.request

        for r, sig in signed:
            url = f"http://127.0.0.1:{server.server_address[1]}/proof/{r.meter}/{r.timestamp}"
            body = json.loads(urllib.request.urlopen(url).read())
            proof = [bytes.fromhex(p[2:]) for p in body["proof"]]
            assert body["slot"] == slot
            assert system.reading_log.verify_reading(chain.address, slot, r.as_call_arg(), sig, proof)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/proof/{meters[0].address}/1")
    finally:
        server.shutdown()


def test_commit__crash_after_send__restart_commits_nothing_twice(make_relay, meters, system, domain, now, tmp_path):
    class CrashingChain(BoaChain):
        def broadcast(self, raw):
            super().broadcast(raw)
            raise Crash  # the process dies after the node took the transaction, before the outbox knows

    crashing = CrashingChain(system, boa.env.generate_address("unused"))
    relay, _ = make_relay()
    crashing.address = relay.chain.address
    relay.chain = crashing
    t = now()
    for r, m in zip(_step(meters, t), meters):
        relay.receive(r, m.signer.sign(r, domain))
    boa.env.evm.patch.timestamp = end_of(slot_of(t, SLOT_S), SLOT_S)
    with pytest.raises(Crash):
        relay.commit_ready()
    relay.store.close()
    # a new process on the same outbox; the node still knows the signed transaction
    again, chain = make_relay(chain=crashing)
    assert again.commit_ready() == [slot_of(t, SLOT_S)]
    assert crashing.txs == 1
    assert again.status()["slots"] == {"done": 1}


@pytest.mark.parametrize("policy", ["every", "hours:2", "demand"])
def test_credit_policies__same_total_as_every_reading(make_relay, meters, watt, meter_owner, domain, now, policy):
    relay, chain = make_relay(policy)
    before = watt.balanceOf(meter_owner)
    t = now()
    for step in range(6):  # three hours of half-hourly readings, each in its own slot
        boa.env.evm.patch.timestamp = t + step * SLOT_S
        for r, m in zip(_step(meters, now(), exp=40), meters):
            assert relay.receive(r, m.signer.sign(r, domain)).ok
        relay.commit_ready()
        relay.credit_due()
    if policy == "demand":
        assert watt.balanceOf(meter_owner) == before
    relay.credit_now([m.address for m in meters])  # "bring my meters up to date"
    assert watt.balanceOf(meter_owner) == before + 3 * 6 * 40
    commits = relay.status()["slots"]["done"]
    assert commits == 5
    # credit transactions: every reading 6; every 2 h at steps 0 and 4, then on demand; demand once
    assert chain.txs - commits == {"every": 6, "hours:2": 3, "demand": 1}[policy]


def test_gateway_main__replay_file_to_relay__key_never_printed(make_relay, meters, domain, now, tmp_path, capsys, monkeypatch):
    import json as _json

    from eth_hash.auto import keccak

    from oracle.gateway import main
    from oracle.keys import import_key

    relay, chain = make_relay()
    server = serve(relay, port=0)
    key = keccak(b"gridmint-test-meter:edge-0")  # tests/utils/meters.py's key of meters[0]
    keystore = tmp_path / "keys"
    import_key(keystore, key, "pw", kdf="pbkdf2", iterations=2)
    m = meters[0]
    t = now()
    lines = [{"meter": m.address, "timestamp": t + i, "generated_wh": 10 * i, "consumed_wh": 0,
              "exported_wh": 5 * i, "imported_wh": 0} for i in range(1, 4)]
    lines.append(dict(lines[0]))  # a replayed line: refused by the relay
    replay = tmp_path / "readings.jsonl"
    replay.write_text("\n".join(_json.dumps(x) for x in lines))
    args = ["--keystore", str(keystore), "--meter", m.address, "--chain-id", str(domain.chain_id),
            "--registry", domain.verifying_contract, "--relay", f"http://127.0.0.1:{server.server_address[1]}",
            "--replay", str(replay)]
    try:
        monkeypatch.delenv("GRIDMINT_KEY_PASSWORD", raising=False)
        assert main(args) == 2
        assert capsys.readouterr().err.startswith("gridmint-oracle gateway: set GRIDMINT_KEY_PASSWORD")
        monkeypatch.setenv("GRIDMINT_KEY_PASSWORD", "pw")
        assert main(args) == 0
        out = capsys.readouterr()
        assert "handed 3, refused 1" in out.out and "replayed" in out.err
        assert key.hex() not in out.out + out.err
        assert relay.status()["readings"] == 3 and chain.txs == 0
    finally:
        server.shutdown()


def test_blob_encoding__round_trips_and_refuses_oversize():
    from oracle.relay import BLOB_BYTES, BLOB_PAYLOAD_MAX, blob_of, payload_of_blob, versioned_hash_of

    payload = bytes(range(256)) * 50
    blob = blob_of(payload)
    assert len(blob) == BLOB_BYTES and all(blob[i] == 0 for i in range(0, BLOB_BYTES, 32))  # below the field modulus
    assert payload_of_blob(blob) == payload
    vh = versioned_hash_of(blob)
    assert len(vh) == 32 and vh[0] == 1 and vh != versioned_hash_of(blob_of(payload + b"x"))
    assert payload_of_blob(blob_of(b"\xff" * BLOB_PAYLOAD_MAX)) == b"\xff" * BLOB_PAYLOAD_MAX
    with pytest.raises(ValueError):
        blob_of(b"\0" * (BLOB_PAYLOAD_MAX + 1))


def test_relay_options__refused_when_unknown(make_relay, tmp_path, domain, system, relay_addr):
    with pytest.raises(ValueError):
        Relay(RelayStore(tmp_path / "x.sqlite"), BoaChain(system, relay_addr), domain, tmp_path / "a", SLOT_S, 300, "weekly")
    with pytest.raises(ValueError):
        Relay(RelayStore(tmp_path / "y.sqlite"), BoaChain(system, relay_addr), domain, tmp_path / "a", SLOT_S, 300,
              data="ipfs")
