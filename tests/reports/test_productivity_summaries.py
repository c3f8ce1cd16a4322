"""The productivity report reads summaries kept as the rows are written; rows loaded in
bulk without the ORM (the benchmark's generator, a migration) get the same facts and
sums from `work_summaries.derive` and `summaries.rebuild`: the same report either way."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.models.tables import Remittance, WorkItem
from denialflow.reports.period import ReportFilter
from denialflow.reports.productivity import ProductivityReport, productivity
from denialflow.store import summaries, work_summaries
from tests.reports.productivity_data import CHICAGO, JANUARY, TODAY, build

FILTERS = [
    (JANUARY, None),
    (ReportFilter(JANUARY.start, JANUARY.end, "medicare"), None),
    (ReportFilter(JANUARY.start, JANUARY.end, "commercial-uhc"), None),
    (ReportFilter(date(2025, 12, 1), date(2026, 3, 31)), None),
    (JANUARY, "riley"),
    (JANUARY, "sam"),
]


def _numbers(report: ProductivityReport) -> dict[str, Any]:
    def person(p: Any) -> tuple[Any, ...]:
        d = p.denials
        return (
            p.username,
            p.closed,
            p.sla_met,
            sorted(p.handling_seconds),
            p.escalations,
            (d.on_time, d.late, d.pending),
            p.per_day,
        )

    return {
        "people": [person(p) for p in report.people],
        "team": person(report.team),
        "closed_by": {k: dict(v) for k, v in report.closed_by.counts.items()},
        "escalations": [(q.queue, q.level1, q.level2) for q in report.escalations],
        "posting": [
            (m.month, m.received, m.dollars.on_time, m.dollars.late, m.dollars.pending)
            for m in report.posting or []
        ],
    }


def _reports(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [
            _numbers(productivity(session, flt, CHICAGO, TODAY, only=only)) for flt, only in FILTERS
        ]


def test_bulk_loaded_rows_give_the_same_report(any_engine: Engine) -> None:
    build(any_engine)
    kept = _reports(any_engine)
    # As a bulk load leaves them: rows without their facts, and no summaries.
    with any_engine.begin() as connection:
        connection.execute(
            update(WorkItem.__table__).values(
                payer_id=None,
                opened_on=None,
                started_at=None,
                acted_at=None,
                closed_on=None,
                handling_seconds=None,
                acted_in_time=None,
                escalations=[],
            )
        )
        connection.execute(
            update(Remittance.__table__).values(
                received_on=None, claim_payer_id=None, posted_in_time=None
            )
        )
        for _name, model, *_rest in work_summaries.TABLES:
            connection.execute(delete(model.__table__))
    assert _reports(any_engine) != kept
    with any_engine.begin() as connection:
        work_summaries.derive(connection, CHICAGO)
        summaries.rebuild(connection)
    assert _reports(any_engine) == kept
    with any_engine.connect() as connection:
        mine = {name for name, *_ in work_summaries.TABLES}
        assert [str(d) for d in summaries.check(connection) if d.table in mine] == []
