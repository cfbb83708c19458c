# pragma version ~=0.4.3
"""
@title A stand-in for WATT's escrow seam in the auction's unit tests (never deployed)
@license GNU Affero General Public License v3.0 only
@notice Balances, per-account escrow and an arrears flag, with the rules the auction relies
        on: escrow refuses an account in arrears or beyond its balance, delivery refuses a
        seller in arrears, transfers refuse a sender in arrears; `settle_escrow` moves as
        WATT's does. No rent accrues.
"""

balanceOf: public(HashMap[address, uint256])
escrowed_of: public(HashMap[address, uint256])
arrears: public(HashMap[address, bool])
totalSupply: public(uint256)


@external
def mint(to: address, wh: uint256):
    self.balanceOf[to] += wh
    self.totalSupply += wh


@external
def set_arrears(account: address, flag: bool):
    self.arrears[account] = flag


@external
@view
def in_arrears(account: address) -> bool:
    return self.arrears[account]


@external
def escrow(account: address, wh: uint256):
    assert not self.arrears[account], "watt: account in arrears"
    assert self.balanceOf[account] >= wh, "watt: escrow exceeds balance"
    self.balanceOf[account] -= wh
    self.escrowed_of[account] += wh


@external
def release_escrow(account: address, wh: uint256):
    assert self.escrowed_of[account] >= wh, "watt: release exceeds escrow"
    self.escrowed_of[account] -= wh
    self.balanceOf[account] += wh


@external
def settle_escrow(buyer: address, moves: DynArray[uint256, 128]):
    # WATT's move words: account (160) | Wh << 160 (56) | release flag (bit 255); deliveries to `buyer`
    for m: uint256 in moves:
        account: address = convert(convert(m & (2**160 - 1), uint160), address)
        wh: uint256 = (m >> 160) & (2**56 - 1)
        assert self.escrowed_of[account] >= wh, "watt: move exceeds escrow"
        self.escrowed_of[account] -= wh
        if m & 2**255 != 0:
            self.balanceOf[account] += wh
        else:
            assert not self.arrears[account], "watt: seller in arrears"
            self.balanceOf[buyer] += wh


@external
def transfer(to: address, amount: uint256) -> bool:
    assert not self.arrears[msg.sender], "watt: account in arrears"
    assert self.balanceOf[msg.sender] >= amount, "watt: transfer exceeds balance"
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    return True


@external
def burn_escrow(account: address, wh: uint256):
    # what release_unpaid does with the escrow close_asks_of hands back
    self.escrowed_of[account] -= wh
    self.totalSupply -= wh
