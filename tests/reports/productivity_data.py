"""January 2026, hand-built: users, claims, work items, timeline events, audit rows,
835 files and remittances with known productivity numbers (tests/reports/
test_productivity.py says what they are; tests/web and tests/browser read them too)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimEvent,
    IngestedFile,
    Remittance,
    User,
    WorkItem,
)
from denialflow.reports.period import ReportFilter

CHICAGO = ZoneInfo("America/Chicago")
JANUARY = ReportFilter(date(2026, 1, 1), date(2026, 1, 31))
TODAY = date(2026, 2, 12)
_seq = count(1)


def utc(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def claim(session: Session, claim_id: str, payer: str) -> None:
    now = utc(1, 12)
    session.add(
        Claim(
            id=claim_id,
            payer_id=payer,
            service_date=date(2025, 12, 1),
            submitted_on=date(2025, 12, 2),
            created_at=now,
            updated_at=now,
        )
    )


def item(
    session: Session,
    item_id: str,
    claim_id: str | None,
    *,
    assignee: str | None,
    due: datetime,
    closed: datetime | None = None,
    kind: str = "follow_up",
    queue: str = "follow-up",
) -> None:
    session.add(
        WorkItem(
            id=item_id,
            claim_id=claim_id,
            kind=kind,
            queue=queue,
            home_queue=queue,
            assignee=assignee,
            state="closed" if closed else "open",
            opened_at=due - timedelta(days=2),
            due_at=due,
            closed_at=closed,
            updated_at=closed or due,
        )
    )


def event(session: Session, claim_id: str, at: datetime, name: str, **data: Any) -> None:
    session.add(
        ClaimEvent(
            claim_id=claim_id,
            workflow_id=f"claim-{claim_id}",
            seq=next(_seq),
            at=at,
            event=name,
            data=data,
        )
    )


def audit(session: Session, claim_id: str, at: datetime, actor: str, action: str, item_id: str):  # type: ignore[no-untyped-def]
    session.add(
        AuditEvent(at=at, actor=actor, action=action, claim_id=claim_id, detail={"item": item_id})
    )


def build(engine: Engine, users: bool = True) -> None:
    """January 2026's data set (`users`: add the people too; the web tests have the demo
    users already)."""
    with Session(engine) as s:
        if users:
            s.add(User(username="sam", full_name="Sam Ortiz", role="specialist"))
            s.add(User(username="riley", full_name="Riley Chen", role="specialist"))
            s.add(User(username="jordan", full_name="Jordan Blake", role="specialist"))
            s.add(User(username="casey", full_name="Casey Morgan", role="supervisor"))
        claim(s, "C1", "commercial-uhc")
        claim(s, "C2", "medicare")
        s.flush()

        # --- items closed in January (Chicago days) ------------------------------------
        # Sam: started 14:00, closed 16:00 UTC on the 6th, a day before due: 2 h, in SLA.
        item(s, "A1", "C1", assignee="sam", due=utc(7, 15), closed=utc(6, 16))
        event(s, "C1", utc(6, 14), "work_item_started", item="A1", kind="follow_up", by="sam")
        # Sam, a Medicare claim: started on the 9th, closed 4 h later, past due.
        item(s, "A2", "C2", assignee="sam", due=utc(8, 15), closed=utc(9, 18),
             kind="underpayment", queue="underpayments")  # fmt: skip
        event(s, "C2", utc(9, 14), "work_item_started", item="A2", kind="underpayment", by="sam")
        # Sam: closed at 05:30 UTC on the 16th = 23:30 on the 15th in Chicago; never started.
        item(s, "A3", "C1", assignee="sam", due=utc(20, 15), closed=utc(16, 5, 30))
        # Riley: an hour's work, a day late.
        item(s, "R1", "C1", assignee="riley", due=utc(19, 17), closed=utc(20, 17))
        event(s, "C1", utc(20, 16), "work_item_started", item="R1", kind="follow_up", by="riley")
        # Closed by a payment while nobody held it.
        item(s, "N1", "C1", assignee=None, due=utc(12, 12), closed=utc(10, 12))
        # Outside January in Chicago, though inside it in UTC (and the other way round).
        item(s, "X1", "C1", assignee="sam", due=utc(5, 1), closed=utc(1, 5))  # Dec 31, 23:00
        item(
            s, "X2", "C1", assignee="sam", due=utc(9, 1), closed=utc(1, 7, month=2)
        )  # Feb 1, 01:00
        # Open items are not closed work.
        item(s, "O1", "C1", assignee="sam", due=utc(25, 12))

        # --- escalations ----------------------------------------------------------------
        event(s, "C1", utc(7, 16), "work_item_escalated", item="A1", level=1, queue="follow-up")
        event(s, "C2", utc(8, 16), "work_item_escalated", item="A2", level=1, queue="follow-up")
        event(s, "C2", utc(9, 2), "work_item_escalated", item="A2", level=2, queue="escalations")
        event(s, "C1", utc(3, 16, month=2), "work_item_escalated", item="O1", level=1)

        # --- denials opened in January --------------------------------------------------
        # D1 (Sam): opened Monday the 5th, a call logged on Friday the 9th: 4 business days.
        item(s, "D1", "C2", assignee="sam", due=utc(8, 15), kind="denial", queue="clinical")
        event(s, "C2", utc(5, 15), "work_item_opened", item="D1", kind="denial")
        audit(s, "C2", utc(9, 15), "sam", "call_logged", "D1")
        # D2 (Sam): nothing done; closed on Feb 10 (a payment came): far past 10 days.
        item(
            s, "D2", "C2", assignee="sam", due=utc(8, 15), closed=utc(10, 15, month=2),
            kind="denial", queue="clinical",
        )  # fmt: skip
        event(s, "C2", utc(5, 15), "work_item_opened", item="D2", kind="denial")
        # D3 (Riley): opened Friday the 30th, untouched; 9 business days by Feb 12: pending.
        item(s, "D3", "C1", assignee="riley", due=utc(3, 15, month=2), kind="denial")
        event(s, "C1", utc(30, 15), "work_item_opened", item="D3", kind="denial")
        # D4 (nobody): opened on the 2nd, untouched: late.
        item(s, "D4", "C1", assignee=None, due=utc(6, 15), kind="denial")
        event(s, "C1", utc(2, 15), "work_item_opened", item="D4", kind="denial")
        # D5 (Riley): started on the 6th (not an action on the denial), appealed on the
        # 21st: 11 business days (Martin Luther King Jr. Day on the 19th), late.
        item(s, "D5", "C1", assignee="riley", due=utc(8, 15), kind="denial", queue="clinical")
        event(s, "C1", utc(5, 15), "work_item_opened", item="D5", kind="denial")
        audit(s, "C1", utc(6, 15), "riley", "start_work", "D5")
        audit(s, "C1", utc(21, 15), "riley", "appeal_filed", "D5")
        # Opened in December: not January's.
        item(s, "D6", "C1", assignee="sam", due=utc(8, 15), kind="denial")
        event(s, "C1", datetime(2025, 12, 31, 15, tzinfo=UTC), "work_item_opened", item="D6")

        # --- payment posting ------------------------------------------------------------
        f1 = IngestedFile(
            sha256="a" * 64, sender="CH", control_number="1", file_name="a.835",
            kinds=["835"], status="posted", received_at=utc(5, 16), posted_at=utc(6, 10),
        )  # fmt: skip
        f2 = IngestedFile(
            sha256="b" * 64, sender="CH", control_number="2", file_name="b.835",
            kinds=["835"], status="posted", received_at=utc(30, 16), posted_at=utc(30, 17),
        )  # fmt: skip
        f3 = IngestedFile(
            sha256="c" * 64, sender="CH", control_number="3", file_name="c.835",
            kinds=["835"], status="posted", received_at=utc(2, 16, month=2),
        )  # fmt: skip
        s.add_all([f1, f2, f3])
        s.flush()

        def remit(key: str, claim_id: str | None, paid: str, posted: datetime, file: Any) -> None:
            s.add(
                Remittance(
                    key=key,
                    claim_id=claim_id,
                    file_id=file.id,
                    status_code="1",
                    paid=Decimal(paid),
                    posted_at=posted,
                )
            )

        remit("k1", "C1", "100.00", utc(6, 10), f1)  # next day: in time
        remit("k2", "C2", "-40.00", utc(12, 10), f1)  # a reversal, 5 business days: late
        # Matched no claim; a person matched it on the 8th (3 business days): in time.
        remit("k3", None, "60.00", utc(5, 16), f1)
        item(s, "unmatched:k3", None, assignee="casey", due=utc(7, 16), closed=utc(8, 12),
             kind="unmatched_remittance", queue="unmatched")  # fmt: skip
        # Matched no claim, still waiting since the 30th: 9 business days by Feb 12, late.
        remit("k4", None, "10.00", utc(30, 16), f2)
        item(s, "unmatched:k4", None, assignee=None, due=utc(2, 16, month=2),
             kind="unmatched_remittance", queue="unmatched")  # fmt: skip
        # Received in February: not January's.
        remit("k5", "C1", "999.00", utc(2, 17, month=2), f3)
        s.commit()
