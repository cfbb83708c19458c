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
@custom:security Matching never pushes a token to a maker: a failing or
        hostile quote token can stop only the caller's own withdrawal.
        The market keeps its quote balance >= the sum of `proceeds_of` +
        the escrow of open bids + unclaimed fees (DESIGN.md invariant 4).
"""

from ethereum.ercs import IERC20

# ---------------------------------------------------------------- IMMUTABLES

# @dev The quote token (a stablecoin).
QUOTE: public(immutable(IERC20))

# ---------------------------------------------------------------- STORAGE

# @dev Owner => quote base units withdrawable (sale proceeds and refunds).
proceeds_of: public(HashMap[address, uint256])

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
@nonreentrant
def withdraw_proceeds(amount: uint256):
    """
    @notice Withdraws quote from the caller's internal balance (works while paused).
    @param amount The 32-byte amount in quote base units.
    """
    balance: uint256 = self.proceeds_of[msg.sender]
    assert amount <= balance, "exchange: amount exceeds proceeds"
    self.proceeds_of[msg.sender] = unsafe_sub(balance, amount)
    log ProceedsWithdrawn(owner=msg.sender, amount=amount)
    assert extcall QUOTE.transfer(msg.sender, amount, default_return_value=True), "exchange: quote transfer failed"


@internal
def _credit(owner: address, amount: uint256):
    """
    @dev Credits `amount` quote base units to `owner`'s withdrawable balance.
    """
    self.proceeds_of[owner] += amount


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
    balance: uint256 = self.proceeds_of[msg.sender]
    use: uint256 = min(balance, amount)
    if use != 0:
        self.proceeds_of[msg.sender] = unsafe_sub(balance, use)
    self._pull(unsafe_sub(amount, use))


@internal
def _pay(to: address, amount: uint256):
    """
    @dev Sends `amount` quote base units out (fees to the treasury; effects done).
    """
    assert extcall QUOTE.transfer(to, amount, default_return_value=True), "exchange: quote transfer failed"
