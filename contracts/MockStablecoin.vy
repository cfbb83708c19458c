# pragma version ~=0.4.3
"""
@title Mock stablecoin for local deploys and tests (6 decimals, like USDC/EURC)
@custom:contract-name MockStablecoin
@license GNU Affero General Public License v3.0 only
@notice snekmate ERC-20 + EIP-2612; the deployer (and minters it names) mint.
        Never deploy it on a live network: use the community's real stablecoin.
"""

# @dev Owner role for the minter list.
from snekmate.auth import ownable

initializes: ownable

# @dev Audited ERC-20.
from snekmate.tokens import erc20

initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__():
    """
    @dev The deployer is the first minter.
    """
    ownable.__init__()
    # "EURT" would be a real token and "mEUR" reads as milli-euro: "TEUR" is a test euro, 6 decimals
    erc20.__init__("Test Euro (local mock)", "TEUR", 6, "gridmint TEUR", "1")
