"""Where a figure's gas goes: the per-slot account of the transactions behind named gas-report figures.

`python -m tools.gas_account SECTION NAME...` runs one section of `make gas` (`exchange`: the book's
figures on both markets; `auction`: the slot auction's) on a fresh Anvil, finds the transaction whose
`gas_used` is each named figure, replays it with Anvil's step tracer and prints its account: intrinsic
gas and calldata, then per contract the cold and warm storage reads and writes (by EIP-2929/2200 price:
2,100 a cold read, 20,000 a new word, 2,900 a rewrite after a read, 5,000 a cold rewrite), calls, logs,
memory expansion (3 gas a word plus words**2 / 512, per call frame) and the rest of the execution, and
the refund. Run it as `make gas` runs Anvil, in its own network
namespace, with the tracer on:

    unshare -n bash -c 'ip link set lo up; anvil --silent --steps-tracing --port 8545 --accounts 10 \\
        --block-base-fee-per-gas 0 --gas-price 0 & sleep 2; python -m tools.gas_account auction \\
        auction.place auction.claim_one; kill %1'

A per-maker share (`*.take_ten.per_extra_maker`) is accounted as the ten-maker transaction less the
one-maker one, per line, divided by the 9 makers after the first; any other figure that is not one
transaction's gas (a mean) is not found and says so.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _label(op: str, cost: int) -> str:
    if op == "SLOAD":
        return "read, cold" if cost >= 2_100 else "read, warm"
    if op == "SSTORE":
        return {20_000: "write, new word", 22_100: "write, new word (cold)", 2_900: "rewrite (read before)",
                5_000: "rewrite (cold)"}.get(cost, f"write {cost:,}")
    return op


# memory each opcode touches: a fixed size at the offset on top of the stack, or (offset, size) stack
# positions from the top (MCOPY: its source and its destination; CALLs: their argument and return buffers)
_FIXED = {"MLOAD": 32, "MSTORE": 32, "MSTORE8": 1}
_RANGES = {
    "KECCAK256": ((1, 2),), "SHA3": ((1, 2),), "CALLDATACOPY": ((1, 3),), "CODECOPY": ((1, 3),),
    "RETURNDATACOPY": ((1, 3),), "EXTCODECOPY": ((2, 4),), "MCOPY": ((1, 3), (2, 3)), "RETURN": ((1, 2),),
    "REVERT": ((1, 2),), "CREATE": ((2, 3),), "CREATE2": ((2, 3),), "CALL": ((4, 5), (6, 7)),
    "CALLCODE": ((4, 5), (6, 7)), "DELEGATECALL": ((3, 4), (5, 6)), "STATICCALL": ((3, 4), (5, 6)),
    **{f"LOG{n}": ((1, 2),) for n in range(5)},
}


def _memory_words(op: str, stack: list[str], words: int) -> int:
    """The frame's memory size in 32-byte words after `op`: EVM memory grows to the highest byte touched."""
    if op in _FIXED:
        return max(words, (int(stack[-1], 16) + _FIXED[op] + 31) // 32)
    for at, size in _RANGES.get(op, ()):
        n = int(stack[-size], 16)
        if n:
            words = max(words, (int(stack[-at], 16) + n + 31) // 32)
    return words


_NO_STEPS = ["  (no steps: start Anvil with --steps-tracing)"]


def _memory_cost(words: int) -> int:
    return 3 * words + words * words // 512


def account(request, tx_hash: str, names: dict[str, str]) -> list[str]:
    """The account of one mined transaction as printable lines. `request(method, params)` is the node's
    JSON-RPC; `names` maps lower-case addresses to contract names."""
    tally = _tally(request, tx_hash, names)
    if tally is None:
        return list(_NO_STEPS)
    gas, count, used, calldata, size, refund = tally
    out = [f"  gas used {used:,}: intrinsic 21,000, calldata {calldata:,} ({size} bytes), refund -{refund:,}"]
    for (who, what), g in sorted(gas.items(), key=lambda kv: -kv[1]):
        out.append(f"  {who:22s} {what:28s} x{count[(who, what)]:<5d} {g:>9,}")
    return out


def per_extra(request, many: str, one: str, extra: int, names: dict[str, str]) -> list[str]:
    """What each of `extra` more makers adds: the account of transaction `many` less that of `one`, per
    line, divided by `extra` (a line's count too, as a mean)."""
    a, b = _tally(request, many, names), _tally(request, one, names)
    if a is None or b is None:
        return list(_NO_STEPS)
    gas, count = Counter(a[0]), Counter(a[1])
    gas.subtract(b[0])
    count.subtract(b[1])
    out = [f"  gas used ({a[2]:,} - {b[2]:,}) / {extra} = {(a[2] - b[2]) / extra:,.0f}: calldata "
           f"{(a[3] - b[3]) / extra:+,.0f}, refund {-(a[5] - b[5]) / extra:+,.0f}"]
    for (who, what), g in sorted(gas.items(), key=lambda kv: -kv[1]):
        if g or count[(who, what)]:
            out.append(f"  {who:22s} {what:28s} x{count[(who, what)] / extra:<5.1f} {g / extra:>9,.0f}")
    return out


def _tally(request, tx_hash: str, names: dict[str, str]):
    """(gas per line, count per line, gas used, calldata gas, calldata bytes, refund) of one transaction,
    a line being (contract, what); None when the node kept no steps."""
    trace = request("debug_traceTransaction", [tx_hash, {"enableMemory": False, "disableStorage": True}])
    steps = trace["structLogs"]
    if not steps:
        return None
    tx = request("eth_getTransactionByHash", [tx_hash])
    receipt = request("eth_getTransactionReceipt", [tx_hash])
    data = bytes.fromhex(tx["input"][2:])
    calldata = sum(16 if b else 4 for b in data)
    frames = [tx["to"].lower()]
    memory = [0]  # each open frame's memory size in words
    gas, count = Counter(), Counter()
    for i, s in enumerate(steps):
        del frames[s["depth"]:]
        del memory[s["depth"]:]
        who = names.get(frames[-1], frames[-1][:10])
        op, cost = s["op"], s["gasCost"]
        if op in _FIXED or op in _RANGES:
            # the part of the op's price that grows the frame's memory: a line of its own
            words = _memory_words(op, s["stack"], memory[-1])
            if words > memory[-1]:
                grown = _memory_cost(words) - _memory_cost(memory[-1])
                cost -= grown
                gas[(who, "memory expansion")] += grown
                count[(who, "memory expansion")] += 1
                memory[-1] = words
        key = (who, "execution")
        if op in ("CALL", "STATICCALL", "DELEGATECALL"):
            target = "0x" + s["stack"][-2][-40:].lower()
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            if nxt and nxt["depth"] == s["depth"] + 1:
                cost -= nxt["gas"]  # the call's own price: its gas cost less the gas it forwarded
                frames.append(target)
                memory.append(0)
            key = (who, f"{op} {names.get(target, target[:10])}")
        elif op in ("SLOAD", "SSTORE") or op.startswith("LOG"):
            label = _label(op, cost)
            if op == "SSTORE" and int(s["stack"][-2], 16) == 0:
                label += ", to 0"  # a cleared word: where the refund comes from (4,800 each)
            key = (who, label)
        gas[key] += cost
        count[key] += 1
    refund = steps[-1].get("refund", 0)
    return gas, count, int(receipt["gasUsed"], 16), calldata, len(data), refund


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("exchange", "auction"):
        print("usage: python -m tools.gas_account exchange|auction NAME...", file=sys.stderr)
        return 2
    section, wanted = argv[0], argv[1:]
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    from ape import accounts, chain, networks

    from gridmint.cli.options import quiet
    from gridmint.system import SystemParams, ape_deployer, deploy_system
    from tools.gas_standalone import BLOCK_INTERVAL_S, GAS_EPOCH

    quiet()
    with networks.parse_network_choice("ethereum:local:foundry"):
        chain.provider.make_request("evm_setNextBlockTimestamp", [GAS_EPOCH])
        chain.provider.make_request("anvil_setBlockTimestampInterval", [BLOCK_INTERVAL_S])
        operator, relayer = accounts.test_accounts[0], accounts.test_accounts[1]
        system = deploy_system(ape_deployer(operator), operator, SystemParams(capacity_wh=100_000_000))
        first = chain.blocks.head.number + 1
        report: dict[str, int] = {}
        if section == "auction":
            from tools import gas_auction

            gas_auction.measure(system, operator, report)
        else:
            import gas  # scripts/gas.py

            gas.measure_exchange(system, operator, relayer, report)
            gas.measure_certificate_exchange(system, operator, relayer, report)
        names = {getattr(system, n).address.lower(): n for n in vars(system) if hasattr(getattr(system, n), "address")}
        request = chain.provider.make_request
        # a per-maker share (`M.take_ten.per_extra_maker`, scripts/gas.py `take_ten_figures`) is found as
        # the ten-maker transaction beside the one-maker one, and accounted as their difference
        shares = {n: n.removesuffix(".take_ten.per_extra_maker") for n in wanted
                  if n in report and n.endswith(".take_ten.per_extra_maker")}
        todo = {report[n]: n for n in wanted if n in report and n not in shares}
        for n in wanted:
            if n not in report:
                print(f"{n}: not a figure of the {section} section")
        mined = {}  # gas used -> transaction hash
        for number in range(first, chain.blocks.head.number + 1):
            for h in request("eth_getBlockByNumber", [hex(number), False])["transactions"]:
                g = int(request("eth_getTransactionReceipt", [h])["gasUsed"], 16)
                mined.setdefault(g, h)
                if g in todo:
                    name = todo.pop(g)
                    print(f"\n{name} = {g:,}")
                    print("\n".join(account(request, h, names)))
        for name, market in shares.items():
            one = report[f"{market}.take_one"]
            ten = [g for g in mined
                   if all(report[f"{market}.{k}"] == v for k, v in gas.take_ten_figures(g, one).items())]
            print(f"\n{name} = {report[name]:,}")
            if one in mined and len(ten) == 1:
                print("\n".join(per_extra(request, mined[ten[0]], mined[one], gas.TAKE_TEN - 1, names)))
            else:
                print("  (the one- and ten-maker transactions are not both found)")
        for g, n in todo.items():
            print(f"{n} = {g:,}: no single transaction used that gas (a mean or a share)")
        print(f"\nthe {section} section's figures:")
        for name, g in sorted(report.items()):
            print(f"  {name:55s} {g:>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
