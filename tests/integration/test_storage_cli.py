"""`ape run storage ...` against the test session's node: a generator's noon export charges the battery,
a neighbour draws it at night; the relay settles the day once every meter has reported past its end, the
neighbour claims its discharge certificate ("x % solar from the community battery"), the generator's
certifiable generation gives up what was stored; refusals are one line, exit 2, nothing sent."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.local_chain]
DAY_S = 86_400
SOLAR, NONE = 1, 0


def test_settle_claim_status__one_day_through_the_battery(cli, cli_deploy, accounts, chain):
    from gridmint.onboarding import commissioning, onboard_meter
    from oracle.eip712 import MeterSigner, Reading, domain_from_contract
    from tests.utils.meters import submit_one

    d = cli_deploy()
    record, registry, watt, ledger, cert = d.record, d.registry, d.watt, d.ledger, d.certificate
    operator, seller, buyer = accounts[0], accounts[2], accounts[3]
    generator, neighbour = MeterSigner(bytes.fromhex("71" * 32)), MeterSigner(bytes.fromhex("72" * 32))
    day = chain.pending_timestamp // DAY_S + 1
    t = day * DAY_S
    chain.mine(1, timestamp=t + 11 * 3600)
    for meter, owner, method, name in ((generator, seller, SOLAR, "Noon roof"), (neighbour, buyer, NONE, "Night flat")):
        onboard_meter(registry, operator, owner, meter.address, method, 50_000, name, commissioning(t + 11 * 3600 - 1))
    d.fund_rent(seller, buyer)
    domain = domain_from_contract(registry)
    registers = {generator.address: [0, 0, 0, 0], neighbour.address: [0, 0, 0, 0]}

    def read(meter, ts, gen=0, imp=0, exp=0):
        r = registers[meter.address]
        r[0], r[2], r[3] = r[0] + gen, r[2] + exp, r[3] + imp
        reading = Reading(meter.address, ts, *r)
        chain.pending_timestamp = ts
        submit_one(registry, meter, reading, domain, sender=operator)

    read(generator, t + 12 * 3600, gen=5_000, exp=4_000)  # noon: 4 kWh of solar into the battery
    watt.transfer(buyer, 2_000, sender=seller)  # the neighbour buys 2 kWh of it
    read(neighbour, t + 20 * 3600, imp=1_800)  # evening: needs ceil(1800 / 0.9) = 2000 Wh of charge
    read(neighbour, t + 22 * 3600, imp=150)  # night: needs 167
    ledger.set_settler(operator, True, sender=operator)  # the relay's key (test:0 locally)

    # the day has not ended: refused, nothing sent
    assert "ends at" in cli("storage", "settle", str(day), code=2)
    # ended, but the meters have not reported past midnight: a late reading could still come
    chain.mine(1, timestamp=t + DAY_S + 60)
    assert "is not final" in cli("storage", "settle", str(day), code=2)
    read(generator, t + DAY_S + 600)
    read(neighbour, t + DAY_S + 601)  # one block a second (Hardhat refuses two at one timestamp)
    chain.mine(1, timestamp=t + DAY_S + 700)

    out = cli("storage", "settle", str(day))
    assert f"day {day}" in out and "4.000 kWh of green charge stored" in out and "1.833 kWh of green content left" in out
    assert int(ledger.settled_through()) == day + 1 and int(ledger.content_wh()) == 4_000 - 2_000 - 167
    assert int(registry.certifiable(generator.address)[0]) == 1_000  # 4 kWh of its 5 went into storage
    assert "settled already" in cli("storage", "settle", str(day), code=2)

    out = cli.table("storage", "status", "--member", buyer.address)
    assert "1.833 kWh of solar charge" in out and "oldest lot" in out
    assert "1.950" in out and "100.0 %" in out and "to claim" in out

    # a second day through the battery before the neighbour claims: its two days go into one certificate
    # (claim_discharge_days: the certificate's fixed cost once), or one per month when a month ends between
    read(generator, t + DAY_S + 12 * 3600, gen=3_000, exp=2_000)
    watt.transfer(buyer, 1_000, sender=seller)  # a battery import burns the drawer's WATT (else it is the grid's)
    read(neighbour, t + DAY_S + 21 * 3600, imp=900)  # needs 1,000 Wh of charge: 900 Wh green
    read(generator, t + 2 * DAY_S + 600)
    read(neighbour, t + 2 * DAY_S + 601)
    chain.mine(1, timestamp=t + 2 * DAY_S + 700)
    assert f"day {day + 1}" in cli("storage", "settle", str(day + 1))
    assert int(ledger.content_wh()) == 4_000 - 2_000 - 167 + 2_000 - 1_000

    # only the meter's owner claims
    assert "belongs to" in cli("storage", "claim", neighbour.address, "--account", "test:2", code=2)
    out = cli("storage", "claim", neighbour.address, "--account", "test:3")
    assert "drew 1.950 kWh, 1.950 kWh green (100.0 % solar from the community battery): certificate #" in out
    assert "drew 0.900 kWh, 0.900 kWh green (100.0 % solar from the community battery): certificate #" in out
    from gridmint.profile import month_of

    one_month = month_of(day * DAY_S)[0] == month_of((day + 1) * DAY_S)[0]
    assert f"{1 if one_month else 2} discharge certificate(s) for 2 day(s), 2.850 kWh green" in out
    assert ledger.claimed(neighbour.address, day) and ledger.claimed(neighbour.address, day + 1)
    assert "nothing to claim" in cli("storage", "claim", neighbour.address, "--account", "test:3")
    assert "claimed" in cli.table("storage", "status", "--member", neighbour.address, "--day", str(day))

    # the generator issues what it did not store: `certificates issue` builds its profile less the stored Wh
    from ape import chain as ape_chain

    from gridmint.storage_day import StorageChain, stored_profile

    st = StorageChain(ape_chain.provider.web3, {"StorageLedger": ledger, "MeterRegistry": registry, "WattToken": watt,
                                                "EnvironmentalCertificate": cert}, record.contracts)
    wh, start, end = (int(x) for x in registry.certifiable(generator.address))
    noon = (t + 12 * 3600 - 1) // 1_800
    assert stored_profile(st, generator.address, start, end) == {noon: 4_000, noon + 48: 2_000}
    assert wh == 5_000 + 3_000 - 4_000 - 2_000
    first_new = int(cert.next_id())
    cli("certificates", "issue", generator.address, "--account", "test:2")
    issued = [cert.certificate(i) for i in range(first_new, int(cert.next_id()))]
    assert issued and all(str(c.meter) == generator.address and int(c.method) == SOLAR for c in issued)
    assert sum(int(c.amount_wh) for c in issued) == 2_000 and int(registry.certifiable(generator.address)[0]) == 0
