"""The productivity summaries as sums over their rows, in SQL (for check and rebuild), and
the productivity facts found again from the rows in bulk (`derive`).

Each entry of TABLES is (name, model, key columns, sum columns, aggregate(dialect) ->
Select), as in store/summaries.py, which checks and rebuilds them with the others.
models/work_summaries.py says what each fact and summary is and keeps them as rows are
written; `derive` is for what was written without the ORM (a bulk load) or before the
facts existed (the migration that adds them): run it, then `summaries.rebuild`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlmodel import Session

from denialflow.domain.rules.calendar import add_business_days, as_utc, practice_day
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimEvent,
    ClosedWorkSummary,
    DenialWorkSummary,
    EscalationSummary,
    IngestedFile,
    PostingSummary,
    Remittance,
    WorkItem,
)
from denialflow.models.work_summaries import (
    ACTED_ACTIONS,
    CLOSED,
    CLOSED_KEY,
    CLOSED_SUMS,
    DENIAL,
    DENIAL_KEY,
    DENIAL_SUMS,
    DENIAL_TARGET_DAYS,
    ESCALATED,
    ESCALATION_KEY,
    ESCALATION_SUMS,
    OPENED,
    POSTING_KEY,
    POSTING_SUMS,
    POSTING_TARGET_DAYS,
    STARTED,
    UNMATCHED_PREFIX,
    whole_seconds,
)

__all__ = ["TABLES", "derive", "swap"]


def _nobody(value: Any) -> Any:
    return func.coalesce(value, literal_column("''"))


def _summed(rows: Select, keys: tuple[str, ...], sums: list[Any]) -> Select:
    """`sums` over the subquery `rows`, grouped by its `keys` columns."""
    inner = rows.subquery("fact")
    return select(*(inner.c[k] for k in keys), *(f(inner.c) for f in sums)).group_by(
        *(inner.c[k] for k in keys)
    )


def _closed_sums(_dialect: str) -> Select:
    w = WorkItem.__table__.c  # type: ignore[attr-defined]
    rows = select(
        w.closed_on,
        _nobody(w.assignee).label("assignee"),
        _nobody(w.payer_id).label("payer_id"),
        case((w.closed_at <= w.due_at, 1), else_=0).label("met"),
    ).where(w.state == CLOSED, w.closed_on.is_not(None))
    return _summed(
        rows,
        CLOSED_KEY,
        [lambda c: func.count().label("closed"), lambda c: func.sum(c.met).label("sla_met")],
    )


def _escalation_sums(dialect: str) -> Select:
    w = WorkItem.__table__.c  # type: ignore[attr-defined]
    expand = func.json_array_elements if dialect == "postgresql" else func.json_each
    pairs = expand(w.escalations).table_valued(column("value", JSON), joins_implicitly=True)
    pair = pairs.alias("pair")
    day_text = pair.c.value[0].as_string()
    day = cast(day_text, Date) if dialect == "postgresql" else type_coerce(day_text, Date)
    rows = select(
        day.label("day"),
        w.home_queue,
        _nobody(w.assignee).label("assignee"),
        _nobody(w.payer_id).label("payer_id"),
        pair.c.value[1].as_integer().label("level"),
    ).select_from(WorkItem.__table__, pair)
    return _summed(rows, ESCALATION_KEY, [lambda c: func.count().label("escalations")])


def _denial_sums(_dialect: str) -> Select:
    w = WorkItem.__table__.c  # type: ignore[attr-defined]
    rows = select(
        w.opened_on,
        _nobody(w.assignee).label("assignee"),
        _nobody(w.payer_id).label("payer_id"),
        case((w.acted_in_time.is_(True), 1), else_=0).label("in_time"),
        case((w.acted_in_time.is_(False), 1), else_=0).label("after"),
    ).where(w.kind == DENIAL, w.opened_on.is_not(None))
    return _summed(
        rows,
        DENIAL_KEY,
        [
            lambda c: func.count().label("opened"),
            lambda c: func.sum(c.in_time).label("on_time"),
            lambda c: func.sum(c.after).label("late"),
        ],
    )


def _posting_sums(_dialect: str) -> Select:
    r = Remittance.__table__.c  # type: ignore[attr-defined]
    amount = func.abs(func.coalesce(r.paid, 0))
    rows = select(
        r.received_on,
        _nobody(r.claim_payer_id).label("payer_id"),
        amount.label("amount"),
        case((r.posted_in_time.is_(True), amount), else_=0).label("in_time"),
        case((r.posted_in_time.is_(False), amount), else_=0).label("after"),
    ).where(r.received_on.is_not(None))
    return _summed(
        rows,
        POSTING_KEY,
        [
            lambda c: func.sum(c.amount).label("received"),
            lambda c: func.sum(c.in_time).label("on_time"),
            lambda c: func.sum(c.after).label("late"),
        ],
    )


TABLES: tuple[tuple[Any, ...], ...] = (
    ("closed_work_summary", ClosedWorkSummary, CLOSED_KEY, CLOSED_SUMS, _closed_sums),
    ("escalation_summary", EscalationSummary, ESCALATION_KEY, ESCALATION_SUMS, _escalation_sums),
    ("denial_work_summary", DenialWorkSummary, DENIAL_KEY, DENIAL_SUMS, _denial_sums),
    ("posting_summary", PostingSummary, POSTING_KEY, POSTING_SUMS, _posting_sums),
)


# --- a change the ORM did not see ------------------------------------------------------------


def swap(
    session: Session,
    item: WorkItem,
    version: int,
    values: Mapping[str, Any],
    states: Collection[str] | None = None,
) -> bool:
    """Write `values` on `item`'s row only if it is still at `version` (and in one of
    `states`): a compare-and-swap in one Core UPDATE; False when someone got there first.
    On success the values are set on the loaded object too, so the flush hook sees the
    change from the values it loaded before and keeps the item's facts and the summaries
    (the flush writes the same values again). `item` must be loaded before the swap."""
    w = WorkItem.__table__.c  # type: ignore[attr-defined]
    statement = update(WorkItem.__table__).where(w.id == item.id, w.version == version)
    if states is not None:
        statement = statement.where(w.state.in_(states))
    if session.connection().execute(statement.values(**values)).rowcount != 1:
        return False
    for name, value in values.items():
        setattr(item, name, value)
    return True


# --- the facts, from the rows ----------------------------------------------------------------


def _parse(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return as_utc(moment)


def _sqlite_functions(connection: Connection, tz: tzinfo) -> None:
    """SQLite has no time zones: the practice day and the seconds between two stored
    moments are worked out by the same Python as the flush hook's."""

    def day(value: Any) -> str | None:
        moment = _parse(value)
        return practice_day(moment, tz).isoformat() if moment is not None else None

    def first_day(a: Any, b: Any) -> str | None:
        moments = [m for m in (_parse(a), _parse(b)) if m is not None]
        return practice_day(min(moments), tz).isoformat() if moments else None

    def seconds(start: Any, end: Any) -> int | None:
        a, b = _parse(start), _parse(end)
        if a is None or b is None or a > b:
            return None
        return whole_seconds(a, b)

    raw = connection.connection.driver_connection
    raw.create_function("df_practice_day", 1, day, deterministic=True)  # type: ignore[union-attr]
    raw.create_function("df_first_day", 2, first_day, deterministic=True)  # type: ignore[union-attr]
    raw.create_function("df_seconds", 2, seconds, deterministic=True)  # type: ignore[union-attr]


class _Sql:
    """The dialect's practice day of a stored moment, and the like."""

    def __init__(self, connection: Connection, tz: tzinfo) -> None:
        self.pg = connection.dialect.name == "postgresql"
        self.zone = getattr(tz, "key", None) or str(tz)
        if not self.pg:
            _sqlite_functions(connection, tz)

    def day(self, moment: Any) -> Any:
        if self.pg:
            # A timestamptz as the practice's local time, then its date.
            return cast(func.timezone(self.zone, moment), Date)
        return type_coerce(func.df_practice_day(moment), Date)

    def day_text(self, moment: Any) -> Any:
        if self.pg:
            return func.to_char(self.day(moment), "YYYY-MM-DD")
        return func.df_practice_day(moment)

    def first_day(self, a: Any, b: Any) -> Any:
        if self.pg:
            return self.day(func.least(a, b))
        return type_coerce(func.df_first_day(a, b), Date)

    def seconds(self, start: Any, end: Any) -> Any:
        if self.pg:
            span = func.date_part("epoch", end - start)
            return case((start <= end, cast(func.floor(span + 0.5), Integer)), else_=null())
        return func.df_seconds(start, end)

    def pairs(self, day_text: Any, level: Any) -> Any:
        if self.pg:
            return func.json_agg(func.json_build_array(day_text, level))
        return func.json_group_array(func.json_array(day_text, level))


def _temp(name: str, *columns: Column) -> Table:
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])


def derive(connection: Connection, tz: tzinfo) -> None:
    """Every productivity fact on every work item and remittance, found again from the
    rows (then rebuild the summaries: store/summaries.rebuild). Set-based: a statement
    per fact, whatever the number of rows."""
    sql = _Sql(connection, tz)
    w = WorkItem.__table__  # type: ignore[attr-defined]
    r = Remittance.__table__  # type: ignore[attr-defined]
    c = Claim.__table__.c  # type: ignore[attr-defined]
    closed = and_(w.c.state == CLOSED, w.c.closed_at.is_not(None))
    connection.execute(
        update(w).values(
            payer_id=select(c.payer_id).where(c.id == w.c.claim_id).scalar_subquery(),
            opened_on=None,
            started_at=None,
            acted_at=None,
            handling_seconds=None,
            acted_in_time=None,
            escalations=[],
            closed_on=case((closed, sql.day(w.c.closed_at)), else_=null()),
        )
    )
    _first_events(connection, sql)
    connection.execute(
        update(w)
        .where(closed, w.c.started_at.is_not(None))
        .values(handling_seconds=sql.seconds(w.c.started_at, w.c.closed_at))
    )
    f = IngestedFile.__table__.c  # type: ignore[attr-defined]
    connection.execute(
        update(r).values(
            received_on=sql.day(select(f.received_at).where(f.id == r.c.file_id).scalar_subquery()),
            claim_payer_id=select(c.payer_id).where(c.id == r.c.claim_id).scalar_subquery(),
            posted_in_time=None,
        )
    )
    calendar = _calendar(connection)
    try:
        _judge(connection, sql, calendar)
    finally:
        calendar.drop(connection)


def _first_events(connection: Connection, sql: _Sql) -> None:
    """opened_on, started_at, escalations and acted_at from the timelines and audits."""
    w = WorkItem.__table__  # type: ignore[attr-defined]
    e = ClaimEvent.__table__.c  # type: ignore[attr-defined]
    a = AuditEvent.__table__.c  # type: ignore[attr-defined]
    item = e.data["item"].as_string()
    named = a.detail["item"].as_string()

    opened = _temp(
        "df_opened", Column("id", String, primary_key=True), Column("at", DateTime(timezone=True))
    )
    started = _temp(
        "df_started",
        Column("id", String, primary_key=True),
        Column("claim_id", String, primary_key=True),
        Column("at", DateTime(timezone=True)),
    )
    acted = _temp(
        "df_acted",
        Column("id", String, primary_key=True),
        Column("claim_id", String, primary_key=True),
        Column("at", DateTime(timezone=True)),
    )
    escalated = _temp("df_escalated", Column("id", String, primary_key=True), Column("pairs", JSON))
    level = case((e.data["level"].as_integer() >= 2, 2), else_=1)
    # A claim's escalations are on its timeline; work with no claim has them as audits.
    escalations = union_all(
        select(item.label("item"), e.at.label("at"), level.label("level")).where(
            e.event == ESCALATED, item.is_not(None)
        ),
        select(
            named.label("item"),
            a.at.label("at"),
            case((a.detail["level"].as_integer() >= 2, 2), else_=1).label("level"),
        ).where(a.action == ESCALATED, a.claim_id.is_(None), named.is_not(None)),
    ).subquery()
    fills = [
        (
            opened,
            select(item, func.min(e.at)).where(e.event == OPENED, item.is_not(None)).group_by(item),
        ),
        (
            started,
            select(item, e.claim_id, func.min(e.at))
            .where(e.event == STARTED, item.is_not(None))
            .group_by(item, e.claim_id),
        ),
        (
            acted,
            select(named, a.claim_id, func.min(a.at))
            .where(a.action.in_(ACTED_ACTIONS), named.is_not(None), a.claim_id.is_not(None))
            .group_by(named, a.claim_id),
        ),
        (
            escalated,
            select(
                escalations.c.item,
                sql.pairs(sql.day_text(escalations.c.at), escalations.c.level),
            ).group_by(escalations.c.item),
        ),
    ]
    for table, _query in fills:
        table.create(connection)
    try:
        for table, query in fills:
            connection.execute(insert(table).from_select(list(table.c.keys()), query))
        o, x = opened.c, escalated.c
        connection.execute(
            update(w)
            .where(w.c.id.in_(select(o.id)))
            .values(opened_on=sql.day(select(o.at).where(o.id == w.c.id).scalar_subquery()))
        )
        for table, name in ((started, "started_at"), (acted, "acted_at")):
            t = table.c
            connection.execute(
                update(w)
                .where(w.c.id.in_(select(t.id)))
                .values(
                    {
                        name: select(t.at)
                        .where(t.id == w.c.id, t.claim_id == w.c.claim_id)
                        .scalar_subquery()
                    }
                )
            )
        connection.execute(
            update(w)
            .where(w.c.id.in_(select(x.id)))
            .values(escalations=select(x.pairs).where(x.id == w.c.id).scalar_subquery())
        )
    finally:
        for table, _query in fills:
            table.drop(connection)


def _calendar(connection: Connection) -> Table:
    """A temporary table: for each day a denial item opened or an 835 came in, the first
    day on which acting on it (posting it) is late."""
    w = WorkItem.__table__.c  # type: ignore[attr-defined]
    r = Remittance.__table__.c  # type: ignore[attr-defined]
    days: list[date] = []
    for query in (
        select(func.min(w.opened_on), func.max(w.opened_on)),
        select(func.min(r.received_on), func.max(r.received_on)),
    ):
        days.extend(d for d in connection.execute(query).one() if d is not None)
    table = _temp(
        "df_calendar",
        Column("day", Date, primary_key=True),
        Column("act_late", Date),
        Column("post_late", Date),
    )
    table.create(connection)
    if days:
        first, last = min(days), max(days)
        rows = []
        day = first
        while day <= last:
            rows.append(
                {
                    "day": day,
                    "act_late": add_business_days(day, DENIAL_TARGET_DAYS + 1),
                    "post_late": add_business_days(day, POSTING_TARGET_DAYS + 1),
                }
            )
            day += timedelta(days=1)
        connection.execute(insert(table), rows)
    return table


def _judge(connection: Connection, sql: _Sql, calendar: Table) -> None:
    """acted_in_time and posted_in_time: done before the first late day?"""
    w = WorkItem.__table__  # type: ignore[attr-defined]
    r = Remittance.__table__  # type: ignore[attr-defined]
    cal = calendar.c
    done = sql.first_day(w.c.acted_at, w.c.closed_at)
    act_late = select(cal.act_late).where(cal.day == w.c.opened_on).scalar_subquery()
    connection.execute(
        update(w)
        .where(
            w.c.opened_on.is_not(None), or_(w.c.acted_at.is_not(None), w.c.closed_at.is_not(None))
        )
        .values(acted_in_time=case((done < act_late, true()), else_=false()))
    )
    unmatched = WorkItem.__table__.alias("unmatched")  # type: ignore[attr-defined]
    item_id = literal(UNMATCHED_PREFIX) + r.c.key
    resolved = select(unmatched.c.closed_at).where(unmatched.c.id == item_id).scalar_subquery()
    posted = case(
        (exists().where(unmatched.c.id == item_id), sql.day(resolved)),
        else_=sql.day(r.c.posted_at),
    )
    post_late = select(cal.post_late).where(cal.day == r.c.received_on).scalar_subquery()
    connection.execute(
        update(r)
        .where(r.c.received_on.is_not(None))
        .values(
            posted_in_time=case(
                (posted.is_(None), null()), (posted < post_late, true()), else_=false()
            )
        )
    )
