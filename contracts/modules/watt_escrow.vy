# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title WATT escrow: energy put up for sale on the EnergyExchange or the EnergyAuction
@custom:contract-name watt_escrow
@license GNU Affero General Public License v3.0 only
@notice WATT for an open sell order stays its seller's (`escrowed_of`) and
        keeps paying rent; only the two registered markets, the continuous
        book (`set_exchange`) and the slot auction (`set_auction`), each
        wired once at deploy, can escrow, release or deliver it. An
        account's escrow is one figure, the sum over both markets.
        Exported externals (through WattToken): `escrow`, `release_escrow`,
        `sell` (a taker ask's fills and escrow in one call), `settle_escrow`
        (a taker bid's fills and closed asks in one call), `set_exchange`,
        `set_auction`; views
        `escrowed_of`, `exchange`, `auction`.
@custom:security An account in arrears cannot escrow or sell WATT or have
        its escrow delivered (`escrow`, `sell` and `settle_escrow` refuse
        such a seller; the exchange closes its asks instead of filling
        them); releases always work. One call per taker, whatever the
        number of makers; the book merges consecutive fills of one maker
        into one move (`order_book`), so a maker's account is settled once
        per run of its orders met. Every move settles the account's rent first
        (`storage_rent._settled`) and writes it back through one `_save`.
        The `settle_escrow` move stays a packed word (account | Wh << 160 |
        release flag << 255): a struct array (address, uint256, bool) costs
        4,427 more gas on a one-maker take and 347 more per extra maker
        (measured on the same book; see the issue note), and the moves are
        readable as `EscrowDelivered`/`EscrowReleased`/`Transfer` events.
"""

from ethereum.ercs import IERC20

# @dev Operator role, for the one-time wiring (the deployable initializes it).
from snekmate.auth import ownable

uses: ownable

# @dev Accounts are loaded, charged and saved by the rent ledger.
from . import storage_rent

uses: storage_rent

# ---------------------------------------------------------------- CONSTANTS

_MASK56: constant(uint256) = 2**56 - 1
_MASK160: constant(uint256) = 2**160 - 1
# `settle_escrow` move word: account (160) | Wh << 160 (56) | release flag (bit 255)
_MOVE_RELEASE: constant(uint256) = 2**255

# ---------------------------------------------------------------- STORAGE

# @dev The EnergyExchange: one of the two markets that may move escrow.
exchange: public(address)

# @dev The EnergyAuction (slot market): the other market that may move escrow; empty until wired.
auction: public(address)

# @dev Address => true for the two wired markets: the one word every escrow call reads to admit
#      its caller (two address words would cost the second market a second cold read, 2,100 gas).
_is_market: HashMap[address, bool]

# ---------------------------------------------------------------- EVENTS


event Escrowed:
    account: indexed(address)
    wh: uint256


event EscrowReleased:
    account: indexed(address)
    wh: uint256


event EscrowDelivered:
    seller: indexed(address)
    buyer: indexed(address)
    wh: uint256


event UpdateExchange:
    exchange: indexed(address)


event UpdateAuction:
    auction: indexed(address)


# ================================================================ EXCHANGE ESCROW


@external
def escrow(account: address, wh: uint256):
    """
    @notice Moves `wh` of `account`'s free WATT into escrow for a sell order
            (a registered market only). Escrow stays the account's and keeps paying rent.
    @param account The 20-byte seller.
    @param wh The 32-byte amount in Wh.
    """
    self._check_market()
    acct: storage_rent.Account = storage_rent._settled(account)
    assert acct.arrears == 0, "watt: account in arrears"
    assert acct.balance >= wh, "watt: escrow exceeds balance"
    acct.balance = unsafe_sub(acct.balance, wh)
    acct.escrowed += wh
    storage_rent._save(account, acct)
    log Escrowed(account=account, wh=wh)


@external
def release_escrow(account: address, wh: uint256):
    """
    @notice Returns `wh` of `account`'s escrow to its free balance (a registered market only).
    @param account The 20-byte seller.
    @param wh The 32-byte amount in Wh.
    """
    self._check_market()
    acct: storage_rent.Account = storage_rent._settled(account)
    assert acct.escrowed >= wh, "watt: release exceeds escrow"
    acct.escrowed = unsafe_sub(acct.escrowed, wh)
    acct.balance = unsafe_add(acct.balance, wh)
    storage_rent._save(account, acct)
    log EscrowReleased(account=account, wh=wh)


@external
def sell(seller: address, ask_wh: uint256, dropped_wh: uint256, moves: DynArray[uint256, 128]):
    """
    @notice Carries out a taker ask's WATT in one call (a registered market
            only). The ask's `ask_wh` must be covered by `seller`'s free
            balance (refused while the seller is in arrears); each move,
            buyer (160) | Wh << 160 (56), goes from that balance to a bidder
            the ask filled; `dropped_wh` (neither filled nor resting) stays
            free; the rest goes into escrow for the part that rests. The
            seller is settled once; each move is logged as a `Transfer`, the
            escrow as `Escrowed`.
    @param seller The 20-byte seller (the taker).
    @param ask_wh The 32-byte amount of the ask in Wh.
    @param dropped_wh The 32-byte Wh that neither filled nor rests.
    @param moves Up to 128 move words, one per fill.
    """
    self._check_market()
    s: storage_rent.Account = storage_rent._settled(seller)
    assert s.arrears == 0, "watt: account in arrears"
    assert s.balance >= ask_wh, "watt: escrow exceeds balance"
    sold: uint256 = 0
    for m: uint256 in moves:
        # at most 128 moves of < 2**56 Wh each: no overflow
        sold = unsafe_add(sold, (m >> 160) & _MASK56)
    # checked addition: nothing in the ABI bounds a market's `dropped_wh`
    assert sold + dropped_wh <= ask_wh, "watt: sale exceeds ask"
    rest: uint256 = unsafe_sub(unsafe_sub(ask_wh, dropped_wh), sold)
    # dropped_wh <= ask_wh <= balance: the seller keeps its dropped Wh free
    s.balance = unsafe_sub(s.balance, unsafe_sub(ask_wh, dropped_wh))
    s.escrowed = unsafe_add(s.escrowed, rest)
    storage_rent._save(seller, s)
    if rest != 0:
        log Escrowed(account=seller, wh=rest)
    for m: uint256 in moves:
        buyer: address = convert(convert(m & _MASK160, uint160), address)
        wh: uint256 = (m >> 160) & _MASK56
        assert buyer != empty(address), "watt: transfer to the zero address"
        b: storage_rent.Account = storage_rent._settled(buyer)
        # the seller's balance gave it: < 2**56
        b.balance = unsafe_add(b.balance, wh)
        storage_rent._save(buyer, b)
        log IERC20.Transfer(sender=seller, receiver=buyer, value=wh)


@external
def settle_escrow(buyer: address, moves: DynArray[uint256, 128]):
    """
    @notice Carries out a taker bid's base-asset settlement in one call
            (a registered market only), in order: each word is account (160) | Wh <<
            160 (56) | flag << 255. A flagged word returns Wh of the
            account's escrow to its free balance (an ask the book closed),
            as `release_escrow`; any other delivers Wh from the seller's
            escrow to `buyer` (refused while the seller is in arrears),
            logged as `EscrowDelivered` and `Transfer`. The book merges a
            seller's consecutive fills into one word. The buyer is settled
            and credited once, with the sum of the deliveries.
    @param buyer The 20-byte buyer (the taker).
    @param moves Up to 128 move words.
    """
    self._check_market()
    assert buyer != empty(address), "watt: transfer to the zero address"
    total: uint256 = 0
    for m: uint256 in moves:
        account: address = convert(convert(m & _MASK160, uint160), address)
        wh: uint256 = (m >> 160) & _MASK56
        acct: storage_rent.Account = storage_rent._settled(account)
        assert acct.escrowed >= wh, "watt: move exceeds escrow"
        acct.escrowed = unsafe_sub(acct.escrowed, wh)
        if m & _MOVE_RELEASE != 0:
            # balance + escrow <= totalSupply < 2**56
            acct.balance = unsafe_add(acct.balance, wh)
            storage_rent._save(account, acct)
            log EscrowReleased(account=account, wh=wh)
        else:
            assert acct.arrears == 0, "watt: seller in arrears"
            storage_rent._save(account, acct)
            # the deliveries come out of escrow: their sum <= totalSupply < 2**56
            total = unsafe_add(total, wh)
            log EscrowDelivered(seller=account, buyer=buyer, wh=wh)
            log IERC20.Transfer(sender=account, receiver=buyer, value=wh)
    if total != 0:
        b: storage_rent.Account = storage_rent._settled(buyer)
        b.balance = unsafe_add(b.balance, total)
        storage_rent._save(buyer, b)


@external
def set_exchange(exchange_: address):
    """
    @notice Wires the EnergyExchange, the only mover of escrow. Callable once.
    @param exchange_ The 20-byte EnergyExchange address.
    """
    ownable._check_owner()
    assert self.exchange == empty(address), "watt: exchange already set"
    assert exchange_ != empty(address), "watt: zero exchange"
    self.exchange = exchange_
    self._is_market[exchange_] = True
    log UpdateExchange(exchange=exchange_)


@external
def set_auction(auction_: address):
    """
    @notice Wires the EnergyAuction, the second mover of escrow. Callable
            once. The auction must implement `close_asks_of` (IAskBook)
            without calling WATT back: `release_unpaid` reaches its escrow
            through it.
    @param auction_ The 20-byte EnergyAuction address.
    """
    ownable._check_owner()
    assert self.auction == empty(address), "watt: auction already set"
    assert auction_ != empty(address), "watt: zero auction"
    self.auction = auction_
    self._is_market[auction_] = True
    log UpdateAuction(auction=auction_)


@internal
@view
def _check_market():
    # set only by `set_exchange`/`set_auction`, each once, never for the zero address
    assert self._is_market[msg.sender], "watt: caller is not a market"


@external
@view
def escrowed_of(account: address) -> uint256:
    """
    @notice WATT of `account` held in escrow for its open sell orders on both markets.
    @param account The 20-byte account.
    @return uint256 The 32-byte escrow in Wh.
    """
    return storage_rent._load(account).escrowed
