# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Slot auction orders: one-shot and standing orders, escrow accounting, lazy claims
@custom:contract-name auction_orders
@license GNU Affero General Public License v3.0 only
@notice A one-shot order placed during slot k joins auction k; it may be
        cancelled until slot k ends, then it is firm. A standing order
        ("up to X Wh every slot at <= / >= p until t") joins every auction
        from the slot it is placed in to the last slot that ends by t (at
        most `MAX_STANDING_SLOTS`), with no transaction per slot; it escrows
        every slot it may join (WATT: X per slot; quote: a one-shot bid's
        escrow per slot) and is cancelled from the current slot on.
        `_claim(order_id)` settles a one-shot order in constant work, a
        standing order's next `CLAIM_SLOTS` cleared slots (one result word
        each): the Wh filled and quote paid (`auction_clearing._fill`), the
        fee (`fee_bps` in force at clearing, on each side's quote), the
        unused escrow. Quote goes to `proceeds_of`, bought WATT to `watt_of`
        (withdrawn from the auction's WATT, which sellers' claims deliver);
        the deployable moves the sellers' escrow.
@custom:security Escrow at placement covers every fill: a bid escrows
        ceil(amount x price / 1000) + 1% (the fee cap) per slot; an order
        never fills above its amount or beyond its limit (`_fill`). An ask
        with a fill is not settled while its seller is in storage-rent
        arrears (the deployable checks and skips it): no proceeds while in
        arrears. `_close_asks_of` (WATT's `release_unpaid`) takes an account's
        asks out of every auction not yet cleared. Claims are idempotent: a
        settled one-shot order's word is deleted, a standing order's cursor
        only moves forward.
"""

from snekmate.utils import pausable

uses: pausable

from . import book_params

uses: book_params

from . import slots

uses: slots

from . import proceeds

uses: proceeds

from . import auction_clearing

uses: auction_clearing

# ---------------------------------------------------------------- CONSTANTS

# @dev Most open asks (one-shot and standing) per account: bounds `_close_asks_of`.
MAX_ASKS_PER_OWNER: public(constant(uint256)) = 16
# @dev Most slots a standing order may join (7 days of 30-minute slots).
MAX_STANDING_SLOTS: public(constant(uint256)) = 336
# @dev Most slots of a standing order one claim settles.
CLAIM_SLOTS: public(constant(uint256)) = 96

KIND_BUY: constant(uint256) = 1
KIND_STANDING: constant(uint256) = 2
_M16: constant(uint256) = 2**16 - 1
_M26: constant(uint256) = 2**26 - 1
_M32: constant(uint256) = 2**32 - 1
_M48: constant(uint256) = 2**48 - 1
_M160: constant(uint256) = 2**160 - 1
_BPS: constant(uint256) = 10_000


# @dev An order word decoded: owner, price index, flags, Wh (per slot for standing), first slot,
#      and (asks) its place in its owner's open-ask list.
struct Order:
    owner: address
    idx: uint256
    is_buy: bool
    standing: bool
    amount_wh: uint256
    slot: uint256
    pos: uint256


# @dev What a claim settled: Wh filled, WATT escrow to release (asks), quote credited, fee.
struct Settlement:
    owner: address
    is_buy: bool
    filled_wh: uint256
    release_wh: uint256
    quote_credit: uint256
    fee: uint256
    done: bool


# ---------------------------------------------------------------- STORAGE

# @dev Order id => owner (160) | price index << 160 (16) | flags << 176 (2) | Wh << 178 (48) |
#      slot << 226 (26) | place in the owner's open-ask list << 252 (4).
_order: HashMap[uint256, uint256]

# @dev Standing order id => last slot (32) | next slot to claim << 32 (32).
_span: HashMap[uint256, uint256]

# @dev The id the next order gets (ids start at 1).
next_order_id: public(uint256)

# @dev Account => its open asks (one-shot and standing), for `_close_asks_of`: a list of
#      `_ask_count` ids; an ask knows its place (order word), so removal touches two entries.
_ask_id: HashMap[address, HashMap[uint256, uint256]]
_ask_count: HashMap[address, uint256]

# @dev Quote held for open bids (base units).
bid_escrow_total: public(uint256)

# @dev Fees not yet claimed by the treasury (quote base units).
fees_accrued: public(uint256)

# @dev Account => WATT (Wh) bought and claimed, withdrawable from the auction.
watt_of: public(HashMap[address, uint256])

# ---------------------------------------------------------------- EVENTS


event OrderPlaced:
    order_id: indexed(uint256)
    owner: indexed(address)
    is_buy: bool
    price: uint256
    amount_wh: uint256
    first_slot: uint256
    last_slot: uint256
    standing: bool


event OrderCancelled:
    order_id: indexed(uint256)
    owner: indexed(address)
    refund_quote: uint256
    refund_wh: uint256


event OrderClaimed:
    order_id: indexed(uint256)
    owner: indexed(address)
    to_slot: uint256
    filled_wh: uint256
    quote: uint256
    fee: uint256
    refund_quote: uint256
    refund_wh: uint256


event AsksClosedForArrears:
    account: indexed(address)
    wh: uint256


@deploy
def __init__():
    self.next_order_id = 1


# ================================================================ HELPERS


@internal
@view
def _load(order_id: uint256) -> Order:
    w: uint256 = self._order[order_id]
    return Order(
        owner=convert(convert(w & _M160, uint160), address),
        idx=(w >> 160) & _M16,
        is_buy=(w >> 176) & KIND_BUY != 0,
        standing=(w >> 176) & KIND_STANDING != 0,
        amount_wh=(w >> 178) & _M48,
        slot=(w >> 226) & _M26,
        pos=w >> 252,
    )


@internal
@pure
def _bid_escrow(amount_wh: uint256, price: uint256) -> uint256:
    """
    @dev Quote a bid escrows per slot: its most expensive fill plus the fee cap (both rounded up).
    """
    q: uint256 = (amount_wh * price + 999) // 1000
    return q + (q * book_params.FEE_BPS_CAP + _BPS - 1) // _BPS


@internal
def _check(is_buy: bool, price: uint256, amount_wh: uint256) -> uint256:
    pausable._require_not_paused()
    p: book_params.Params = book_params._load()
    assert price >= p.floor_price and price <= p.ceiling_price, "auction: price outside band"
    assert price % book_params.TICK == 0, "auction: price not on tick"
    assert amount_wh >= p.min_order_wh, "auction: order below minimum"
    assert amount_wh <= _M48, "auction: order too large"
    return price // book_params.TICK


@internal
def _new(owner: address, is_buy: bool, standing: bool, idx: uint256, amount_wh: uint256, slot: uint256) -> uint256:
    order_id: uint256 = self.next_order_id
    self.next_order_id = order_id + 1
    flags: uint256 = KIND_STANDING if standing else 0
    pos: uint256 = 0
    if is_buy:
        flags |= KIND_BUY
    else:
        pos = self._ask_count[owner]
        assert pos < MAX_ASKS_PER_OWNER, "auction: too many open asks"
        self._ask_id[owner][pos] = order_id
        self._ask_count[owner] = pos + 1
    assert slot <= _M26, "auction: slot out of range"
    self._order[order_id] = (
        convert(owner, uint256) | (idx << 160) | (flags << 176) | (amount_wh << 178) | (slot << 226) | (pos << 252)
    )
    return order_id


@internal
def _forget_ask(owner: address, pos: uint256):
    """
    @dev Takes the ask at `pos` off its owner's list: the last one takes its place.
    """
    last: uint256 = self._ask_count[owner] - 1
    if pos != last:
        moved: uint256 = self._ask_id[owner][last]
        self._ask_id[owner][pos] = moved
        self._order[moved] = (self._order[moved] & ~(15 << 252)) | (pos << 252)
    self._ask_count[owner] = last


@internal
@view
def _open_asks(owner: address) -> DynArray[uint256, MAX_ASKS_PER_OWNER]:
    out: DynArray[uint256, MAX_ASKS_PER_OWNER] = []
    for i: uint256 in range(MAX_ASKS_PER_OWNER):
        if i >= self._ask_count[owner]:
            break
        out.append(self._ask_id[owner][i])
    return out


# ================================================================ PLACING


@internal
def _place(owner: address, is_buy: bool, price: uint256, amount_wh: uint256) -> (uint256, uint256):
    """
    @dev Places a one-shot order in the current slot's auction; returns its
         id and the quote to pull (bids) — the deployable escrows an ask's WATT.
    """
    idx: uint256 = self._check(is_buy, price, amount_wh)
    slot: uint256 = slots._current()
    order_id: uint256 = self._new(owner, is_buy, False, idx, amount_wh, slot)
    auction_clearing._add(slot, 0 if is_buy else 1, idx, amount_wh)
    pull: uint256 = 0
    if is_buy:
        pull = self._bid_escrow(amount_wh, price)
        self.bid_escrow_total += pull
    log OrderPlaced(
        order_id=order_id, owner=owner, is_buy=is_buy, price=price, amount_wh=amount_wh, first_slot=slot, last_slot=slot, standing=False
    )
    return order_id, pull


@internal
def _place_standing(owner: address, is_buy: bool, price: uint256, amount_wh: uint256, until: uint256) -> (uint256, uint256):
    """
    @dev Places a standing order of `amount_wh` Wh per slot from the current
         slot to the last slot ending by `until` (s); returns its id and its
         whole escrow: quote to pull (bids) or Wh to escrow (asks).
    """
    idx: uint256 = self._check(is_buy, price, amount_wh)
    first: uint256 = slots._current()
    assert auction_clearing.next_to_clear == first, "auction: clear the ended slots first"
    assert until >= slots._end_of(first), "auction: standing order ends before this slot does"
    last: uint256 = until // slots.SLOT_S - 1
    n: uint256 = last - first + 1
    assert n <= MAX_STANDING_SLOTS, "auction: standing order too long"
    order_id: uint256 = self._new(owner, is_buy, True, idx, amount_wh, first)
    self._span[order_id] = last | (first << 32)
    side: uint256 = 0 if is_buy else 1
    auction_clearing._add(auction_clearing.STANDING_BOOK, side, idx, amount_wh)
    auction_clearing._add(auction_clearing.EXPIRY_BASE | (last + 1), side, idx, amount_wh)
    escrow: uint256 = amount_wh * n
    if is_buy:
        escrow = self._bid_escrow(amount_wh, price) * n
        self.bid_escrow_total += escrow
    log OrderPlaced(
        order_id=order_id, owner=owner, is_buy=is_buy, price=price, amount_wh=amount_wh, first_slot=first, last_slot=last, standing=True
    )
    return order_id, escrow


# ================================================================ CANCELLING


@internal
def _drop_standing(order_id: uint256, o: Order, from_slot: uint256) -> uint256:
    """
    @dev Stops a standing order from `from_slot` (the next slot to clear) on:
         it leaves the standing book and its scheduled expiry; returns how
         many slots it no longer joins.
    """
    span: uint256 = self._span[order_id]
    last: uint256 = span & _M32
    if last < from_slot:
        return 0
    side: uint256 = 0 if o.is_buy else 1
    auction_clearing._sub(auction_clearing.STANDING_BOOK, side, o.idx, o.amount_wh)
    auction_clearing._sub(auction_clearing.EXPIRY_BASE | (last + 1), side, o.idx, o.amount_wh)
    # from_slot >= first >= 1: the new last slot is from_slot - 1 (before `first` when it never joined)
    self._span[order_id] = (span & ~_M32) | (from_slot - 1)
    return last + 1 - from_slot


@internal
def _cancel(order_id: uint256, sender: address) -> Settlement:
    """
    @dev Cancels the caller's order: a one-shot order while its slot is
         open, a standing order from the current slot on (once the ended
         slots are cleared). Returns the refund (quote credited here, Wh for
         the deployable to release).
    """
    o: Order = self._load(order_id)
    assert o.owner != empty(address) and o.owner == sender, "auction: not your open order"
    s: Settlement = empty(Settlement)
    s.owner = o.owner
    s.is_buy = o.is_buy
    slots_n: uint256 = 1
    if o.standing:
        current: uint256 = slots._current()
        assert auction_clearing.next_to_clear == current, "auction: clear the ended slots first"
        slots_n = self._drop_standing(order_id, o, current)
        assert slots_n != 0, "auction: standing order already ended"
    else:
        assert not slots._has_ended(o.slot), "auction: slot ended, claim after clearing"
        auction_clearing._sub(o.slot, 0 if o.is_buy else 1, o.idx, o.amount_wh)
        self._order[order_id] = 0
        if not o.is_buy:
            self._forget_ask(o.owner, o.pos)
    if o.is_buy:
        refund: uint256 = self._bid_escrow(o.amount_wh, o.idx * book_params.TICK) * slots_n
        self.bid_escrow_total -= refund
        proceeds._credit(o.owner, refund)
        s.quote_credit = refund
    else:
        s.release_wh = o.amount_wh * slots_n
    log OrderCancelled(order_id=order_id, owner=o.owner, refund_quote=s.quote_credit, refund_wh=s.release_wh)
    return s


@internal
def _close_asks_of(account: address) -> uint256:
    """
    @dev Takes `account`'s asks out of every auction not yet cleared (one-shot
         asks of uncleared slots close; standing asks stop from the next slot
         to clear); returns the Wh of escrow they no longer need. Asks with
         fills in cleared slots stay, to be delivered at their claim.
    """
    from_slot: uint256 = auction_clearing.next_to_clear
    closed: uint256 = 0
    # from the end, so that a removal only moves entries already visited
    n: uint256 = self._ask_count[account]
    for j: uint256 in range(MAX_ASKS_PER_OWNER):
        if j >= n:
            break
        i: uint256 = n - 1 - j
        order_id: uint256 = self._ask_id[account][i]
        o: Order = self._load(order_id)
        if o.standing:
            closed += o.amount_wh * self._drop_standing(order_id, o, from_slot)
        elif o.slot >= from_slot:
            auction_clearing._sub(o.slot, 1, o.idx, o.amount_wh)
            self._order[order_id] = 0
            self._forget_ask(account, i)
            closed += o.amount_wh
            log OrderCancelled(order_id=order_id, owner=account, refund_quote=0, refund_wh=o.amount_wh)
    log AsksClosedForArrears(account=account, wh=closed)
    return closed


# ================================================================ CLAIMING


@internal
def _claim(order_id: uint256, seller_in_arrears: bool) -> Settlement:
    """
    @dev Settles an order's cleared slots not yet claimed (a one-shot order:
         its slot; a standing order: up to CLAIM_SLOTS of them). Returns a
         settlement with `done` false when there was nothing to settle
         (unknown or settled id, slot not cleared, an ask with a fill whose
         seller is in arrears): claims are idempotent.
    """
    s: Settlement = empty(Settlement)
    o: Order = self._load(order_id)
    if o.owner == empty(address):
        return s
    cleared_to: uint256 = auction_clearing.next_to_clear
    tick: uint256 = book_params.TICK
    first: uint256 = o.slot
    last: uint256 = o.slot
    span: uint256 = 0
    if o.standing:
        span = self._span[order_id]
        first = (span >> 32) & _M32
        last = span & _M32
    stop: uint256 = min(last + 1, min(cleared_to, first + CLAIM_SLOTS))
    if first >= stop and not (o.standing and first > last):
        return s
    paid: uint256 = 0
    credit: uint256 = 0
    for k: uint256 in range(first, first + CLAIM_SLOTS, bound=CLAIM_SLOTS):
        if k >= stop:
            break
        r: auction_clearing.Result = auction_clearing._load_result(k)
        wh: uint256 = 0
        q: uint256 = 0
        wh, q = auction_clearing._fill(r, o.is_buy, o.idx, o.amount_wh, tick)
        fee: uint256 = q * r.fee_bps // _BPS
        s.filled_wh += wh
        s.fee += fee
        if o.is_buy:
            paid += q + fee
        else:
            credit += q - fee
            s.release_wh += o.amount_wh - wh
    if s.filled_wh != 0 and not o.is_buy and seller_in_arrears:
        return empty(Settlement)
    n: uint256 = max(stop, first) - first
    s.owner = o.owner
    s.is_buy = o.is_buy
    s.done = True
    if o.is_buy:
        escrow: uint256 = self._bid_escrow(o.amount_wh, o.idx * tick) * n
        self.bid_escrow_total -= escrow
        credit = escrow - paid
        if s.filled_wh != 0:
            self.watt_of[o.owner] += s.filled_wh
    s.quote_credit = credit
    if credit != 0:
        proceeds._credit(o.owner, credit)
    if s.fee != 0:
        self.fees_accrued += s.fee
    if o.standing and stop <= last:
        self._span[order_id] = (span & _M32) | (stop << 32)
    else:
        # fully settled
        self._order[order_id] = 0
        if o.standing:
            self._span[order_id] = 0
        if not o.is_buy:
            self._forget_ask(o.owner, o.pos)
    log OrderClaimed(
        order_id=order_id,
        owner=o.owner,
        to_slot=stop,
        filled_wh=s.filled_wh,
        quote=paid if o.is_buy else credit + s.fee,
        fee=s.fee,
        refund_quote=credit if o.is_buy else 0,
        refund_wh=s.release_wh,
    )
    return s
