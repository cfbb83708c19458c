"""gridmint's shared library: what the oracle daemon, the ape scripts, the tests and the
member app's seeding all need to know about the system on chain.

- `system`: deploys and wires every contract (titanoboa, ape or plain web3.py)
- `deployments`: the deployments/<ecosystem>-<network>-<chain id>.json records
- `units`: the contracts' units and their conversions (Wh <-> kWh, price per kWh <-> base units)
- `ape_support`: account and deployment helpers for the `ape run` scripts
- `community`: the demo community's members
- `metadata`: ERC-1155 metadata JSON of a certificate
- `permit`: the EIP-2612 permit a member signs instead of an approve transaction
"""
