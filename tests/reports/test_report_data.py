"""The report benchmark's data generator (bench/report_data.py) at a tiny scale: its bulk
load writes what production would have written for the same claims, its summaries equal
the sums over its rows, and its mix looks like a practice's."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from bench import report_data
from denialflow.models.db import engine_for
from denialflow.models.tables import Claim, ClaimEvent, Remittance, WorkItem
from denialflow.store import summaries

TODAY = date(2026, 7, 1)


def _cents(value: Any) -> Any:
    """Numbers to the cent (SQLite keeps money as floats, a sum of none as the integer
    0, a boolean as 0 or 1, and -0.00 is 0.00); anything else as it is."""
    if not isinstance(value, int | float | Decimal):
        return value
    return Decimal(str(float(value))).quantize(Decimal("0.01")) + 0


def _summary_rows(engine: Engine, table: str, keys: int) -> list[tuple[Any, ...]]:
    """A summary's rows with money to the cent and the emptied rows left out (the ORM
    hook leaves a key whose claims moved away at zero; a rebuild has no such row)."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table}")).all()
    out = []
    for row in rows:
        values = tuple(_cents(v) for v in row)
        if any(v != 0 for v in values[keys:]):
            out.append(tuple(str(v) for v in values))
    return sorted(out)


def _table(engine: Engine, query: Any) -> list[tuple[str, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(str(_cents(v)) for v in row) for row in conn.execute(query))


def test_the_bulk_load_writes_what_production_writes(any_engine: Engine, tmp_path: Path) -> None:
    """The same 100 claims, stamped from templates and bulk-loaded into one database and
    written through intake and apply_projection into another, give the same claims,
    answers, work, report facts and summaries; the bulk load's rebuilt summaries pass
    `check`. (Ids
    and sequence numbers may differ: a template is run from a Monday, and escalations,
    which count business days, add timeline events between the steps.)"""
    made = report_data.generate([any_engine], 100, TODAY)
    assert made.differences == 0
    production = engine_for(f"sqlite:///{tmp_path / 'production.db'}")
    report_data.write_through_production(production, 100, TODAY)

    with any_engine.connect() as conn:
        assert list(summaries.check(conn)) == []
    with production.connect() as conn:
        assert list(summaries.check(conn)) == []
    for table, keys in (
        ("claim_summary", 3),
        ("remittance_summary", 6),
        ("payment_lag_summary", 3),
        ("remittance_month_summary", 5),
        ("payment_lag_month_summary", 3),
        ("write_off_summary", 5),
    ):
        assert _summary_rows(any_engine, table, keys) == _summary_rows(production, table, keys)

    c, r, w, e = Claim, Remittance, WorkItem, ClaimEvent
    for query in (
        select(c.id, c.status, c.submitted_on, c.paid, c.contractual, c.written_off, c.balance),
        select(r.key, r.claim_id, r.decision_date, r.stage, r.outcome, r.denial_reason, r.paid),
        # The report facts production keeps step by step, and the bulk load finds after.
        select(c.id, c.unclean),
        select(r.key, r.sent_on, r.appealed_on, r.resolved_on, r.recovered),
        select(w.claim_id, w.kind, w.state, w.assignee, w.closed_at, w.outcome),
        select(e.claim_id, e.event, e.at).where(
            e.event.in_(("claim_status", "written_off", "remittance_posted", "appeal_decided"))
        ),
    ):
        assert _table(any_engine, query) == _table(production, query)
    production.dispose()


def test_the_mix_looks_like_a_practice(engine: Engine) -> None:
    """About a tenth of first answers denied, across the categories; appeals, corrections,
    write-offs, patient balances and open work; five payers; three years of dates."""
    report_data.generate([engine], 300, TODAY)
    with engine.connect() as conn:
        first = conn.execute(
            select(Remittance.outcome, Remittance.denial_category).where(
                Remittance.stage == "initial"
            )
        ).all()
        stages = Counter(conn.execute(select(Remittance.stage)).scalars())
        payers = set(conn.execute(select(Claim.payer_id)).scalars())
        oldest, newest = conn.execute(
            select(func.min(Claim.submitted_on), func.max(Claim.submitted_on))
        ).one()
        write_offs = conn.execute(
            select(func.count()).where(ClaimEvent.event == "written_off")
        ).scalar()
        patient_ar = conn.execute(text("SELECT sum(patient_ar) FROM claim_summary")).scalar()
        items = Counter(
            (state, assignee is not None)
            for state, assignee in conn.execute(select(WorkItem.state, WorkItem.assignee))
        )
    denied = [category for outcome, category in first if outcome in ("denied", "partial")]
    assert 0.06 <= len(denied) / len(first) <= 0.16, len(denied) / len(first)
    assert len(set(denied)) >= 6, Counter(denied)
    assert stages["appeal"] > 0 and stages["resubmission"] > 0 and stages["later"] > 0
    assert write_offs > 0 and patient_ar > 0
    assert payers == set(report_data.PAYERS)
    assert oldest <= TODAY - timedelta(days=365 * 3 - 60) and newest >= TODAY - timedelta(days=30)
    assert items[("closed", True)] > 0 and items[("closed", False)] > 0
    assert items[("open", False)] > 0 and items[("in_progress", True)] > 0
