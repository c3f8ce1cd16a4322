"""A small practice's answers with known denial and payer numbers, built by driving the
real claim machine (tests/reports/ledger.py) so the report columns and summaries are
what production writes. The range to read them with is MARCH_APRIL; each helper below
names the claims behind one slice, which the reports' drill-downs must land on exactly.

Claims (all submitted in 2026; decision dates in parentheses):
  commercial-uhc
    U1  paid in full, 10 days after submission (03-12)
    U2  denied CO-50, 500.00 (03-14)
    U3  denied CO-50, 300.00 (04-03)
    U4  denied CO-197, 200.00 (03-16)
    U5  partial: 250 paid, CO-45 50 contractual, CO-97 100 denied (03-20)
    U6  denied CO-16 150.00 (03-10); corrected; the correction denied CO-16 again (04-10)
    U7  denied CO-50 250.00 (03-18); appealed; the appeal paid (04-20)
    U8  denied CO-50 (05-11): outside the range
  medicare
    M1  paid in full, 20 days after submission (03-22)
    M2  denied CO-29, 90.00 (03-13)
    M3  underpaid: 300 of 500 paid, CO-45 100 (03-15), 13 days after submission
  commercial-aetna
    A1  paid in full, 4 days after submission (03-06)
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.engine import Engine

from denialflow.reports.period import ReportFilter
from tests.domain.claims import at
from tests.reports.ledger import LedgerClaim, install_payers

UHC, MEDICARE, AETNA = "commercial-uhc", "medicare", "commercial-aetna"
MARCH_APRIL = ReportFilter(start=date(2026, 3, 1), end=date(2026, 4, 30))
SUBMITTED = date(2026, 3, 2)


def _claim(
    engine: Engine, claim_id: str, charge: str, payer: str = UHC, **kw: object
) -> LedgerClaim:
    return LedgerClaim(engine, claim_id, payer=payer, charge=charge, **kw)  # type: ignore[arg-type]


def _on(claim: LedgerClaim, day: date) -> LedgerClaim:
    claim.advance_to(at(day))
    return claim


def build(engine: Engine) -> None:
    install_payers(engine)
    u1 = _claim(engine, "U1", "120.00")
    _on(u1, date(2026, 3, 12)).remit(paid="120.00")

    _on(_claim(engine, "U2", "500.00"), date(2026, 3, 14)).deny("50")
    _on(_claim(engine, "U3", "300.00"), date(2026, 4, 3)).deny("50")
    _on(_claim(engine, "U4", "200.00"), date(2026, 3, 16)).deny("197")
    _on(_claim(engine, "U5", "400.00"), date(2026, 3, 20)).remit(
        paid="250.00", adjustments=[("CO", "45", "50.00"), ("CO", "97", "100.00")]
    )

    u6 = _on(_claim(engine, "U6", "150.00"), date(2026, 3, 10))
    u6.deny("16")
    u6.act("start_work", item_id=u6.item("denial").id)
    u6.act("corrected_claim", item_id=u6.item("denial").id)
    _on(u6, date(2026, 4, 10)).deny("16")

    u7 = _on(_claim(engine, "U7", "250.00"), date(2026, 3, 18))
    u7.deny("50")
    u7.act("start_work", item_id=u7.item("denial").id)
    u7.act("appeal_filed", item_id=u7.item("denial").id)
    _on(u7, date(2026, 4, 20)).remit(paid="250.00")

    u8 = _claim(engine, "U8", "80.00", submitted=date(2026, 5, 4))
    _on(u8, date(2026, 5, 11)).deny("50")

    _on(_claim(engine, "M1", "100.00", MEDICARE), SUBMITTED + timedelta(days=20)).remit(
        paid="100.00"
    )
    _on(_claim(engine, "M2", "90.00", MEDICARE), date(2026, 3, 13)).deny("29")
    _on(_claim(engine, "M3", "500.00", MEDICARE), SUBMITTED + timedelta(days=13)).remit(
        paid="300.00", adjustments=[("CO", "45", "100.00")]
    )
    _on(_claim(engine, "A1", "60.00", AETNA), SUBMITTED + timedelta(days=4)).remit(paid="60.00")


# The denials build() makes: (claim, payer, stage, category, reason, decision, denied).
DENIALS = [
    ("U2", UHC, "initial", "medical_necessity", "CO-50", date(2026, 3, 14), "500.00"),
    ("U3", UHC, "initial", "medical_necessity", "CO-50", date(2026, 4, 3), "300.00"),
    ("U4", UHC, "initial", "authorization", "CO-197", date(2026, 3, 16), "200.00"),
    ("U5", UHC, "initial", "bundling", "CO-97", date(2026, 3, 20), "100.00"),
    ("U6", UHC, "initial", "missing_information", "CO-16", date(2026, 3, 10), "150.00"),
    ("U6", UHC, "resubmission", "missing_information", "CO-16", date(2026, 4, 10), "150.00"),
    ("U7", UHC, "initial", "medical_necessity", "CO-50", date(2026, 3, 18), "250.00"),
    ("U8", UHC, "initial", "medical_necessity", "CO-50", date(2026, 5, 11), "80.00"),
    ("M2", MEDICARE, "initial", "timely_filing", "CO-29", date(2026, 3, 13), "90.00"),
]
# Every answer: (claim, payer, stage, outcome, decision).
ANSWERS = [
    ("U1", UHC, "initial", "paid", date(2026, 3, 12)),
    *[(c, p, st, "partial" if c == "U5" else "denied", d) for c, p, st, _, _, d, _ in DENIALS],
    ("U7", UHC, "appeal", "paid", date(2026, 4, 20)),
    ("M1", MEDICARE, "initial", "paid", date(2026, 3, 22)),
    ("M3", MEDICARE, "initial", "underpaid", date(2026, 3, 15)),
    ("A1", AETNA, "initial", "paid", date(2026, 3, 6)),
]
