"""The web app's read side: the work queue and who may see which claim, as indexed SQL.

The queue list is the hottest page of the app (every specialist, all day, over
a hundred thousand open items), so it is written for the indexes that work_item
has for it: (state, queue, priority) and (state, assignee, priority) for a
specialist's queues and own work, (state, priority) for a supervisor's, who sees
every queue. Each index range is already sorted by priority, so the list is a
UNION ALL of one short, index-ordered slice per range, merged and cut to a page
in the same statement. No range is ever sorted in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, or_, select, text
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Session, col

from denialflow.domain.rules.deadlines import days_until
from denialflow.domain.rules.priority import PriorityParts
from denialflow.domain.types import Role, WorkItemState
from denialflow.models.tables import Claim, QueueMembership, WorkItem
from denialflow.web.deps import Viewer

PAGE_SIZE = 50
# Snoozed items are waiting for a date (a payer's promised call-back); the workflow
# sets them open again when it comes, so the queue shows only these two.
WORKABLE_STATES: tuple[str, ...] = (WorkItemState.OPEN.value, WorkItemState.IN_PROGRESS.value)


# Aging buckets: days since the date of service, (first, last) day; None is open-ended.
AGE_BUCKETS: dict[str, tuple[int | None, int | None]] = {
    "0-30": (None, 30),
    "31-60": (31, 60),
    "61-90": (61, 90),
    "91-120": (91, 120),
    "120+": (121, None),
}


def age_bucket(age_days: int | None) -> str | None:
    if age_days is None:
        return None
    for name, (first, last) in AGE_BUCKETS.items():
        if (first is None or age_days >= first) and (last is None or age_days <= last):
            return name
    return None


@dataclass(frozen=True)
class QueueFilters:
    """What the filter form narrows the queue to; None means any. Dates and times are
    already resolved by the caller (an age bucket is a range of dates of service from the
    practice's today; "due today" is the UTC span of the practice's day)."""

    kind: str | None = None
    payer: str | None = None
    category: str | None = None
    service_from: date | None = None
    service_to: date | None = None
    balance_min: Decimal | None = None
    balance_max: Decimal | None = None
    escalated: bool = False
    due_from: datetime | None = None
    due_before: datetime | None = None


# What the queue may be sorted by (the `sort` parameter), as SQL over work_item joined
# to its claim. Priority descending is the default and takes the index fast path.
DEFAULT_SORT = "priority"
SORTS: dict[str, str] = {
    "priority": "work_item.priority",
    "claim": "work_item.claim_id",
    "balance": "work_item.balance",
    "payer": "claim.payer_id",
    "kind": "work_item.kind",
    "category": "work_item.category",
    "dos": "claim.service_date",
    "deadline": "work_item.deadline_at",
    "due": "work_item.due_at",
    "escalation": "work_item.escalation_level",
    "follow_up": (
        "CASE WHEN work_item.state = 'snoozed' THEN work_item.snoozed_until "
        "ELSE claim.next_follow_up_at END"
    ),
    "updated": "work_item.updated_at",
    "queue": "work_item.queue",
    "assignee": "work_item.assignee",
}


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue, with what the page needs to show why it ranks there."""

    item_id: str
    claim_id: str | None
    kind: str
    queue: str
    assignee: str | None
    state: str
    version: int
    category: str | None
    reason_codes: list[str]
    next_action: str
    due_at: datetime
    escalation_level: int
    escalation_reason: str | None
    deadline_name: str | None
    deadline_at: date | None
    balance: Decimal
    likelihood: Decimal
    urgency: Decimal
    escalation_multiplier: Decimal
    priority: Decimal
    snoozed_until: datetime | None
    updated_at: datetime
    payer_id: str | None
    service_date: date | None = None
    claim_follow_up_at: datetime | None = None

    def age_days(self, today: date) -> int | None:
        """Days since the date of service (none for work without a claim)."""
        return (today - self.service_date).days if self.service_date else None

    def age_bucket(self, today: date) -> str | None:
        return age_bucket(self.age_days(today))

    def next_follow_up(self) -> datetime | None:
        """The snooze's end while snoozed, else the claim's next follow-up."""
        if self.state == WorkItemState.SNOOZED.value and self.snoozed_until:
            return _aware(self.snoozed_until)
        return _aware(self.claim_follow_up_at) if self.claim_follow_up_at else None

    def days_to_deadline(self, now: datetime) -> int | None:
        return days_until(self.deadline_at, now) if self.deadline_at else None

    def sla_state(self, now: datetime, tz: tzinfo = UTC) -> str:
        """'past SLA' once the due time has passed, 'due today' on its day in `tz` (the
        practice's zone, as the "due today" filter counts it)."""
        due = _aware(self.due_at)
        if now >= due:
            return "past SLA"
        if now.astimezone(tz).date() == due.astimezone(tz).date():
            return "due today"
        return "on time"

    def explain(self) -> str:
        return explain_priority(self)


class _Scored(Protocol):
    balance: Decimal
    likelihood: Decimal
    urgency: Decimal
    escalation_multiplier: Decimal
    priority: Decimal


def explain_priority(item: _Scored) -> str:
    """Why an item ranks where it does: the score's parts as the priority rule multiplied
    them, from a queue row or a WorkItem."""
    return PriorityParts(
        balance=item.balance,
        likelihood=_plain(item.likelihood),
        urgency=_plain(item.urgency),
        escalation_multiplier=_plain(item.escalation_multiplier),
        score=item.priority,
    ).explain()


def _plain(value: Decimal) -> Decimal:
    # 0.900 -> 0.9 and 30.000 -> 30 (never 3E+1), for reading.
    return Decimal(format(value.normalize(), "f"))


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive UTC; PostgreSQL aware.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The columns a queue row shows, in QueueRow's order (typed, so SQLite's text dates,
# JSON lists and numbers come back as datetime, list and Decimal).
_ROW_COLUMNS = [
    WorkItem.__table__.c[name]  # type: ignore[attr-defined]
    for name in (
        "id",
        "claim_id",
        "kind",
        "queue",
        "assignee",
        "state",
        "version",
        "category",
        "reason_codes",
        "next_action",
        "due_at",
        "escalation_level",
        "escalation_reason",
        "deadline_name",
        "deadline_at",
        "balance",
        "likelihood",
        "urgency",
        "escalation_multiplier",
        "priority",
        "snoozed_until",
        "updated_at",
    )
]
_SELECT_LIST = ", ".join(c.name for c in _ROW_COLUMNS)
_CLAIM_COLUMNS = [
    Claim.__table__.c[name]  # type: ignore[attr-defined]
    for name in ("payer_id", "service_date", "next_follow_up_at")
]
_CLAIM_SELECT = "claim.payer_id, claim.service_date, claim.next_follow_up_at"
# Filter parameters that need their column's type to bind (SQLite stores dates as text
# and cannot bind a Decimal).
_PARAM_TYPES: dict[str, Any] = {
    "f_dos_from": Claim.__table__.c.service_date.type,  # type: ignore[attr-defined]
    "f_dos_to": Claim.__table__.c.service_date.type,  # type: ignore[attr-defined]
    "f_bal_min": WorkItem.__table__.c.balance.type,  # type: ignore[attr-defined]
    "f_bal_max": WorkItem.__table__.c.balance.type,  # type: ignore[attr-defined]
    "f_due_from": WorkItem.__table__.c.due_at.type,  # type: ignore[attr-defined]
    "f_due_before": WorkItem.__table__.c.due_at.type,  # type: ignore[attr-defined]
}


def _statement(sql: str, params: dict[str, Any]) -> TextClause:
    return text(sql).bindparams(
        *(bindparam(k, v, type_=_PARAM_TYPES.get(k)) for k, v in params.items())
    )


def member_queues(session: Session, username: str) -> list[str]:
    return list(
        session.scalars(
            select(QueueMembership.queue_name)
            .where(QueueMembership.username == username)
            .order_by(QueueMembership.queue_name)
        )
    )


# The statements below are plain SQL (SQLite and PostgreSQL alike) with bound
# parameters: a page is a UNION ALL of up to a few dozen ranges, and building that
# through SQLAlchemy's expression objects costs more than the database takes to run it.

# Written so that no index on assignee matches: the (state, queue, priority) index must
# drive a queue's range, or SQLite may walk the unassigned items of every queue instead.
_UNASSIGNED = "coalesce(assignee, '') = ''"


@dataclass(frozen=True)
class _Range:
    """One index range of visible items, already in priority order: (state, queue) for
    the work of a queue, (state, assignee) for a person's own work, (state) alone for
    every queue at once."""

    state: str
    queue: str | None = None
    assignee: str | None = None
    unassigned_only: bool = False

    def where(self, n: int, params: dict[str, Any]) -> list[str]:
        params[f"s{n}"] = self.state
        conds = [f"state = :s{n}"]
        if self.assignee is not None:
            params[f"a{n}"] = self.assignee
            conds.append(f"assignee = :a{n}")
        elif self.queue is not None:
            params[f"q{n}"] = self.queue
            conds.append(f"queue = :q{n}")
        if self.unassigned_only:
            conds.append(_UNASSIGNED)
        return conds


def _filter_sql(filters: QueueFilters, params: dict[str, Any]) -> list[str]:
    conds = []
    if filters.kind:
        params["f_kind"] = filters.kind
        conds.append("work_item.kind = :f_kind")
    if filters.category:
        params["f_category"] = filters.category
        conds.append("work_item.category = :f_category")
    if filters.payer:
        params["f_payer"] = filters.payer
        # A primary-key lookup for the rows the index walk reaches; a join would let the
        # planner start from the payer's claims and sort them all.
        conds.append(
            "(SELECT claim.payer_id FROM claim WHERE claim.id = work_item.claim_id) = :f_payer"
        )
    if filters.service_from or filters.service_to:
        dos = "(SELECT claim.service_date FROM claim WHERE claim.id = work_item.claim_id)"
        if filters.service_from:
            params["f_dos_from"] = filters.service_from
            conds.append(f"{dos} >= :f_dos_from")
        if filters.service_to:
            params["f_dos_to"] = filters.service_to
            conds.append(f"{dos} <= :f_dos_to")
    if filters.balance_min is not None:
        params["f_bal_min"] = filters.balance_min
        conds.append("work_item.balance >= :f_bal_min")
    if filters.balance_max is not None:
        params["f_bal_max"] = filters.balance_max
        conds.append("work_item.balance <= :f_bal_max")
    if filters.escalated:
        conds.append("work_item.escalation_level > 0")
    if filters.due_from:
        params["f_due_from"] = filters.due_from
        conds.append("work_item.due_at >= :f_due_from")
    if filters.due_before:
        params["f_due_before"] = filters.due_before
        conds.append("work_item.due_at < :f_due_before")
    return conds


def _in_list(name: str, values: Sequence[str], params: dict[str, Any]) -> str:
    for i, value in enumerate(values):
        params[f"{name}{i}"] = value
    return ", ".join(f":{name}{i}" for i in range(len(values)))


def _ranges_with_count(
    session: Session, viewer: Viewer, filters: QueueFilters
) -> tuple[list[_Range], int]:
    """The ranges of the viewer's items (a specialist's only those that hold any after
    the filters), and how many items there are in all. One statement; for a supervisor
    without filters it reads only index entries."""
    params: dict[str, Any] = {}
    states = _in_list("st", WORKABLE_STATES, params)
    extra = "".join(f" AND {c}" for c in _filter_sql(filters, params))
    if viewer.role == Role.SUPERVISOR:
        # Supervisors see every queue of their team, assigned or not: treat as all queues,
        # one (state, priority) range per state. A range per queue made the page a UNION
        # of dozens of slices that PostgreSQL took longer to plan than to run. An empty
        # range costs the page nothing, so one plain count will do, and it is the
        # cheapest walk of the index on both databases (GROUP BY costs as much again).
        sql = f"SELECT count(*) FROM work_item WHERE state IN ({states}){extra}"
        total = session.connection().execute(_statement(sql, params)).scalar_one()
        return [_Range(state=s) for s in WORKABLE_STATES], total
    params["me"] = viewer.username
    parts = [
        "SELECT state, assignee, NULL AS queue, count(*) FROM work_item "
        f"WHERE state IN ({states}) AND assignee = :me{extra} GROUP BY state, assignee"
    ]
    queues = member_queues(session, viewer.username)
    if queues:
        parts.append(
            "SELECT state, NULL AS assignee, queue, count(*) FROM work_item "
            f"WHERE state IN ({states}) AND queue IN ({_in_list('mq', queues, params)}) "
            f"AND {_UNASSIGNED}{extra} GROUP BY state, queue"
        )
    rows = session.connection().execute(_statement(" UNION ALL ".join(parts), params)).all()
    ranges = [
        _Range(state=s, queue=q, assignee=a, unassigned_only=a is None) for s, a, q, _n in rows
    ]
    return ranges, sum(n for *_r, n in rows)


def _page_statement(ranges: Sequence[_Range], filters: QueueFilters, offset: int, size: int) -> Any:
    params: dict[str, Any] = {"needed": offset + size, "offset": offset, "size": size}
    extra = _filter_sql(filters, params)
    wheres = [r.where(n, params) + extra for n, r in enumerate(ranges)]
    cte = ""
    if not extra and not any(r.unassigned_only for r in ranges):
        # Every condition is in the index (a supervisor's unfiltered queue): find the
        # lowest priority the page reaches from index entries alone, so that only the
        # rows at or above it are read, not `needed` rows from every range.
        scores = " UNION ALL ".join(
            f"SELECT * FROM (SELECT priority FROM work_item WHERE {' AND '.join(w)} "
            f"ORDER BY priority DESC LIMIT :needed) AS s{n}"
            for n, w in enumerate(wheres)
        )
        params["last"] = offset + size - 1
        cte = (
            "WITH cutoff AS (SELECT coalesce((SELECT priority FROM "
            f"({scores}) AS scores ORDER BY priority DESC LIMIT 1 OFFSET :last), -1) AS v) "
        )
        wheres = [w + ["priority >= (SELECT v FROM cutoff)"] for w in wheres]
    branches = [
        f"SELECT * FROM (SELECT {_SELECT_LIST} FROM work_item WHERE {' AND '.join(w)} "
        f"ORDER BY priority DESC, id LIMIT :needed) AS r{n}"
        for n, w in enumerate(wheres)
    ]
    # The page is cut before the claims are joined, so only its own rows look up a payer.
    sql = (
        f"{cte}SELECT page_rows.*, {_CLAIM_SELECT} FROM ("
        f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS candidates "
        "ORDER BY priority DESC, id LIMIT :size OFFSET :offset"
        ") AS page_rows LEFT OUTER JOIN claim ON claim.id = page_rows.claim_id "
        "ORDER BY page_rows.priority DESC, page_rows.id"
    )
    return _statement(sql, params).columns(*_ROW_COLUMNS, *_CLAIM_COLUMNS)


def _sorted_statement(
    session: Session,
    viewer: Viewer,
    filters: QueueFilters,
    sort: str,
    descending: bool,
    offset: int,
    size: int,
) -> Any:
    """A page in any other order: one statement over the viewer's visible items, joined
    to their claims and sorted (empty values last either way, then by id)."""
    params: dict[str, Any] = {"offset": offset, "size": size}
    conds = [f"work_item.state IN ({_in_list('st', WORKABLE_STATES, params)})"]
    if viewer.role != Role.SUPERVISOR:
        params["me"] = viewer.username
        mine = "work_item.assignee = :me"
        queues = member_queues(session, viewer.username)
        if queues:
            mine = (
                f"({mine} OR (work_item.queue IN ({_in_list('mq', queues, params)}) "
                f"AND coalesce(work_item.assignee, '') = ''))"
            )
        conds.append(mine)
    conds += _filter_sql(filters, params)
    key = SORTS[sort]
    order = (
        f"CASE WHEN {key} IS NULL THEN 1 ELSE 0 END, {key} "
        f"{'DESC' if descending else 'ASC'}, work_item.id"
    )
    columns = ", ".join(f"work_item.{c.name}" for c in _ROW_COLUMNS)
    if "claim." in key:
        sql = (
            f"SELECT {columns}, {_CLAIM_SELECT} "
            "FROM work_item LEFT OUTER JOIN claim ON claim.id = work_item.claim_id "
            f"WHERE {' AND '.join(conds)} ORDER BY {order} LIMIT :size OFFSET :offset"
        )
    else:
        # Sorted on the items alone, so only the page's rows look up their claims.
        outer = order.replace("work_item.", "page_rows.")
        sql = (
            f"SELECT page_rows.*, {_CLAIM_SELECT} FROM ("
            f"SELECT {columns} FROM work_item WHERE {' AND '.join(conds)} "
            f"ORDER BY {order} LIMIT :size OFFSET :offset"
            ") AS page_rows LEFT OUTER JOIN claim ON claim.id = page_rows.claim_id "
            f"ORDER BY {outer}"
        )
    return _statement(sql, params).columns(*_ROW_COLUMNS, *_CLAIM_COLUMNS)


def queue_items(
    session: Session,
    viewer: Viewer,
    filters: QueueFilters | None = None,
    page: int = 1,
    *,
    sort: str = DEFAULT_SORT,
    descending: bool = True,
    page_size: int = PAGE_SIZE,
) -> tuple[list[QueueRow], int]:
    """The viewer's workable items, highest priority first unless `sort` (a key of
    SORTS) says otherwise, `page_size` a page (1-based), and how many there are in all.

    A specialist sees items assigned to them (in any queue) and unassigned items of the
    queues they belong to; a supervisor sees every queue. Snoozed and closed items are
    not shown. The default order walks the priority indexes; any other is one sorted
    statement.
    """
    if sort not in SORTS:
        raise ValueError(f"cannot sort the queue by {sort!r}")
    filters = filters or QueueFilters()
    page = max(page, 1)
    ranges, total = _ranges_with_count(session, viewer, filters)
    offset = (page - 1) * page_size
    if offset >= total:
        return [], total
    if sort == DEFAULT_SORT and descending:
        statement = _page_statement(ranges, filters, offset, page_size)
    else:
        statement = _sorted_statement(session, viewer, filters, sort, descending, offset, page_size)
    rows = session.connection().execute(statement)
    return [QueueRow(*r) for r in rows], total


# --- who may see a claim ----------------------------------------------------


def visible_claims(
    session: Session, viewer: Viewer, claim_ids: Sequence[str], *, read_only: bool = False
) -> set[str]:
    """Of these claims, the ones the viewer may act on or, with `read_only`, open to read.

    Reading: every worker (specialist or supervisor) may open and search any claim, and
    each view is audited; admins configure and open none. Acting: supervisors on every
    claim; a specialist on one with unfinished work (open, in progress or snoozed) in one
    of their queues or assigned to them. Acting is the default, so a caller that does
    not say which it means never grants more than it did."""
    if not claim_ids:
        return set()
    if viewer.role == Role.SUPERVISOR:
        return set(claim_ids)
    if viewer.role != Role.SPECIALIST:
        return set()
    if read_only:
        return set(claim_ids)
    mine = or_(
        col(WorkItem.assignee) == viewer.username,
        col(WorkItem.queue).in_(
            select(QueueMembership.queue_name).where(QueueMembership.username == viewer.username)
        ),
    )
    stmt = select(WorkItem.claim_id).where(
        and_(
            col(WorkItem.claim_id).in_(list(claim_ids)),
            col(WorkItem.state) != WorkItemState.CLOSED.value,
            mine,
        )
    )
    return {cid for cid in session.scalars(stmt) if cid is not None}


def can_see_claim(
    session: Session, viewer: Viewer, claim_id: str, *, read_only: bool = False
) -> bool:
    """Whether the viewer may act on this claim or, with `read_only`, open it to read."""
    return claim_id in visible_claims(session, viewer, [claim_id], read_only=read_only)
