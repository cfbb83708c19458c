"""The generated contract knowledge (gridmint/generated/contracts.py, app/src/generated/contracts.ts)
is what contracts/ says today: regenerated in memory (the pinned vyper, ABI output only, ~10 s) and
compared with the committed files. Stale -> run `make generate`."""

from __future__ import annotations

import re

import pytest
from eth_hash.auto import keccak

from gridmint import codegen
from gridmint.generated import contracts as generated


@pytest.fixture(scope="module")
def knowledge():
    return codegen.read_contracts()


def test_generated_files__match_the_contracts(knowledge):
    for path, text in codegen.render(knowledge).items():
        assert path.exists(), f"{path.relative_to(codegen.ROOT)} is missing: run `make generate`"
        assert path.read_text() == text, f"{path.relative_to(codegen.ROOT)} is stale: run `make generate`"


def test_codegen__is_deterministic(knowledge):
    assert codegen.render(knowledge) == codegen.render(codegen.read_contracts(abis=knowledge.abis))


def test_reasons__are_the_contract_constants():
    """Every REJECT_*/CLOSE_* constant under contracts/ is a generated reason with its code, and
    nothing else is."""
    found = {}
    for path in codegen.CONTRACTS_DIR.rglob("*.vy"):
        for name, value in re.findall(r"^((?:REJECT|CLOSE)_\w+): constant\(uint8\) = (\d+)$", path.read_text(), re.M):
            found[name] = int(value)
    table = {f"REJECT_{r.name.upper()}": r.code for r in generated.REJECT_REASONS.values()}
    table |= {f"CLOSE_{r.name.upper()}": r.code for r in generated.CLOSE_REASONS.values()}
    assert found and table == found


def test_selectors_and_topics__hash_the_abi_signatures():
    submit = "submit_readings((address,uint64,uint256,uint256,uint256,uint256)[],bytes[])"
    assert generated.SELECTORS["MeterRegistry"][submit] == "0x" + keccak(submit.encode())[:4].hex()
    rejected = "ReadingRejected(address,uint64,uint8)"
    assert generated.TOPICS["MeterRegistry"]["ReadingRejected"] == "0x" + keccak(rejected.encode()).hex()
    assert list(generated.EVENT_TYPES[("MeterRegistry", "ReadingRejected")].__annotations__) == [
        "meter", "timestamp", "reason"]


def test_check_mode__reports_a_stale_file(tmp_path, monkeypatch, knowledge, capsys):
    stale = tmp_path / "contracts.py"
    stale.write_text("# stale\n")
    monkeypatch.setattr(codegen, "PY_OUT", stale)
    monkeypatch.setattr(codegen, "TS_OUT", tmp_path / "contracts.ts")
    monkeypatch.setattr(codegen, "read_contracts", lambda *_a, **_k: knowledge)
    monkeypatch.setattr(codegen, "ROOT", tmp_path)
    assert codegen.main(["--check"]) == 1
    assert "contracts.py is stale" in capsys.readouterr().err
    assert stale.read_text() == "# stale\n"
    assert codegen.main([]) == 0 and codegen.main(["--check"]) == 0


def test_reason_words__from_the_dev_comment_above_the_constant__else_the_name(tmp_path):
    (tmp_path / "modules").mkdir()
    (tmp_path / "Market.vy").write_text(
        "# Close reasons\n"
        "# @dev self-trade (the taker met its own resting order)\n"
        "CLOSE_SELF_TRADE: constant(uint8) = 5\n"
        "CLOSE_BELOW_MINIMUM: constant(uint8) = 8\n"
        "FLAG_IOC: constant(uint256) = 1\n"
        "FLAG_POST_ONLY: constant(uint256) = 2\n"
        "_PRIVATE: constant(uint8) = 9\n")
    (tmp_path / "modules" / "book.vy").write_text("FEE_BPS_CAP: constant(uint256) = 100\n"
                                                  "REJECT_STALE: public(constant(uint8)) = 4\n")
    k = codegen.read_contracts(tmp_path, abis={})
    assert [(r.code, r.name, r.words) for r in k.close_reasons] == [
        (5, "self_trade", "self-trade (the taker met its own resting order)"), (8, "below_minimum", "below minimum")]
    assert [(r.code, r.name) for r in k.reject_reasons] == [(4, "stale")]
    assert (k.flags, k.fee_bps_cap) == ({"ioc": 1, "post_only": 2}, 100)
    (tmp_path / "Other.vy").write_text("CLOSE_SELF_TRADE: constant(uint8) = 6\n")
    with pytest.raises(ValueError, match="CLOSE_SELF_TRADE is defined twice"):
        codegen.read_contracts(tmp_path, abis={})
