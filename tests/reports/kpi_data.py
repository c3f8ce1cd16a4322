"""The dashboard's test ledger: eight claims driven through the real claim machine and
written as the workflow writes them (tests/reports/ledger.py). tests/reports/test_kpis.py
works out every KPI over it by hand."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from tests.reports.ledger import LedgerClaim

JAN = date(2026, 1, 5)  # a Monday; served three days before
FEB = date(2026, 2, 9)


def build(engine: Engine) -> None:
    """Eight claims, all but one with UHC; served in January (1, 2, 3, 5, 6) or
    February (4, 7, 8)."""
    # 1. Paid in full on its first answer.
    paid = LedgerClaim(engine, "K-PAID", charge="500.00", submitted=JAN)
    paid.advance(days=14)
    paid.remit(paid="500.00")

    # 2. Denied (CO-50) on 2026-01-19, appealed 10 days later, paid on appeal 20 days on.
    appeal = LedgerClaim(engine, "K-APPEAL", charge="400.00", submitted=JAN)
    appeal.advance(days=14)
    appeal.deny("50", amount="400.00")
    appeal.advance(days=10)
    appeal.act("appeal_filed", level=1)
    appeal.advance(days=20)
    appeal.remit(paid="400.00")

    # 3. A duplicate denial (CO-18): left out of the claim-level rates; still open.
    dup = LedgerClaim(engine, "K-DUP", charge="300.00", submitted=JAN)
    dup.advance(days=14)
    dup.deny("18", amount="300.00")

    # 4. Partial: 300 paid, 100 contractual, 200 denied (CO-50); 200 still open.
    partial = LedgerClaim(engine, "K-PARTIAL", charge="600.00", submitted=FEB)
    partial.advance(days=14)
    partial.remit(paid="300.00", adjustments=[("CO", "45", "100.00"), ("CO", "50", "200.00")])

    # 5. Denied for timely filing (CO-29), written off five days later.
    wo = LedgerClaim(engine, "K-WO", charge="90.00", submitted=JAN)
    wo.advance(days=14)
    wo.deny("29", amount="90.00")
    wo.advance(days=5)
    wo.act("write_off")

    # 6. Medicare: paid, the payment reversed, then corrected (180 paid, 20 contractual).
    rev = LedgerClaim(engine, "K-REV", payer="medicare", charge="200.00", submitted=JAN)
    rev.advance(days=14)
    rev.remit(paid="200.00")
    rev.advance(days=7)
    rev.remit(paid="-200.00", status_code="22")
    rev.advance(days=14)
    rev.remit(paid="180.00", adjustments=[("CO", "45", "20.00")])

    # 7. Rejected at the front door, sent again, paid: not a clean claim.
    rej = LedgerClaim(engine, "K-REJ", charge="100.00", submitted=FEB)
    rej.advance(days=1)
    rej.ack(accepted=False, category="A7", status_code="562")
    rej.advance(days=1)
    rej.act("corrected_claim")
    rej.advance(days=14)
    rej.remit(paid="100.00")

    # 8. Underpaid (300 paid, 100 contractual, 100 left), the 100 recovered later.
    under = LedgerClaim(engine, "K-UNDER", charge="500.00", submitted=FEB)
    under.advance(days=14)
    under.remit(paid="300.00", adjustments=[("CO", "45", "100.00")])
    under.advance(days=20)
    under.remit(paid="100.00")
