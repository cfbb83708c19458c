"""`CliContext`: the one object every command opens — its network, the deployment record and contracts,
the sending account, the chain's time, and (local chains) the chain's clock.

    c = CliContext.open(network, verbose, account_spec)
    ex, watt = c.contracts("EnergyExchange", "WattToken")
    c.sender.send(ex.place_order, ..., what="place_order")   # simulated for the block it lands in, then sent
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gridmint import deployments

from .addresses import resolve_account
from .errors import Failed, Refused, one_line
from .options import quiet

# a transaction sent now lands in a later block: every simulation runs this many seconds after the
# latest block (rent accrues, orders and certificates expire with time), and refuses what would then fail
LANDING_MARGIN_S = 30

def network_key(network) -> str:
    """The deployment record's network key for the connected provider (see deployments.record_key)."""
    from ape import chain

    return deployments.record_key(network.ecosystem.name, network.name, chain.provider.name)


def deployment_path(network):
    from ape import chain

    return deployments.path_for(network_key(network), chain.chain_id)


def is_local(network) -> bool:
    return network.name == "local" or bool(getattr(network, "is_local", False))


@dataclass
class CliContext:
    network: Any
    verbose: bool = False
    account_spec: str | None = None
    _record: deployments.Deployment | None = field(default=None, repr=False)
    _contracts: dict[str, Any] = field(default_factory=dict, repr=False)
    _sender: Any = field(default=None, repr=False)
    # whether the node takes eth_call's block overrides (Anvil does; Hardhat 2 does not)
    block_overrides: bool | None = None

    @classmethod
    def open(cls, network, verbose: bool = False, account_spec: str | None = None, *, operator: bool = False) -> CliContext:
        """`operator`: the sending account defaults to the local deployer (test:0) on a local chain."""
        quiet(verbose)
        if account_spec is None and operator and is_local(network):
            account_spec = "test:0"
        return cls(network, verbose, account_spec)

    # ---------------------------------------------------------------- the deployment

    @property
    def is_local(self) -> bool:
        return is_local(self.network)

    @property
    def record(self) -> deployments.Deployment:
        if self._record is None:
            path = deployment_path(self.network)
            if not path.exists():
                shown = path.relative_to(deployments.ROOT) if path.is_relative_to(deployments.ROOT) else path
                raise Refused(f"no deployment at {shown}: run `make deploy` "
                              f"(or `ape run deploy --network {network_key(self.network)}:...`) first")
            self._record = deployments.read(path)
        return self._record

    def has(self, name: str) -> bool:
        return name in self.record.contracts

    def contract(self, name: str):
        """The deployed contract `name` (an ape ContractInstance) built from the record's address and ABI:
        no compiled project is loaded (ape's project manifest, .build/__local__.json, is megabytes of
        JSON to parse at every command)."""
        if name not in self._contracts:
            from ape import chain
            from ape.contracts.base import ContractInstance
            from ethpm_types import ContractType

            if not self.has(name):
                raise Refused(f"the deployment record has no {name}: deploy again (`ape run deploy`)")
            address = self.record.address(name)
            if not self._contracts and not chain.provider.get_code(address):
                # a record of another chain (the node was restarted without its state)
                raise Refused(f"the deployment record does not match this chain (no contract at {address}): deploy again")
            contract_type = ContractType.model_validate({"contractName": name, "abi": self.record.abi(name)})
            self._contracts[name] = ContractInstance(address, contract_type)
        return self._contracts[name]

    def contracts(self, *names: str) -> list:
        return [self.contract(n) for n in names]

    # ---------------------------------------------------------------- accounts

    @property
    def account(self):
        return self.sender.account

    @property
    def sender(self):
        """The sending account's `Sender` (resolved on first use: read-only commands need none)."""
        if self._sender is None:
            from .sender import Sender

            self._sender = Sender(resolve_account(self.account_spec), self.verbose, ctx=self)
        return self._sender

    def who(self, owner: str | None) -> str:
        """--owner ADDRESS if given, else the --account's address (views of an account)."""
        from .addresses import address_or_account

        if owner:
            return address_or_account(owner, "--owner")
        return str(resolve_account(self.account_spec).address)

    # ---------------------------------------------------------------- the chain's time

    def head(self):
        from ape import chain

        return chain.blocks.head

    def now(self) -> int:
        """The latest block's timestamp (s)."""
        return int(self.head().timestamp)

    def landing_time(self) -> int:
        """When a transaction sent now is taken to be mined, at the latest (s): every check and simulation
        holds for it (`LANDING_MARGIN_S` after the latest block)."""
        return self.now() + LANDING_MARGIN_S

    def rpc(self, method: str, params: list) -> dict:
        """A raw JSON-RPC request to the node: the response as sent (no ape trace or retry machinery)."""
        from ape import chain

        try:
            return chain.provider.web3.provider.make_request(method, params)
        except Exception as err:
            raise Failed(f"the node did not answer {method}: {one_line(str(err))}") from None

    def advance_time(self, seconds: int) -> int:
        """Local chains only: moves the chain's clock `seconds` ahead and mines a block at the new time
        (evm_increaseTime + evm_mine, which Anvil and Hardhat both take). Returns the new block's time."""
        if not self.is_local:
            raise Refused(f"only a local chain's time can be moved, not {self.network.ecosystem.name}:{self.network.name}'s")
        for method, params in (("evm_increaseTime", [int(seconds)]), ("evm_mine", [])):
            reply = self.rpc(method, params)
            if "error" in reply:
                raise Failed(f"{method}: {reply['error'].get('message', reply['error'])}")
        return self.now()
