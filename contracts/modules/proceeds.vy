# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Proceeds ledger: a market's internal quote balances
@custom:contract-name proceeds
@license GNU Affero General Public License v3.0 only
@notice What a market owes its traders in the quote token — sale proceeds,
        refunds of bid escrow — is credited here (`_credit`) instead of
        pushed, and each owner withdraws it (`withdraw_proceeds`, which
        works while the market is paused). The quote a bidder pays on the
        books comes out of that balance first and the rest from its wallet
        (`_pay_in`, last, after every effect; `_pull` for the wallet alone).
        Exported externals (through the deployable): `withdraw_proceeds`,
        the views `proceeds_of`, `QUOTE`.
        An owner's word holds its quote in the low 216 bits and leaves the
        top 40 to the market (`_accounts`): the energy book keeps the
        owner's ask list there, in the word a fill already writes for the
        seller, so a fill that closes an ask touches no other word for it.
@custom:security Matching never pushes a token to a maker: a failing or
        hostile quote token can stop only the caller's own withdrawal.
        The market keeps its quote balance >= the sum of `proceeds_of` +
        the escrow of open bids + unclaimed fees (DESIGN.md invariant 4).
"""

from ethereum.ercs import IERC20

# ---------------------------------------------------------------- IMMUTABLES

# @dev The quote token (a stablecoin).
QUOTE: public(immutable(IERC20))

# ---------------------------------------------------------------- CONSTANTS

# an owner's word: quote in the low QUOTE_BITS, the market's own MARKET_BITS above them; the quote of a
# word is `(word << MARKET_BITS) >> MARKET_BITS` (shifts: smaller code than a 27-byte mask)
QUOTE_BITS: constant(uint256) = 216
MARKET_BITS: constant(uint256) = 256 - QUOTE_BITS

# ---------------------------------------------------------------- STORAGE

# @dev Owner => quote base units withdrawable (sale proceeds, refunds, deposits; low 216 bits) | the
#      market's own 40 bits << 216 (the energy book's ask list of the owner, see order_book; 0 elsewhere).
#      Credits add to the whole word: a balance stays below 2**216 (no token's base units come near it),
#      so it never carries into the market's bits.
_accounts: HashMap[address, uint256]

# ---------------------------------------------------------------- EVENTS


event ProceedsWithdrawn:
    owner: indexed(address)
    amount: uint256


@deploy
def __init__(quote_: IERC20):
    """
    @param quote_ The 20-byte quote token.
    """
    QUOTE = quote_


@external
@view
def proceeds_of(owner: address) -> uint256:
    """
    @notice Quote `owner` may withdraw here: sale proceeds, refunds of bid escrow, deposits.
    @param owner The 20-byte owner.
    @return uint256 The 32-byte balance in quote base units.
    """
    # the quote alone: the low QUOTE_BITS
    return (self._accounts[owner] << MARKET_BITS) >> MARKET_BITS


@external
@nonreentrant
def withdraw_proceeds(amount: uint256):
    """
    @notice Withdraws quote from the caller's internal balance (works while paused).
    @param amount The 32-byte amount in quote base units.
    """
    word: uint256 = self._accounts[msg.sender]
    assert amount <= (word << MARKET_BITS) >> MARKET_BITS, "exchange: amount exceeds proceeds"
    # from the low bits only: the market's bits above them stay
    self._accounts[msg.sender] = unsafe_sub(word, amount)
    log ProceedsWithdrawn(owner=msg.sender, amount=amount)
    assert extcall QUOTE.transfer(msg.sender, amount, default_return_value=True), "exchange: quote transfer failed"


@internal
def _credit(owner: address, amount: uint256):
    """
    @dev Credits `amount` quote base units to `owner`'s withdrawable balance.
    """
    self._accounts[owner] += amount


@internal
def _pull(amount: uint256):
    """
    @dev Pulls a bidder's quote, in base units (last, after every effect).
    """
    if amount != 0:
        assert extcall QUOTE.transferFrom(msg.sender, self, amount, default_return_value=True), "exchange: quote transfer failed"


@internal
def _pay_in(amount: uint256):
    """
    @dev Takes `amount` quote base units from the caller, a bidder: out of its balance here
         (`proceeds_of`: proceeds, refunds, deposits) first, the rest pulled from its wallet
         (last, after every effect).
    """
    if amount == 0:
        return
    word: uint256 = self._accounts[msg.sender]
    use: uint256 = min((word << MARKET_BITS) >> MARKET_BITS, amount)
    if use != 0:
        self._accounts[msg.sender] = unsafe_sub(word, use)
    self._pull(unsafe_sub(amount, use))


@internal
def _pay(to: address, amount: uint256):
    """
    @dev Sends `amount` quote base units out (fees to the treasury; effects done).
    """
    assert extcall QUOTE.transfer(to, amount, default_return_value=True), "exchange: quote transfer failed"
