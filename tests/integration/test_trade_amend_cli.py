"""`ape run trade amend`, in-process against the test session's node (the `cli` fixture of conftest.py):
an ask amended down and up the queue, a bid amended down with its refund, and bad input refused before
anything is sent: exit status 2, one line, no transaction."""


import pytest


pytestmark = [pytest.mark.integration, pytest.mark.local_chain]


def test_amend_cli_smoke(cli, cli_market):
    # a PV meter of the seller exports 6 kWh into the battery; both deposit rent; the buyer has 100 TEUR
    m = cli_market("42", (8_000, 2_000, 6_000, 0), 1_800, "CLI roof")
    watt, seller = m.watt, m.seller

    out = cli("trade", "place", "sell", "0.2", "5", "--account", "test:2")
    assert "order 1 rests: sell 5.000 kWh" in out
    out = cli("trade", "amend", "1", "0.21", "4", "--account", "test:2")
    assert "order 1 now rests: sell 4.000 kWh at 0.2100 TEUR/kWh (at the back of the queue)" in out, out
    assert watt.balanceOf(seller) == 2_000
    out = cli("trade", "amend", "1", "0.21", "3", "--account", "test:2")
    assert "(kept its place)" in out, out
    assert watt.balanceOf(seller) == 3_000
    nonce = seller.nonce
    for text, args in {
        "nothing to change": ("trade", "amend", "1", "0.21", "3", "--account", "test:2"),
        "outside the band": ("trade", "amend", "1", "0.5", "3", "--account", "test:2"),
        "belongs to": ("trade", "amend", "1", "0.21", "2", "--account", "test:3"),
        "of free WATT": ("trade", "amend", "1", "0.21", "7", "--account", "test:2"),
    }.items():
        out = cli(*args, code=2)
        assert text in out, out
    assert seller.nonce == nonce
    out = cli("trade", "place", "buy", "0.1", "2", "--account", "test:3")
    assert "order 2 rests" in out, out
    out = cli("trade", "amend", "2", "0.1", "1", "--account", "test:3")
    assert "kept its place" in out and "refunded" in out, out
    assert "would cross" in cli("trade", "amend", "2", "0.21", "1", "--account", "test:3", code=2)
    out = cli("trade", "amend", "2", "0.2", "1", "--account", "test:3")
    assert "at the back of the queue" in out, out
