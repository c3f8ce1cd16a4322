"""`denialflow check`'s look at the report facts (store/fact_check.py): the facts kept on
the rows as each step was written, against the same facts found again from the rows'
timelines, on claims written the way the workflow writes them (tests/reports/ledger.py).
Looking changes nothing; a repair keeps what was found and the summaries follow."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from denialflow.domain.rules.calendar import practice_day
from denialflow.models.tables import ClaimEvent, Remittance, WorkItem
from denialflow.store import fact_check, summaries
from tests.reports.ledger import build_fact_claims

CHICAGO = ZoneInfo("America/Chicago")
# Eleven hours behind UTC: a morning in UTC (when the ledger's steps happen) is the
# evening before in Pago Pago and the same day in Chicago.
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")


def _look(engine: Engine, tz: ZoneInfo = CHICAGO) -> list[str]:
    """What the check says, changing nothing."""
    with engine.connect() as connection, connection.begin() as transaction:
        found = [str(d) for d in fact_check.rederive(connection, tz)]
        transaction.rollback()
    return found


def _repair(engine: Engine, tz: ZoneInfo = CHICAGO) -> None:
    with engine.begin() as connection:
        fact_check.rederive(connection, tz)
        summaries.rebuild(connection)


def _remittance(engine: Engine, key: str) -> Remittance:
    with Session(engine) as session:
        return session.exec(select(Remittance).where(Remittance.key == key)).one()


def _denial_item(engine: Engine) -> WorkItem:
    with Session(engine) as session:
        return session.exec(
            select(WorkItem).where(WorkItem.claim_id == "F-APP", WorkItem.kind == "denial")
        ).one()


def test_facts_kept_as_the_steps_were_written_agree_with_their_timelines(
    any_engine: Engine,
) -> None:
    build_fact_claims(any_engine)
    assert _look(any_engine) == []


def test_a_fact_written_around_the_orm_is_named_and_put_right_only_on_repair(
    any_engine: Engine,
) -> None:
    build_fact_claims(any_engine)
    resolved = _remittance(any_engine, "F-APP:era-1").resolved_on
    item = _denial_item(any_engine)
    assert resolved is not None and item.opened_on is not None
    # A hand-run UPDATE: the denial resolved a year early, and the item opened on a
    # day nothing happened.
    r, w = Remittance.__table__, WorkItem.__table__  # type: ignore[attr-defined]
    with any_engine.begin() as connection:
        connection.execute(
            update(r).where(r.c.key == "F-APP:era-1").values(resolved_on=date(2025, 3, 1))
        )
        connection.execute(update(w).where(w.c.id == item.id).values(opened_on=date(2001, 1, 1)))
    rid = _remittance(any_engine, "F-APP:era-1").id

    found = _look(any_engine)
    assert found == [
        f"remittance.resolved_on differs on 1 row ({rid} has 2025-03-01, its rows say {resolved})",
        f"work_item.opened_on differs on 1 row ({item.id} has 2001-01-01, "
        f"its rows say {item.opened_on})",
    ]
    # Looking changed nothing.
    assert _remittance(any_engine, "F-APP:era-1").resolved_on == date(2025, 3, 1)
    assert _look(any_engine) == found

    _repair(any_engine)
    assert _remittance(any_engine, "F-APP:era-1").resolved_on == resolved
    assert _denial_item(any_engine).opened_on == item.opened_on
    assert _look(any_engine) == []
    with any_engine.connect() as connection:
        assert list(summaries.check(connection)) == []


def test_a_changed_practice_time_zone_moves_the_facts_days_and_a_repair_follows_it(
    any_engine: Engine,
) -> None:
    build_fact_claims(any_engine)
    with Session(any_engine) as session:
        opened = session.exec(
            select(ClaimEvent.at)
            .where(ClaimEvent.claim_id == "F-APP", ClaimEvent.event == "work_item_opened")
            .order_by(col(ClaimEvent.at))
        ).first()
    assert opened is not None
    assert practice_day(opened, PAGO_PAGO) != practice_day(opened, CHICAGO)

    found = _look(any_engine, PAGO_PAGO)
    day_facts = {
        "appealed_on",
        "resolved_on",
        "opened_on",
        "closed_on",
        "received_on",
        "escalations",
        "acted_in_time",
        "posted_in_time",
    }
    columns = {line.split(" ", 1)[0].split(".")[1] for line in found}
    assert "opened_on" in columns and columns <= day_facts
    assert _denial_item(any_engine).opened_on == practice_day(opened, CHICAGO)

    _repair(any_engine, PAGO_PAGO)
    assert _denial_item(any_engine).opened_on == practice_day(opened, PAGO_PAGO)
    assert _look(any_engine, PAGO_PAGO) == []
    assert _look(any_engine, CHICAGO) != []
