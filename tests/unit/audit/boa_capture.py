"""titanoboa log capture for the auditor's in-process tests (imported as `tests.unit.audit.boa_capture`)."""

from __future__ import annotations

import itertools


from gridmint.audit.events import Decoder, Event

_counter = itertools.count(1)


class BoaLogCapture:
    """Records the raw logs of every state-changing call and deploy on boa's EVM, in order, and
    decodes them with the same Decoder the fetcher uses (ABIs from the compiled contracts). Each
    call is its own "transaction" and "block" (boa mines none); the block time is boa's clock."""

    def __init__(self, env):
        self.env = env
        self.raw: list[tuple] = []  # (block, log_index, tx, address, topics, data, timestamp)
        self._exec = env.execute_code
        self._deploy = env.deploy

    def _record(self, computation) -> None:
        if computation is None or computation.is_error:
            return
        n = next(_counter)
        for i, (_, address, topics, data) in enumerate(sorted(computation.get_raw_log_entries())):
            topics = [t.to_bytes(32, "big") for t in topics]
            self.raw.append((n, i, f"0x{n:064x}", "0x" + bytes(address).hex(), topics, bytes(data),
                             self.env.evm.patch.timestamp))

    def __enter__(self):
        def execute_code(*args, **kwargs):
            ret = self._exec(*args, **kwargs)
            if kwargs.get("is_modifying", True) and not kwargs.get("simulate", False):
                self._record(ret)
            return ret

        def deploy(*args, **kwargs):
            address, computation = self._deploy(*args, **kwargs)
            self._record(computation)
            return address, computation

        self.env.execute_code = execute_code
        self.env.deploy = deploy
        return self

    def __exit__(self, *exc):
        del self.env.execute_code
        del self.env.deploy

    def events(self, contracts: dict[str, dict]) -> list[Event]:
        decoder = Decoder(contracts)
        known = set(decoder.names)
        return [decoder.decode(a, t, d, b, i, tx, ts) for b, i, tx, a, t, d, ts in self.raw if a.lower() in known]


def boa_record_contracts(system) -> dict[str, dict]:
    """The deployment record's `contracts` for a boa-deployed system (ABIs from boa's compiler output)."""
    out = {}
    for name, contract in system.contracts().items():
        out[name] = {"address": str(contract.address), "abi": contract.abi}
    return out


def boa_views(system):
    handles = system.contracts()

    def view(contract: str, fn: str, *args):
        value = getattr(handles[contract], fn)(*args)
        return _plain(value)

    return view


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "_asdict"):
        return [_plain(v) for v in value]
    return value


def audit_in_process(system, events):
    """The auditor on an in-process chain: `recompute` of `events` and its comparison with the
    contracts' views, at the last event's block and boa's clock. Returns (the ledger, the failing
    findings)."""
    import boa

    from gridmint.audit.auditor import recompute
    from gridmint.audit.compare import compare
    from gridmint.audit.config import AuditConfig
    from gridmint.audit.findings import FAILING

    names = {n: c["address"] for n, c in boa_record_contracts(system).items()}
    ledger, _, _ = recompute(events, names, AuditConfig(), events[-1].block, boa.env.timestamp)
    found = ledger.findings + compare(ledger, boa_views(system), events[-1].block, boa.env.timestamp, names)
    return ledger, [f for f in found if f.kind in FAILING]
