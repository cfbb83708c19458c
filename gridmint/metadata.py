"""ERC-1155 metadata JSON for certificates (pure: certificate data in, JSON-ready dict out).

`uri(id)` returns a template with `{id}`; clients substitute the id as 64
lowercase hex digits (ERC-1155), so files are written as `<64 hex>.json`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from gridmint.units import METHOD_NAMES as METHODS  # every certificate method, 6 = storage (a discharge)


def id_hex(token_id: int) -> str:
    return f"{token_id:064x}"


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_expired(expires_at: int, now: int) -> bool:
    """The one expiry rule of certificate units (EnvironmentalCertificate, CertificateExchange): live while
    the block time is before `expires_at`; from that second on nothing moves, lists or is claimed."""
    return now >= expires_at


def status(cert, now: int) -> str:
    if cert.revoked:
        return "revoked"
    if cert.outstanding_wh == 0:
        return "fully claimed"
    if is_expired(cert.expires_at, now):
        return "expired"
    return "active"


def certificate_metadata(token_id: int, cert, now: int) -> dict:
    """Metadata per the ERC-1155 metadata JSON schema (name, description, decimals, properties)."""
    method = METHODS.get(int(cert.method), f"method {cert.method}")
    kwh = cert.amount_wh / 1000
    return {
        "name": f"gridmint certificate #{token_id}: {kwh:,.3f} kWh {method}",
        "description": (
            f"Environmental value of {cert.amount_wh} Wh of {method} generation by "
            f"{cert.generator_name}, metered between {_iso(cert.period_start)} and {_iso(cert.period_end)} "
            "and certified once from signed smart-meter readings. 1 unit = 1 Wh; claiming units retires them."
        ),
        "decimals": 3,
        "properties": {
            "generator": str(cert.generator),
            "generator_name": cert.generator_name,
            "meter": str(cert.meter),
            "method": method,
            "period_start": _iso(cert.period_start),
            "period_end": _iso(cert.period_end),
            "amount_wh": int(cert.amount_wh),
            "issued_at": _iso(cert.issued_at),
            "expires_at": _iso(cert.expires_at),
            "outstanding_wh": int(cert.outstanding_wh),
            "claimed_wh": int(cert.claimed_wh),
            "status": status(cert, now),
        },
    }
