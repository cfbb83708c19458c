# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title WATT: energy stored in the community's shared battery
@custom:contract-name WattToken
@license GNU Affero General Public License v3.0 only
@notice ERC-20 + EIP-2612 (snekmate), 1 WATT = 1 kWh, `decimals = 3`
        so one base unit is exactly 1 Wh and meter deltas map to
        balances with no rounding.
        Non-standard functions:
        - `credit_flows`: the MeterRegistry (and only it) mints exported
          Wh up to the battery's free capacity and burns imported Wh from
          the owner's balance, returning what it could cover.
        - `set_registry`: operator, once; wires the only minter.
        - `set_capacity_wh`: operator; the battery's size in Wh, never
          below the current supply.
        - `free_capacity_wh`: capacity minus supply.
@custom:security Invariant: `totalSupply <= capacity_wh` after every call.
        No one, the operator included, can mint to or burn from an
        account except through metered readings.
"""

from ethereum.ercs import IERC20

from .interfaces import IWattLedger

implements: IWattLedger

# @dev Operator role (owner) for the registry wiring and capacity.
from snekmate.auth import ownable

initializes: ownable

# @dev Audited ERC-20 + EIP-2612 + EIP-5267; minting/burning goes only
# through this contract's own `credit_flows`.
from snekmate.tokens import erc20

initializes: erc20[ownable := ownable]

exports: (
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.nonces,
    erc20.permit,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    erc20.owner,
    erc20.transfer_ownership,
)


# @dev The battery's usable size in Wh; bounds totalSupply.
capacity_wh: public(uint256)

# @dev The MeterRegistry, the only address that may call `credit_flows`.
registry: public(address)


event UpdateRegistry:
    registry: indexed(address)


event UpdateCapacity:
    capacity_wh: uint256


@deploy
def __init__(capacity_wh_: uint256):
    """
    @dev The deployer becomes the operator.
    @param capacity_wh_ The 32-byte battery capacity in Wh.
    """
    ownable.__init__()
    erc20.__init__("Watt-hour storage", "WATT", 3, "gridmint WATT", "1")
    self.capacity_wh = capacity_wh_
    log UpdateCapacity(capacity_wh=capacity_wh_)


@external
def set_registry(registry_: address):
    """
    @notice Wires the MeterRegistry, the only minter. Callable once.
    @param registry_ The 20-byte MeterRegistry address.
    """
    ownable._check_owner()
    assert self.registry == empty(address), "watt: registry already set"
    assert registry_ != empty(address), "watt: zero registry"
    self.registry = registry_
    log UpdateRegistry(registry=registry_)


@external
def set_capacity_wh(capacity_wh_: uint256):
    """
    @notice Resizes the battery (operator only). It can never shrink
            below the energy already stored.
    @param capacity_wh_ The 32-byte new capacity in Wh.
    """
    ownable._check_owner()
    assert capacity_wh_ >= erc20.totalSupply, "watt: capacity below supply"
    self.capacity_wh = capacity_wh_
    log UpdateCapacity(capacity_wh=capacity_wh_)


@external
@view
def free_capacity_wh() -> uint256:
    """
    @notice Wh the battery can still take.
    @return uint256 The 32-byte free capacity in Wh.
    """
    return self._free_capacity_wh()


@external
def credit_flows(owner: address, export_wh: uint256, import_wh: uint256) -> (uint256, uint256):
    """
    @notice Applies one accepted reading's battery flows to `owner`:
            first mints the exported Wh up to the free capacity, then
            burns the imported Wh from `owner`'s balance as far as it
            goes. What is not covered is the registry's to report as
            `GridExport` / `GridImport`.
    @param owner The 20-byte meter owner.
    @param export_wh The 32-byte exported delta in Wh.
    @param import_wh The 32-byte imported delta in Wh.
    @return minted The 32-byte Wh minted, burned The 32-byte Wh burned.
    """
    assert msg.sender == self.registry, "watt: caller is not the registry"
    minted: uint256 = min(export_wh, self._free_capacity_wh())
    if minted != 0:
        erc20._mint(owner, minted)
    burned: uint256 = min(import_wh, erc20.balanceOf[owner])
    if burned != 0:
        erc20._burn(owner, burned)
    return minted, burned


@internal
@view
def _free_capacity_wh() -> uint256:
    # capacity_wh >= totalSupply holds after every call (set_capacity_wh
    # checks it and minting is capped by this value), so no underflow.
    return unsafe_sub(self.capacity_wh, erc20.totalSupply)
