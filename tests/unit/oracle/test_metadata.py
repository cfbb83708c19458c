"""Certificate metadata JSON follows the ERC-1155 metadata schema and carries the certificate's data."""

import json

import boa

from gridmint.metadata import certificate_metadata, id_hex
from tests.conftest import SOLAR


def test_metadata__from_a_real_certificate(system, register, submit, now, meter_owner, other_owner, operator):
    pv = register("roof", meter_owner, SOLAR, 10_000, "Roof PV Okafor")
    start = now()
    submit([(pv, pv.reading(start))])
    boa.env.time_travel(seconds=1_800)
    submit([(pv, pv.reading(now(), gen=3_210))])
    cert = system.certificate
    id = cert.issue(pv.address, sender=meter_owner)
    cert.claim(id, 1_000, other_owner, "office", sender=meter_owner)
    meta = certificate_metadata(id, cert.certificate(id), now())
    json.dumps(meta)  # serialisable
    assert set(meta) == {"name", "description", "decimals", "properties"}
    p = meta["properties"]
    assert (p["generator"], p["generator_name"], p["method"], p["amount_wh"]) == (meter_owner, "Roof PV Okafor", "solar", 3_210)
    assert (p["outstanding_wh"], p["claimed_wh"], p["status"]) == (2_210, 1_000, "active")
    assert "3.210 kWh solar" in meta["name"]
    cert.revoke(id, "audit", sender=operator)
    assert certificate_metadata(id, cert.certificate(id), now())["properties"]["status"] == "revoked"
    assert id_hex(id) == "0" * 63 + "1"
