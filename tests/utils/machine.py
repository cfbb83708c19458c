"""Base for the titanoboa state machines: each example runs in its own anchor at a fixed chain time."""

import boa
from hypothesis.stateful import RuleBasedStateMachine

T0 = 1_790_000_000  # every example starts at the same chain time


class AnchoredMachine(RuleBasedStateMachine):
    """Rolls the EVM back after each example and pins the clock at its start.

    boa's anchor restores state but not `patch.timestamp`; without pinning,
    later examples would draw from a different clock and hypothesis would see
    flaky data generation."""

    def __init__(self):
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self._saved_time = boa.env.evm.patch.timestamp
        boa.env.evm.patch.timestamp = T0

    def teardown(self):
        self._anchor.__exit__(None, None, None)
        boa.env.evm.patch.timestamp = self._saved_time

    @property
    def now(self):
        return boa.env.evm.patch.timestamp


def announce_and_apply(contract, thing, *values, sender):
    """The operator's announced change, end to end: `announce_<thing>(*values)`, wait out the
    contract's NOTICE_S, `apply_<thing>()`. Returns the apply call's logs."""
    getattr(contract, f"announce_{thing}")(*values, sender=sender)
    boa.env.time_travel(seconds=contract.NOTICE_S())
    getattr(contract, f"apply_{thing}")(sender=sender)
    return contract.get_logs()
