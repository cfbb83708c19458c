"""Gas of the slot auction (`auction.*` keys of gas-report.json).

`measure(system, operator, report)` is called by scripts/gas.py on Anvil (ape objects): each
figure is the whole transaction's `gas_used` from its receipt, as scripts/gas.py measures.
`python -m tools.gas_auction` runs the same scenario in-process on titanoboa and prints
estimates (intrinsic 21,000 + calldata + execution - refund) for a quick look without a node: a
LOWER BOUND only, since titanoboa keeps storage slots warm from one call to the next (no cold
SLOAD/SSTORE surcharges after a slot was first touched); Anvil's receipts are the figures.

Scenario (one system, WattToken real, members with a rent deposit and WATT from a meter export):
- `auction.place` a bid at a price level already in use, by a member who has traded before and
  whose balance in the auction covers the escrow (the steady state of a member who trades every
  slot: proceeds, refunds, or a budget it deposited once, `auction.deposit_quote`): no token moves;
  `auction.place.pull` the same bid by a member placing its first order, its escrow pulled from its
  wallet (transferFrom); `auction.place_ask` an ask (its WATT escrowed in WattToken);
  `auction.place_standing` a 48-slot standing ask; `auction.standing_tx_per_slot` is 0 by
  construction (no call per slot exists); with a standing bid that meets it in each of the 48
  slots: `auction.clear_48_slots.standing_pair` (the catch-up clears of those slots),
  `auction.claim_standing_48_slots` (`_ask`) one claim settling the 48 slots of the bid (ask),
  `auction.all_in_per_matched_order.standing48` (both placements + the clears + both claims) per
  order-slot that traded;
- `auction.clear_200_orders_100_levels`: 100 bids over 50 levels and 100 asks over 50 levels;
  it runs twice: first on price levels no slot has used (`.fresh_levels`: every level's word is
  created), then SLOT_RING (48) slots later on the same levels, whose words the ring of one-shot
  level words reuses (the figures without a suffix: a market trading in the same band every day);
  `auction.place_mean` is the mean placement of that auction (bids and asks, first and later at
  their level);
  `auction.clear_2000_orders_100_levels`: 1,800 bids and 200 asks over the same 100 levels;
  `auction.clear_ratio_2000_vs_200_x1000` (1,000 = equal);
- `auction.claim_one` a one-shot bid's claim, `auction.claim_one_ask` an ask's (it moves
  WATT escrow), `auction.claim_batch32.per_order` one claim of 32 orders (16 bids, 16 asks) over
  32, `auction.all_in_per_matched_order`: mean place + mean claim (one order per claim) + clear /
  orders, over the 200-order auction's matched orders (`.batched`: claims of 32 orders, as the CLI
  and the demo send them; `.2000`: the 2,000-order auction, every other order claimed alone;
  `.2000.batched`: the others, 32 per claim; `matched` counts those that filled).
"""

from __future__ import annotations

from typing import Any, Callable

SLOT_S = 1_800
BID_PRICES = [200_000 + 100 * i for i in range(50)]  # 50 bid levels: 0.2000 .. 0.2049 EUR/kWh
ASK_PRICES = [195_000 + 100 * i for i in range(50)]  # 50 ask levels: 0.1950 .. 0.1999 EUR/kWh
ASKS_PER_SELLER = 16  # the auction's per-account cap on open asks


def measure(
    system: Any,
    operator: Any,
    report: dict[str, int],
    *,
    new_member: Callable[[str, int], Any] | None = None,
    tx_gas: Callable[[Any, Any], int] | None = None,
    to_next_slot: Callable[[], None] | None = None,
    pin_time: Callable[[bool], None] | None = None,
) -> dict[str, int]:
    """Writes the `auction.*` figures into `report`. The keyword hooks default to ape on Anvil:
    `new_member(label, wh)` a funded member holding `wh` WATT, `tx_gas(contract, result)` a
    call's whole-transaction gas, `to_next_slot()` moves chain time to the next slot's first
    second, `pin_time(on)` keeps block time still while many orders join one slot."""
    from gridmint.auction import catch_up_calls
    from gridmint.system import wire_auction

    wire_auction(system, operator, rent_tsl=0)  # funded below, as before
    if new_member is None:
        new_member, tx_gas, to_next_slot, pin_time = _ape_hooks(system, operator)
    a = system.auction

    def catch_up():
        # one transaction per 48 ended slots: clear(k) clears the uncleared slots before k too
        for upto in catch_up_calls(int(a.next_to_clear()), int(a.current_slot())):
            a.clear(upto, sender=operator)

    # ---- members: one buyer (no ask cap on bids) and enough sellers for 200 asks
    buyer = new_member("auction-buyer", 0)
    sellers = [new_member(f"auction-seller-{i}", 200_000) for i in range((200 + ASKS_PER_SELLER - 1) // ASKS_PER_SELLER)]
    to_next_slot()
    catch_up()
    # steady state: every member has traded and claimed before (a seller's open-ask list has held
    # 16 asks, as it does in a day of trading), the buyer holds proceeds
    pin_time(True)
    warm = [_id(a, a.place_order(True, BID_PRICES[0], 16_000 * len(sellers), sender=buyer))]
    for s in sellers:
        warm += [_id(a, a.place_order(False, ASK_PRICES[0], 1_000, sender=s)) for _ in range(ASKS_PER_SELLER)]
    pin_time(False)
    to_next_slot()
    catch_up()
    for i in range(0, len(warm), 32):
        a.claim(warm[i : i + 32], sender=operator)
    # the buyer trades every slot: a budget deposited once (proceeds and refunds add to it)
    report["auction.deposit_quote"] = tx_gas(a, a.deposit_quote(10**8, sender=buyer))
    puller = new_member("auction-first-bidder", 0)  # places its first order: its escrow is pulled

    # ---- the 200-order auction: 100 bids over 50 levels, 100 asks over 50 levels, twice: first on
    # price levels no slot has used (`.fresh_levels`), then SLOT_RING slots later (the same half-hour a
    # day on) on the same levels, whose words the ring reuses: the steady state of a market that trades
    # in the same band every day (the figures without a suffix)
    fresh = _auction_200(a, buyer, puller, sellers, operator, tx_gas, to_next_slot, pin_time, catch_up)
    ring = int(a.SLOT_RING())
    while int(a.current_slot()) < fresh["slot"] + ring:
        to_next_slot()
    catch_up()
    steady = _auction_200(a, buyer, buyer, sellers, operator, tx_gas, to_next_slot, pin_time, catch_up)
    for name in ("all_in_per_matched_order", "all_in_per_matched_order.batched", "place_mean", "clear_200_orders_100_levels"):
        report[f"auction.{name}.fresh_levels"] = fresh[name]
    report["auction.place.pull"] = fresh["place.pull"]
    for name in ("place", "place_ask", "place_mean", "clear_200_orders_100_levels", "claim_batch32.per_order", "claim_one",
                 "claim_one_ask", "all_in_per_matched_order", "all_in_per_matched_order.batched"):
        report[f"auction.{name}"] = steady[name]
    clear_200 = steady["clear_200_orders_100_levels"]

    # ---- the 2,000-order auction over the same 100 levels (slots the claims spanned cleared first)
    catch_up()
    pin_time(True)
    place_2000, ids_2000 = [], []
    for i in range(2_000):
        if i < 1_800:
            r = a.place_order(True, BID_PRICES[i % 50], 100, sender=buyer)
        else:
            r = a.place_order(False, ASK_PRICES[(i - 1_800) % 50], 1_000, sender=sellers[(i - 1_800) // ASKS_PER_SELLER])
        place_2000.append(tx_gas(a, r))
        ids_2000.append(_id(a, r))
    pin_time(False)
    slot = a.current_slot()
    to_next_slot()
    r = a.clear(slot, sender=operator)
    clear_2000 = tx_gas(a, r)
    report["auction.clear_2000_orders_100_levels"] = clear_2000
    report["auction.clear_ratio_2000_vs_200_x1000"] = clear_2000 * 1000 // clear_200
    matched = sum(1 for oid in ids_2000 if a.fill_of(oid, slot)[0])
    # every other order claimed alone, the others 32 per claim: both samples hold bids and asks alike
    claim_2000 = [tx_gas(a, a.claim([oid], sender=operator)) for oid in ids_2000[1::2]]
    batched_ids = ids_2000[0::2]
    batched_gas = sum(tx_gas(a, a.claim(batched_ids[i : i + 32], sender=operator)) for i in range(0, len(batched_ids), 32))
    mean_place_2000 = sum(place_2000) // len(place_2000)
    report["auction.all_in_per_matched_order.2000"] = (
        mean_place_2000 + sum(claim_2000) // len(claim_2000) + clear_2000 // max(matched, 1)
    )
    report["auction.all_in_per_matched_order.2000.batched"] = (
        mean_place_2000 + batched_gas // len(batched_ids) + clear_2000 // max(matched, 1)
    )

    # ---- a standing ask for a day of slots: one transaction, then none per slot
    catch_up()
    now_slot = a.current_slot()
    until = (now_slot + 48) * SLOT_S
    r = a.place_standing(False, ASK_PRICES[0], 500, until, sender=sellers[-1])
    report["auction.place_standing"] = tx_gas(a, r)
    report["auction.standing_tx_per_slot"] = 0
    ask_id = _id(a, r)
    # ... and a standing bid that meets it in each of the 48 slots (a household's energy manager on
    # each side): placed once, cleared with everyone's slots, claimed once for the whole day
    r = a.place_standing(True, BID_PRICES[0], 500, until, sender=buyer)
    bid_gas = tx_gas(a, r)
    bid_id = _id(a, r)
    for _ in range(48):
        to_next_slot()
    clear_gas = 0
    for upto in catch_up_calls(int(a.next_to_clear()), int(a.current_slot())):
        clear_gas += tx_gas(a, a.clear(upto, sender=operator))
    report["auction.clear_48_slots.standing_pair"] = clear_gas
    claim_ask = tx_gas(a, a.claim([ask_id], sender=operator))
    claim_bid = tx_gas(a, a.claim([bid_id], sender=operator))
    report["auction.claim_standing_48_slots"] = claim_bid
    report["auction.claim_standing_48_slots_ask"] = claim_ask
    fills = sum(1 for k in range(now_slot, now_slot + 48) if a.result(k).matched_wh)
    assert fills >= 47, "the standing pair must trade in every slot they share"
    # per order-slot that traded (each side counts, as above): one placement and one claim per day
    report["auction.all_in_per_matched_order.standing48"] = (
        report["auction.place_standing"] + bid_gas + clear_gas + claim_ask + claim_bid) // (2 * fills)
    return report



def _auction_200(a, buyer, puller, sellers, operator, tx_gas, to_next_slot, pin_time, catch_up) -> dict[str, int]:
    """One auction of 100 bids over 50 levels and 100 asks over 50 levels, placed in one slot,
    cleared, then claimed (the first 32 orders in one claim, the others one per claim); its figures."""
    out: dict[str, int] = {}
    catch_up()
    pin_time(True)
    place_gas: list[int] = []
    ids = []
    out["slot"] = int(a.current_slot())
    for i in range(100):
        r = a.place_order(True, BID_PRICES[i % 50], 1_000, sender=puller if i == 98 else buyer)
        place_gas.append(tx_gas(a, r))
        ids.append(_id(a, r))
        if i == 98:
            out["place.pull"] = place_gas[-1]
        r = a.place_order(False, ASK_PRICES[i % 50], 1_000, sender=sellers[i // ASKS_PER_SELLER])
        place_gas.append(tx_gas(a, r))
        ids.append(_id(a, r))
    pin_time(False)
    out["place"] = place_gas[-2]
    out["place_ask"] = place_gas[-1]
    slot = a.current_slot()
    to_next_slot()
    clear_200 = tx_gas(a, a.clear(slot, sender=operator))
    out["clear_200_orders_100_levels"] = clear_200
    assert a.result(slot).matched_wh > 0, "the measured auction must trade"
    batch = tx_gas(a, a.claim(ids[:32], sender=operator)) // 32
    out["claim_batch32.per_order"] = batch
    claim_gas = [tx_gas(a, a.claim([oid], sender=operator)) for oid in ids[32:]]
    out["claim_one"] = claim_gas[-2]
    out["claim_one_ask"] = claim_gas[-1]
    matched_orders = len(ids)  # every order of this auction crosses: all fill
    mean_place = sum(place_gas) // len(place_gas)
    out["place_mean"] = mean_place
    out["all_in_per_matched_order"] = mean_place + sum(claim_gas) // len(claim_gas) + clear_200 // matched_orders
    out["all_in_per_matched_order.batched"] = mean_place + batch + clear_200 // matched_orders
    return out

def _id(a: Any, result: Any) -> int:
    """The order id a placement returned (boa: the value; ape: its receipt's OrderPlaced). Ids are not
    consecutive: settled order words are reused (id = word key | generation << 32)."""
    if isinstance(result, int):
        return result
    return int(result.decode_logs(a.OrderPlaced)[0].order_id)


def _ape_hooks(system: Any, operator: Any):
    from ape import accounts, chain
    from eth_hash.auto import keccak

    from gridmint.onboarding import commissioning, onboard_meter
    from oracle.eip712 import MeterSigner, Reading, domain_from_contract

    registry = system.registry
    domain = domain_from_contract(registry)

    def new_member(label: str, wh: int):
        m = accounts.test_accounts.generate_test_account()
        operator.transfer(m, 10**19)
        system.tsl.mint(m, 10**21, sender=operator)
        system.tsl.approve(system.watt.address, 10**21, sender=m)
        system.watt.deposit_rent(10**21, sender=m)
        system.quote.mint(m, 10**15, sender=operator)
        system.quote.approve(system.auction.address, 2**256 - 1, sender=m)
        if wh:
            meter = MeterSigner(keccak(f"auction-gas-{label}".encode()))
            power = registry.MAX_RATED_POWER_W()
            onboard_meter(registry, operator, m, meter.address, 1, power, "m", commissioning(chain.blocks.head.timestamp - 86_400))
            t = chain.pending_timestamp + 60
            chain.pending_timestamp = t
            reading = Reading(meter.address, t, 0, 0, wh, 0)
            sig = meter.sign(reading, domain, domain.separator)
            registry.submit_readings([reading.as_call_arg()], [sig], sender=operator)
        return m

    def tx_gas(_contract: Any, receipt: Any) -> int:
        return receipt.gas_used

    def to_next_slot():
        # mined, so that views (`current_slot`) see the new slot too
        t = chain.pending_timestamp
        chain.mine(1, timestamp=t - t % SLOT_S + SLOT_S)

    def pin_time(on: bool):
        # many orders must land in one slot: blocks share a timestamp while pinned
        chain.provider.make_request("anvil_setBlockTimestampInterval", [0 if on else 12])

    # the WATT the auction holds between a seller's claim and the buyer's withdrawal pays rent
    system.tsl.mint(operator, 10**21, sender=operator)
    system.tsl.approve(system.auction.address, 10**21, sender=operator)
    system.auction.fund_rent(10**21, sender=operator)
    return new_member, tx_gas, to_next_slot, lambda on: pin_time(on)


def _boa_main() -> None:
    """In-process estimate on titanoboa (no node): prints the figures."""
    import boa

    from gridmint.onboarding import Registers, onboard_meter
    from gridmint.system import SystemParams, boa_deployer, deploy_system, wire_auction
    from tests.utils.meters import TestMeter, domain_of, meter_signer, signed

    operator = boa.env.generate_address("gas-operator")
    system = deploy_system(boa_deployer(operator), operator, SystemParams(capacity_wh=10**9))
    wire_auction(system, operator, rent_tsl=0)  # funded below, as before
    registry = system.registry
    domain = domain_of(registry)

    def new_member(label: str, wh: int):
        m = boa.env.generate_address(label)
        system.tsl.mint(m, 10**21, sender=operator)
        system.tsl.approve(system.watt.address, 10**21, sender=m)
        system.watt.deposit_rent(10**21, sender=m)
        system.quote.mint(m, 10**15, sender=operator)
        system.quote.approve(system.auction.address, 2**256 - 1, sender=m)
        if wh:
            power = registry.MAX_RATED_POWER_W()
            meter = TestMeter(meter_signer(f"auction-gas-{label}"), m, 1, power, "m")
            now = boa.env.evm.patch.timestamp
            onboard_meter(registry, operator, m, meter.address, 1, power, "m", Registers(now - 86_400, 0, 0, 0, 0))
            boa.env.time_travel(seconds=1)
            args, sigs = signed([meter.reading(boa.env.evm.patch.timestamp, exp=wh)], {meter.address: meter.signer}, domain)
            registry.submit_readings(args, sigs, sender=operator)
        return m

    def tx_gas(contract: Any, _result: Any) -> int:
        c = contract._computation
        data = bytes(c.msg.data)
        calldata = sum(4 if b == 0 else 16 for b in data)
        used = 21_000 + calldata + c.get_gas_used()
        return used - min(c.get_gas_refund(), used // 5)

    def to_next_slot():
        now = boa.env.evm.patch.timestamp
        boa.env.time_travel(seconds=SLOT_S - now % SLOT_S)

    system.tsl.mint(operator, 10**21, sender=operator)
    system.tsl.approve(system.auction.address, 10**21, sender=operator)
    system.auction.fund_rent(10**21, sender=operator)
    report: dict[str, int] = {}
    measure(system, operator, report, new_member=new_member, tx_gas=tx_gas, to_next_slot=to_next_slot, pin_time=lambda on: None)
    for name, gas in sorted(report.items()):
        print(f"{name:42s} {gas:>10,}")


if __name__ == "__main__":
    _boa_main()
