"""The recompute core with the battery's storage takes (issue 26): MeterRegistry.take_stored leaves a meter's
certifiable generation (what it does not cover is owed and comes off later generation), and a discharge
certificate (method 6) is no generation certificate."""

from __future__ import annotations

from gridmint.audit.recompute import Ledger
from tests.unit.audit.test_recompute import METER, OWNER, checks, deployed, reading


def take(c, wh: int, start: int, end: int):
    return c.tx().ev("MeterRegistry", "CertifiableTaken", meter=METER, wh=wh, period_start=start, period_end=end)


def test_stored_wh_leave_the_certifiable_generation():
    c = reading(deployed(), 600, 1_000, 800)
    c.tx().ev("MeterRegistry", "StoredTaken", meter=METER, wh=600, owed_wh=0)
    ledger = Ledger().apply_all(c.events)
    assert ledger.meters[METER].certifiable_wh == 400
    take(c, 400, c.ts - 600, c.ts)
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert checks(ledger) == set()
    assert ledger.meters[METER].certifiable_wh == 0 and ledger.meters[METER].stored_wh == 0


def test_a_take_above_what_storage_left_is_found():
    c = reading(deployed(), 600, 1_000, 800)
    c.tx().ev("MeterRegistry", "StoredTaken", meter=METER, wh=600, owed_wh=0)
    take(c, 1_000, c.ts - 600, c.ts)  # the stored Wh certified as generation too
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert "inv3.taken-not-pending" in checks(ledger)


def test_owed_wh_come_off_later_generation():
    c = reading(deployed(), 600, 1_000, 0)
    take(c, 1_000, c.ts - 600, c.ts)  # the generator issued first
    c.tx().ev("MeterRegistry", "StoredTaken", meter=METER, wh=300, owed_wh=300)  # all of it owed
    reading(c, 600, 500, 0)
    ledger = Ledger().apply_all(c.events)
    assert ledger.meters[METER].certifiable_wh == 200
    c.tx().ev("MeterRegistry", "StoredTaken", meter=METER, wh=300, owed_wh=0)  # forged: 100 of it was owed
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert "inv3.stored-owed" in checks(ledger)


def test_discharge_certificate_is_no_generation_certificate():
    c = reading(deployed(), 600, 1_000, 0)
    c.tx().ev("EnvironmentalCertificate", "CertificateIssued", id=7, meter=METER, generator=OWNER, method=6,
              period_start=c.ts - 86_400, period_end=c.ts, amount_wh=5_000)  # more than the meter generated
    ledger = Ledger().apply_all(c.events)
    ledger.finish()
    assert not {"inv3.issued-not-taken", "inv3.certified-above-generation", "inv3.overlapping-period"} & checks(ledger)
