"""One place builds the whole system for every in-process (titanoboa) test.

Each test runs inside `boa.env.anchor()`, so the session-wide deploy is
reused and every test starts from the same state.
"""

from __future__ import annotations

import os

import boa
import pytest
from hypothesis import HealthCheck, settings

from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.meters import TestMeter, domain_of, meter_signer, signed

# Stateful machines: `ci` is bounded for the 20-minute budget, `soak` goes long.
settings.register_profile(
    "ci", max_examples=60, stateful_step_count=50, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "dev", max_examples=20, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "soak", max_examples=2_000, stateful_step_count=100, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# ---------------------------------------------------------------- one node per xdist worker
# With ape's pytest plugin each session starts its node on the port ape-config.yaml names (8545), and
# tests run `ape run ... --network` subprocesses and README walkthroughs that expect it there. So under
# pytest-xdist (`-n N` with the plugin on: the Anvil and Hardhat stages of `make test`) every worker
# runs in a network namespace of its own (`unshare -n`, loopback up): each has its own 127.0.0.1:8545,
# its own node and its subprocesses' nodes, and nothing about ports changes in the tests or the config.
# The workers still talk to the controller over their stdin/stdout pipes (execnet's popen gateway).
NETNS_PYTHON = "unshare -n sh -c 'ip link set lo up && exec \"$0\" \"$@\"' {python}"


def _node_per_worker(config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not config.pluginmanager.is_blocked("ape_test") \
        and "PYTEST_XDIST_WORKER" not in os.environ


def pytest_configure(config):
    if not _node_per_worker(config):
        return
    import shlex
    import subprocess
    import sys

    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise pytest.UsageError(
            "-n with ape's plugin runs each worker in its own network namespace (one node per worker on "
            f"127.0.0.1:8545), which needs `unshare -n` (root): {probe.stderr.strip() or probe.returncode}")
    python = NETNS_PYTHON.format(python=shlex.quote(sys.executable))
    config.option.tx = [f"popen//python={python}" for _ in config.option.tx]


SOLAR, WIND, NONE = 1, 2, 0
TEST_PARAMS = SystemParams(capacity_wh=50_000, max_clock_skew_s=300, wire_auction=False)


@pytest.fixture(scope="session")
def operator():
    return boa.env.generate_address("operator")


@pytest.fixture(scope="session")
def meter_owner():
    return boa.env.generate_address("meter_owner")


@pytest.fixture(scope="session")
def other_owner():
    return boa.env.generate_address("other_owner")


@pytest.fixture(scope="session")
def stranger():
    return boa.env.generate_address("stranger")


@pytest.fixture(scope="session")
def system(operator):
    return deploy_system(boa_deployer(operator), operator, TEST_PARAMS)


@pytest.fixture(autouse=True)
def _isolate():
    with boa.env.anchor():
        yield


@pytest.fixture
def registry(system):
    return system.registry


@pytest.fixture
def watt(system):
    return system.watt


@pytest.fixture
def cert(system):
    return system.certificate


@pytest.fixture
def domain(registry):
    return domain_of(registry)


@pytest.fixture
def now():
    return lambda: boa.env.evm.patch.timestamp


@pytest.fixture
def register(registry, operator):
    """Factory: registers a fresh test meter (as the operator) and has its owner accept it.

    Its commissioning values are its registers (all 0 unless given) read one second ago, so a
    first reading at `now()` is accepted; `commissioning=Registers(...)` sets them, and
    `accept=False` leaves the meter waiting for its owner."""

    def _register(label, owner, method=SOLAR, rated_power_w=10_000, name=None, commissioning=None, accept=True):
        m = TestMeter(meter_signer(label), owner, method, rated_power_w, name or f"{label} generator")
        c = commissioning or Registers(boa.env.evm.patch.timestamp - 1)
        m.generated_wh, m.consumed_wh, m.exported_wh, m.imported_wh = c[1:]
        onboard_meter(registry, operator, owner, m.address, method, rated_power_w, m.name, c, accept=accept)
        return m

    return _register


@pytest.fixture
def submit(registry, domain, stranger):
    """Factory: signs readings with their meters' keys and relays them as `stranger`.

    Returns (accepted count, decoded logs)."""

    def _submit(meter_readings, sender=None):
        signers = {m.address: m.signer for m, _ in meter_readings}
        args, sigs = signed([r for _, r in meter_readings], signers, domain)
        accepted = registry.submit_readings(args, sigs, sender=sender or stranger)
        return accepted, registry.get_logs()

    return _submit


def events(logs, name):
    return [e for e in logs if type(e).__name__ == name]


def logs_of(logs, contract):
    """The events among `logs` (a call's, child calls' included) that `contract` emitted."""
    return [e for e in logs if str(getattr(e, "address", "")) == str(contract.address)]


def move(account, wh, release=False):
    """A WATT `settle_escrow`/`sell` move word: account | Wh << 160 | release flag << 255."""
    return int(account, 16) | (wh << 160) | (int(release) << 255)


@pytest.fixture
def give_watt(registry, watt, operator, submit, now):
    """Factory: credits `wh` WATT to `owner` through the only real path, a meter export."""
    counter = {"n": 0}

    def _give(owner, wh):
        counter["n"] += 1
        power = registry.MAX_RATED_POWER_W()
        m = TestMeter(meter_signer(f"feeder-{counter['n']}-{owner}"), owner, SOLAR, power, "feeder")
        # commissioned a day ago at zero: up to 24 h of the largest rated power can be exported at once
        onboard_meter(registry, operator, owner, m.address, SOLAR, power, "feeder", Registers(now() - 86_400))
        boa.env.time_travel(seconds=1)
        before = watt.balanceOf(owner)
        accepted, _ = submit([(m, m.reading(now(), exp=wh))])
        assert accepted == 1 and watt.balanceOf(owner) == before + wh, "battery too small for the fixture"
        return m

    return _give


@pytest.fixture
def tsl(system):
    return system.tsl


@pytest.fixture
def fund_rent(tsl, watt, operator):
    """Factory: mints `amount` TSL to `account` and deposits it for rent."""

    def _fund(account, amount):
        tsl.mint(account, amount, sender=operator)
        tsl.approve(watt.address, amount, sender=account)
        watt.deposit_rent(amount, sender=account)

    return _fund


@pytest.fixture
def exchange(system):
    return system.exchange


@pytest.fixture
def certificate_exchange(system):
    return system.certificate_exchange


@pytest.fixture
def quote(system):
    return system.quote


@pytest.fixture
def trader(system, operator, give_watt, fund_rent):
    """Factory: a funded member: `wh` WATT (with a rent deposit) and `cash` quote approved to the exchange."""

    def _trader(label, wh=0, cash=0):
        who = boa.env.generate_address(label)
        if wh:
            give_watt(who, wh)
        fund_rent(who, 10**21)
        if cash:
            system.quote.mint(who, cash, sender=operator)
        system.quote.approve(system.exchange.address, 2**256 - 1, sender=who)
        return who

    return _trader
