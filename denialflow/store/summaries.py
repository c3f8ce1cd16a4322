"""The report summaries as sums over their rows, in SQL: to check that the kept summaries
(models/summaries.py adds every flush's difference) equal them, and to rebuild them.

`check` is what `denialflow check` runs; `rebuild` is its `--repair`, the migration that
adds the summaries, and what a bulk load that writes rows without the ORM calls after.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from denialflow.domain.rules.adjudication import FIRST_PASS_STAGES, PAID_OUTCOMES
from denialflow.models.summaries import (
    CLAIM_KEY,
    CLAIM_SUMS,
    LAG_KEY,
    LAG_MONTH_KEY,
    LAG_SUMS,
    MONTH_KEY,
    MONTH_SUMS,
    REMIT_KEY,
    REMIT_SUMS,
    WRITE_OFF_EVENTS,
    WRITE_OFF_KEY,
    WRITE_OFF_SUMS,
)
from denialflow.models.tables import (
    Claim,
    ClaimEvent,
    ClaimSummary,
    PaymentLagMonthSummary,
    PaymentLagSummary,
    Remittance,
    RemittanceMonthSummary,
    RemittanceSummary,
    WriteOffSummary,
)
from denialflow.store import work_summaries


def _claim_sums(_dialect: str) -> Select:
    c = Claim.__table__.c
    owes = c.patient_responsibility - c.patient_paid
    over = c.balance - owes
    return select(
        c.payer_id,
        c.service_date,
        c.submitted_on,
        func.count().label("claims"),
        func.sum(case((c.balance != 0, 1), else_=0)).label("open_claims"),
        func.sum(c.charge).label("charge"),
        func.sum(c.paid).label("paid"),
        func.sum(c.contractual).label("contractual"),
        func.sum(c.written_off).label("written_off"),
        func.sum(c.patient_responsibility).label("patient_responsibility"),
        func.sum(c.patient_paid).label("patient_paid"),
        func.sum(c.balance).label("balance"),
        func.sum(case((over > 0, over), else_=0)).label("insurance_ar"),
        func.sum(
            case(
                (
                    and_(owes > 0, c.balance > 0),
                    case((owes < c.balance, owes), else_=c.balance),
                ),
                else_=0,
            )
        ).label("patient_ar"),
        func.sum(case((c.balance < 0, c.balance), else_=0)).label("credit"),
        func.sum(case((c.unclean, 1), else_=0)).label("unclean"),
    ).group_by(c.payer_id, c.service_date, c.submitted_on)


def days_between(dialect: str, later: Any, earlier: Any) -> Any:
    """Whole days from `earlier` to `later`, two DATE columns, in this dialect's SQL."""
    if dialect == "postgresql":
        return later - earlier  # date - date is an integer
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def _counted(posted: Any) -> list[Any]:
    """The remittances the summaries count: posted to a claim, with its report columns."""
    return [
        posted.claim_id.is_not(None),
        posted.payer_id.is_not(None),
        posted.payer_id != "",
        posted.decision_date.is_not(None),
        posted.outcome != "",
    ]


def _remittance_sums(dialect: str) -> Select:
    r = Remittance.__table__.c

    def later(column: Any) -> tuple[Any, Any]:
        days = days_between(dialect, column, r.decision_date)
        return (
            func.sum(case((column.is_not(None), 1), else_=0)),
            func.sum(case((column.is_(None), 0), (days < 0, 0), else_=days)),
        )

    appealed, appeal_days = later(r.appealed_on)
    resolved, resolution_days = later(r.resolved_on)
    return (
        select(
            r.decision_date,
            r.payer_id,
            r.stage,
            r.outcome,
            r.denial_category,
            r.denial_reason,
            func.count().label("remittances"),
            func.sum(func.coalesce(r.charge, 0)).label("charge"),
            func.sum(r.paid).label("paid"),
            func.sum(r.contractual).label("contractual"),
            func.sum(r.patient_responsibility).label("patient_responsibility"),
            func.sum(r.denied_amount).label("denied_amount"),
            appealed.label("appealed"),
            appeal_days.label("appeal_days"),
            resolved.label("resolved"),
            resolution_days.label("resolution_days"),
            func.sum(case((r.recovered != 0, 1), else_=0)).label("recovered_count"),
            func.sum(r.recovered).label("recovered"),
        )
        .where(*_counted(r))
        .group_by(*(r[name] for name in REMIT_KEY))
    )


def _lag_sums(dialect: str) -> Select:
    r = Remittance.__table__.c
    days = days_between(dialect, r.decision_date, r.sent_on)
    return (
        select(r.decision_date, r.payer_id, days.label("days"), func.count().label("answers"))
        .where(
            *_counted(r),
            r.sent_on.is_not(None),
            r.stage.in_(FIRST_PASS_STAGES),
            r.outcome.in_(PAID_OUTCOMES),
        )
        .group_by(r.decision_date, r.payer_id, days)
    )


def month_of(dialect: str, day: Any) -> Any:
    """The first day of `day`'s month, a DATE column, in this dialect's SQL."""
    # Literals, not parameters: the same expression must be seen in GROUP BY.
    if dialect == "postgresql":
        return cast(func.date_trunc(literal_column("'month'"), day), Date)
    return type_coerce(func.date(day, literal_column("'start of month'")), Date)


def _by_month(daily: Select, dialect: str, key: tuple[str, ...], sums: tuple[str, ...]) -> Select:
    """A daily aggregate (its first column the day) added up per month: `key` is the
    monthly table's key, the month first."""
    rows = daily.subquery()
    month = month_of(dialect, rows.c[daily.selected_columns[0].name]).label("month")
    keys = [rows.c[name] for name in key[1:]]
    return select(month, *keys, *(func.sum(rows.c[s]).label(s) for s in sums)).group_by(
        month, *keys
    )


def _remittance_month_sums(dialect: str) -> Select:
    return _by_month(_remittance_sums(dialect), dialect, MONTH_KEY, MONTH_SUMS)


def _lag_month_sums(dialect: str) -> Select:
    return _by_month(_lag_sums(dialect), dialect, LAG_MONTH_KEY, LAG_SUMS)


def _write_off_sums(dialect: str) -> Select:
    e = ClaimEvent.__table__.c
    c = Claim.__table__.c
    reversed_ = e.event == "write_off_reversed"
    # SQLite keeps dates as ISO text (its CAST to DATE would make a number of it).
    day_text = e.data["day"].as_string()
    day = cast(day_text, Date) if dialect == "postgresql" else type_coerce(day_text, Date)
    reason = case(
        (reversed_, literal("reversed")), else_=func.coalesce(e.data["reason_code"].as_string(), "")
    )
    patient = case(
        (reversed_, literal(False)), else_=func.coalesce(e.data["patient"].as_boolean(), False)
    )
    category = case(
        (reversed_, literal("")), else_=func.coalesce(e.data["category"].as_string(), "")
    )
    amount = cast(e.data["amount"].as_string(), ClaimSummary.__table__.c.charge.type)
    sign = case((reversed_, -1), else_=1)
    return (
        select(
            day.label("day"),
            c.payer_id,
            reason.label("reason_code"),
            patient.label("patient"),
            category.label("denial_category"),
            func.sum(sign).label("write_offs"),
            func.sum(sign * amount).label("amount"),
        )
        .select_from(ClaimEvent.__table__.join(Claim.__table__, c.id == e.claim_id))
        .where(e.event.in_(WRITE_OFF_EVENTS), e.data["day"].as_string().is_not(None))
        .group_by(day, c.payer_id, reason, patient, category)
    )


TABLES = (
    ("claim_summary", ClaimSummary, CLAIM_KEY, CLAIM_SUMS, _claim_sums),
    ("remittance_summary", RemittanceSummary, REMIT_KEY, REMIT_SUMS, _remittance_sums),
    ("payment_lag_summary", PaymentLagSummary, LAG_KEY, LAG_SUMS, _lag_sums),
    (
        "remittance_month_summary",
        RemittanceMonthSummary,
        MONTH_KEY,
        MONTH_SUMS,
        _remittance_month_sums,
    ),
    (
        "payment_lag_month_summary",
        PaymentLagMonthSummary,
        LAG_MONTH_KEY,
        LAG_SUMS,
        _lag_month_sums,
    ),
    ("write_off_summary", WriteOffSummary, WRITE_OFF_KEY, WRITE_OFF_SUMS, _write_off_sums),
    *work_summaries.TABLES,
)


@dataclass(frozen=True)
class Difference:
    table: str
    key: tuple[Any, ...]
    column: str
    kept: Any
    summed: Any

    def __str__(self) -> str:
        key = ", ".join(str(part) for part in self.key)
        return (
            f"{self.table} ({key}): {self.column} is {self.kept}, the rows add up to {self.summed}"
        )


def comparable(value: Any) -> Any:
    """An amount as cents, whichever type the database handed back (SQLite sums Numeric
    columns as floats); anything else as it is."""
    if isinstance(value, float):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    return value


def _rows(connection: Connection, query: Select, n_key: int) -> dict[tuple, tuple]:
    found = {}
    for row in connection.execute(query):
        key = tuple(row[:n_key])
        sums = tuple(comparable(v if v is not None else 0) for v in row[n_key:])
        if any(v != 0 for v in sums):
            found[key] = sums
    return found


def check(connection: Connection) -> Iterator[Difference]:
    """Every summary cell that differs from the sum over its rows (nothing: all equal)."""
    for name, table, keys, sums, aggregate in TABLES:
        t = table.__table__
        kept = _rows(
            connection, select(*(t.c[k] for k in keys), *(t.c[s] for s in sums)), len(keys)
        )
        summed = _rows(connection, aggregate(connection.dialect.name), len(keys))
        for key in sorted(set(kept) | set(summed), key=lambda k: tuple(map(str, k))):
            a = kept.get(key, (0,) * len(sums))
            b = summed.get(key, (0,) * len(sums))
            for column, x, y in zip(sums, a, b, strict=True):
                if x != y:
                    yield Difference(name, key, column, x, y)


def rebuild(connection: Connection) -> None:
    """Replace every summary with the sums over its rows (one statement per table)."""
    for _name, table, keys, sums, aggregate in TABLES:
        t = table.__table__
        connection.execute(delete(t))
        connection.execute(
            insert(t).from_select([*keys, *sums], aggregate(connection.dialect.name))
        )


__all__ = ["Difference", "check", "comparable", "rebuild"]
