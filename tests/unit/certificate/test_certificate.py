"""EnvironmentalCertificate: issuance from verified generation, transfers, claims, revocation, expiry, ERC-1155."""

from pathlib import Path

import boa
import pytest

from tests.conftest import NONE, SOLAR, WIND, events

MOCKS = Path(__file__).resolve().parents[2] / "mocks"
DAY = 86_400
ZERO = "0x" + "00" * 20


def args(ev):
    """Positional event arguments (boa renames the ERC-1155 events' `_`-prefixed fields)."""
    return tuple(str(v) if hasattr(v, "checksum") or type(v).__name__ == "Address" else v for v in tuple(ev)[1:])


@pytest.fixture
def generate(submit, now):
    """Factory: the meter generates `wh` over the next 15 minutes (a zero-delta first reading if needed)."""
    seen = set()

    def _generate(meter, wh):
        if meter.address not in seen:
            seen.add(meter.address)
            submit([(meter, meter.reading(now()))])
        boa.env.time_travel(seconds=900)
        accepted, _ = submit([(meter, meter.reading(now(), gen=wh))])
        assert accepted == 1

    return _generate


@pytest.fixture
def pv(register, meter_owner):
    return register("roof-pv", meter_owner, SOLAR, 10_000, "Roof PV Berger")


@pytest.fixture
def issued(cert, pv, generate, meter_owner):
    generate(pv, 2_000)
    return cert.issue(pv.address, sender=meter_owner)


def test_issue__mints_all_certifiable_with_its_data(cert, registry, pv, generate, meter_owner, now):
    t0 = registry.last_reading(pv.address).timestamp  # the period starts at the commissioning
    generate(pv, 1_200)
    t1 = now()
    generate(pv, 800)
    start, end = registry.certifiable(pv.address)[1:]
    id = cert.issue(pv.address, sender=meter_owner)
    logs = cert.get_logs()
    assert id == 1
    (ev,) = events(logs, "CertificateIssued")
    assert (ev.id, str(ev.meter), str(ev.generator), ev.method, ev.amount_wh) == (1, pv.address, meter_owner, SOLAR, 2_000)
    assert (ev.period_start, ev.period_end) == (start, end) == (t0, now())
    assert t0 < t1 < end
    c = cert.certificate(id)
    assert (str(c.meter), str(c.generator), c.generator_name, c.method) == (pv.address, meter_owner, "Roof PV Berger", SOLAR)
    assert (c.period_start, c.period_end, c.amount_wh, c.issued_at) == (start, end, 2_000, now())
    assert (c.expires_at, c.revoked, c.outstanding_wh, c.claimed_wh) == (end + 365 * DAY, False, 2_000, 0)
    assert cert.balanceOf(meter_owner, id) == 2_000 == cert.total_supply(id)
    assert registry.certifiable(pv.address) == (0, 0, 0)


def test_issue__nothing_twice_and_periods_never_overlap(cert, registry, pv, generate, meter_owner):
    generate(pv, 500)
    first = cert.issue(pv.address, sender=meter_owner)
    with boa.reverts("certificate: nothing to issue"):
        cert.issue(pv.address, sender=meter_owner)
    generate(pv, 700)
    second = cert.issue(pv.address, sender=meter_owner)
    a, b = cert.certificate(first), cert.certificate(second)
    assert b.period_start >= a.period_end and b.period_start < b.period_end
    assert (a.amount_wh, b.amount_wh) == (500, 700)


def test_issue__only_the_meter_owner_issues(cert, pv, generate, operator, stranger, meter_owner):
    generate(pv, 100)
    for caller in (stranger, operator):
        with boa.reverts("certificate: caller is not the meter owner"):
            cert.issue(pv.address, sender=caller)
    id = cert.issue(pv.address, sender=meter_owner)
    assert cert.balanceOf(meter_owner, id) == 100


def test_issue__unknown_meter_or_consumption_only(cert, register, generate, operator, other_owner):
    from tests.utils.meters import meter_signer

    with boa.reverts("certificate: unknown meter"):
        cert.issue(meter_signer("ghost").address, sender=operator)
    home = register("home", other_owner, NONE, 5_000)
    generate(home, 300)
    with boa.reverts("certificate: nothing to issue"):
        cert.issue(home.address, sender=other_owner)


def test_issue__to_rejecting_contract_owner__reverts_and_keeps_generation(cert, registry, register, generate, operator):
    rejecting = boa.load(str(MOCKS / "Receiver1155.vy"), 1)
    plant = register("plant", rejecting.address, WIND, 50_000)
    generate(plant, 4_000)
    with boa.reverts("erc1155: transfer to non-IERC1155Receiver implementer"):
        cert.issue(plant.address, sender=rejecting.address)
    assert registry.certifiable(plant.address)[0] == 4_000


def test_transfer__to_eoa_and_events(cert, issued, meter_owner, other_owner):
    cert.safeTransferFrom(meter_owner, other_owner, issued, 750, b"", sender=meter_owner)
    (ev,) = events(cert.get_logs(), "TransferSingle")
    assert args(ev) == (meter_owner, meter_owner, other_owner, issued, 750)
    assert (cert.balanceOf(meter_owner, issued), cert.balanceOf(other_owner, issued)) == (1_250, 750)


def test_transfer__rules(cert, issued, meter_owner, other_owner, stranger):
    with boa.reverts("erc1155: caller is not token owner or approved"):
        cert.safeTransferFrom(meter_owner, stranger, issued, 1, b"", sender=stranger)
    with boa.reverts("erc1155: transfer to the zero address"):
        cert.safeTransferFrom(meter_owner, ZERO, issued, 1, b"", sender=meter_owner)
    with boa.reverts("erc1155: insufficient balance for transfer"):
        cert.safeTransferFrom(meter_owner, other_owner, issued, 2_001, b"", sender=meter_owner)
    cert.setApprovalForAll(stranger, True, sender=meter_owner)
    (ev,) = events(cert.get_logs(), "ApprovalForAll")
    assert args(ev) == (meter_owner, stranger, True)
    cert.safeTransferFrom(meter_owner, other_owner, issued, 5, b"", sender=stranger)
    assert cert.balanceOf(other_owner, issued) == 5


def test_batch_transfer__moves_and_checks_lengths(cert, pv, generate, meter_owner, other_owner, issued):
    generate(pv, 300)
    second = cert.issue(pv.address, sender=meter_owner)
    cert.safeBatchTransferFrom(meter_owner, other_owner, [issued, second], [10, 20], b"", sender=meter_owner)
    (ev,) = events(cert.get_logs(), "TransferBatch")
    assert [list(v) for v in args(ev)[3:]] == [[issued, second], [10, 20]]
    assert cert.balanceOfBatch([other_owner, other_owner], [issued, second]) == [10, 20]
    with boa.reverts("erc1155: ids and amounts length mismatch"):
        cert.safeBatchTransferFrom(meter_owner, other_owner, [issued], [1, 2], b"", sender=meter_owner)


def test_transfer__to_receiver_contracts(cert, issued, meter_owner):
    accepting = boa.load(str(MOCKS / "Receiver1155.vy"), 0)
    rejecting = boa.load(str(MOCKS / "Receiver1155.vy"), 1)
    cert.safeTransferFrom(meter_owner, accepting.address, issued, 3, b"", sender=meter_owner)
    assert accepting.received() == 3 and cert.balanceOf(accepting.address, issued) == 3
    with boa.reverts("erc1155: transfer to non-IERC1155Receiver implementer"):
        cert.safeTransferFrom(meter_owner, rejecting.address, issued, 3, b"", sender=meter_owner)
    with boa.reverts("erc1155: transfer to non-IERC1155Receiver implementer"):
        cert.safeBatchTransferFrom(meter_owner, rejecting.address, [issued], [3], b"", sender=meter_owner)


def test_transfer__receiver_reentering_during_hook__reverts(cert, issued, meter_owner):
    reentrant = boa.load(str(MOCKS / "Receiver1155.vy"), 2)
    with boa.reverts():
        cert.safeTransferFrom(meter_owner, reentrant.address, issued, 3, b"", sender=meter_owner)
    assert cert.balanceOf(reentrant.address, issued) == 0 and cert.balanceOf(meter_owner, issued) == 2_000


def test_claim__retires_for_beneficiary(cert, issued, meter_owner, other_owner):
    cert.claim(issued, 600, other_owner, "2026 electricity, Hofmann Tools", sender=meter_owner)
    logs = cert.get_logs()
    (ev,) = events(logs, "Claimed")
    assert (str(ev.claimer), str(ev.beneficiary), ev.id, ev.amount, ev.purpose) == (
        meter_owner, other_owner, issued, 600, "2026 electricity, Hofmann Tools"
    )
    (burn,) = events(logs, "TransferSingle")
    assert (args(burn)[2], args(burn)[4]) == (ZERO, 600)
    assert cert.claimed_balance_of(other_owner, issued) == 600
    assert cert.balanceOf(meter_owner, issued) == 1_400
    assert (cert.claimed_of(issued), cert.total_supply(issued), cert.issued_wh_of(issued)) == (600, 1_400, 2_000)


def test_claim__rejections(cert, issued, meter_owner, other_owner, stranger):
    with boa.reverts("certificate: claim exceeds balance"):
        cert.claim(issued, 2_001, other_owner, "too much", sender=meter_owner)
    with boa.reverts("certificate: claim exceeds balance"):
        cert.claim(issued, 1, other_owner, "not mine", sender=stranger)
    with boa.reverts("certificate: zero amount"):
        cert.claim(issued, 0, other_owner, "", sender=meter_owner)
    with boa.reverts("certificate: zero beneficiary"):
        cert.claim(issued, 1, ZERO, "", sender=meter_owner)
    with boa.reverts("certificate: unknown id"):
        cert.claim(999, 1, other_owner, "", sender=meter_owner)


def test_claim__after_expiry__reverts_and_transfer_too(cert, issued, meter_owner, other_owner):
    expires = cert.certificate(issued).expires_at
    boa.env.evm.patch.timestamp = expires - 1
    cert.claim(issued, 1, other_owner, "last second", sender=meter_owner)
    # the one expiry rule: live while block.timestamp < expires_at; at expires_at nothing moves
    boa.env.evm.patch.timestamp = expires
    with boa.reverts("certificate: expired"):
        cert.claim(issued, 1, other_owner, "too late", sender=meter_owner)
    with boa.reverts("certificate: expired"):
        cert.safeTransferFrom(meter_owner, other_owner, issued, 1, b"", sender=meter_owner)


def test_expiry__is_period_end_plus_the_deployment_claim_window(cert, issued, system):
    c = cert.certificate(issued)
    assert cert.CLAIM_WINDOW() == system.params.claim_window_s == 365 * DAY
    assert c.expires_at == c.period_end + 365 * DAY


def test_claim_batch__claims_each_and_checks_lengths(cert, pv, generate, meter_owner, other_owner, issued):
    generate(pv, 300)
    second = cert.issue(pv.address, sender=meter_owner)
    cert.claim_batch([issued, second], [100, 300], other_owner, "Q4", sender=meter_owner)
    assert [e.amount for e in events(cert.get_logs(), "Claimed")] == [100, 300]
    assert cert.claimed_balance_of(other_owner, second) == 300
    with boa.reverts("certificate: ids and amounts length mismatch"):
        cert.claim_batch([issued], [1, 1], other_owner, "", sender=meter_owner)


def test_revoke__blocks_transfer_batch_and_claim(cert, issued, pv, generate, operator, stranger, meter_owner, other_owner):
    cert.claim(issued, 100, other_owner, "before revocation", sender=meter_owner)
    with boa.reverts("ownable: caller is not the owner"):
        cert.revoke(issued, "fraud", sender=stranger)
    cert.revoke(issued, "meter tampering found in audit", sender=operator)
    (ev,) = events(cert.get_logs(), "Revoked")
    assert (ev.id, ev.reason) == (issued, "meter tampering found in audit")
    assert cert.certificate(issued).revoked is True
    with boa.reverts("certificate: revoked"):
        cert.safeTransferFrom(meter_owner, other_owner, issued, 1, b"", sender=meter_owner)
    generate(pv, 50)
    fine = cert.issue(pv.address, sender=meter_owner)
    with boa.reverts("certificate: revoked"):
        cert.safeBatchTransferFrom(meter_owner, other_owner, [fine, issued], [1, 1], b"", sender=meter_owner)
    with boa.reverts("certificate: revoked"):
        cert.claim(issued, 1, other_owner, "", sender=meter_owner)
    assert cert.claimed_balance_of(other_owner, issued) == 100  # earlier claims stand
    with boa.reverts("certificate: already revoked"):
        cert.revoke(issued, "again", sender=operator)
    with boa.reverts("certificate: unknown id"):
        cert.revoke(12345, "x", sender=operator)


def test_erc165_and_uri(cert, issued, operator):
    for iface in (b"\x01\xff\xc9\xa7", b"\xd9\xb6\x7a\x26", b"\x0e\x89\x34\x1c"):
        assert cert.supportsInterface(iface)
    assert not cert.supportsInterface(b"\xff\xff\xff\xff")
    assert "{id}" in cert.uri(issued)
    cert.set_base_uri("https://certs.example.org/{id}.json", sender=operator)
    assert cert.uri(issued) == "https://certs.example.org/{id}.json"


def test_no_mint_or_burn_exported(cert):
    for fn in ("safe_mint", "safe_mint_batch", "burn", "burn_batch", "set_minter", "set_uri"):
        assert not hasattr(cert, fn)


# ---------------------------------------------------------------- timestamp bounds


def test_issue__at_the_largest_accepted_timestamp__period_and_expiry_read_back_exactly(
    cert, registry, register, submit, meter_owner, other_owner, system
):
    from gridmint.onboarding import Registers

    max_ts = registry.MAX_TIMESTAMP()
    boa.env.evm.patch.timestamp = max_ts
    plant = register("far-future", meter_owner, SOLAR, 10_000, commissioning=Registers(max_ts - 3_600))
    assert submit([(plant, plant.reading(max_ts, gen=5_000))])[0] == 1
    id = cert.issue(plant.address, sender=meter_owner)
    (ev,) = events(cert.get_logs(), "CertificateIssued")
    c = cert.certificate(id)
    assert (ev.period_start, ev.period_end) == (c.period_start, c.period_end) == (max_ts - 3_600, max_ts)
    assert (c.amount_wh, c.issued_at) == (5_000, max_ts)
    assert c.expires_at == max_ts + system.params.claim_window_s
    # expiry is enforced at exactly that second: live while block.timestamp < expires_at
    boa.env.evm.patch.timestamp = c.expires_at - 1
    cert.claim(id, 1, other_owner, "last second", sender=meter_owner)
    boa.env.evm.patch.timestamp = c.expires_at
    with boa.reverts("certificate: expired"):
        cert.claim(id, 1, other_owner, "too late", sender=meter_owner)


def test_deploy__registry_timestamps_plus_claim_window_beyond_40_bits__reverts(registry):
    from gridmint.system import CONTRACTS_DIR

    wide_registry = boa.loads(
        "@external\n@view\ndef MAX_TIMESTAMP() -> uint64:\n    return 2**40 - 2**32\n"
    )
    source = str(CONTRACTS_DIR / "EnvironmentalCertificate.vy")
    with boa.reverts("certificate: registry timestamps exceed 40 bits"):
        boa.load(source, wide_registry.address, 2**32, "", 1_800)
    # the real registry leaves room for the largest claim window the certificate allows
    assert registry.MAX_TIMESTAMP() + 2**32 == 2**40 - 1
    boa.load(source, registry.address, 2**32, "", 1_800)
