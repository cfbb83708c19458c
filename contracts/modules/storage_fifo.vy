# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title The battery's green content: a first-in-first-out ring of charge lots
@custom:contract-name storage_fifo
@license GNU Affero General Public License v3.0 only
@notice A lot is the green charge (Wh) of one or more consecutive charge
        slots: (first_slot, last_slot, wh). Lots join at the back and are
        taken from the front, so no lot is touched while an older lot has
        Wh left (docs/rules.md "Green energy through the battery"). The
        ring holds at most `MAX_LOTS` lots: when it is full, a new charge
        merges into the newest lot (its `last_slot` moves), which changes
        no amount, only how finely provenance is labelled. Every loop is
        therefore bounded by `MAX_LOTS` pops per take.
        Storage: one word per lot (first_slot 48 bits | last_slot 48 bits
        << 48 | wh << 96) and one state word (head 64 bits | tail 64 bits
        << 64 | content Wh << 128); the caller reads the state word once
        (`_state`), works on it in memory and writes it once (`_save`).
"""

# @dev The most lots the ring holds (10 days of 96 charging slots): bounds each take's loop.
MAX_LOTS: constant(uint256) = 1_024

_MASK48: constant(uint256) = 2**48 - 1
_MASK64: constant(uint256) = 2**64 - 1
_MASK128: constant(uint256) = 2**128 - 1
_SHIFT_LAST: constant(uint256) = 48
_SHIFT_WH: constant(uint256) = 96
_SHIFT_TAIL: constant(uint256) = 64
_SHIFT_CONTENT: constant(uint256) = 128


struct Lot:
    first_slot: uint256
    last_slot: uint256
    wh: uint256


# @dev Sequence number => packed lot (zero once taken whole).
_lots: HashMap[uint256, uint256]

# @dev head (the oldest lot's number) | tail (the next free number) << 64 | content (Wh) << 128.
_ring: uint256


@internal
@view
def _state() -> uint256:
    """
    @dev The packed ring state, to pass to `_push` / `_take` and write back with `_save`.
    """
    return self._ring


@internal
def _save(state: uint256):
    self._ring = state


@internal
@pure
def _content_of(state: uint256) -> uint256:
    """
    @dev The green content (Wh) of a packed state.
    """
    return state >> _SHIFT_CONTENT


@internal
def _push(state: uint256, slot: uint256, wh: uint256) -> uint256:
    """
    @dev Adds `wh` Wh charged in `slot` at the back (`slot` after every lot's
         slots, `wh` > 0, `slot` < 2**48); merges into the newest lot when the
         ring is full. Returns the new state.
    """
    head: uint256 = state & _MASK64
    tail: uint256 = (state >> _SHIFT_TAIL) & _MASK64
    content: uint256 = state >> _SHIFT_CONTENT
    assert content + wh <= _MASK128, "storage: content overflow"
    if tail - head == MAX_LOTS:
        newest: uint256 = self._lots[tail - 1]
        self._lots[tail - 1] = (newest & _MASK48) | (slot << _SHIFT_LAST) | (((newest >> _SHIFT_WH) + wh) << _SHIFT_WH)
    else:
        self._lots[tail] = slot | (slot << _SHIFT_LAST) | (wh << _SHIFT_WH)
        tail += 1
    return head | (tail << _SHIFT_TAIL) | ((content + wh) << _SHIFT_CONTENT)


@internal
def _take(state: uint256, wh: uint256) -> (uint256, uint256, uint256):
    """
    @dev Removes `wh` Wh (at most the content) from the front. Returns the new
         state and the first and last charge slot of the lots it touched
         (0, 0 when `wh` is 0). At most `MAX_LOTS` lots are popped: the ring
         never holds more.
    """
    if wh == 0:
        return state, 0, 0
    head: uint256 = state & _MASK64
    tail: uint256 = (state >> _SHIFT_TAIL) & _MASK64
    content: uint256 = state >> _SHIFT_CONTENT
    assert wh <= content, "storage: taken out of bounds"
    left: uint256 = wh
    first: uint256 = self._lots[head] & _MASK48
    last: uint256 = 0
    for _i: uint256 in range(MAX_LOTS):
        lot: uint256 = self._lots[head]
        lot_wh: uint256 = lot >> _SHIFT_WH
        last = (lot >> _SHIFT_LAST) & _MASK48
        if left < lot_wh:
            self._lots[head] = (lot & (2**_SHIFT_WH - 1)) | ((lot_wh - left) << _SHIFT_WH)
            left = 0
            break
        self._lots[head] = 0
        head += 1
        left -= lot_wh
        if left == 0:
            break
    # content = the lots' Wh, so the loop always ends with nothing left
    assert left == 0, "storage: queue inconsistent"
    return head | (tail << _SHIFT_TAIL) | ((content - wh) << _SHIFT_CONTENT), first, last


@internal
@view
def _lots_view() -> DynArray[Lot, MAX_LOTS]:
    """
    @dev The lots, oldest first.
    """
    state: uint256 = self._ring
    head: uint256 = state & _MASK64
    tail: uint256 = (state >> _SHIFT_TAIL) & _MASK64
    out: DynArray[Lot, MAX_LOTS] = []
    for i: uint256 in range(head, tail, bound=MAX_LOTS):
        lot: uint256 = self._lots[i]
        out.append(Lot(first_slot=lot & _MASK48, last_slot=(lot >> _SHIFT_LAST) & _MASK48, wh=lot >> _SHIFT_WH))
    return out
