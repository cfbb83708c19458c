"""The operator CLI (and the member's accept-meter / rent commands), run in-process against the test
session's node (the `cli` fixture of conftest.py: the command an `ape run operator ...` runs). Every
refusal is checked for exit status 2, one line on stderr, nothing on stdout, and an unchanged block
number (nothing was sent)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.eip712 import MeterSigner, Reading, domain_from_contract
from tests.utils.meters import submit_one

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400


def _meter(label: str) -> MeterSigner:
    return MeterSigner(bytes.fromhex(label * 32))


def test_operator_commands(cli, cli_deploy, tmp_path, accounts, chain):
    d = cli_deploy()
    registry, watt, tsl = d.registry, d.watt, d.tsl
    owner, other = accounts[4], accounts[5]
    pv, flat, new_key = _meter("51"), _meter("52"), _meter("53")
    t0 = chain.blocks.head.timestamp - 3_600

    # register one meter; every bad input is refused before anything is sent
    base = ["operator", "register", pv.address, owner.address, "--method", "solar", "--rated-power", "10",
            "--name", "Operator roof", "--commissioned-at", str(t0), "--generated", "1.5", "--exported", "250 Wh"]
    assert "owner must be an address" in cli(*base[:3], "alice", *base[4:], code=2)
    assert "meter must be an address" in cli(base[0], base[1], "0x1234", *base[3:], code=2)
    assert "unknown generation method 'coal'" in cli(*base[:5], "coal", *base[6:], code=2)
    assert "not a timestamp: 'yesterday'" in cli(*base[:11], "yesterday", *base[12:], code=2)
    assert "not a power in kW" in cli(*base[:7], "ten", *base[8:], code=2)
    assert "is not the operator" in cli(*base, "--account", "test:5", code=2)
    assert "rated power 100,000.000 kW is above" in cli(*base[:7], "100000", *base[8:], code=2)
    out = cli(*base)
    assert "registered meter" in out and "solar, 10.000 kW" in out
    info = registry.meters(pv.address)
    assert info.owner == owner.address and info.rated_power_w == 10_000 and not info.accepted
    assert registry.last_reading(pv.address).generated_wh == 1_500
    assert "already registered" in cli(*base, code=2)

    # many from a CSV: the header and every row are checked first
    bad = tmp_path / "bad.csv"
    bad.write_text("meter,owner\n")
    assert "the header must be exactly address,owner,method" in cli("operator", "register-csv", str(bad), code=2)
    header = "address,owner,method,rated_power_kw,name,commissioned_at,generated_kwh,consumed_kwh,exported_kwh,imported_kwh\n"
    bad.write_text(header + f"{flat.address},{other.address},none,30,Flat,{t0},0,0,0,0\n"
                   f"{new_key.address},Bob,solar,5,Roof,{t0},0,0,0,0\n")
    assert "bad.csv:3: owner must be an address" in cli("operator", "register-csv", str(bad), code=2)
    good = tmp_path / "meters.csv"
    good.write_text(header + f"{flat.address},{other.address},none,30,Meyer flat,2026-01-01T00:00:00Z,0,5120.5,0,5120.5\n")
    assert "registered 1 meters (1 none)" in cli("operator", "register-csv", str(good))
    assert registry.meters(flat.address).rated_power_w == 30_000

    # the owner accepts; nobody else can, and not twice
    assert "registered for" in cli("trade", "accept-meter", pv.address, "--account", "test:5", code=2)
    assert "accepted meter" in cli("trade", "accept-meter", pv.address, "--account", "test:4")
    assert registry.meters(pv.address).accepted
    assert "already accepted" in cli("trade", "accept-meter", pv.address, "--account", "test:4", code=2)

    # deactivate / activate
    assert "now inactive" in cli("operator", "deactivate", pv.address)
    assert "already inactive" in cli("operator", "deactivate", pv.address, code=2)
    assert "now active" in cli("operator", "activate", pv.address)
    assert "no meter 0x" in cli("operator", "activate", new_key.address, code=2)

    # status: owner, accepted or not, last reading; fits a 100-column terminal (it was 200-240 wide)
    out = cli.table("operator", "status")
    assert "Operator roof" in out and "Meyer flat" in out and "not accepted" in out
    assert f"{pv.address[:6]}…{pv.address[-4:]}" in out and "active" in out
    assert pv.address in cli("operator", "status", "--wide")

    # TSL for a member, then a deposit with days of storage before and after
    assert "not an amount of TSL" in cli("operator", "mint-tsl", owner.address, "lots", code=2)
    assert "minted 50.0000 TSL" in cli("operator", "mint-tsl", owner.address, "50")
    assert "you hold 50.0000 TSL, not 60.0000 TSL" in cli("trade", "deposit-rent", "60", "--account", "test:4", code=2)
    domain = domain_from_contract(registry)
    t1 = chain.blocks.head.timestamp
    r = Reading(pv.address, t1, 3_000, 0, 2_250, 0)  # 2 kWh exported since commissioning
    chain.pending_timestamp = t1 + 1
    submit_one(registry, pv, r, domain, sender=accounts[0])
    assert watt.balanceOf(owner) == 2_000
    # a small deposit: 2 kWh at 0.003479 TSL/kWh/day last about 0.14 days on 0.001 TSL
    out = cli("trade", "deposit-rent", "0.002", "--account", "test:4")
    assert "deposited 0.0020 TSL" in out and "storage left: 0.0 days ->" in out
    assert tsl.balanceOf(owner) == 50 * 10**18 - 2 * 10**15
    out = cli("trade", "withdraw-rent", "0.001", "--account", "test:4")
    assert "withdrew 0.0010 TSL" in out
    assert "your rent deposit is" in cli("trade", "withdraw-rent", "100", "--account", "test:4", code=2)

    # rotate the meter's key (hardware replaced) with the new hardware's commissioning values
    assert "the new key is the old one" in cli("operator", "rotate", pv.address, pv.address, code=2)
    assert "already registered" in cli("operator", "rotate", pv.address, flat.address, code=2)
    out = cli("operator", "rotate", pv.address, new_key.address, "--commissioned-at", str(chain.blocks.head.timestamp))
    assert "is retired" in out and registry.meters(new_key.address).owner == owner.address

    # re-commission the same key (its counters on chain went ahead of the device): the owner accepts again
    assert "no meter 0x" in cli("operator", "recommission", pv.address, code=2)  # retired by the rotation
    cli("trade", "accept-meter", new_key.address, "--account", "test:4")
    out = cli("operator", "recommission", new_key.address, "--generated", "0.5", "--exported", "0.25")
    assert "re-commissioned" in out and "must accept it again" in out, out
    assert not registry.meters(new_key.address).accepted
    assert "accepted meter" in cli("trade", "accept-meter", new_key.address, "--account", "test:4")

    # parameter changes: announce, refused before the notice is over, applied after
    assert "unknown parameter 'rent'" in cli("operator", "announce", "rent", "1", code=2)
    assert "fees takes 2 value(s)" in cli("operator", "announce", "fees", "5", code=2)
    out = cli("operator", "announce", "rent-rate", "0.004")
    assert "announced rent-rate = 0.004000 TSL per kWh per day" in out and "it may apply from" in out
    assert "may apply only from" in cli("operator", "apply", "rent-rate", code=2)
    # the certificate market's band, on its own tick (0.00001 per kWh), within its deploy-time limits
    assert "ceiling above limit" in cli("operator", "announce", "cert-price-band", "0.0001", "0.5", code=2)
    out = cli("operator", "announce", "cert-price-band", "0.0002", "0.01")
    assert "announced cert-price-band = 0.00020 TEUR/kWh .. 0.01000 TEUR/kWh" in out, out
    params = cli("operator", "params")
    assert "0.004000 TSL per kWh per day" in params and "cert-price-band" in params
    chain.mine(timestamp=chain.blocks.head.timestamp + 7 * DAY + 60)
    assert "rent-rate: 0.003479 TSL per kWh per day -> 0.004000 TSL per kWh per day" in cli("operator", "apply", "rent-rate")
    assert "-> 0.00020 TEUR/kWh .. 0.01000 TEUR/kWh" in cli("operator", "apply", "cert-price-band")
    assert watt.rent_rate() == 4 * 10**15
    assert "nothing has been announced" in cli("operator", "apply", "rent-rate", code=2)

    # arrears: the deposit ran dry long ago; settle records them, release waits for the grace period
    assert "not recorded yet" in cli("operator", "arrears")
    assert "no account is past its grace period" in cli("operator", "arrears", "--release", code=2)
    assert "recorded" in cli("operator", "arrears", "--settle")
    chain.mine(timestamp=chain.blocks.head.timestamp + 8 * DAY)
    out = cli("operator", "arrears", "--release")
    # 15 days of rent on 2 kWh outgrew what 2 kWh fetch at the release price: all of it is released
    assert f"released 2.000 kWh of {owner.address}, paying 0.100000 TSL of its arrears" in out
    assert watt.balanceOf(owner) == 0 and watt.escrowed_of(owner) == 0

    # pause and unpause; collect the rent
    assert "unknown contract 'bank'" in cli("operator", "pause", "bank", code=2)
    assert "registry paused" in cli("operator", "pause", "registry")
    assert "certificate-market paused" in cli("operator", "pause", "certificate-market")
    assert "certificate-market running again" in cli("operator", "unpause", "certificate-market")
    assert "already paused" in cli("operator", "pause", "registry", code=2)
    assert "running again" in cli("operator", "unpause", "registry")
    assert "rent revenue" in cli("operator", "collect")
    assert "nothing to collect" in cli("operator", "collect", code=2)

    # the faucet (local chains only) funds a fresh payer
    payer = "0x000000000000000000000000000000000000bEEF"
    out = cli("operator", "faucet", payer, "--tsl", "1", "--quote", "2")
    assert "10.0000 ETH, 1.0000 TSL, 2.0000 TEUR" in out
    assert "the recipient must be an address (0x followed by 40 hex digits), test:N or an ape account alias, " \
           "not 'payer'" in cli("operator", "faucet", "payer", code=2)


def test_keystore_account__signs_a_whole_command_after_one_unlock(cli, cli_deploy, tmp_path, accounts, local_network):
    """An ape keystore account: the passphrase is asked once (here from APE_ACCOUNTS_<alias>_PASSPHRASE),
    then the permit signature and the deposit transaction go through with no per-transaction prompt. A real
    `ape run` (ape reads its data folder and the passphrase variable when it starts)."""
    import json

    from eth_account import Account

    d = cli_deploy()
    member = accounts[6]
    data = tmp_path / "ape-data"
    (data / "accounts").mkdir(parents=True)
    keyfile = Account.encrypt(member.private_key, "walkthrough", kdf="pbkdf2", iterations=2)
    (data / "accounts" / "member.json").write_text(json.dumps(keyfile))
    cli("operator", "faucet", member.address, "--eth", "0", "--tsl", "3", "--quote", "0")
    env = {**os.environ, "GRIDMINT_DEPLOYMENTS_DIR": str(tmp_path), "APE_DATA_FOLDER": str(data),
           "APE_ACCOUNTS_member_PASSPHRASE": "walkthrough"}
    ape = str(Path(sys.executable).parent / "ape")
    result = subprocess.run([ape, "run", "trade", "deposit-rent", "2", "--account", "member", "--network", local_network],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deposited 2.0000 TSL" in result.stdout
    assert d.watt.rent_deposit(member) == 2 * 10**18


def test_local_chain__test_accounts_listed__csv_owner_as_test_n__time_moved(cli, cli_deploy, tmp_path, accounts, chain):
    """A newcomer's local-chain tools: the test accounts' addresses (`operator accounts`), `test:N` in the
    CSV's owner column as in `register`'s OWNER, and a day of the chain's time without waiting a day."""
    registry = cli_deploy().registry

    listed = cli.table("operator", "accounts", "--count", "6")
    for i in range(6):
        assert f"test:{i}" in listed and str(accounts[i].address) in listed

    header = "address,owner,method,rated_power_kw,name,commissioned_at,generated_kwh,consumed_kwh,exported_kwh,imported_kwh\n"
    meters = tmp_path / "meters.csv"
    a, b = _meter("61"), _meter("62")
    meters.write_text(header + f"{a.address},test:4,solar,5,Roof A,,0,0,0,0\n"
                      f"{b.address},{accounts[5].address.lower()},none,3,Flat B,,0,0,0,0\n")
    assert "registered 2 meters (1 none, 1 solar)" in cli("operator", "register-csv", str(meters))
    assert registry.meters(a.address).owner == accounts[4].address
    assert registry.meters(b.address).owner == accounts[5].address
    meters.write_text(header + f"{_meter('63').address},test:99,solar,5,Roof C,,0,0,0,0\n")
    assert "meters.csv:2: no local test account 'test:99'" in cli("operator", "register-csv", str(meters), code=2)
    meters.write_text(header + f"{_meter('63').address},nobody-by-that-name,solar,5,Roof C,,0,0,0,0\n")
    assert "meters.csv:2: owner must be an address (0x followed by 40 hex digits), test:N or an ape account alias" in cli(
        "operator", "register-csv", str(meters), code=2)

    before = chain.blocks.head.timestamp
    out = cli("operator", "advance-time", "1d")
    assert chain.blocks.head.timestamp >= before + DAY and "chain time" in out
    assert "not a duration" in cli("operator", "advance-time", "tomorrow", code=2)


def test_refusals__out_of_bounds_announce__one_line_nothing_sent(cli):
    """An announcement outside the deploy-time limits is refused by the simulation: one line on stderr (no
    call trace before it), exit 2, no block mined."""
    cli("deploy")
    assert cli("operator", "announce", "fees", "5000", "5000", code=2) == (
        "Error: announce_fees would be refused: fee above limit")
    assert "ceiling above limit" in cli("operator", "announce", "price-band", "0.08", "9", code=2)
