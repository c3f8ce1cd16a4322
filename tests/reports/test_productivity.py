"""The productivity numbers on small hand-built data with known answers, on SQLite and
PostgreSQL; and once on rows the real claim machine wrote, so the queries read what
production records (event and audit names, the item in their JSON)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.domain.types import Actor
from denialflow.models.tables import User, WorkItem
from denialflow.reports.period import ReportFilter
from denialflow.reports.productivity import (
    NOBODY,
    PersonStats,
    ProductivityReport,
    productivity,
)
from tests.reports.ledger import LedgerClaim
from tests.reports.productivity_data import CHICAGO, JANUARY, TODAY, build


def person(report: ProductivityReport, username: str) -> PersonStats:
    return next(p for p in report.people if p.username == username)


def test_the_numbers(any_engine: Engine) -> None:
    build(any_engine)
    with Session(any_engine) as session:
        report = productivity(session, JANUARY, CHICAGO, TODAY)

    assert report.business_days == 20  # January 2026 less New Year's Day and MLK Day
    sam, riley = person(report, "sam"), person(report, "riley")
    # Items closed, SLA, handling time.
    assert (sam.closed, sam.sla_met, sam.sla_share) == (3, 2, Decimal("66.7"))
    assert sam.timed == 2 and sam.median_hours == Decimal("3.0") == sam.mean_hours
    assert sam.per_day == Decimal("0.2")  # 3 / 20 = 0.15, rounded half up
    assert (riley.closed, riley.sla_met, riley.median_hours) == (1, 0, Decimal("1.0"))
    # Jordan closed nothing but is listed; the supervisor is listed for the payment she
    # matched by hand (a day past its due time).
    assert person(report, "jordan").closed == 0
    assert [p.username for p in report.people] == ["sam", "casey", "riley", "jordan"]
    assert (person(report, "casey").closed, person(report, "casey").sla_met) == (1, 0)
    team = report.team
    assert (team.closed, team.sla_met, team.timed) == (6, 3, 3)
    assert team.per_day == Decimal("0.3")
    assert team.median_hours == Decimal("2.0") and team.mean_hours == Decimal("2.3")

    # Per practice day: A3 closed at 23:30 Chicago time counts for the 15th.
    closed = report.closed_by
    assert closed.by == "day" and len(closed.buckets) == 31
    assert dict(closed.counts["sam"]) == {
        date(2026, 1, 6): 1,
        date(2026, 1, 9): 1,
        date(2026, 1, 15): 1,
    }
    assert dict(closed.counts[NOBODY]) == {date(2026, 1, 10): 1}
    assert sum(closed.totals()) == 6

    # Escalations per home queue; level 2 counted where the item came from.
    assert [(q.queue, q.level1, q.level2) for q in report.escalations] == [
        ("underpayments", 1, 1),
        ("follow-up", 1, 0),
    ]
    assert (sam.escalations, riley.escalations, team.escalations) == (3, 0, 3)

    # Denials acted on within 10 business days.
    assert (sam.denials.on_time, sam.denials.late, sam.denials.pending) == (1, 1, 0)
    assert sam.denials.share == Decimal("50.0")
    assert (riley.denials.on_time, riley.denials.late, riley.denials.pending) == (0, 1, 1)
    assert (report.denials.on_time, report.denials.late, report.denials.pending) == (1, 3, 1)
    assert report.denials.share == Decimal("25.0")

    # Payment dollars posted within 4 business days.
    assert report.posting_total is not None and report.posting is not None
    assert report.posting_total.on_time == Decimal("160.00")  # 100 + 60 (matched by hand)
    assert report.posting_total.late == Decimal("50.00")  # the 40 reversal + 10 waiting
    assert report.posting_total.pending == 0
    assert report.posting_total.share == Decimal("76.2")
    assert [(m.month, m.received) for m in report.posting] == [
        (date(2026, 1, 1), Decimal("210.00"))
    ]


def test_escalations_count_where_the_item_belongs(any_engine: Engine) -> None:
    build(any_engine)
    with Session(any_engine) as session:
        # Level 2 moved A2 to the escalation queue; it still belongs to underpayments.
        row = session.get(WorkItem, "A2")
        assert row is not None
        row.queue = "escalations"
        session.add(row)
        session.commit()
        report = productivity(session, JANUARY, CHICAGO, TODAY)
    assert [q.queue for q in report.escalations] == ["underpayments", "follow-up"]
    assert report.escalations[0].title == "Underpayments"


def test_payer_filter(any_engine: Engine) -> None:
    build(any_engine)
    medicare = ReportFilter(JANUARY.start, JANUARY.end, "medicare")
    uhc = ReportFilter(JANUARY.start, JANUARY.end, "commercial-uhc")
    with Session(any_engine) as session:
        on_medicare = productivity(session, medicare, CHICAGO, TODAY)
        on_uhc = productivity(session, uhc, CHICAGO, TODAY)
    assert (person(on_medicare, "sam").closed, on_medicare.team.closed) == (1, 1)
    assert (person(on_uhc, "sam").closed, on_uhc.team.closed) == (2, 4)
    # Medicare's denials are D1 (in time) and D2 (late).
    assert (on_medicare.denials.on_time, on_medicare.denials.late) == (1, 1)
    # Only matched payments have a payer: UHC's is the 100.00, in time.
    assert on_uhc.posting_total is not None
    assert (on_uhc.posting_total.on_time, on_uhc.posting_total.late) == (Decimal("100.00"), 0)


def test_one_person_sees_only_their_own_work(any_engine: Engine) -> None:
    build(any_engine)
    with Session(any_engine) as session:
        report = productivity(session, JANUARY, CHICAGO, TODAY, only="riley")
    assert [p.username for p in report.people] == ["riley"]
    assert report.team.closed == 1  # riley's own, not the team's
    assert set(report.closed_by.counts) == {"riley"}
    assert (report.denials.on_time, report.denials.late, report.denials.pending) == (0, 1, 1)
    assert report.escalations == []
    assert report.posting is None and report.posting_total is None


def test_waiting_payments_and_denials_inside_their_window_are_pending(any_engine: Engine) -> None:
    build(any_engine)
    with Session(any_engine) as session:
        # On Feb 3 the payment received on Friday Jan 30 has had 2 business days.
        report = productivity(session, JANUARY, CHICAGO, date(2026, 2, 3))
    assert report.posting_total is not None
    assert report.posting_total.pending == Decimal("10.00")
    assert report.posting_total.share == Decimal("80.0")  # 160 of 200
    assert report.denials.pending == 1  # D3 (D2 closed later, but it is already late)


def test_a_long_range_is_counted_per_month(any_engine: Engine) -> None:
    build(any_engine)
    year = ReportFilter(date(2025, 12, 1), date(2026, 3, 31))
    with Session(any_engine) as session:
        report = productivity(session, year, CHICAGO, TODAY)
    by = report.closed_by
    assert by.by == "month" and by.buckets == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    # X1 on Dec 31 and X2 on Feb 1 in Chicago; D2 closed on Feb 10.
    assert by.series("sam") == [1, 3, 2, 0]
    assert [by.label(b) for b in by.buckets][:2] == ["2025-12", "2026-01"]


def test_nothing_in_range(any_engine: Engine) -> None:
    build(any_engine)
    empty = ReportFilter(date(2024, 1, 1), date(2024, 1, 31))
    with Session(any_engine) as session:
        report = productivity(session, empty, CHICAGO, TODAY)
    assert report.team.closed == 0 and report.team.sla_share is None
    assert report.team.median_hours is None and report.denials.share is None
    assert report.posting_total is not None and report.posting_total.share is None


def test_what_the_claim_machine_writes_is_counted(any_engine: Engine) -> None:
    """A denial worked through the real machine: Sam starts it and appeals 3 hours later."""
    with Session(any_engine) as session:
        session.add(User(username="sam", full_name="Sam Ortiz", role="specialist"))
        session.commit()
    run = LedgerClaim(any_engine, "L-1", submitted=date(2026, 3, 2))
    run.advance(days=10)
    run.deny(reason="50")
    denial = run.item("denial")
    run.advance(hours=2)
    run.act(
        "start_work",
        by=Actor(username="sam"),
        work_item_id=denial.id,
        expected_version=denial.version,
    )
    run.advance(hours=3)
    denial = run.items[denial.id]
    run.act(
        "appeal_filed",
        by=Actor(username="sam"),
        work_item_id=denial.id,
        expected_version=denial.version,
        level=1,
    )
    march = ReportFilter(date(2026, 3, 1), date(2026, 3, 31))
    with Session(any_engine) as session:
        report = productivity(session, march, CHICAGO, date(2026, 4, 30))
    sam = person(report, "sam")
    assert sam.closed == 1
    assert sam.median_hours == Decimal("3.0")
    assert (sam.denials.on_time, sam.denials.late) == (1, 0)
