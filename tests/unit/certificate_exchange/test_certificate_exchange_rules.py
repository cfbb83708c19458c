"""CertificateExchange rules the first file leaves open: time priority across ids within a level,
an unusable ask in the middle of a level, buy-and-claim runs per id and over revoked or expired asks,
units that can no longer move, and the receiver hook and ERC-165 answers."""

import boa

from tests.conftest import events

YEAR = 365 * 86_400
P = 5_000  # quote base units per kWh


def test_place_bid__same_price_level_across_ids__oldest_ask_first_whatever_its_id(cx, cert, trader, issue, buyer, class_of):
    s1, s2 = trader("cx-r1"), trader("cx-r2")
    a, b = issue(s1, 6_000), issue(s2, 6_000)
    assert class_of(a) == class_of(b)
    method, vintage = class_of(a)
    o1 = cx.place_ask(b, P, 2_000, 0, 0, sender=s2)
    o2 = cx.place_ask(a, P, 2_000, 0, 0, sender=s1)
    o3 = cx.place_ask(b, P, 2_000, 0, 0, sender=s2)
    cx.place_bid(method, vintage, P, 5_000, 0, 0, sender=buyer)
    assert [(t.maker_order_id, t.amount_wh) for t in events(cx.get_logs(), "Trade")] == [(o1, 2_000), (o2, 2_000), (o3, 1_000)]
    assert (cert.balanceOf(buyer, a), cert.balanceOf(buyer, b)) == (2_000, 3_000)
    assert cx.order(o3).remaining_wh == 1_000


def test_place_bid__revoked_ask_between_two_good_ones__skipped_in_place_time_order_kept(cx, cert, operator, trader, issue, buyer, class_of):
    s1, s2 = trader("cx-r1"), trader("cx-r2")
    good, bad = issue(s1, 6_000), issue(s2, 6_000)
    method, vintage = class_of(good)
    o1 = cx.place_ask(good, P, 1_000, 0, 0, sender=s1)
    o2 = cx.place_ask(bad, P, 1_000, 0, 0, sender=s2)
    o3 = cx.place_ask(good, P, 1_000, 0, 0, sender=s1)
    cert.revoke(bad, "fraud", sender=operator)
    cx.place_bid(method, vintage, P, 3_000, 0, 0, sender=buyer)
    logs = cx.get_logs()
    seq = [(type(e).__name__, getattr(e, "maker_order_id", getattr(e, "order_id", None)), getattr(e, "maker_left", None))
           for e in logs if type(e).__name__ in ("Trade", "OrderClosed")]
    # the filled asks are closed by their Trade (maker_left 0), the revoked one by OrderClosed
    assert seq[:3] == [("Trade", o1, 0), ("OrderClosed", o2, None), ("Trade", o3, 0)]
    assert [e.reason for e in events(logs, "OrderClosed")][0] == 10
    assert cert.balanceOf(buyer, good) == 2_000 and cert.balanceOf(buyer, bad) == 0
    assert cx.units_of(s2, bad) == 1_000 and cx.best_bid(method, vintage) == (P, 1_000)


def test_buy_and_claim__consecutive_fills_of_one_id__one_claim_per_run(cx, cert, trader, issue, buyer, class_of):
    s1, s2 = trader("cx-r1"), trader("cx-r2")
    a, b = issue(s1, 6_000), issue(s2, 6_000)
    method, vintage = class_of(a)
    cx.place_ask(a, P, 1_000, 0, 0, sender=s1)
    cx.place_ask(a, P, 1_000, 0, 0, sender=s1)
    cx.place_ask(b, P, 1_000, 0, 0, sender=s2)
    cx.place_ask(a, P, 1_000, 0, 0, sender=s1)
    company = boa.env.generate_address("company")
    assert cx.buy_and_claim(method, vintage, P, 4_000, company, "runs", sender=buyer) == 4_000
    claims = [(e.id, e.amount) for e in cx.get_logs(include_child_logs=True) if type(e).__name__ == "Claimed"]
    assert claims == [(a, 2_000), (b, 1_000), (a, 1_000)]
    assert (cert.claimed_balance_of(company, a), cert.claimed_balance_of(company, b)) == (3_000, 1_000)
    assert cert.balanceOf(buyer, a) == cert.balanceOf(buyer, b) == 0


def test_buy_and_claim__revoked_and_expired_asks__closed_never_claimed(cx, cert, operator, trader, issue, buyer, class_of):
    s1, s2 = trader("cx-r1"), trader("cx-r2")
    bad = issue(s1, 3_000)
    o_bad = cx.place_ask(bad, P, 1_000, 0, 0, sender=s1)
    boa.env.time_travel(seconds=3_600)
    good = issue(s2, 3_000)  # a later period: expires later
    assert class_of(bad) == class_of(good)
    method, vintage = class_of(good)
    o_good = cx.place_ask(good, P, 1_000, 0, 0, sender=s2)
    boa.env.evm.patch.timestamp = cert.certificate(bad).expires_at + 1
    assert boa.env.evm.patch.timestamp <= cert.certificate(good).expires_at
    company = boa.env.generate_address("company")
    assert cx.buy_and_claim(method, vintage, P, 2_000, company, "x", sender=buyer) == 1_000
    logs = cx.get_logs(include_child_logs=True)
    assert [(e.order_id, e.reason) for e in events(logs, "OrderClosed")][:1] == [(o_bad, 10)]
    assert [(t.maker_order_id, t.maker_left) for t in events(logs, "Trade")] == [(o_good, 0)]
    assert [e.id for e in logs if type(e).__name__ == "Claimed"] == [good]
    assert cert.claimed_balance_of(company, bad) == 0 and cx.units_of(s1, bad) == 1_000


def test_withdraw_units__expired_certificate__reverts_units_stay_credited(cx, cert, seller, issue, contract_trader, class_of):
    # units credited only because the bidder's own hook refused them, then left past their expiry
    id = issue(seller, 2_000)
    method, vintage = class_of(id)
    t = contract_trader()
    t.set_mode(3, 0)
    t.bid(method, vintage, P, 1_000)
    cx.place_ask(id, P, 1_000, 0, 0, sender=seller)
    assert cx.units_of(t.address, id) == 1_000
    t.set_mode(0, 0)
    boa.env.evm.patch.timestamp = cert.certificate(id).expires_at
    with boa.reverts("certificate: expired"):
        t.withdraw(id, 1_000)
    assert cx.units_of(t.address, id) == 1_000


def test_place_ask__unknown_or_expired_certificate__reverts(cx, seller, issue):
    with boa.reverts("certificate_exchange: unknown certificate"):
        cx.place_ask(10**9, P, 1_000, 0, 0, sender=seller)
    id = issue(seller, 2_000)
    boa.env.time_travel(seconds=YEAR + 1)
    with boa.reverts("certificate_exchange: certificate expired"):
        cx.place_ask(id, P, 1_000, 0, 0, sender=seller)


def test_cancel_order__expired_certificate__units_credited_not_pushed(cx, cert, seller, issue):
    id = issue(seller, 2_000)
    oid = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    boa.env.time_travel(seconds=YEAR + 1)
    cx.cancel_order(oid, sender=seller)
    assert cx.units_of(seller, id) == 2_000 and cert.balanceOf(seller, id) == 0


# ---------------------------------------------------------------- receiver hooks


def test_on_erc1155_received__called_directly_or_for_another_operator__refused(cx, cert, seller, stranger):
    with boa.reverts("certificate_exchange: unsolicited transfer"):
        cx.onERC1155Received(cx.address, seller, 1, 1, b"", sender=stranger)
    with boa.reverts("certificate_exchange: unsolicited transfer"):
        cx.onERC1155Received(seller, seller, 1, 1, b"", sender=cert.address)
    assert cx.onERC1155Received(cx.address, seller, 1, 1, b"", sender=cert.address) == bytes.fromhex("f23a6e61")
    with boa.reverts("certificate_exchange: batch transfers refused"):
        cx.onERC1155BatchReceived(cx.address, seller, [1], [1], b"", sender=cert.address)


def test_supports_interface__erc1155_receiver_and_erc165_only(cx):
    assert cx.supportsInterface(bytes.fromhex("4e2312e0"))
    assert cx.supportsInterface(bytes.fromhex("01ffc9a7"))
    assert not cx.supportsInterface(bytes.fromhex("d9b67a26"))  # ERC-1155 itself: the exchange is no token
    assert not cx.supportsInterface(bytes.fromhex("ffffffff"))
