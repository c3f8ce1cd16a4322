"""The dashboard's KPIs against a small ledger with known answers, built by driving the
real claim machine and writing its projections (tests/reports/ledger.py), on SQLite and
PostgreSQL. Every expected number below is worked out by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.models.tables import Claim
from denialflow.reports.kpis import KPIS, KpiReport, claim_rows, kpi_report
from denialflow.reports.period import ReportFilter
from tests.reports.kpi_data import build

TZ = ZoneInfo("America/Chicago")
Q1 = ReportFilter(date(2026, 1, 1), date(2026, 3, 31))
TODAY = date(2026, 4, 30)  # A/R over 90 days: served before 2026-01-30


@pytest.fixture
def ledger(any_engine: Engine) -> Engine:
    build(any_engine)
    return any_engine


def report(engine: Engine, flt: ReportFilter = Q1) -> KpiReport:
    with Session(engine) as session:
        return kpi_report(session, flt, TZ, TODAY)


def pct(value: str) -> Decimal:
    return Decimal(value)


def test_headline_kpis_over_the_quarter(ledger: Engine) -> None:
    r = report(ledger)
    t = r.total
    # First answers (duplicate left out): 1, 2, 4, 5, 6, 8 (initial) and 7 (resubmission).
    # Denied in full or in part: 2, 4, 5.
    assert (t.initial_denials.part, t.initial_denials.whole) == (3, 7)
    assert t.initial_denials.value == pct("42.9")
    # Denied dollars 400 + 200 + 90 = 690 of charges 500+400+600+90+200+100+500 = 2390.
    assert t.initial_denial_dollars.part == Decimal("690.00")
    assert t.initial_denial_dollars.whole == Decimal("2390.00")
    assert t.initial_denial_dollars.value == pct("28.9")
    # Stage initial only: 1, 2, 4, 5, 6, 8; denied 2, 4, 5.
    assert (t.primary_denials.part, t.primary_denials.whole) == (3, 6)
    # AR-5: 1, 2 (twice), 3, 4, 5, 6 (paid and its correction; the reversal left out),
    # 7, 8 (twice) = 11 remittances; with a denial: 2's first, 3, 4, 5.
    assert (t.remittance_denials.part, t.remittance_denials.whole) == (4, 11)
    # First pass: of the six stage-initial answers, 1 and 6 paid in full.
    assert (t.first_pass.part, t.first_pass.whole) == (2, 6)
    assert t.first_pass.value == pct("33.3")
    # Clean: eight claims served in the range, 7 rejected.
    assert (t.clean_claims.part, t.clean_claims.whole) == (7, 8)
    assert t.clean_claims.value == pct("87.5")
    # Net revenue: charges 2690 less contractual 100 (4) + 20 (6) + 100 (8) = 2470.
    assert t.net_revenue == Decimal("2470.00")
    # Payer payments: 500 + 400 + 300 + (200 - 200 + 180) + 100 + (300 + 100) = 1880.
    assert t.net_collection.part == Decimal("1880.00")
    assert t.net_collection.value == pct("76.1")
    # A/R at the end: 300 (3) + 200 (4); the rest settled. 500 / (2470 / 90 days).
    assert t.ar == Decimal("500.00")
    assert t.days_in_ar == Decimal("18.2")
    # Appeals answered: one, paid.
    assert (t.overturn.part, t.overturn.whole) == (1, 1)
    # Denial write-offs: 90 of 2470 net revenue.
    assert t.denial_write_offs.part == Decimal("90.00")
    assert t.denial_write_offs.value == pct("3.6")
    # One underpayment of 100, recovered.
    assert (t.underpaid, t.underpaid_dollars) == (1, Decimal("100.00"))
    assert (r.recovered.claims, r.recovered.recovered_claims) == (1, 1)
    assert r.recovered.dollars == Decimal("100.00")
    # Denial to appeal: 10 days. To resolution: 2 paid after 30 days, 5 written off after
    # 5; 3 (duplicate) and 4 (partial) still open.
    assert (r.to_appeal.value, r.to_appeal.count) == (Decimal("10.0"), 1)
    assert (r.to_resolution.value, r.to_resolution.count) == (Decimal("17.5"), 2)
    assert r.to_resolution.pending == 2
    # Write-offs by reason: the one administrative write-off.
    assert [(w.reason_code, w.write_offs, w.amount) for w in r.write_offs] == [
        ("administrative", 1, Decimal("90.00"))
    ]
    # A/R over 90 days as of 2026-04-30: 3 (served 2026-01-02, 300) of 500.
    assert r.ar_over_90.part == Decimal("300.00")
    assert r.ar_over_90.value == pct("60.0")


def test_reconstructed_ar_at_the_end_equals_the_balances_today(ledger: Engine) -> None:
    with Session(ledger) as session:
        balances = session.exec(select(func.sum(Claim.balance))).one()
    assert report(ledger).total.ar == balances


def test_trend_splits_the_quarter_by_month(ledger: Engine) -> None:
    by_month = {first.month: m for first, m in report(ledger).trend}
    assert sorted(by_month) == [1, 2, 3]
    # Served in January: 1, 2, 3, 5, 6, all clean; in February 4, 7, 8 with 7 rejected.
    assert by_month[1].clean_claims.value == pct("100.0")
    assert (by_month[2].clean_claims.part, by_month[2].clean_claims.whole) == (2, 3)
    # Decided in January: first answers 1, 2, 5, 6 (3 is the duplicate); denied 2 and 5.
    assert (by_month[1].initial_denials.part, by_month[1].initial_denials.whole) == (2, 4)
    # A/R at the end of January: 400 (2, appealed) + 300 (3) + 200 (6, reversed on
    # 2026-01-26 and corrected only on 2026-02-09) = 900; 5 was written off on 2026-01-24.
    assert by_month[1].ar == Decimal("900.00")
    # March: nothing served and no first answer (only 8's later payment): no rates and
    # no days in A/R, rather than a division by zero.
    march = by_month[3]
    assert (march.remittance_denials.part, march.remittance_denials.whole) == (0, 1)
    assert march.initial_denials.value is None
    assert march.clean_claims.value is None
    assert march.days_in_ar is None
    assert march.ar == Decimal("500.00")


def test_a_period_with_no_claims_has_no_numbers_rather_than_zeros(ledger: Engine) -> None:
    r = report(ledger, ReportFilter(date(2025, 1, 1), date(2025, 6, 30)))
    t = r.total
    assert t.empty
    for ratio in (
        t.initial_denials,
        t.initial_denial_dollars,
        t.primary_denials,
        t.remittance_denials,
        t.first_pass,
        t.clean_claims,
        t.net_collection,
        t.overturn,
        t.denial_write_offs,
    ):
        assert ratio.value is None
    assert t.days_in_ar is None
    assert r.to_appeal.value is None and r.to_resolution.value is None
    assert (t.ar, r.recovered.dollars) == (Decimal("0.00"), Decimal("0"))


def test_the_payer_filter_counts_that_payers_claims_only(ledger: Engine) -> None:
    t = report(ledger, ReportFilter(Q1.start, Q1.end, payer_id="medicare")).total
    # Only 6: paid first time, reversed, corrected: no denial, clean, first pass.
    assert (t.initial_denials.part, t.initial_denials.whole) == (0, 1)
    assert (t.remittance_denials.part, t.remittance_denials.whole) == (0, 2)
    assert (t.first_pass.part, t.first_pass.whole) == (1, 1)
    assert t.clean_claims.value == pct("100.0")
    assert t.ar == Decimal("0.00")
    assert t.net_revenue == Decimal("180.00")


def _listed(engine: Engine, kpi: str, flt: ReportFilter = Q1) -> list[tuple]:
    with Session(engine) as session:
        found = claim_rows(session, kpi, flt, TZ, TODAY, limit=None)
    assert found.total == len(found.rows)
    # Newest first (a long list's first page is the latest work).
    days = [row[3] for row in found.rows]
    assert days == sorted(days, reverse=True), kpi
    return found.rows


def test_each_drill_down_lists_exactly_what_its_number_counts(ledger: Engine) -> None:
    r = report(ledger)
    t = r.total
    counted = {
        "first_answers": t.initial_denials.whole,
        "initial_denials": t.initial_denials.part,
        "initial_answers": t.primary_denials.whole,
        "primary_denials": t.primary_denials.part,
        "first_pass_paid": t.first_pass.part,
        "remittances": t.remittance_denials.whole,
        "remittance_denials": t.remittance_denials.part,
        "appeal_answers": t.overturn.whole,
        "overturned": t.overturn.part,
        "underpaid": t.underpaid,
        "denials": r.to_resolution.count + r.to_resolution.pending,
        "claims": t.clean_claims.whole,
        "clean": t.clean_claims.part,
        "unclean": t.clean_claims.whole - t.clean_claims.part,
        "appeals": r.to_appeal.count,
        "recovered": r.recovered.recovered_claims,
    }
    dollars = {
        "ar_over_90": r.ar_over_90.part,
        "denial_write_offs": t.denial_write_offs.part,
    }
    assert set(counted) | set(dollars) == set(KPIS)
    for kpi, number in counted.items():
        assert len(_listed(ledger, kpi)) == number, kpi
    for kpi, amount in dollars.items():
        assert sum(row[5] for row in _listed(ledger, kpi)) == amount, kpi
    # And they are the right claims.
    assert sorted(row[0] for row in _listed(ledger, "initial_denials")) == [
        "K-APPEAL",
        "K-PARTIAL",
        "K-WO",
    ]
    assert [row[0] for row in _listed(ledger, "unclean")] == ["K-REJ"]
    assert [row[0] for row in _listed(ledger, "ar_over_90")] == ["K-DUP"]
    # The denial of 2026-01-19, appealed 10 days later; the underpayment paid 100 more.
    assert [(row[0], row[3]) for row in _listed(ledger, "appeals")] == [
        ("K-APPEAL", date(2026, 1, 19))
    ]
    assert [row[0] for row in _listed(ledger, "recovered")] == ["K-UNDER"]
    # The payer filter applies to the lists as to the numbers.
    medicare = ReportFilter(Q1.start, Q1.end, payer_id="medicare")
    assert {row[0] for row in _listed(ledger, "remittances", medicare)} == {"K-REV"}


def test_a_drill_down_pages_through_its_rows(ledger: Engine) -> None:
    with Session(ledger) as session:
        first = claim_rows(session, "claims", Q1, TZ, TODAY, offset=0, limit=5)
        rest = claim_rows(session, "claims", Q1, TZ, TODAY, offset=5, limit=5)
    assert (first.total, len(first.rows), len(rest.rows)) == (8, 5, 3)
    assert {row[0] for row in first.rows}.isdisjoint(row[0] for row in rest.rows)


def test_an_unknown_drill_down_is_refused() -> None:
    with pytest.raises(KeyError), Session() as session:
        claim_rows(session, "nothing", Q1, TZ, TODAY)
