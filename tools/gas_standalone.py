"""One gas section run alone, as `make gas` runs it but printing instead of writing gas-report.json:
`python -m tools.gas_storage` (inside its own network namespace, `unshare -n`, with Anvil on
127.0.0.1:8545 as the Makefile's `gas` target starts it). The chain's clock is fixed as scripts/gas.py
fixes it, so the figures are the report's."""

from __future__ import annotations

from collections.abc import Callable

from ape import accounts, chain

GAS_EPOCH = 1_893_456_000  # 2030-01-01 00:00 UTC, scripts/gas.py's first block
BLOCK_INTERVAL_S = 12

Measure = Callable[..., object]  # measure(system, operator, report, relayer=...)


def main(*measures: Measure) -> None:
    """Deploys one system and runs each `measure(system, operator, report, relayer=...)` on it, in order."""
    from ape import networks

    from gridmint.cli.options import quiet
    from gridmint.system import SystemParams, ape_deployer, deploy_system

    quiet()
    with networks.parse_network_choice("ethereum:local:foundry"):
        if chain.blocks.head.timestamp < GAS_EPOCH:
            chain.provider.make_request("evm_setNextBlockTimestamp", [GAS_EPOCH])
        chain.provider.make_request("anvil_setBlockTimestampInterval", [BLOCK_INTERVAL_S])
        operator = accounts.test_accounts[0]
        system = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=100_000_000))
        report: dict[str, int] = {}
        for measure in measures:
            measure(system, operator, report, relayer=accounts.test_accounts[1])
        width = max((len(name) for name in report), default=0) + 2
        for name, gas in sorted(report.items()):
            print(f"{name:{width}s} {gas:>10,}")
