"""The README's walkthrough, run exactly as written: the shell block between
`<!-- walkthrough:start -->` and `<!-- walkthrough:end -->` in README.md is the one source of truth.

The block starts its own persistent Anvil on 127.0.0.1:8545, so it runs in a fresh network namespace
of its own (`unshare -n`, as every node-starting command here does) where that port is free whatever
else the test session runs; it runs in a scratch directory that links the repository's code (so keys/,
oracle.toml, oracle.db and the deployment record land there, not in the work tree).
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LINKED = ["ape-config.yaml", "contracts", "scripts", "gridmint", "oracle", "tools", ".venv", "node_modules", ".build",
          "Makefile", "pyproject.toml"]


def walkthrough_block(readme: Path = ROOT / "README.md") -> str:
    text = readme.read_text()
    m = re.search(r"<!-- walkthrough:start -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert m, "README.md has no walkthrough block"
    return m.group(1)


def test_readme_block_is_extracted_whole():
    block = walkthrough_block()
    assert block.lstrip().startswith('N="--network ethereum:local:foundry"')
    assert block.rstrip().endswith("kill %1")
    for step in ("run deploy", "keys new", "operator register", "accept-meter", "faucet", "backfill", "deposit-rent",
                 "place sell", "place buy", "certificates issue", "certificates claim", "market sell",
                 "market buy-and-claim"):
        assert step in block, step


def test_readme_walkthrough_runs_as_written(tmp_path):
    work = tmp_path / "clone"
    work.mkdir()
    for name in LINKED:
        if (ROOT / name).exists():
            (work / name).symlink_to(ROOT / name)
    script = work / "walkthrough.sh"
    # the block ends with `kill %1`; if a step fails first, the chain it started must not outlive the test
    script.write_text("set -euo pipefail\nip link set lo up\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
                      + walkthrough_block())
    # a fresh shell's PATH: no activated virtualenv, no node_modules/.bin (the README names them itself)
    env = {**os.environ, "GRIDMINT_DEPLOYMENTS_DIR": str(work / "deployments"),
           "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    env.pop("GRIDMINT_KEY_PASSWORD", None)
    env.pop("VIRTUAL_ENV", None)
    started = time.time()
    result = subprocess.run(["unshare", "-n", "bash", str(script)], cwd=work, env=env, capture_output=True, text=True,
                            timeout=900)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    # the deploy went to the persistent chain, and the record is keyed by chain id
    assert (work / "deployments" / "ethereum-local-31337.json").exists()
    assert "throwaway" not in out
    # quiet: no ape line per transaction, no library warnings
    assert "INFO:" not in out and "Submitted" not in out and "Warning" not in out, out[-4000:]
    assert "accepted 2, rejected 0" in out
    assert "order 1 rests: sell 5.000 kWh at 0.2100 TEUR/kWh" in out
    assert "traded 2.000 kWh at 0.2100 TEUR/kWh = 0.4200 TEUR" in out
    assert "withdrew 0.4196 TEUR" in out  # 0.42 minus the 10 bps maker fee
    assert re.search(r"deposited 20\.0000 TSL; deposit [0-9.]+ TSL; storage left: [0-9.]+ days -> "
                     r"([0-9,.]+ days|more than a year)", out), out
    assert "rent arrears now" in out  # `balances`: what the account owes now, not only what was recorded
    assert "issued certificate #1: 8.000 kWh" in out
    assert "claimed 1.000 kWh of certificate #1" in out
    # the certificate market: 4 kWh offered at 0.0045, 2 kWh bought and claimed in one transaction
    assert re.search(r"order \d+ rests: sell 4\.000 kWh of certificate #1 \(solar 20\d\d-\d\d\) at 0\.00450 TEUR/kWh", out), out
    assert re.search(r"bought and claimed 2\.000 kWh of solar 20\d\d-\d\d for 0x[0-9a-fA-F]{40} at 0\.00450 TEUR/kWh", out), out
    assert "withdrew 0.008991 TEUR" in out  # 0.009 minus the 10 bps maker fee
    print(f"walkthrough: {time.time() - started:.0f} s")


def test_deploy_without_a_node__says_throwaway__writes_no_record(tmp_path):
    """In a namespace where nothing listens on 127.0.0.1:8545, ape starts a throwaway Anvil: deploy says so."""
    env = {**os.environ, "GRIDMINT_DEPLOYMENTS_DIR": str(tmp_path)}
    cmd = "ip link set lo up; exec .venv/bin/ape run deploy --network ethereum:local:foundry"
    result = subprocess.run(["unshare", "-n", "bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ape started a throwaway Anvil" in result.stderr and "no deployment record was written" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not list(tmp_path.glob("*.json"))
