"""A cancelled ask's units go back once (issue 22, "the suite must also catch"): pushed to the seller
when they can move, credited to `units_of` only when they cannot (a refusing hook: see
test_certificate_exchange.py) — never both."""

import boa

from tests.conftest import events

P = 5_000  # quote base units per kWh


def test_cancel_order__units_pushed_back__nothing_credited_to_units_of(cx, cert, seller, issue, trader):
    """Planted bug: `cancel_order` crediting `units_of` even after the push of the units succeeded (the
    seller could then withdraw the same units again, out of other sellers' escrow)."""
    id = issue(seller, 3_000)
    # another open ask of the same certificate keeps units in the exchange: what a double credit would drain
    holder = trader("cx-holder")
    cert.safeTransferFrom(seller, holder, id, 1_000, b"", sender=seller)
    cert.setApprovalForAll(cx.address, True, sender=holder)
    cx.place_ask(id, P, 1_000, 0, 0, sender=holder)
    oid = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    cx.cancel_order(oid, sender=seller)
    assert not events(cx.get_logs(), "UnitsCredited")
    assert cx.units_of(seller, id) == 0
    assert cert.balanceOf(seller, id) == 2_000 and cert.balanceOf(cx.address, id) == 1_000
    with boa.reverts("certificate_exchange: amount exceeds units"):
        cx.withdraw_units(id, 1, sender=seller)
