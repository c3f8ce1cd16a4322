"""The team page's "worked today" counts the practice's day, not UTC's: work resolved at
23:30 in Chicago (05:30 UTC the next day) belongs to that Chicago day."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.models.tables import AuditEvent, Claim, User
from denialflow.web.routers.team import day_bounds, people_loads

CHICAGO = ZoneInfo("America/Chicago")


def _worked(engine: Engine, at: datetime, tz: ZoneInfo | type[UTC]) -> int:
    with Session(engine) as session:
        loads = people_loads(session, at, tz)  # type: ignore[arg-type]
    return next(p for p in loads if p.username == "sam").worked_today


def test_worked_today_follows_the_practice_clock(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(User(username="sam", full_name="Sam Ortiz", role="specialist"))
        for claim_id in ("T-1", "T-2"):
            now = datetime(2026, 1, 1, tzinfo=UTC)
            session.add(
                Claim(
                    id=claim_id,
                    payer_id="medicare",
                    service_date=now.date(),
                    submitted_on=now.date(),
                    created_at=now,
                    updated_at=now,
                )
            )
        # 14:00 and 23:30 on Thursday, January 15 in Chicago (CST, UTC-6).
        for claim_id, at in (
            ("T-1", datetime(2026, 1, 15, 20, 0, tzinfo=UTC)),
            ("T-2", datetime(2026, 1, 16, 5, 30, tzinfo=UTC)),
        ):
            session.add(
                AuditEvent(
                    at=at, actor="sam", action="resolve", claim_id=claim_id, detail={"item": "x"}
                )
            )
        session.commit()

    late_evening = datetime(2026, 1, 16, 5, 45, tzinfo=UTC)  # 23:45 on the 15th in Chicago
    assert _worked(engine, late_evening, CHICAGO) == 2
    assert _worked(engine, late_evening, UTC) == 1  # what counting UTC days gave: half
    next_morning = datetime(2026, 1, 16, 14, 0, tzinfo=UTC)  # 08:00 on the 16th in Chicago
    assert _worked(engine, next_morning, CHICAGO) == 0
    assert _worked(engine, next_morning, UTC) == 1  # yesterday evening's work, wrongly

    assert day_bounds(late_evening, CHICAGO) == (
        datetime(2026, 1, 15, 6, tzinfo=UTC),
        datetime(2026, 1, 16, 6, tzinfo=UTC),
    )
