"""Work items with no claim (a complaint, a refund, an unmatched payment...) escalate by
the same rule as a claim's: level 1 past the SLA, level 2 and the supervisors' queue past
the second limit; the daily checks run it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, WorkItem
from denialflow.reports.period import ReportFilter
from denialflow.reports.productivity import productivity
from denialflow.store import summaries, work_summaries
from denialflow.store.claimless_escalation import escalate_claimless
from tests.reports.ledger import install_payers

TZ = ZoneInfo("America/Chicago")
# A Wednesday morning; the second limit is three business days after the SLA.
NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)


def _item(item_id: str, due_at: datetime, state: str = "open", claim_id: str | None = None):  # noqa: ANN202
    return WorkItem(
        id=item_id,
        claim_id=claim_id,
        kind="patient_complaint",
        queue="patient",
        home_queue="patient",
        state=state,
        opened_at=due_at - timedelta(days=3),
        due_at=due_at,
        balance=Decimal("40.00"),
        priority=Decimal("40.00"),
        updated_at=due_at,
    )


def test_items_past_their_sla_escalate_once_and_past_the_second_limit_move_up(
    any_engine: Engine,
) -> None:
    install_payers(any_engine)
    with Session(any_engine) as session:
        session.add_all(
            [
                _item("fresh", NOW + timedelta(hours=2)),
                _item("late", NOW - timedelta(hours=1)),
                _item("very-late", NOW - timedelta(days=7)),
                _item("snoozed", NOW - timedelta(days=7), state="snoozed"),
            ]
        )
        session.commit()
    with Session(any_engine) as session:
        assert sorted(escalate_claimless(session, NOW)) == ["late", "very-late"]
        session.commit()
    with Session(any_engine) as session:
        items = {i.id: i for i in session.exec(select(WorkItem))}
        assert (items["fresh"].escalation_level, items["fresh"].queue) == (0, "patient")
        late, very = items["late"], items["very-late"]
        assert (late.escalation_level, late.queue, late.version) == (1, "patient", 2)
        assert late.priority > Decimal("40.00")  # raised above its peers
        assert (very.escalation_level, very.queue, very.escalation_reason) == (
            2,
            "escalations",
            "sla",
        )
        assert items["snoozed"].escalation_level == 0
        audits = [a.detail["item"] for a in session.exec(select(AuditEvent))]
        assert sorted(audits) == ["late", "very-late"]
    # Again the same day: nothing more.
    with Session(any_engine) as session:
        assert escalate_claimless(session, NOW + timedelta(hours=1)) == []
    # The productivity report counts them per queue like a claim's, and what the flush
    # kept equals what the rows say.
    day = NOW.astimezone(TZ).date()
    with Session(any_engine) as session:
        report = productivity(session, ReportFilter(day, day), TZ, day)
    (patient,) = [q for q in report.escalations if q.queue == "patient"]
    assert (patient.level1, patient.level2) == (1, 1)
    with any_engine.begin() as conn:
        assert list(summaries.check(conn)) == []
        work_summaries.derive(conn, TZ)
        summaries.rebuild(conn)
    with Session(any_engine) as session:
        again = productivity(session, ReportFilter(day, day), TZ, day)
    assert again.escalations == report.escalations
