"""CertificateExchange: asks escrow one certificate id, bids fill by class (method, vintage) across ids
in price-time order, revoked or expired units never fill, buy-and-claim, receiver hooks, pause, bounds."""

import boa

from tests.conftest import SOLAR, WIND, events
from tests.utils.machine import announce_and_apply

YEAR = 365 * 86_400
P = 5_000  # 0.005 EUR/kWh (5 EUR/MWh)


def fee(q, bps):
    return q * bps // 10_000


def escrow_of(wh, price):
    base = -(-wh * price // 1000)
    return base + -(-base * 100 // 10_000)


def test_vintage_of__utc_months_and_leap_days__yyyymm(cx):
    assert cx.vintage_of(0) == 197001
    assert cx.vintage_of(951_782_400) == 200002  # 2000-02-29 00:00 UTC
    assert cx.vintage_of(951_868_799) == 200002  # 2000-02-29 23:59:59
    assert cx.vintage_of(951_868_800) == 200003
    assert cx.vintage_of(1_798_761_599) == 202612  # 2026-12-31 23:59:59
    assert cx.vintage_of(1_798_761_600) == 202701


def test_place_ask__escrows_units_and_names_its_class(cx, cert, seller, issue, class_of):
    id = issue(seller, 5_000)
    method, vintage = class_of(id)
    assert method == SOLAR and vintage == cx.vintage_of(cert.certificate(id).period_end - 1) == cert.vintage(id)
    oid = cx.place_ask(id, P, 3_000, 0, 0, sender=seller)
    (ev,) = events(cx.get_logs(), "OrderPlaced")
    assert (ev.order_id, str(ev.owner), ev.is_buy, ev.method, ev.vintage, ev.certificate_id, ev.amount_wh) == (
        oid, seller, False, SOLAR, vintage, id, 3_000
    )
    assert cert.balanceOf(seller, id) == 2_000 and cert.balanceOf(cx.address, id) == 3_000
    assert cx.best_ask(method, vintage) == (P, 3_000)
    o = cx.order(oid)
    assert (o.certificate_id, o.method, o.vintage, o.remaining_wh, o.open) == (id, SOLAR, vintage, 3_000, True)


def test_place_bid__fills_across_ids_of_its_class_in_price_time_order__units_delivered(cx, cert, quote, trader, issue, buyer, class_of):
    s1, s2, s3 = trader("cx-s1"), trader("cx-s2"), trader("cx-s3")
    a, b, c = issue(s1, 4_000), issue(s2, 4_000), issue(s3, 4_000)
    method, vintage = class_of(a)
    assert class_of(b) == class_of(c) == (method, vintage)
    o1 = cx.place_ask(a, 6_000, 2_000, 0, 0, sender=s1)
    o2 = cx.place_ask(b, 5_000, 2_000, 0, 0, sender=s2)  # best price
    o3 = cx.place_ask(c, 5_000, 2_000, 0, 0, sender=s3)  # same price, later
    before = quote.balanceOf(buyer)
    assert cx.place_bid(method, vintage, 6_000, 5_000, 0, 0, sender=buyer) == 0
    trades = events(cx.get_logs(), "Trade")
    assert [(t.maker_order_id, t.amount_wh, t.price) for t in trades] == [(o2, 2_000, 5_000), (o3, 2_000, 5_000), (o1, 1_000, 6_000)]
    assert (cert.balanceOf(buyer, b), cert.balanceOf(buyer, c), cert.balanceOf(buyer, a)) == (2_000, 2_000, 1_000)
    qs = [10_000, 10_000, 6_000]
    assert before - quote.balanceOf(buyer) == sum(q + fee(q, 20) for q in qs)
    assert (cx.proceeds_of(s2), cx.proceeds_of(s1)) == (10_000 - fee(10_000, 10), 6_000 - fee(6_000, 10))
    assert cx.best_ask(method, vintage) == (6_000, 1_000)
    assert cert.balanceOf(cx.address, a) == 1_000


def test_place_bid__other_method_or_vintage__never_matches(cx, trader, issue, buyer, class_of):
    s = trader("cx-s")
    id = issue(s, 3_000)
    method, vintage = class_of(id)
    cx.place_ask(id, P, 2_000, 0, 0, sender=s)
    other_month = vintage + 1 if vintage % 100 < 12 else vintage + 89
    assert cx.place_bid(WIND, vintage, P, 1_000, 0, 0, sender=buyer) != 0
    assert cx.place_bid(method, other_month, P, 1_000, 0, 0, sender=buyer) != 0
    assert not events(cx.get_logs(), "Trade")
    assert cx.best_ask(method, vintage) == (P, 2_000)
    assert cx.best_bid(WIND, vintage) == (P, 1_000) and cx.best_bid(method, other_month) == (P, 1_000)
    assert cx.best_bid(method, vintage) == (0, 0)


def test_place_bid__bad_class__reverts(cx, buyer):
    with boa.reverts("certificate_exchange: no method"):
        cx.place_bid(0, 202601, P, 1_000, 0, 0, sender=buyer)
    with boa.reverts("certificate_exchange: bad vintage"):
        cx.place_bid(SOLAR, 202613, P, 1_000, 0, 0, sender=buyer)


def test_place_ask__taker_hits_resting_bids__bidder_gets_its_units_in_the_call(cx, cert, quote, seller, issue, buyer, class_of):
    id = issue(seller, 5_000)
    method, vintage = class_of(id)
    bid = cx.place_bid(method, vintage, P, 3_000, 0, 0, sender=buyer)
    assert quote.balanceOf(cx.address) == escrow_of(3_000, P)
    assert cx.place_ask(id, 4_000, 3_000, 0, 0, sender=seller) == 0
    q = 3_000 * P // 1000
    # delivered straight from the seller: nothing passes through the exchange, nothing is credited
    assert cert.balanceOf(buyer, id) == 3_000 and cx.units_of(buyer, id) == 0
    assert cert.balanceOf(cx.address, id) == 0 and cert.balanceOf(seller, id) == 2_000
    assert not events(cx.get_logs(), "UnitsCredited")
    assert cx.proceeds_of(seller) == q - fee(q, 20)
    assert cx.proceeds_of(buyer) == escrow_of(3_000, P) - q - fee(q, 10)
    assert not cx.order(bid).open
    with boa.reverts("certificate_exchange: amount exceeds units"):
        cx.withdraw_units(id, 1, sender=buyer)


def test_place_ask__ioc_remainder__never_leaves_the_seller(cx, cert, seller, issue, buyer, class_of):
    id = issue(seller, 5_000)
    method, vintage = class_of(id)
    cx.place_bid(method, vintage, P, 1_000, 0, 0, sender=buyer)
    assert cx.place_ask(id, P, 4_000, 0, 1, sender=seller) == 0
    logs = cx.get_logs()
    assert cert.balanceOf(seller, id) == 4_000 and cert.balanceOf(buyer, id) == 1_000
    assert cert.balanceOf(cx.address, id) == 0 == cx.units_of(buyer, id)
    assert [e.reason for e in events(logs, "OrderClosed")] == [1, 4]


def test_fill__revoked_certificate__ask_closed_units_credited_never_delivered(cx, cert, operator, trader, issue, buyer, class_of):
    s1, s2 = trader("cx-s1"), trader("cx-s2")
    bad, good = issue(s1, 2_000), issue(s2, 2_000)
    method, vintage = class_of(bad)
    o_bad = cx.place_ask(bad, 4_000, 2_000, 0, 0, sender=s1)
    o_good = cx.place_ask(good, 5_000, 2_000, 0, 0, sender=s2)
    cert.revoke(bad, "meter tampering", sender=operator)
    cx.place_bid(method, vintage, 5_000, 2_000, 0, 0, sender=buyer)
    logs = cx.get_logs()
    assert [(e.order_id, e.reason, e.refunded) for e in events(logs, "OrderClosed")][:1] == [(o_bad, 10, 2_000)]
    assert [t.maker_order_id for t in events(logs, "Trade")] == [o_good]
    assert cert.balanceOf(buyer, bad) == 0 and cert.balanceOf(buyer, good) == 2_000
    assert cx.units_of(s1, bad) == 2_000 == cert.balanceOf(cx.address, bad)
    with boa.reverts("certificate: revoked"):
        cx.withdraw_units(bad, 2_000, sender=s1)
    with boa.reverts("certificate_exchange: certificate revoked"):
        cx.place_ask(bad, P, 1_000, 0, 0, sender=s1)


def test_fill__expired_certificate__ask_closed_never_delivered(cx, cert, seller, issue, buyer, class_of):
    id = issue(seller, 2_000)
    method, vintage = class_of(id)
    oid = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    boa.env.time_travel(seconds=YEAR + 1)
    cx.place_bid(method, vintage, P, 2_000, 0, 0, sender=buyer)
    logs = cx.get_logs()
    assert not events(logs, "Trade")
    assert (events(logs, "OrderClosed")[0].order_id, events(logs, "OrderClosed")[0].reason) == (oid, 10)
    assert cx.units_of(seller, id) == 2_000 and cert.balanceOf(buyer, id) == 0
    assert cx.best_bid(method, vintage) == (P, 2_000)


def test_cancel_order__ask__units_back_to_the_seller(cx, cert, seller, issue):
    id = issue(seller, 2_000)
    oid = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    with boa.reverts("exchange: caller is not the order owner"):
        cx.cancel_order(oid, sender=boa.env.generate_address("stranger"))
    cx.cancel_order(oid, sender=seller)
    assert [(e.reason, e.refunded) for e in events(cx.get_logs(), "OrderClosed")] == [(2, 2_000)]
    assert cert.balanceOf(seller, id) == 2_000 and cert.balanceOf(cx.address, id) == 0


def test_cancel_order__revoked_certificate__units_credited_and_cancel_works(cx, cert, operator, seller, issue):
    id = issue(seller, 2_000)
    oid = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    cert.revoke(id, "fraud", sender=operator)
    cx.cancel_order(oid, sender=seller)
    assert cx.units_of(seller, id) == 2_000 and not cx.order(oid).open


def test_cancel_expired__anyone__ask_units_credited_to_owner(cx, seller, issue, stranger):
    id = issue(seller, 2_000)
    oid = cx.place_ask(id, P, 2_000, boa.env.evm.patch.timestamp + 60, 0, sender=seller)
    with boa.reverts("exchange: order not expired"):
        cx.cancel_expired(oid, sender=stranger)
    boa.env.time_travel(seconds=61)
    cx.cancel_expired(oid, sender=stranger)
    assert cx.units_of(seller, id) == 2_000


def test_buy_and_claim__buys_across_ids_and_claims_for_beneficiary(cx, cert, quote, trader, issue, buyer, class_of):
    s1, s2 = trader("cx-s1"), trader("cx-s2")
    a, b = issue(s1, 3_000), issue(s2, 3_000)
    method, vintage = class_of(a)
    cx.place_ask(a, 4_000, 3_000, 0, 0, sender=s1)
    cx.place_ask(b, 5_000, 3_000, 0, 0, sender=s2)
    company = boa.env.generate_address("company")
    before = quote.balanceOf(buyer)
    got = cx.buy_and_claim(method, vintage, 5_000, 4_500, company, "2026 electricity, Hofmann Tools", sender=buyer)
    claims = [e for e in cx.get_logs(include_child_logs=True) if type(e).__name__ == "Claimed"]
    assert got == 4_500
    assert (cert.claimed_balance_of(company, a), cert.claimed_balance_of(company, b)) == (3_000, 1_500)
    assert [(str(e.beneficiary), e.id, e.amount, e.purpose) for e in claims] == [
        (company, a, 3_000, "2026 electricity, Hofmann Tools"), (company, b, 1_500, "2026 electricity, Hofmann Tools")
    ]
    assert cert.balanceOf(buyer, a) == cert.balanceOf(buyer, b) == 0
    assert cert.total_supply(a) == 0 and cert.balanceOf(cx.address, b) == 1_500
    q1, q2 = 3_000 * 4_000 // 1000, 1_500 * 5_000 // 1000
    assert before - quote.balanceOf(buyer) == q1 + fee(q1, 20) + q2 + fee(q2, 20)
    assert cx.best_ask(method, vintage) == (5_000, 1_500)


def test_buy_and_claim__nothing_offered__buys_nothing_and_rests_nothing(cx, quote, buyer):
    company = boa.env.generate_address("company")
    before = quote.balanceOf(buyer)
    assert cx.buy_and_claim(SOLAR, 202601, P, 1_000, company, "x", sender=buyer) == 0
    assert quote.balanceOf(buyer) == before and cx.best_bid(SOLAR, 202601) == (0, 0)
    with boa.reverts("certificate_exchange: zero beneficiary"):
        cx.buy_and_claim(SOLAR, 202601, P, 1_000, "0x" + "00" * 20, "x", sender=buyer)


def test_self_trade__resting_ask_cancelled_not_filled(cx, cert, cash, seller, issue, class_of):
    cash(seller)
    id = issue(seller, 2_000)
    method, vintage = class_of(id)
    oid = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    cx.place_bid(method, vintage, P, 1_000, 0, 0, sender=seller)
    closes = events(cx.get_logs(), "OrderClosed")
    assert (closes[0].order_id, closes[0].reason) == (oid, 5)
    assert cx.units_of(seller, id) == 2_000


def test_fill__leaves_maker_below_minimum__rest_credited(cx, cert, seller, issue, buyer, class_of):
    id = issue(seller, 3_000)
    method, vintage = class_of(id)
    oid = cx.place_ask(id, P, 2_500, 0, 0, sender=seller)
    cx.place_bid(method, vintage, P, 2_000, 0, 0, sender=buyer)  # leaves 500 < 1_000
    closes = events(cx.get_logs(), "OrderClosed")
    assert (closes[0].order_id, closes[0].reason, closes[0].refunded) == (oid, 8, 500)
    assert cx.units_of(seller, id) == 500 and cert.balanceOf(buyer, id) == 2_000


def test_unsolicited_transfer__refused(cx, cert, seller, issue):
    id = issue(seller, 1_000)
    with boa.reverts("certificate_exchange: unsolicited transfer"):
        cert.safeTransferFrom(seller, cx.address, id, 1_000, b"", sender=seller)
    with boa.reverts("certificate_exchange: batch transfers refused"):
        cert.safeBatchTransferFrom(seller, cx.address, [id], [1_000], b"", sender=seller)


# ---------------------------------------------------------------- receiver hooks


def test_contract_buyer__hook_rejects__its_own_take_reverts_book_unchanged(cx, seller, issue, contract_trader, class_of):
    id = issue(seller, 2_000)
    method, vintage = class_of(id)
    cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    t = contract_trader()
    t.set_mode(1, 0)
    with boa.reverts("erc1155: transfer to non-IERC1155Receiver implementer"):
        t.bid(method, vintage, P, 2_000)
    assert cx.best_ask(method, vintage) == (P, 2_000)
    t.set_mode(0, 0)
    t.bid(method, vintage, P, 2_000)
    assert t.received() == 2_000


def test_contract_buyer__hook_reenters__reverts(cx, seller, issue, contract_trader, class_of):
    id = issue(seller, 4_000)
    method, vintage = class_of(id)
    t = contract_trader()
    resting = t.bid(method, vintage, 200, 1_000)  # far below: stays resting, the target of the re-entry
    cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    t.set_mode(2, resting)
    with boa.reverts():
        t.bid(method, vintage, P, 2_000)
    assert cx.order(resting).open and cx.best_ask(method, vintage) == (P, 2_000)


def test_contract_maker_bid__rejecting_hook__never_blocks_the_book(cx, cert, seller, issue, contract_trader, class_of):
    id = issue(seller, 2_000)
    method, vintage = class_of(id)
    t = contract_trader()
    t.set_mode(3, 0)
    t.bid(method, vintage, P, 2_000)
    cx.place_ask(id, P, 2_000, 0, 0, sender=seller)  # fills the contract's bid: its hook refuses the push
    assert cx.units_of(t.address, id) == 2_000 == cert.balanceOf(cx.address, id)
    assert cert.balanceOf(seller, id) == 0 and cx.best_bid(method, vintage) == (0, 0)
    with boa.reverts():
        t.withdraw(id, 2_000)
    t.set_mode(0, 0)
    t.withdraw(id, 2_000)
    assert cert.balanceOf(t.address, id) == 2_000


def test_contract_seller__cancel_with_rejecting_or_reentering_hook__units_credited(cx, cert, operator, seller, issue, contract_trader):
    t = contract_trader()
    id = issue(seller, 4_000)
    cert.safeTransferFrom(seller, t.address, id, 4_000, b"", sender=seller)
    o1 = t.ask(id, P, 2_000)
    o2 = t.ask(id, P + 10, 2_000)
    t.set_mode(3, 0)
    t.cancel(o1)
    t.set_mode(2, o2)
    t.cancel(o2)  # the re-entry fails inside the hook: the push fails, the units are credited
    assert cx.units_of(t.address, id) == 4_000 and not cx.order(o1).open and not cx.order(o2).open


# ---------------------------------------------------------------- pause and bounds


def test_pause__stops_new_orders__cancels_withdrawals_and_claims_work(cx, operator, seller, issue, buyer, class_of):
    id = issue(seller, 3_000)
    method, vintage = class_of(id)
    oid = cx.place_ask(id, P, 2_000, 0, 0, sender=seller)
    cx.place_bid(method, vintage, P, 1_000, 0, 0, sender=buyer)
    cx.pause(sender=operator)
    with boa.reverts("pausable: contract is paused"):
        cx.place_ask(id, P, 1_000, 0, 0, sender=seller)
    with boa.reverts("pausable: contract is paused"):
        cx.place_bid(method, vintage, P, 1_000, 0, 0, sender=buyer)
    with boa.reverts("pausable: contract is paused"):
        cx.buy_and_claim(method, vintage, P, 1_000, buyer, "x", sender=buyer)
    cx.cancel_order(oid, sender=seller)
    cx.withdraw_proceeds(cx.proceeds_of(seller), sender=seller)
    cx.claim_fees(sender=operator)


def test_price_band__announce_then_apply_after_notice__old_orders_closed_when_met(cx, operator, seller, issue, buyer, class_of):
    id = issue(seller, 3_000)
    method, vintage = class_of(id)
    oid = cx.place_ask(id, 15_000, 2_000, 0, 0, sender=seller)
    with boa.reverts("exchange: ceiling above limit"):
        cx.announce_price_band(100, 100_010, sender=operator)
    cx.announce_price_band(100, 10_000, sender=operator)
    with boa.reverts("notice: not yet effective"):
        cx.apply_price_band(sender=operator)
    boa.env.time_travel(seconds=cx.NOTICE_S())
    cx.apply_price_band(sender=operator)
    with boa.reverts("exchange: price outside band"):
        cx.place_bid(method, vintage, 15_000, 1_000, 0, 0, sender=buyer)
    announce_and_apply(cx, "price_band", 100, 20_000, sender=operator)
    announce_and_apply(cx, "price_band", 100, 10_000, sender=operator)
    cx.place_bid(method, vintage, 10_000, 1_000, 0, 0, sender=buyer)  # meets nothing: the ask is above
    assert cx.order(oid).open


def test_operator_only__stranger_cannot_change_bounds(cx, stranger):
    for fn, args in [("announce_fees", (1, 1)), ("announce_price_band", (100, 200)), ("pause", ()), ("set_max_fills", (2,))]:
        with boa.reverts("ownable: caller is not the owner"):
            getattr(cx, fn)(*args, sender=stranger)


def test_place_ask__one_bidders_bids_met_in_turn__one_push_for_the_run(cx, cert, seller, issue, buyer, cash, class_of):
    # the book merges a maker's consecutive fills of one tag (issue 22): two bids of one bidder, one
    # delivery of their units; another bidder between them would get its own
    id = issue(seller, 5_000)
    method, vintage = class_of(id)
    other = cash(boa.env.generate_address("other-bidder"))
    for who, price in ((buyer, P + 200), (buyer, P + 100), (other, P)):
        cx.place_bid(method, vintage, price, 1_000, 0, 0, sender=who)
    cx.place_ask(id, P, 3_000, 0, 0, sender=seller)
    # TransferSingle(operator, from, to, id, value): boa renames its `_`-prefixed fields, read by position
    pushes = [(str(tuple(e)[3]), tuple(e)[5]) for e in events(cx.get_logs(), "TransferSingle")]
    assert pushes == [(buyer, 2_000), (other, 1_000)]
    assert len(events(cx.get_logs(), "Trade")) == 3
    assert (cert.balanceOf(buyer, id), cert.balanceOf(other, id), cert.balanceOf(seller, id)) == (2_000, 1_000, 2_000)


def test_place_bid__one_sellers_asks_of_two_ids_in_turn__each_id_delivered(cx, cert, trader, issue, buyer, class_of):
    # the book merges a maker's consecutive fills only when they sell the same id: two certificates
    # of one seller met one after the other stay two deliveries, each of its own units
    s = trader("cx-two-ids")
    a, b = issue(s, 4_000), issue(s, 4_000)
    method, vintage = class_of(a)
    assert class_of(b) == (method, vintage)
    cx.place_ask(a, 5_000, 1_000, 0, 0, sender=s)
    cx.place_ask(b, 5_100, 1_000, 0, 0, sender=s)
    cx.place_ask(a, 5_200, 1_000, 0, 0, sender=s)
    cx.place_bid(method, vintage, 5_200, 3_000, 0, 0, sender=buyer)
    assert len(events(cx.get_logs(), "Trade")) == 3
    assert (cert.balanceOf(buyer, a), cert.balanceOf(buyer, b)) == (2_000, 1_000)
    assert (cert.balanceOf(cx.address, a), cert.balanceOf(cx.address, b)) == (0, 0)
