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
        A bid's escrow comes first out of its owner's quote balance in the
        auction (`proceeds_of`: sale proceeds, refunds, `_deposit`), and only
        the rest is pulled from the owner's wallet: a member who trades every
        slot, or who deposited a budget, places bids with no token call.
        Storage is packed for gas: the counters (next fresh order word, the
        free list of settled order words, bid escrow, fees) share one word
        with `auction_clearing`'s next slot to clear; an account's quote
        balance, WATT bought and number of open asks are one word; a settled or
        cancelled order's word is not deleted but goes on the free list, and
        the next order takes it (rewriting a used word costs 17,100 gas less
        than a fresh one). An order id is its word's key
        (32 bits) | the word's generation << 32 (16 bits), so ids stay unique
        while words are reused: a stale id reads as unknown.
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

from . import book_params

uses: book_params

from . import slots

uses: slots

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
_M64: constant(uint256) = 2**64 - 1
_M80: constant(uint256) = 2**80 - 1
_M128: constant(uint256) = 2**128 - 1
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


# @dev The state word decoded (`auction_clearing._state`): the next slot to clear, the next fresh
#      order word's key, the first free word's key (0: none), quote held for open bids and fees not
#      yet claimed (base units).
struct Counters:
    next_to_clear: uint256
    fresh: uint256
    free: uint256
    bid_escrow: uint256
    fees: uint256


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

# @dev Order word key (an id's low 32 bits) => owner (160) | price index << 160 (16) | flags << 176 (2) |
#      Wh << 178 (32) | slot << 210 (26) | generation << 236 (16) | place in the owner's open-ask list << 252 (4).
#      A free word (owner 0): 1 << 160 | next free key << 178 | generation of its next order << 236.
_order: HashMap[uint256, uint256]

# @dev Standing order id => last slot (32) | next slot to claim << 32 (32).
_span: HashMap[uint256, uint256]

# The counters live in `auction_clearing._state`: next slot to clear (32) | next fresh word key << 32
# (32, from 1) | first free word key << 64 (32) | bid escrow << 96 (80) | fees << 176 (80): see Counters.

# @dev Account => its open asks (one-shot and standing), for `_close_asks_of`: a list of as many
#      ids as the account word counts; an ask knows its place (order word), so removal touches two entries.
_ask_id: HashMap[address, HashMap[uint256, uint256]]

# @dev Account => quote withdrawable (base units, 128) | WATT bought and claimed, Wh << 128 (64; WATT's
#      supply is < 2**56) | number of open asks << 248 (8, at most MAX_ASKS_PER_OWNER).
_account: HashMap[address, uint256]

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


# @dev One order settled up to `to_slot` (exclusive). `filled_wh` bought or sold; `quote` (quote base
#      units): for a bid, what its fills cost including the fee; for an ask, its fills' value before the
#      fee (it is credited `quote - fee`); `fee` the side's fee; `refund_quote` a bid's unused escrow,
#      credited; `refund_wh` an ask's unsold WATT, released to the seller.
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


# @dev `amount` quote base units put into `owner`'s balance in the auction (`proceeds_of`), from
#      which its bids escrow first.
event QuoteDeposited:
    owner: indexed(address)
    amount: uint256


# ================================================================ PACKED WORDS


@internal
@view
def _counters_load() -> Counters:
    w: uint256 = auction_clearing._state
    return Counters(
        next_to_clear=w & _M32, fresh=(w >> 32) & _M32, free=(w >> 64) & _M32, bid_escrow=(w >> 96) & _M80, fees=w >> 176
    )


@internal
def _counters_save(c: Counters):
    assert c.bid_escrow <= _M80 and c.fees <= _M80 and c.fresh <= _M32, "auction: overflow"
    auction_clearing._state = c.next_to_clear | (c.fresh << 32) | (c.free << 64) | (c.bid_escrow << 96) | (c.fees << 176)


@internal
@view
def _proceeds_of(owner: address) -> uint256:
    return self._account[owner] & _M128


@internal
@view
def _watt_of(owner: address) -> uint256:
    return (self._account[owner] >> 128) & _M64


@internal
def _credit(owner: address, quote: uint256, wh: uint256):
    """
    @dev Credits `quote` base units withdrawable and `wh` WATT bought to `owner` (one word). Neither
         carries into the next field: the quote never exceeds what the auction holds (< 2**128 for
         any real stablecoin; bid escrow and fees are checked below 2**80), the WATT what sellers
         delivered (< 2**56, WATT's supply bound).
    """
    self._account[owner] += quote + (wh << 128)


@internal
def _debit(owner: address, quote: uint256, wh: uint256):
    """
    @dev Takes `quote` base units and `wh` WATT off `owner`'s withdrawable balances (reverts beyond).
    """
    w: uint256 = self._account[owner]
    assert quote <= w & _M128, "auction: amount exceeds proceeds"
    assert wh <= (w >> 128) & _M64, "auction: amount exceeds claimed WATT"
    self._account[owner] = w - quote - (wh << 128)


@internal
def _deposit(owner: address, amount: uint256):
    """
    @dev Credits a deposit of `amount` quote base units to `owner`'s balance (the deployable pulls it).
         Checked: a balance never carries into the WATT field, whatever the quote token's supply.
    """
    assert amount != 0, "auction: zero amount"
    w: uint256 = self._account[owner]
    assert (w & _M128) + amount <= _M128, "auction: balance too large"
    self._account[owner] = w + amount
    log QuoteDeposited(owner=owner, amount=amount)


@internal
def _escrow_quote(owner: address, escrow: uint256) -> uint256:
    """
    @dev Escrows a bid's `escrow` (quote base units) out of `owner`'s balance as far as it goes;
         returns the rest, for the deployable to pull from the owner's wallet.
    """
    w: uint256 = self._account[owner]
    use: uint256 = min(w & _M128, escrow)
    if use != 0:
        self._account[owner] = w - use
    return escrow - use


# ================================================================ HELPERS


@internal
@view
def _load(order_id: uint256) -> Order:
    """
    @dev The order `order_id` names (owner empty when unknown, settled, or a stale id of a reused word).
    """
    if order_id >> 48 != 0:
        return empty(Order)
    w: uint256 = self._order[order_id & _M32]
    if w & _M160 == 0 or (w >> 236) & _M16 != order_id >> 32:
        return empty(Order)
    return Order(
        owner=convert(convert(w & _M160, uint160), address),
        idx=(w >> 160) & _M16,
        is_buy=(w >> 176) & KIND_BUY != 0,
        standing=(w >> 176) & KIND_STANDING != 0,
        amount_wh=(w >> 178) & _M32,
        slot=(w >> 210) & _M26,
        pos=w >> 252,
    )


@internal
def _check(is_buy: bool, price: uint256, amount_wh: uint256) -> uint256:
    p: book_params.Params = book_params._load()
    book_params._require_live(p)
    assert price >= p.floor_price and price <= p.ceiling_price, "auction: price outside band"
    assert price % book_params.TICK == 0, "auction: price not on tick"
    assert amount_wh >= p.min_order_wh, "auction: order below minimum"
    assert amount_wh <= _M32, "auction: order too large"
    return price // book_params.TICK


@internal
def _new(
    c_in: Counters, owner: address, is_buy: bool, standing: bool, idx: uint256, amount_wh: uint256, slot: uint256
) -> (uint256, Counters):
    """
    @dev Writes a new order into the first free word (else a fresh one); returns its id and the
         counters (the caller saves them).
    """
    c: Counters = c_in
    key: uint256 = c.free
    gen: uint256 = 0
    if key != 0:
        t: uint256 = self._order[key]
        c.free = (t >> 178) & _M32
        gen = (t >> 236) & _M16
    else:
        key = c.fresh
        c.fresh = key + 1
    order_id: uint256 = key | (gen << 32)
    flags: uint256 = KIND_STANDING if standing else 0
    pos: uint256 = 0
    if is_buy:
        flags |= KIND_BUY
    else:
        acct: uint256 = self._account[owner]
        pos = acct >> 248
        assert pos < MAX_ASKS_PER_OWNER, "auction: too many open asks"
        self._ask_id[owner][pos] = order_id
        self._account[owner] = acct + (1 << 248)
    assert slot <= _M26, "auction: slot out of range"
    self._order[key] = (
        convert(owner, uint256) | (idx << 160) | (flags << 176) | (amount_wh << 178) | (slot << 210) | (gen << 236) | (pos << 252)
    )
    return order_id, c


@internal
def _free(order_id: uint256, c_in: Counters) -> Counters:
    """
    @dev Puts a settled or cancelled order's word on the free list (kept non-zero, its generation
         moved on, so the id reads as unknown from now on); returns the counters.
    """
    c: Counters = c_in
    key: uint256 = order_id & _M32
    self._order[key] = (1 << 160) | (c.free << 178) | ((((order_id >> 32) + 1) & _M16) << 236)
    c.free = key
    return c


@internal
def _forget_ask(owner: address, pos: uint256):
    """
    @dev Takes the ask at `pos` off its owner's list: the last one takes its place.
    """
    acct: uint256 = self._account[owner]
    last: uint256 = (acct >> 248) - 1
    if pos != last:
        moved: uint256 = self._ask_id[owner][last]
        self._ask_id[owner][pos] = moved
        self._order[moved & _M32] = (self._order[moved & _M32] & ~(15 << 252)) | (pos << 252)
    self._account[owner] = acct - (1 << 248)


@internal
@view
def _open_asks(owner: address) -> DynArray[uint256, MAX_ASKS_PER_OWNER]:
    out: DynArray[uint256, MAX_ASKS_PER_OWNER] = []
    n: uint256 = self._account[owner] >> 248
    for i: uint256 in range(MAX_ASKS_PER_OWNER):
        if i >= n:
            break
        out.append(self._ask_id[owner][i])
    return out


# ================================================================ PLACING


@internal
def _place(owner: address, is_buy: bool, price: uint256, amount_wh: uint256) -> (uint256, uint256):
    """
    @dev Places a one-shot order in the current slot's auction; returns its
         id and the quote to pull (a bid's escrow beyond its owner's balance) —
         the deployable escrows an ask's WATT.
    """
    idx: uint256 = self._check(is_buy, price, amount_wh)
    slot: uint256 = slots._current()
    order_id: uint256 = 0
    c: Counters = self._counters_load()
    # the slot's level words are those of slot - SLOT_RING (auction_clearing's ring): cleared first
    assert slot < c.next_to_clear + auction_clearing.SLOT_RING, "auction: clear the ended slots first"
    order_id, c = self._new(c, owner, is_buy, False, idx, amount_wh, slot)
    auction_clearing._add(slot, 0 if is_buy else 1, idx, amount_wh)
    pull: uint256 = 0
    if is_buy:
        escrow: uint256 = book_params._bid_escrow(amount_wh, price)
        c.bid_escrow += escrow
        pull = self._escrow_quote(owner, escrow)
    self._counters_save(c)
    log OrderPlaced(
        order_id=order_id, owner=owner, is_buy=is_buy, price=price, amount_wh=amount_wh, first_slot=slot, last_slot=slot, standing=False
    )
    return order_id, pull


@internal
def _place_standing(owner: address, is_buy: bool, price: uint256, amount_wh: uint256, until: uint256) -> (uint256, uint256):
    """
    @dev Places a standing order of `amount_wh` Wh per slot from the current
         slot to the last slot ending by `until` (s); returns its id and the
         quote to pull (a bid's whole escrow beyond its owner's balance) or
         the Wh to escrow (asks).
    """
    idx: uint256 = self._check(is_buy, price, amount_wh)
    first: uint256 = slots._current()
    c: Counters = self._counters_load()
    assert c.next_to_clear == first, "auction: clear the ended slots first"
    assert until >= slots._end_of(first), "auction: standing order ends before this slot does"
    last: uint256 = until // slots.SLOT_S - 1
    n: uint256 = last - first + 1
    assert n <= MAX_STANDING_SLOTS, "auction: standing order too long"
    order_id: uint256 = 0
    order_id, c = self._new(c, owner, is_buy, True, idx, amount_wh, first)
    self._span[order_id] = last | (first << 32)
    side: uint256 = 0 if is_buy else 1
    auction_clearing._add(auction_clearing.STANDING_BOOK, side, idx, amount_wh)
    auction_clearing._add(auction_clearing.EXPIRY_BASE | (last + 1), side, idx, amount_wh)
    escrow: uint256 = amount_wh * n
    if is_buy:
        escrow = book_params._bid_escrow(amount_wh, price) * n
        c.bid_escrow += escrow
        escrow = self._escrow_quote(owner, escrow)
    self._counters_save(c)
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
    c: Counters = self._counters_load()
    if o.standing:
        current: uint256 = slots._current()
        assert c.next_to_clear == current, "auction: clear the ended slots first"
        slots_n = self._drop_standing(order_id, o, current)
        assert slots_n != 0, "auction: standing order already ended"
    else:
        assert not slots._has_ended(o.slot), "auction: slot ended, claim after clearing"
        auction_clearing._sub(o.slot, 0 if o.is_buy else 1, o.idx, o.amount_wh)
        c = self._free(order_id, c)
        if not o.is_buy:
            self._forget_ask(o.owner, o.pos)
    if o.is_buy:
        refund: uint256 = book_params._bid_escrow(o.amount_wh, o.idx * book_params.TICK) * slots_n
        c.bid_escrow -= refund
        self._credit(o.owner, refund, 0)
        s.quote_credit = refund
    else:
        s.release_wh = o.amount_wh * slots_n
    self._counters_save(c)
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
    c: Counters = self._counters_load()
    from_slot: uint256 = c.next_to_clear
    closed: uint256 = 0
    # from the end, so that a removal only moves entries already visited
    n: uint256 = self._account[account] >> 248
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
            c = self._free(order_id, c)
            self._forget_ask(account, i)
            closed += o.amount_wh
            log OrderCancelled(order_id=order_id, owner=account, refund_quote=0, refund_wh=o.amount_wh)
    self._counters_save(c)
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
    c: Counters = self._counters_load()
    cleared_to: uint256 = c.next_to_clear
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
    bought: uint256 = 0
    if o.is_buy:
        escrow: uint256 = book_params._bid_escrow(o.amount_wh, o.idx * tick) * n
        c.bid_escrow -= escrow
        credit = escrow - paid
        bought = s.filled_wh
    s.quote_credit = credit
    if credit != 0 or bought != 0:
        self._credit(o.owner, credit, bought)
    c.fees += s.fee
    if o.standing and stop <= last:
        self._span[order_id] = (span & _M32) | (stop << 32)
    else:
        # fully settled: its word goes on the free list
        c = self._free(order_id, c)
        if o.standing:
            self._span[order_id] = 0
        if not o.is_buy:
            self._forget_ask(o.owner, o.pos)
    self._counters_save(c)
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
