# pragma version ~=0.4.3
"""
@title TSL: the storage-rent token
@custom:contract-name StorageRentToken
@license GNU Affero General Public License v3.0 only
@notice ERC-20 + EIP-2612 (snekmate), 18 decimals. Holding WATT in the
        community battery costs TSL; members buy it from the operator (off
        chain or on an exchange) and deposit it with the WATT contract.
        Non-standard functions (snekmate): `mint` (minters: the operator),
        `set_minter`, `burn`, `burn_from`, `transfer_ownership`,
        `renounce_ownership`.
"""

# @dev Operator role: the owner is the first minter.
from snekmate.auth import ownable

initializes: ownable

# @dev Audited ERC-20 + EIP-2612 + EIP-5267 with a minter role.
from snekmate.tokens import erc20

initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__():
    """
    @dev The deployer becomes the operator and the first minter.
    """
    ownable.__init__()
    erc20.__init__("Storage rent", "TSL", 18, "gridmint TSL", "1")
