"""What both markets' `cancel` (and anything else that acts on one of the member's orders) checks
first, once: the id is an order id, the order exists and is open, and it is the member's."""

from __future__ import annotations

from .addresses import ZERO_ADDRESS
from .errors import Refused


def own_open_order(book, order_id: str | int, me: str):
    """(order id, the order's view) of `order_id` on `book` (EnergyExchange or CertificateExchange),
    or a one-line refusal: not an id, no such order, already closed, or another member's."""
    if not str(order_id).isdigit() or int(order_id) == 0:
        raise Refused(f"not an order id: {order_id!r}")
    order_id = int(order_id)
    view = book.order(order_id)
    if str(view.owner) == ZERO_ADDRESS or not view.open:
        # an id's low 32 bits are the order's number, one more per order (its word's key sits above)
        if order_id & 0xFFFFFFFF < book.next_order_id() & 0xFFFFFFFF:
            raise Refused(f"order {order_id} is already closed (filled, cancelled or expired)")
        raise Refused(f"no order {order_id}")
    if str(view.owner) != me:
        raise Refused(f"order {order_id} belongs to {view.owner}, not to you")
    return order_id, view
