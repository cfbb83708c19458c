"""gridmint's public auditor: recomputes every balance, escrow, certificate and claim from events
alone, compares with the chain's views, checks invariants 1-6 of docs/rules.md and flags generation
that cannot be real. Console script: `gridmint-audit` (gridmint/audit/cli.py); docs/audit.md.

    from gridmint.audit import audit
    report = audit("deployments/ethereum-local-31337.json", "http://127.0.0.1:8545", "out/audit.sqlite")
    report.render_summary(console)        # rich table; report.exit_code() is 1 on any difference
"""

from .auditor import AuditInputError, audit, recompute
from .config import AuditConfig
from .events import Event
from .findings import Finding
from .recompute import Ledger
from .report import Report

__all__ = ["audit", "recompute", "AuditConfig", "AuditInputError", "Event", "Finding", "Ledger", "Report"]
