"""tools/bin/anvil: the Anvil every target, ape and the walkthroughs start leaves no past states behind.

Anvil 1.7.1 keeps the last few hundred blocks' states in memory and writes older ones under
~/.foundry/anvil/tmp, where they stay after it exits (one `make demo` left 570 MB there). The
wrapper gives each Anvil a directory of its own under $TMPDIR and removes it once Anvil is gone,
however it is stopped: SIGINT (ape's provider) or SIGTERM (`kill %1`, tests/utils/anvil.py)."""

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.utils.anvil import Anvil

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "tools" / "bin" / "anvil"


def test_anvil__the_makefile_starts_the_wrapper():
    # `command -v anvil` under the Makefile's own PATH: what ape-foundry, `make chain` and the tests find
    out = subprocess.run(["make", "--no-print-directory", "-s", "-E", "print-anvil: ; @command -v anvil", "print-anvil"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == WRAPPER


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_anvil__past_states_in_a_directory_of_its_own__removed_when_it_stops(tmp_path, monkeypatch, stop):
    tmp, home = tmp_path / "tmp", tmp_path / "home"
    tmp.mkdir()
    home.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("HOME", str(home))
    anvil_tmp = home / ".foundry" / "anvil" / "tmp"  # where Anvil 1.7.1 leaves them on its own

    def left_in_home():
        return anvil_tmp.exists() and any(anvil_tmp.iterdir())

    # the Anvil the tests start (tests/utils/anvil.py): the first one on the Makefile's PATH
    anvil = Anvil().start()
    try:
        w3 = anvil.w3()
        # enough blocks that Anvil writes the oldest states to disk
        w3.provider.make_request("anvil_mine", [hex(1_200)])
        deadline = time.time() + 10
        while not any(tmp.rglob("*.json")) and time.time() < deadline:
            time.sleep(0.1)
        assert any(tmp.rglob("*.json")), "Anvil wrote no past state to disk: the test no longer shows the cleanup"
        # the states on disk still answer while it runs: an account's balance at block 1
        assert w3.eth.get_balance(w3.eth.accounts[0], block_identifier=1) > 0
        assert not left_in_home()
        anvil.proc.send_signal(stop)
        rc = anvil.proc.wait(timeout=20)
    finally:
        anvil.stop()
    assert rc != 0  # stopped by the signal, not exited on its own
    assert list(tmp.iterdir()) == []
    assert not left_in_home()
