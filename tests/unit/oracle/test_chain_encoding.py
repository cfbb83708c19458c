"""The submitter's hot path speaks the generated MeterRegistry ABI: its calldata decodes as
`submit_readings(readings, signatures)` and its receipt reader finds meter, timestamp and reason
where the ABI puts them."""

from __future__ import annotations

from eth_abi import decode, encode
from eth_hash.auto import keccak

from gridmint.generated.contracts import REJECT_REASONS
from gridmint.generated.contracts import REJECT_STALE
from oracle.chain import TOPIC_ACCEPTED, TOPIC_REJECTED, decode_outcomes, submit_calldata
from oracle.eip712 import Reading
from oracle.outbox import REASONS, Row

METER = "0x" + keccak(b"meter").hex()[-40:]


def _row(i: int) -> Row:
    reading = Reading(METER, 1_800_000_000 + i, 7 * i, 5 * i, 3 * i, i)
    return Row(id=i, reading=reading, signature=bytes([i]) * 65, state="signed", tx_hash=None, reason=None, attempts=0)


def test_submit_calldata__is_the_abi_call_of_submit_readings():
    rows = [_row(i) for i in range(1, 4)]
    data = submit_calldata(rows)
    sig = "submit_readings((address,uint64,uint256,uint256,uint256,uint256)[],bytes[])"
    assert data[:4] == keccak(sig.encode())[:4]
    readings, signatures = decode(["(address,uint64,uint256,uint256,uint256,uint256)[]", "bytes[]"], data[4:])
    as_sent = [(r[0].lower(), *r[1:]) for r in readings]
    assert as_sent == [(str(a[0]).lower(), *a[1:]) for a in (row.reading.as_call_arg() for row in rows)]
    assert list(signatures) == [row.signature for row in rows]


def test_decode_outcomes__reads_meter_timestamp_and_reason_where_the_abi_puts_them():
    meter_topic = bytes.fromhex(METER[2:]).rjust(32, b"\0")
    owner_topic = b"\0" * 12 + b"\x11" * 20
    accepted = {"topics": [TOPIC_ACCEPTED, meter_topic, owner_topic],
                "data": encode(["uint64"] + ["uint256"] * 4, [1_800_000_001, 1, 2, 3, 4])}
    rejected = {"topics": [TOPIC_REJECTED, meter_topic], "data": encode(["uint64", "uint8"], [1_800_000_002, 5])}
    other = {"topics": [keccak(b"Transfer(address,address,uint256)")], "data": b""}
    ok, bad = decode_outcomes({"logs": [accepted, rejected, other, {"topics": [], "data": b""}]})
    checksummed = next(iter(ok))[0]
    assert checksummed.lower() == METER and ok == {(checksummed, 1_800_000_001)}
    assert bad == {(checksummed, 1_800_000_002): 5}
    assert TOPIC_REJECTED == keccak(b"ReadingRejected(address,uint64,uint8)")


def test_reason_names__from_the_registry_constants():
    assert REASONS[REJECT_STALE] == "stale" and REJECT_STALE == 4
    assert REASONS == {code: r.name for code, r in REJECT_REASONS.items()} and set(REASONS) == set(range(1, 9))
