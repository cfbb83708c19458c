"""Base for the titanoboa state machines: each example runs in its own anchor at a fixed chain time,
from a fixture (deployed and set-up contracts) built once per test run."""

from functools import lru_cache

import boa
from hypothesis.stateful import RuleBasedStateMachine

T0 = 1_790_000_000  # every example starts at the same chain time


class AnchoredMachine(RuleBasedStateMachine):
    """Rolls the EVM back after each example and pins the clock at its start.

    boa's anchor restores state but not `patch.timestamp`; without pinning,
    later examples would draw from a different clock and hypothesis would see
    flaky data generation.

    What every example starts from (contracts deployed, meters onboarded, accounts funded) is the
    machine's `_fixture_build()`, built once per test run by its `TestCase` before the first example
    (`_fixture()`). boa's pytest plugin runs each hypothesis example inside an anchor of its own, so a
    fixture built in an example's `__init__` would be rolled back with the example and deployed again
    for the next one (about 2 s an example). The fixture holds contract handles and values, never
    Python state an example changes: each example builds its own from it."""

    _cached = None

    @classmethod
    def _fixture_build(cls) -> dict:
        """The chain state every example starts from, built at T0: a dict of contract handles and
        values. Nothing by default."""
        return {}

    @classmethod
    def _fixture(cls) -> dict:
        """The fixture, built at T0 unless this test run built it already (it is gone once the test
        that built it has rolled back: its first contract has no code)."""
        fx = cls.__dict__.get("_cached")
        contracts = [v for v in (fx or {}).values() if hasattr(v, "address")]
        if fx is None or (contracts and not boa.env.get_code(contracts[0].address)):
            saved = boa.env.evm.patch.timestamp
            boa.env.evm.patch.timestamp = T0
            try:
                fx = cls._fixture_build()
            finally:
                boa.env.evm.patch.timestamp = saved
            cls._cached = fx
        return fx

    @classmethod
    @lru_cache
    def _to_test_case(cls):
        """hypothesis's `TestCase` for this machine, which builds the fixture in `setUp`: inside the
        test's own anchor, outside every example's."""
        base = super()._to_test_case()

        class FixtureOnceTestCase(base):
            def setUp(self):
                super().setUp()
                cls._fixture()

        FixtureOnceTestCase.__name__ = base.__name__
        FixtureOnceTestCase.__qualname__ = base.__qualname__
        return FixtureOnceTestCase

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
