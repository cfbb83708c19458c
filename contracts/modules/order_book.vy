# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Order book: orders and continuous matching of gridmint's markets
@custom:contract-name order_book
@license GNU Affero General Public License v3.0 only
@notice A continuous double auction of a base asset in Wh against a quote
        token, price in quote base units per kWh: price-time priority,
        partial fills, execution at the resting (maker) order's price, bounded
        matching, fees, expiry, self-trade, band and minimum-order rules.
        It holds the orders and the matching; the rest is its own module:
        `price_levels` (which levels are active, each level's FIFO ends and
        total), `book_params` (band, tick, minimum, fees, max fills, their
        announced changes, treasury, pause), `proceeds` (quote owed to
        traders, withdrawals). Generic over what is traded: it keeps
        books (`book`, 0 for a single-book market; a certificate class on the
        certificate market), orders carry a `tag` (what an ask escrows: 0 for
        WATT, the certificate id for certificates), and it never moves the
        base asset itself. `_place` returns a settlement list (fills, a run
        of one maker's consecutive fills of one tag as one entry, and
        refunds of closed asks) that the deployable carries out after all
        effects in one call: a maker met at several levels is settled once.
        The deployable escrows the base asset of an ask.
        The one question it asks outside before filling a resting ask, "can
        this ask still sell?", goes to `GATE` by `GATE_KIND`: 1 the WATT
        token's `in_arrears(seller)` (closed with reason 7), 2 the
        certificate contract's `trade_info(id)` (revoked or expired units:
        reason 10); one staticcall per resting ask met.
        Used by `EnergyExchange` and `CertificateExchange` with
        `initializes: order_book[ownable := ownable,
        book_params := book_params, price_levels := price_levels, proceeds := proceeds]`.
        `_amend` changes an open order in place (same id): the rules of a
        new order, never crossing, time priority lost on a price change or
        an increase (`OrderAmended` carries the new terms; the deployable
        moves the base asset and pulls the quote it returns).
        Exported externals: `claim_fees`, the views `next_order_id`,
        `bid_escrow_total`, `fees_accrued`, `open_orders`, `MAX_ASKS_PER_OWNER`.
        Events say each thing once: `Trade` carries the Wh left on the maker
        order after the fill (`maker_left`, 0 when the fill closed it), so a
        fill that closes an order with nothing to give back (every filled
        ask, a filled bid whose escrow is used up) and a taker filled in full
        (its `Trade`s add up to its `OrderPlaced` amount) log no
        `OrderClosed`; every other close does, with what it gives back.
        `Trade` names neither the taker (the owner in its order's
        `OrderPlaced`, logged earlier in the same transaction) nor the
        quote a fill moves (floor(amount_wh * price / 1000), the rule
        below): what can be read there is not said again, per maker.
        `OrderClosed` reasons: 1 filled, 2 cancelled, 3 expired, 4 IOC
        remainder, 5 self-trade, 6 uncrossable remainder, 7 seller in rent
        arrears, 8 below the minimum, 9 outside the price band in force,
        10 certificate revoked or expired.
@custom:security Rounding: a fill of w Wh at price p costs floor(w * p / 1000)
        quote base units; a bid escrows ceil(amount * p / 1000) plus 1%,
        which always covers its fills and fees (both fees are capped at 100
        bps); the unused part goes to `proceeds_of` when it closes.
        Storage per resting order: two words (A: owner, side, price index,
        expiry, book; B: remaining Wh, the level's FIFO links, a bid's quote
        escrow or an ask's owner-list links and tag, the order's number),
        keyed by a 32-bit word key and reused: a closed order's word A
        becomes a free word (never zero again) on a LIFO free list, and the
        next order that rests rewrites both words (2 x 5,000 gas instead of
        2 x 22,100). Why not one word: owner (160) + remaining (56) + a
        FIFO link (32) leave 8 bits, and a fill also reads the expiry (40),
        the order's number for `Trade` (32) and the tag (39) or escrow (96).
        An order id is its number (32, one more per order, resting or not)
        | its word's key << 32, or the number alone when the two are equal
        (every order until a word is reused): ids stay unique while words
        are reused, and a stale id reads as unknown (word B keeps the
        number of the order in the word). An order takes the first free
        word when it is placed; the makers it closes go on the list above
        it, and it leaves the list only if it rests.
        The FIFO links of a level's orders live in the order words; a
        level's head keeps whatever `prev` link it had (never read), so a
        fill that pops the head writes neither its successor's order word
        nor anything but the level word, and matching keeps the level word
        it takes from in memory: one write per level met, however many
        heads it pops (the next maker is the popped head's `next`; the
        bitmap is asked again only when a level empties). The next order
        number, the free list's head, the bid escrow total and the accrued
        fees share one word (`_counters`), read and written once per call.
        Worst case per call: `max_fills` (<= 64) maker orders visited.
        Never crossed: a taker meeting its own resting order cancels it; a
        remainder still crossing after `max_fills` is dropped.
        Matching credits quote internally and returns base deliveries: no
        token is pushed to a maker from inside the loop.
        With GATE_SELLER_ARREARS (WATT) each account's asks are also linked
        (at most 64 open), so `_close_asks_of` closes them in one bounded
        call; other markets skip that bookkeeping (~5k gas per ask placed
        or closed when the seller has others open; the list's head lives in
        the seller's `proceeds` word, which a fill writes anyway: a fill
        that closes an ask credits its seller and unlinks the ask in one
        write of that word; it stays non-zero once written, so a seller's
        next ask rewrites it).
"""

from ..interfaces import IWattEscrow
from ..interfaces import ICertificateMarket

# @dev Operator role: only the operator claims fees.
from snekmate.auth import ownable

uses: ownable

# @dev Pause: new orders and amends stop (`book_params._require_live`, from the parameters word already
#      loaded: no read of snekmate's flag); cancels and claims never do.
# @dev The band, tick, minimum, fees and max fills every rule reads, and the treasury.
from . import book_params

uses: book_params

# @dev The price-level index: best level, next level, each level's FIFO ends and total Wh.
from . import price_levels

uses: price_levels

# @dev Where matching credits quote (proceeds, refunds) and how a bidder's quote comes in.
from . import proceeds

uses: proceeds


# ---------------------------------------------------------------- CONSTANTS

FLAG_IOC: constant(uint256) = 1
FLAG_POST_ONLY: constant(uint256) = 2
MAX_FILLS_CAP: constant(uint256) = book_params.MAX_FILLS_CAP
# settlement entries of one call: a visit settles at most a fill and a refund
MAX_SETTLE: constant(uint256) = 128
# open asks per account: bounds WATT's `release_unpaid` -> `close_asks_of`
MAX_ASKS_PER_OWNER: public(constant(uint256)) = 64
MAX_OPEN_SCAN: constant(uint256) = 4_096

# @dev filled
CLOSE_FILLED: constant(uint8) = 1
# @dev cancelled
CLOSE_CANCELLED: constant(uint8) = 2
# @dev expired
CLOSE_EXPIRED: constant(uint8) = 3
# @dev immediate-or-cancel remainder
CLOSE_IOC: constant(uint8) = 4
# @dev self-trade (the taker met its own resting order)
CLOSE_SELF_TRADE: constant(uint8) = 5
# @dev uncrossable remainder
CLOSE_UNCROSSABLE: constant(uint8) = 6
# @dev seller in storage-rent arrears
CLOSE_ARREARS: constant(uint8) = 7
# @dev remainder below the minimum order
CLOSE_BELOW_MINIMUM: constant(uint8) = 8
# @dev outside the price band in force
CLOSE_OUT_OF_BAND: constant(uint8) = 9
# @dev certificate revoked or expired: its units never change hands
CLOSE_UNIT_UNUSABLE: constant(uint8) = 10

# what `GATE` is
GATE_NONE: constant(uint256) = 0
GATE_SELLER_ARREARS: constant(uint256) = 1
GATE_CERTIFICATE: constant(uint256) = 2

BID: constant(uint256) = price_levels.BID
ASK: constant(uint256) = price_levels.ASK

# settlement word: account (160) | Wh << 160 (56) | tag << 216 (39) | refund flag << 255
SETTLE_REFUND: constant(uint256) = 1 << 255
MAX_TAG: constant(uint256) = 2**39 - 1
MAX_BOOK: constant(uint256) = 2**32 - 1

_M32: constant(uint256) = 2**32 - 1
_M40: constant(uint256) = 2**40 - 1
# an owner's ask list (GATE_SELLER_ARREARS): the top 40 bits of its `proceeds` word, from bit 216: the
# newest open ask's word key (32) | number of open asks << 32 (7) | _ASKS_KEPT. The kept bit keeps the
# word non-zero once its owner placed an ask, quote or none: a later first ask rewrites it (5,000 gas)
# instead of creating it (22,100). `_close_asks_of` (a release by WATT, rare) clears the list whole
_ASKS_SHIFT: constant(uint256) = proceeds.QUOTE_BITS
_ASKS_KEPT: constant(uint256) = 2**39
_M56: constant(uint256) = 2**56 - 1
_M64: constant(uint256) = 2**64 - 1
_M96: constant(uint256) = 2**96 - 1
_M160: constant(uint256) = 2**160 - 1
_NO_EXPIRY: constant(uint256) = 2**40 - 1
# a free order word: no owner, this bit, the next free word's key << 160
_FREE: constant(uint256) = 1 << 255

# ---------------------------------------------------------------- IMMUTABLES

# @dev Who answers "can this resting ask still sell?" (see GATE_KIND).
_GATE: immutable(address)

# @dev 0 none, 1 WATT `in_arrears(seller)`, 2 certificate `trade_info(id)`.
_GATE_KIND: immutable(uint256)

# ---------------------------------------------------------------- STORAGE

# @dev Next order number (32, from 1) | first free order word's key << 32 (32) | quote escrowed by
#      all open bids << 64 (96) | fees accrued and not yet claimed << 160 (96), quote base units:
#      one word, read and written once per call. The free list ends in the never-used words: a
#      free key whose word A is 0 is followed by key + 1.
_counters: uint256

# @dev Order word key (32, from 1) => word A: owner (160) | is_buy << 160 | price index << 161 (16) |
#      expires_at << 177 (40, s) | book << 217 (32). A closed order's word A becomes a free word:
#      _FREE | next free key << 160 (32), never 0 again, so the next order rewrites it (5,000 gas)
#      instead of creating it (22,100 gas).
_order_a: HashMap[uint256, uint256]

# @dev Order word key => word B: remaining Wh (56) | prev key << 56 (32) | next key << 88 (32) |
#      for a bid: quote escrow << 120 (96); for an ask: the owner's previous ask's key << 120 (32) |
#      next ask's key << 152 (32) (both 0 without owner lists) | tag << 184 (39) | then the order's
#      number << 224 (32). Left as it is when the order closes (never read while word A is free).
_order_b: HashMap[uint256, uint256]

# The owner's ask list (kept only with GATE_SELLER_ARREARS: WATT's `release_unpaid` closes an account's
# asks) lives in the top bits of its `proceeds._accounts` word (_ASKS_SHIFT): a fill credits the seller
# in that word anyway, so closing its ask there costs no other word. Never written back to zero, as the
# order words: a seller's next ask after its last one closed rewrites the word instead of creating it.

# ---------------------------------------------------------------- EVENTS


event Trade:
    maker_order_id: indexed(uint256)
    taker_order_id: indexed(uint256)
    maker: address
    price: uint256
    amount_wh: uint256
    fee: uint256
    maker_left: uint256


event OrderClosed:
    order_id: indexed(uint256)
    reason: uint8
    refunded: uint256


event OrderAmended:
    order_id: indexed(uint256)
    price: uint256
    amount_wh: uint256


event FeesClaimed:
    treasury: indexed(address)
    amount: uint256


@deploy
def __init__(gate_: address, gate_kind_: uint256):
    """
    @dev Order numbers and order word keys start at 1.
    @param gate_ The 20-byte contract asked before a resting ask fills.
    @param gate_kind_ The 32-byte kind of `gate_`: 0 none, 1 WATT arrears, 2 certificate status.
    """
    assert gate_kind_ <= GATE_CERTIFICATE, "exchange: unknown gate"
    _GATE = gate_
    _GATE_KIND = gate_kind_
    self._counters = 1 | (1 << 32)


# ================================================================ EXTERNAL


@external
@nonreentrant
def claim_fees() -> uint256:
    """
    @notice Sends accrued fees to the treasury (operator only).
    @return uint256 The 32-byte amount claimed, quote base units.
    """
    ownable._check_owner()
    counters: uint256 = self._counters
    amount: uint256 = counters >> 160
    self._counters = counters & _M160
    treasury: address = book_params.treasury
    log FeesClaimed(treasury=treasury, amount=amount)
    proceeds._pay(treasury, amount)
    return amount


@external
@view
def next_order_id() -> uint256:
    """
    @notice The id the next order gets (its low 32 bits: the order's number, one more per order).
    @return uint256 The 32-byte id.
    """
    counters: uint256 = self._counters
    return self._id((counters >> 32) & _M32, counters & _M32)


@external
@view
def bid_escrow_total() -> uint256:
    """
    @notice Quote base units escrowed by all open bids.
    @return uint256 The 32-byte amount.
    """
    return (self._counters >> 64) & _M96


@external
@view
def fees_accrued() -> uint256:
    """
    @notice Fees accrued and not yet claimed, quote base units.
    @return uint256 The 32-byte amount.
    """
    return self._counters >> 160


@external
@view
def open_orders(owner: address) -> DynArray[uint256, 128]:
    """
    @notice Open order ids of `owner` held in the first 4,096 order words
            (words are reused: as many as orders ever open at once), in word
            order, at most 128. Beyond: follow `OrderPlaced` events.
    @param owner The 20-byte owner.
    @return DynArray The order ids.
    """
    out: DynArray[uint256, 128] = []
    for key: uint256 in range(1, MAX_OPEN_SCAN + 1):
        a: uint256 = self._order_a[key]
        if a == 0 or len(out) == 128:
            break
        if a & _M160 == convert(owner, uint256):
            out.append(self._id(key, self._order_b[key] >> 224))
    return out


# ================================================================ PLACEMENT


@internal
def _check_order(
    p: book_params.Params, is_buy: bool, book: uint256, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256
) -> (uint256, uint256):
    """
    @dev The checks every new order passes (pause, flags, band, tick,
         minimum, expiry, post-only) against the parameters `p` (the
         deployable loads them once, `book_params._load()`, and passes the
         same to `_place`); returns the price index and the expiry
         (NO_EXPIRY for 0). Reserves nothing.
    """
    book_params._require_live(p)
    assert flags <= FLAG_IOC | FLAG_POST_ONLY, "exchange: unknown flags"
    assert flags != FLAG_IOC | FLAG_POST_ONLY, "exchange: ioc and post-only"
    self._check_terms(p, price, amount_wh)
    expiry: uint256 = convert(expires_at, uint256)
    if expiry == 0:
        expiry = _NO_EXPIRY
    assert expiry > block.timestamp, "exchange: expired"
    assert expiry <= _NO_EXPIRY, "exchange: expiry too far"
    idx: uint256 = price // book_params.TICK
    if flags & FLAG_POST_ONLY != 0:
        assert not self._crosses(book, is_buy, idx), "exchange: post-only would cross"
    return idx, expiry


@internal
@view
def _check_terms(p: book_params.Params, price: uint256, amount_wh: uint256):
    """
    @dev The terms every new or amended order meets: `price` (quote base
         units per kWh) in the band in force and on the tick, `amount_wh`
         (Wh) at least the minimum and below 2**56.
    """
    assert price >= p.floor_price and price <= p.ceiling_price, "exchange: price outside band"
    assert price % book_params.TICK == 0, "exchange: price not on tick"
    assert amount_wh >= p.min_order_wh, "exchange: order below minimum"
    assert amount_wh <= _M56, "exchange: order too large"


@internal
@view
def _peek_id() -> uint256:
    """
    @dev The id the order being placed gets (for the deployable's `OrderPlaced`):
         its number and the key of the first free order word (`_id`).
    """
    counters: uint256 = self._counters
    seq: uint256 = counters & _M32
    book_params._need(seq < _M32, "exchange: order ids exhausted")
    return self._id((counters >> 32) & _M32, seq)


@internal
def _place(
    order_id: uint256,
    book: uint256,
    tag: uint256,
    is_buy: bool,
    price: uint256,
    amount_wh: uint256,
    expiry: uint256,
    flags: uint256,
    p: book_params.Params,
    idx: uint256,
) -> (uint256, uint256, uint256, DynArray[uint256, MAX_SETTLE]):
    """
    @dev All effects of a checked order (`_check_order`, then `OrderPlaced`
         logged by the deployable with `order_id` from `_peek_id`): matches, then rests the remainder unless
         IOC, still crossing or below the minimum. Returns the order id (0
         if it did not rest), the Wh that neither filled nor rested (an
         ask's escrow to give back), the quote to pull from a bidder (fills,
         taker fees and a resting bid's escrow; `_pull_quote` it last) and
         the settlement list of base-asset moves for the deployable.
         The order rests in the word its id names: the first free one when
         it was placed. Makers closed here go on the free list above it.
    """
    book_params._need(book <= MAX_BOOK, "exchange: book out of range")
    book_params._need(tag <= MAX_TAG, "exchange: tag out of range")
    limit_idx: uint256 = idx
    taker_tag: uint256 = tag
    # the free list as `_peek_id` saw it: its head is this order's word (`order_key`)
    order_key: uint256 = self._key(order_id)
    free_top: uint256 = order_key
    first_freed: uint256 = 0
    # ---- matching (inlined: the settlement list is built once, in this frame): takes from the
    # opposite side while it crosses `idx`, visiting at most `max_fills` maker orders; applies every
    # effect on makers and credits quote internally; collects the base-asset settlement list: fills
    # (maker | Wh | tag; a maker's run of fills of one tag merged) and refunds of closed asks (owner |
    # Wh | tag | SETTLE_REFUND)
    side: uint256 = BID
    if is_buy:
        side = ASK
    remaining: uint256 = amount_wh
    taker_quote: uint256 = 0
    settle: DynArray[uint256, MAX_SETTLE] = []
    budget: uint256 = p.max_fills
    min_wh: uint256 = p.min_order_wh
    fees: uint256 = 0
    escrow_paid: uint256 = 0
    # the level being taken from: its index, key and word as this call has it (head | tail << 64 |
    # total << 128, written back once, when the loop leaves it or the level empties); the next maker
    # is its head, and `maker_key` 0 sends the loop to the next crossing level
    lvl: uint256 = 0
    key: uint256 = 0
    level: uint256 = 0
    maker_key: uint256 = 0
    # the last settlement entry while it is a fill: its maker | tag << 216 (0 after a refund)
    last_fill: uint256 = 0
    for _: uint256 in range(MAX_FILLS_CAP):
        if remaining == 0 or budget == 0:
            break
        if maker_key == 0:
            lvl = price_levels._crossing(book, side, limit_idx)
            if lvl == price_levels.NOT_CROSSING:
                break
            key = (book << 17) | (side << 16) | lvl
            level = price_levels._level[key]
            maker_key = level & _M64
        budget -= 1
        a: uint256 = self._order_a[maker_key]
        maker: address = self._owner(a)
        reason: uint8 = 0
        px: uint256 = lvl * book_params.TICK
        b: uint256 = self._order_b[maker_key]
        maker_left: uint256 = b & _M56
        if (a >> 177) & _M40 <= block.timestamp:
            reason = CLOSE_EXPIRED
        elif maker == msg.sender:
            reason = CLOSE_SELF_TRADE
        elif px < p.floor_price or px > p.ceiling_price:
            # left outside by a band change: no trade prints outside the band in force
            reason = CLOSE_OUT_OF_BAND
        elif maker_left < min_wh:
            # left below a raised minimum
            reason = CLOSE_BELOW_MINIMUM
        elif is_buy:
            reason = self._gate(maker, (b >> 184) & MAX_TAG)
        counted: uint256 = maker_left
        # quote owed to an ask maker for this fill: credited with its ask list when the fill closes
        # the ask (`_release`: one write of the seller's word), else here
        credit: uint256 = 0
        if reason == 0:
            w: uint256 = min(remaining, maker_left)
            q: uint256 = w * px // 1000
            maker_fee: uint256 = q * p.maker_fee_bps // 10_000
            taker_fee: uint256 = q * p.taker_fee_bps // 10_000
            fees += maker_fee + taker_fee
            # a bid's escrow; for an ask the same bits are its owner-list links and tag, unchanged
            maker_escrow: uint256 = (b >> 120) & _M96
            if is_buy:
                # taker buys from a resting ask: pays q + its fee; the seller earns q - its fee
                taker_quote += q + taker_fee
                credit = q - maker_fee
            else:
                # taker sells to a resting bid: the bid's escrow pays q + its fee (covered: see book_params._bid_escrow)
                maker_escrow -= q + maker_fee
                escrow_paid += q + maker_fee
                taker_quote += q - taker_fee
            remaining -= w
            maker_left -= w
            # w < 2**56 and the tag < 2**39 (checked when the order was placed): the
            # units of an ask maker's tag, or of the taker's own tag for a bid maker
            fill_tag: uint256 = taker_tag
            if is_buy:
                fill_tag = (b >> 184) & MAX_TAG
            fill: uint256 = convert(maker, uint256) | (fill_tag << 216)
            if fill == last_fill:
                # the maker and tag of the entry before (a maker's orders met one after the other, as a
                # ladder swept): one move for the run, so its account is settled once; the run's Wh are
                # the taker's, < 2**56
                settle[len(settle) - 1] += w << 160
            else:
                settle.append(fill | (w << 160))
                last_fill = fill
            log Trade(
                maker_order_id=self._id(maker_key, b >> 224),
                taker_order_id=order_id,
                maker=maker,
                price=px,
                amount_wh=w,
                fee=maker_fee + taker_fee,
                maker_left=maker_left,
            )
            # the order word after the fill
            b = (b & ~(_M56 | (_M96 << 120))) | maker_left | (maker_escrow << 120)
            if maker_left == 0:
                # filled: unlinking takes its w off the level total; nothing to refund but a bid's unused escrow
                reason = CLOSE_FILLED
            elif maker_left < min_wh:
                # no order below the minimum rests: the rest is refunded
                reason = CLOSE_BELOW_MINIMUM
            else:
                # partly filled and still resting (the taker is filled: the loop ends here): the level
                # total shrinks by w
                level -= w << 128
                self._order_b[maker_key] = b
                if is_buy:
                    proceeds._credit(maker, credit)
        if reason != 0:
            # closed (met and refused, filled, or left below the minimum): the head pops, the next
            # order (its `next` link) is the level's head and the next maker met; its word goes on
            # the free list above this order's own
            refund: uint256 = self._release(maker_key, a, b, reason, free_top, credit)
            if first_freed == 0:
                first_freed = maker_key
            free_top = maker_key
            if refund != 0:
                settle.append(refund)
                last_fill = 0
            maker_key = (b >> 88) & _M32
            if maker_key == 0:
                # the level is empty: cleared, off the bitmap
                level = 0
                price_levels._level[key] = 0
                price_levels._clear_bit(book, side, lvl)
            else:
                level = maker_key | (level & (_M64 << 64)) | (((level >> 128) - counted) << 128)
    if level != 0:
        # the loop left a level that still holds orders: one write for every head it popped
        price_levels._level[key] = level
    if not is_buy and taker_quote != 0:
        proceeds._credit(msg.sender, taker_quote)

    spent: uint256 = taker_quote

    rests: bool = False
    reason: uint8 = CLOSE_FILLED
    if remaining != 0:
        if flags & FLAG_IOC != 0:
            reason = CLOSE_IOC
        elif self._crosses(book, is_buy, idx):
            reason = CLOSE_UNCROSSABLE
        elif remaining < min_wh:
            reason = CLOSE_BELOW_MINIMUM
        else:
            rests = True
    rest_escrow: uint256 = 0
    if rests:
        if is_buy:
            rest_escrow = book_params._bid_escrow(remaining, price)
            book_params._need(rest_escrow <= _M96, "exchange: order too large")
        # take this order's word off the free list: the next free key is in its word A (a word
        # never used is followed by key + 1); makers freed above it now point past it
        nxt: uint256 = order_key + 1
        a0: uint256 = self._order_a[order_key]
        if a0 != 0:
            nxt = (a0 >> 160) & _M32
        if first_freed == 0:
            free_top = nxt
        else:
            self._order_a[first_freed] = _FREE | (nxt << 160)
    # one write for the next number, the free list, the escrow total and the fees (closes during
    # matching may have refunded escrow: read the word again, warm); escrow_paid was taken from the
    # escrow of open bids
    counters: uint256 = self._counters
    escrow_total: uint256 = ((counters >> 64) & _M96) - escrow_paid + rest_escrow
    fees += counters >> 160
    book_params._need(escrow_total <= _M96 and fees <= _M96, "exchange: counters overflow")
    self._counters = ((order_id & _M32) + 1) | (free_top << 32) | (escrow_total << 64) | (fees << 160)
    if rests:
        self._insert(order_key, order_id & _M32, book, tag, msg.sender, is_buy, idx, expiry, remaining, rest_escrow)
        if is_buy:
            return order_id, 0, spent + rest_escrow, settle
        return order_id, 0, 0, settle
    if reason != CLOSE_FILLED:
        # a taker filled in full: its `Trade`s add up to its `OrderPlaced` amount
        log OrderClosed(order_id=order_id, reason=reason, refunded=0)
    if is_buy:
        return 0, 0, spent, settle
    return 0, remaining, 0, settle


# ================================================================ MATCHING


@internal
@view
def _gate(maker: address, tag: uint256) -> uint8:
    """
    @dev Why a resting ask may not sell now (0 when it may): its seller is
         in rent arrears (7), or its certificate is revoked or expired (10).
    """
    if _GATE_KIND == GATE_SELLER_ARREARS:
        if staticcall IWattEscrow(_GATE).in_arrears(maker):
            return CLOSE_ARREARS
    elif _GATE_KIND == GATE_CERTIFICATE:
        method: uint8 = 0
        period_end: uint64 = 0
        revoked: bool = False
        expires_at: uint64 = 0
        method, period_end, revoked, expires_at = staticcall ICertificateMarket(_GATE).trade_info(tag)
        # the certificate's one expiry rule: live while block.timestamp < expires_at
        if revoked or block.timestamp >= convert(expires_at, uint256):
            return CLOSE_UNIT_UNUSABLE
    return 0


@internal
def _release(key: uint256, a: uint256, b: uint256, reason: uint8, free_next: uint256, credit: uint256) -> uint256:
    """
    @dev Refunds what is left of the order in word `key`, already off its
         level, and frees the word (word A := _FREE | `free_next` << 160;
         the caller makes `key` the free list's head). `a`, `b` are its
         words as they are now (a fill may have changed `b` in memory only)
         and `credit` the quote the fill that closed an ask owes its seller.
         A bid's quote is credited to `proceeds_of`; an ask's base asset is
         returned as a settlement word (owner | Wh | tag | SETTLE_REFUND), 0
         when nothing is left, for the deployable to give back.
    """
    owner: address = self._owner(a)
    is_buy: bool = (a >> 160) & 1 == 1
    left: uint256 = b & _M56
    self._order_a[key] = _FREE | (free_next << 160)
    refunded: uint256 = left
    if is_buy:
        refunded = (b >> 120) & _M96
        if refunded != 0:
            self._counters -= refunded << 64
            proceeds._credit(owner, refunded)
    elif _GATE_KIND == GATE_SELLER_ARREARS:
        self._unlink_ask(owner, b, credit)
    elif credit != 0:
        proceeds._credit(owner, credit)
    if reason != CLOSE_FILLED or refunded != 0:
        # a fill that closed it with nothing to give back: `Trade`'s maker_left 0 said it
        log OrderClosed(order_id=self._id(key, b >> 224), reason=reason, refunded=refunded)
    if is_buy or left == 0:
        return 0
    return convert(owner, uint256) | (left << 160) | (((b >> 184) & MAX_TAG) << 216) | SETTLE_REFUND


@internal
@view
def _open(order_id: uint256) -> (uint256, uint256, uint256):
    """
    @dev The word key and words A, B of an open order; reverts for an id
         that names no open order (never placed, closed, or its word reused).
    """
    key: uint256 = self._key(order_id)
    a: uint256 = self._order_a[key]
    b: uint256 = self._order_b[key]
    book_params._need(a & _M160 != 0 and self._id(key, b >> 224) == order_id, "exchange: unknown order")
    return key, a, b


@internal
def _cancel(order_id: uint256, expired: bool) -> (address, uint256):
    """
    @dev `cancel_order` (`expired` false: the caller's own open order) and
         `cancel_expired` (true: anyone closes an expired order). Returns
         the owner and the ask's settlement word (0 for a bid or nothing
         left); the order's word goes at the head of the free list.
    """
    key: uint256 = 0
    a: uint256 = 0
    b: uint256 = 0
    key, a, b = self._open(order_id)
    owner: address = self._owner(a)
    reason: uint8 = CLOSE_CANCELLED
    if expired:
        book_params._need((a >> 177) & _M40 <= block.timestamp, "exchange: order not expired")
        reason = CLOSE_EXPIRED
    else:
        book_params._need(owner == msg.sender, "exchange: caller is not the order owner")
    side: uint256 = ASK
    if (a >> 160) & 1 == 1:
        side = BID
    # off its level (all it still counts for there), then refunded and freed
    self._unlink(key, a >> 217, side, (a >> 161) & 65535, b, b & _M56)
    refund: uint256 = self._release(key, a, b, reason, (self._counters >> 32) & _M32, 0)
    # read again: closing a bid took its escrow off the total
    self._counters = (self._counters & ~(_M32 << 32)) | (key << 32)
    return owner, refund


@internal
def _amend(order_id: uint256, price: uint256, amount_wh: uint256, p: book_params.Params) -> (bool, uint256, uint256, uint256, uint256):
    """
    @dev `amend_order`: the caller's own open, unexpired order gets a new
         price (quote base units per kWh) and remaining amount (Wh) and
         keeps its id. The new terms meet the rules of a new order (pause,
         band, tick, minimum, size, `_check_terms`); a new price may not
         cross the other side (an amend never trades). A price change or
         an increase moves the order to the tail of its (new) level: it
         loses its time priority; a decrease at the same price keeps it.
         A bid's escrow becomes that of a new bid on the new terms: the
         difference is pulled from the owner or credited to `proceeds_of`.
         Returns is_buy, the ask's tag, the Wh an ask escrows more and the
         Wh it gets back, and the quote to pull from a bidder (`_pull` it
         last). Logs `OrderAmended` with the new terms.
    """
    book_params._require_live(p)
    key: uint256 = 0
    a: uint256 = 0
    b: uint256 = 0
    key, a, b = self._open(order_id)
    assert self._owner(a) == msg.sender, "exchange: caller is not the order owner"
    assert (a >> 177) & _M40 > block.timestamp, "exchange: order expired"
    self._check_terms(p, price, amount_wh)
    is_buy: bool = (a >> 160) & 1 == 1
    side: uint256 = ASK
    if is_buy:
        side = BID
    book: uint256 = a >> 217
    old_idx: uint256 = (a >> 161) & 65535
    idx: uint256 = price // book_params.TICK
    left: uint256 = b & _M56
    assert idx != old_idx or amount_wh != left, "exchange: nothing to amend"
    level_key: uint256 = (book << 17) | (side << 16) | old_idx
    level: uint256 = price_levels._level[level_key]
    if idx == old_idx and (amount_wh < left or (level >> 64) & _M64 == key):
        # a decrease keeps its place, an increase of the level's last order is at the tail already:
        # only the level total changes (it holds `left` for this order)
        price_levels._level[level_key] = level - (left << 128) + (amount_wh << 128)
    else:
        if idx != old_idx:
            assert not self._crosses(book, is_buy, idx), "exchange: amend would cross"
            self._order_a[key] = (a & ~(65535 << 161)) | (idx << 161)
        # to the tail of its level: off the old one (which may be the same), onto the new one
        self._unlink(key, book, side, old_idx, b, left)
        prev: uint256 = self._link(key, book, side, idx, amount_wh)
        b = (b & ~((_M32 << 56) | (_M32 << 88))) | (prev << 56)
    b = (b & ~_M56) | amount_wh
    quote_in: uint256 = 0
    if is_buy:
        old_escrow: uint256 = (b >> 120) & _M96
        new_escrow: uint256 = book_params._bid_escrow(amount_wh, price)
        counters: uint256 = self._counters
        if new_escrow > old_escrow:
            quote_in = new_escrow - old_escrow
            # the total holds old_escrow: this also keeps new_escrow below 2**96
            assert ((counters >> 64) & _M96) + quote_in <= _M96, "exchange: order too large"
            self._counters = counters + (quote_in << 64)
        else:
            self._counters = counters - ((old_escrow - new_escrow) << 64)
            proceeds._credit(msg.sender, old_escrow - new_escrow)
        b = (b & ~(_M96 << 120)) | (new_escrow << 120)
    self._order_b[key] = b
    log OrderAmended(order_id=order_id, price=price, amount_wh=amount_wh)
    if is_buy:
        return True, 0, 0, 0, quote_in
    if amount_wh > left:
        return False, (b >> 184) & MAX_TAG, amount_wh - left, 0, 0
    return False, (b >> 184) & MAX_TAG, 0, left - amount_wh, 0


@internal
def _close_asks_of(account: address) -> uint256:
    """
    @dev Closes every open ask of `account` (reason 7) without returning
         the escrow (the caller, WATT, takes it itself); returns the Wh left.
         Their words go on the free list.
    """
    own: uint256 = proceeds._accounts[account]
    key: uint256 = (own >> _ASKS_SHIFT) & _M32
    if key == 0:
        return 0
    free_top: uint256 = (self._counters >> 32) & _M32
    total: uint256 = 0
    for _: uint256 in range(MAX_ASKS_PER_OWNER):
        if key == 0:
            break
        a: uint256 = self._order_a[key]
        b: uint256 = self._order_b[key]
        left: uint256 = b & _M56
        self._unlink(key, a >> 217, ASK, (a >> 161) & 65535, b, left)
        self._order_a[key] = _FREE | (free_top << 160)
        free_top = key
        log OrderClosed(order_id=self._id(key, b >> 224), reason=CLOSE_ARREARS, refunded=left)
        # each ask < 2**56 Wh, at most 64 of them
        total = unsafe_add(total, left)
        key = (b >> 152) & _M32
    proceeds._accounts[account] = (own << proceeds.MARKET_BITS) >> proceeds.MARKET_BITS
    self._counters = (self._counters & ~(_M32 << 32)) | (free_top << 32)
    return total


@internal
def _insert(
    key: uint256, seq: uint256, book: uint256, tag: uint256, owner: address, is_buy: bool, idx: uint256, expiry: uint256, amount: uint256, escrow: uint256
):
    """
    @dev Writes a resting order's two words at `key` (a reused word: 5,000 gas each) and links it.
    """
    side: uint256 = ASK
    buy_bit: uint256 = 0
    if is_buy:
        side = BID
        buy_bit = 1
    prev: uint256 = self._link(key, book, side, idx, amount)
    payload: uint256 = escrow
    if not is_buy:
        payload = tag << 64
    if not is_buy and _GATE_KIND == GATE_SELLER_ARREARS:
        # push on the owner's ask list (kept where WATT's `release_unpaid` needs
        # `_close_asks_of`): the new ask becomes its head
        own: uint256 = proceeds._accounts[owner]
        count: uint256 = (own >> (_ASKS_SHIFT + 32)) & 127
        book_params._need(count < MAX_ASKS_PER_OWNER, "exchange: too many open asks")
        old_head: uint256 = (own >> _ASKS_SHIFT) & _M32
        if old_head != 0:
            self._order_b[old_head] = self._order_b[old_head] | (key << 120)
        proceeds._accounts[owner] = ((own << proceeds.MARKET_BITS) >> proceeds.MARKET_BITS) | ((key | ((count + 1) << 32) | _ASKS_KEPT) << _ASKS_SHIFT)
        payload |= old_head << 32
    self._order_a[key] = convert(owner, uint256) | (buy_bit << 160) | (idx << 161) | (expiry << 177) | (book << 217)
    self._order_b[key] = amount | (prev << 56) | (payload << 120) | (seq << 224)


@internal
def _link(key: uint256, book: uint256, side: uint256, idx: uint256, amount: uint256) -> uint256:
    """
    @dev Appends the order in word `key`, of `amount` Wh, at the tail of its
         level (the level's total grows by it); returns its `prev` link (the
         old tail, 0 for a new level). The caller writes the order's word.
    """
    level_key: uint256 = (book << 17) | (side << 16) | idx
    level: uint256 = price_levels._level[level_key]
    if level == 0:
        price_levels._level[level_key] = key | (key << 64) | (amount << 128)
        price_levels._set_bit(book, side, idx)
        return 0
    prev: uint256 = (level >> 64) & _M64
    # the old tail points forward to the new order (a tail's `next` is 0)
    self._order_b[prev] = self._order_b[prev] | (key << 88)
    price_levels._level[level_key] = (level & _M64) | (key << 64) | (((level >> 128) + amount) << 128)
    return prev


@internal
def _unlink_ask(owner: address, b: uint256, credit: uint256):
    """
    @dev Removes an ask (its order word `b`) from its owner's ask list and
         credits the owner `credit` quote base units in the same write.
    """
    oprev: uint256 = (b >> 120) & _M32
    onext: uint256 = (b >> 152) & _M32
    if oprev != 0:
        self._order_b[oprev] = (self._order_b[oprev] & ~(_M32 << 152)) | (onext << 152)
    if onext != 0:
        self._order_b[onext] = (self._order_b[onext] & ~(_M32 << 120)) | (oprev << 120)
    own: uint256 = proceeds._accounts[owner]
    head: uint256 = (own >> _ASKS_SHIFT) & _M32
    if oprev == 0:
        head = onext
    # the ask is on the list: its count is >= 1; without it, an empty list's head is 0 (onext of the last ask)
    count: uint256 = unsafe_sub((own >> (_ASKS_SHIFT + 32)) & 127, 1)
    # the quote stays below 2**216 (proceeds._accounts): the credit never reaches the list's bits
    quote: uint256 = ((own << proceeds.MARKET_BITS) >> proceeds.MARKET_BITS) + credit
    proceeds._accounts[owner] = quote | ((head | (count << 32) | _ASKS_KEPT) << _ASKS_SHIFT)


@internal
def _unlink(key: uint256, book: uint256, side: uint256, idx: uint256, b: uint256, counted: uint256):
    """
    @dev Takes the order in word `key` off its level. The `prev` link of a
         level's head is never read (it may name a word that is free or
         reused): removing the head, which is what every fill does, writes
         only the level word and not the next order's word.
    """
    level_key: uint256 = (book << 17) | (side << 16) | idx
    level: uint256 = price_levels._level[level_key]
    prev: uint256 = (b >> 56) & _M32
    nxt: uint256 = (b >> 88) & _M32
    head: uint256 = level & _M64
    tail: uint256 = (level >> 64) & _M64
    if head == key:
        # the next order becomes the head: its stale `prev` is never read
        head = nxt
        if nxt == 0:
            tail = 0
    else:
        self._order_b[prev] = (self._order_b[prev] & ~(_M32 << 88)) | (nxt << 88)
        if nxt != 0:
            self._order_b[nxt] = (self._order_b[nxt] & ~(_M32 << 56)) | (prev << 56)
        else:
            tail = prev
    if head == 0:
        price_levels._level[level_key] = 0
        price_levels._clear_bit(book, side, idx)
    else:
        price_levels._level[level_key] = head | (tail << 64) | (((level >> 128) - counted) << 128)


@internal
@view
def _crosses(book: uint256, is_buy: bool, idx: uint256) -> bool:
    side: uint256 = BID
    if is_buy:
        side = ASK
    return price_levels._crossing(book, side, idx) != price_levels.NOT_CROSSING


@internal
@pure
def _owner(a: uint256) -> address:
    return convert(convert(a & _M160, uint160), address)


@internal
@pure
def _id(key: uint256, seq: uint256) -> uint256:
    """
    @dev An order's id from its word's key and its number: the number alone
         when they are equal (every order until words are reused), else
         number | key << 32. Unique: the number is.
    """
    if key == seq:
        return seq
    return seq | (key << 32)


@internal
@pure
def _key(order_id: uint256) -> uint256:
    """
    @dev The word key an id names (see `_id`).
    """
    if order_id >> 32 == 0:
        return order_id
    return order_id >> 32


# ================================================================ VIEWS (internal)


@internal
@view
def _order_fields(order_id: uint256) -> (address, bool, uint256, uint256, uint64, uint256, uint256, uint256):
    """
    @dev An open order's owner, side, price (quote base units per kWh),
         remaining Wh, expiry, quote escrow (bids), book and tag (asks);
         all zero once closed.
    """
    key: uint256 = self._key(order_id)
    a: uint256 = self._order_a[key]
    b: uint256 = self._order_b[key]
    if a & _M160 == 0 or self._id(key, b >> 224) != order_id:
        return empty(address), False, 0, 0, 0, 0, 0, 0
    is_buy: bool = (a >> 160) & 1 == 1
    escrow: uint256 = (b >> 120) & _M96
    tag: uint256 = 0
    if not is_buy:
        escrow = 0
        tag = (b >> 184) & MAX_TAG
    return self._owner(a), is_buy, ((a >> 161) & 65535) * book_params.TICK, b & _M56, convert((a >> 177) & _M40, uint64), escrow, a >> 217, tag


@internal
@view
def _top(book: uint256, is_buy: bool) -> (uint256, uint256):
    """
    @dev The best level of one side of `book`: price (quote base units per kWh) and Wh; zeros if empty.
    """
    side: uint256 = ASK
    if is_buy:
        side = BID
    return price_levels._top(book, side, book_params.TICK)


@internal
@view
def _depth(book: uint256, is_buy: bool, levels: uint256) -> DynArray[price_levels.Level, price_levels.MAX_DEPTH]:
    """
    @dev Up to `levels` (<= 32) levels of one side of `book`, best first.
    """
    side: uint256 = ASK
    if is_buy:
        side = BID
    return price_levels._depth(book, side, levels, book_params.TICK)
