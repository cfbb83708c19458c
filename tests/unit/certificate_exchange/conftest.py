"""Factories for the certificate market: certificates issued through the only real path
(metered generation -> `issue`), funded traders, and a contract trader with an ERC-1155 hook."""

from pathlib import Path

import boa
import pytest

from tests.conftest import SOLAR

MOCKS = Path(__file__).resolve().parents[2] / "mocks"


@pytest.fixture
def cx(certificate_exchange):
    return certificate_exchange


@pytest.fixture
def issue(register, registry, submit, cert, cx, now):
    """Factory: `owner`'s new meter generates `wh` over 15 minutes; returns the certificate id
    issued to `owner`, who has approved the exchange for its units."""
    counter = {"n": 0}

    def _issue(owner, wh, method=SOLAR):
        counter["n"] += 1
        m = register(f"cx-pv-{counter['n']}", owner, method, registry.MAX_RATED_POWER_W(), f"plant {counter['n']}")
        submit([(m, m.reading(now()))])
        boa.env.time_travel(seconds=900)
        submit([(m, m.reading(now(), gen=wh))])
        id = cert.issue(m.address, sender=owner)
        cert.setApprovalForAll(cx.address, True, sender=owner)
        return id

    return _issue


@pytest.fixture
def cash(quote, cx, operator):
    """Factory: mints `amount` quote to `who` and approves the exchange."""

    def _cash(who, amount=10**12):
        quote.mint(who, amount, sender=operator)
        quote.approve(cx.address, 2**256 - 1, sender=who)
        return who

    return _cash


@pytest.fixture
def seller(meter_owner):
    return meter_owner


@pytest.fixture
def buyer(cash):
    return cash(boa.env.generate_address("buyer"))


@pytest.fixture
def class_of(cx):
    return lambda id: tuple(cx.class_of(id))


@pytest.fixture
def contract_trader(cx, cert, quote, operator):
    """Factory: a trader contract (see tests/mocks/CertificateTrader.vy) with quote to spend."""
    deployer = boa.load_partial(str(MOCKS / "CertificateTrader.vy"))

    def _make():
        t = deployer.deploy(cx.address, cert.address, quote.address)
        quote.mint(t.address, 10**12, sender=operator)
        return t

    return _make
