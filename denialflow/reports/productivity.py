"""Productivity: what each person got done in a period, and how fast.

Read from the work-item read model, the claims' timelines and the audit log, on SQLite
and PostgreSQL alike. Every "day" is a practice day (the practice's time zone); every
business day skips weekends and US federal holidays (domain/rules/calendar.py).

The measures (the page says the same in words, DEFINITIONS):

- items closed: work items whose `closed_at` falls in the range, credited to whoever
  held the item (`assignee`) when it closed, on the practice day it closed;
- handling time: from the item's first `work_item_started` event (a person pressed
  Start work) to its `closed_at`; items closed without being started are not timed;
- SLA compliance: the share of the closed items closed by their `due_at`;
- escalations: `work_item_escalated` events in the range, per the item's home queue
  (level 2 moves an item to the escalation queue; it is counted where it came from);
- denials acted on within 10 business days: denial items opened in the range (their
  `work_item_opened` event), acted on when a person first recorded an action on the
  item (a call, an appeal, a corrected claim, a write-off, a transfer to the patient,
  resolving it) or when it closed, whichever came first; on time when that was at most
  10 business days after the practice day it opened. Items still inside their window
  with nothing done are "pending" and left out of the share;
- payment dollars posted within 4 business days: the money on each 835 remittance
  (its size: reversals count as much as payments) from files received in the range, on
  time when posted at most 4 business days after the practice day the file came in. A
  payment that matched no claim counts as posted when a person resolved it (matched it
  or sent it back); until then it is waiting.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, literal
from sqlmodel import Session, col, select

from denialflow.domain.rules.calendar import business_days_between, is_business_day
from denialflow.domain.types import Role, WorkItemKind, WorkItemState
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimEvent,
    IngestedFile,
    Queue,
    Remittance,
    User,
    WorkItem,
)
from denialflow.reports.period import (
    ReportFilter,
    months,
    practice_day,
    range_bounds_utc,
)

__all__ = [
    "ACTED_ACTIONS",
    "DEFINITIONS",
    "DENIAL_TARGET_DAYS",
    "NOBODY",
    "POSTING_TARGET_DAYS",
    "TARGET_SHARE",
    "Bucketed",
    "Counted",
    "PersonStats",
    "PostingMonth",
    "ProductivityReport",
    "QueueEscalations",
    "productivity",
]

DENIAL_TARGET_DAYS = 10
POSTING_TARGET_DAYS = 4
# Both service levels: 95% (DOMAIN.md, "Service levels"), in percent.
TARGET_SHARE = Decimal(95)
# What counts as acting on a denial: a person's own step on the item. Starting work
# (claiming it) and a supervisor moving it are not.
ACTED_ACTIONS = (
    "call_logged",
    "appeal_filed",
    "corrected_claim",
    "write_off",
    "transfer_to_patient",
    "resolve",
)
# A range this long or shorter is charted per day; a longer one per month.
DAILY_UP_TO_DAYS = 92
UNMATCHED_PREFIX = "unmatched:"
NO_DOLLARS = Decimal("0.00")
# Whose items closed while nobody held them (a payment closed an untouched follow-up).
NOBODY = "(nobody)"

DEFINITIONS: list[tuple[str, str]] = [
    (
        "Items closed",
        "Work items closed in the range, counted for whoever held the item when it "
        "closed (an item a payment closed counts for its holder too), on the practice "
        "day it closed.",
    ),
    (
        "Per working day",
        "Items closed divided by the business days (Monday to Friday, less US federal "
        "holidays) in the range up to today.",
    ),
    (
        "Handling time",
        "Hours from the first Start work on an item to its closing (median and mean). "
        "Items closed without being started are not timed.",
    ),
    (
        "Closed within SLA",
        "Items closed by their due time, as a share of the items closed.",
    ),
    (
        "Escalations",
        "Times an item was escalated in the range (level 1 when it passed its SLA or a "
        "deadline came near, level 2 when it went on to the supervisor's escalation "
        "queue), per the queue the item belongs to.",
    ),
    (
        f"Denials acted on within {DENIAL_TARGET_DAYS} business days",
        "Denial items opened in the range whose first action by a person (a call, an "
        "appeal, a corrected claim, a write-off, a transfer to the patient, resolving "
        "it) or closing came at most 10 business days after the day they opened, as a "
        "share of those whose 10 days are over or that were acted on. Reference: at least "
        "95%.",
    ),
    (
        f"Payment dollars posted within {POSTING_TARGET_DAYS} business days",
        "Dollars on the 835 remittances received in the range (each counted by its size, "
        "so reversals count too) posted at most 4 business days after the day their file "
        "came in, as a share of the dollars whose 4 days are over or that were posted. A "
        "payment that matched no claim is posted when a person matched it or sent it "
        "back. Reference: at least 95%.",
    ),
]


def _share(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """`part` of `whole` in percent, to one decimal; None when there is no whole."""
    if not whole:
        return None
    value = Decimal(part) * 100 / Decimal(whole)
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _hours(seconds: float) -> Decimal:
    return Decimal(seconds / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Counted:
    """Things with a deadline: done in time, done late, not done with time left."""

    on_time: int | Decimal = 0
    late: int | Decimal = 0
    pending: int | Decimal = 0

    @property
    def judged(self) -> int | Decimal:
        return self.on_time + self.late

    @property
    def share(self) -> Decimal | None:
        return _share(self.on_time, self.judged)

    def add(self, outcome: str, amount: int | Decimal = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + amount)


@dataclass
class PersonStats:
    username: str
    full_name: str = ""
    closed: int = 0
    sla_met: int = 0
    handling_seconds: list[float] = field(default_factory=list)
    escalations: int = 0
    denials: Counted = field(default_factory=Counted)
    per_day: Decimal | None = None

    @property
    def label(self) -> str:
        if self.full_name and self.username:
            return f"{self.full_name} ({self.username})"
        return self.full_name or self.username

    @property
    def timed(self) -> int:
        return len(self.handling_seconds)

    @property
    def median_hours(self) -> Decimal | None:
        return _hours(statistics.median(self.handling_seconds)) if self.timed else None

    @property
    def mean_hours(self) -> Decimal | None:
        return _hours(statistics.fmean(self.handling_seconds)) if self.timed else None

    @property
    def sla_share(self) -> Decimal | None:
        return _share(self.sla_met, self.closed)


@dataclass
class QueueEscalations:
    queue: str
    title: str
    level1: int = 0
    level2: int = 0

    @property
    def total(self) -> int:
        return self.level1 + self.level2


@dataclass
class PostingMonth:
    month: date
    received: Decimal = NO_DOLLARS
    dollars: Counted = field(default_factory=lambda: Counted(NO_DOLLARS, NO_DOLLARS, NO_DOLLARS))


@dataclass
class Bucketed:
    """Items closed per person per practice day (or month, for a long range)."""

    by: str  # "day" or "month"
    buckets: list[date]
    counts: dict[str, dict[date, int]]

    def label(self, bucket: date) -> str:
        return bucket.isoformat() if self.by == "day" else bucket.strftime("%Y-%m")

    def series(self, username: str) -> list[int]:
        mine = self.counts.get(username, {})
        return [mine.get(b, 0) for b in self.buckets]

    def totals(self) -> list[int]:
        return [sum(c.get(b, 0) for c in self.counts.values()) for b in self.buckets]


@dataclass
class ProductivityReport:
    flt: ReportFilter
    today: date
    business_days: int
    people: list[PersonStats]
    team: PersonStats
    closed_by: Bucketed
    escalations: list[QueueEscalations]
    denials: Counted
    # None when the viewer may not see the practice's posting (a specialist).
    posting: list[PostingMonth] | None
    posting_total: Counted | None


def _business_days(start: date, end: date) -> int:
    """Business days from `start` to `end`, both included."""
    if end < start:
        return 0
    return business_days_between(start, end) + (1 if is_business_day(start) else 0)


def _payer_condition(flt: ReportFilter) -> list[Any]:
    return [col(Claim.payer_id) == flt.payer_id] if flt.payer_id else []


def _item_key(column: Any) -> Any:
    """The work item a timeline event or audit entry names (its JSON "item")."""
    return column["item"].as_string()


def _scoped(query: Any, at: Any, flt: ReportFilter, tz: tzinfo, only: str | None) -> Any:
    """A work-item query narrowed to `at` in the range, the filter's payer and, for one
    person's report, their items. The claim is outer-joined: an item need not have one
    (a payment that matched no claim), and it counts while no payer is chosen."""
    start, end = range_bounds_utc(flt, tz)
    query = query.outerjoin(Claim, col(Claim.id) == col(WorkItem.claim_id)).where(
        col(at) >= start, col(at) < end, *_payer_condition(flt)
    )
    if only is not None:
        query = query.where(col(WorkItem.assignee) == only)
    return query


def _people(session: Session, only: str | None) -> dict[str, PersonStats]:
    """The people a report lists: one person, or every specialist (active or not)."""
    query = select(User.username, User.full_name)
    if only is not None:
        query = query.where(col(User.username) == only)
    else:
        query = query.where(col(User.role) == Role.SPECIALIST.value)
    return {name: PersonStats(name, full) for name, full in session.exec(query)}


def _person(people: dict[str, PersonStats], session: Session, username: str) -> PersonStats:
    """A row for someone outside the list who held work (a supervisor, a deleted user)."""
    if username not in people:
        user = session.get(User, username)
        people[username] = PersonStats(username, user.full_name if user else "")
    return people[username]


def _closed_items(
    session: Session, flt: ReportFilter, tz: tzinfo, only: str | None
) -> Iterable[Any]:
    started = (
        select(func.min(ClaimEvent.at))
        .where(
            col(ClaimEvent.claim_id) == col(WorkItem.claim_id),
            col(ClaimEvent.event) == "work_item_started",
            _item_key(ClaimEvent.data) == col(WorkItem.id),
        )
        .correlate(WorkItem)
        .scalar_subquery()
    )
    query = select(WorkItem.assignee, WorkItem.closed_at, WorkItem.due_at, started).where(
        col(WorkItem.state) == WorkItemState.CLOSED.value
    )
    return session.exec(_scoped(query, WorkItem.closed_at, flt, tz, only))


def _escalation_rows(
    session: Session, flt: ReportFilter, tz: tzinfo, only: str | None
) -> Iterable[Any]:
    level = ClaimEvent.data["level"].as_integer()
    query = (
        select(WorkItem.home_queue, WorkItem.assignee, level, func.count())
        .join(WorkItem, col(WorkItem.id) == _item_key(ClaimEvent.data))
        .where(col(ClaimEvent.event) == "work_item_escalated")
        .group_by(WorkItem.home_queue, WorkItem.assignee, level)
    )
    return session.exec(_scoped(query, ClaimEvent.at, flt, tz, only))


def _denial_rows(
    session: Session, flt: ReportFilter, tz: tzinfo, only: str | None
) -> Iterable[Any]:
    """(assignee, opened at, first action at, closed at) of the denial items opened in
    the range."""
    first_action = (
        select(func.min(AuditEvent.at))
        .where(
            col(AuditEvent.claim_id) == col(WorkItem.claim_id),
            col(AuditEvent.action).in_(ACTED_ACTIONS),
            _item_key(AuditEvent.detail) == col(WorkItem.id),
        )
        .correlate(WorkItem)
        .scalar_subquery()
    )
    query = (
        select(WorkItem.assignee, ClaimEvent.at, first_action, WorkItem.closed_at)
        .join(WorkItem, col(WorkItem.id) == _item_key(ClaimEvent.data))
        .where(
            col(ClaimEvent.event) == "work_item_opened",
            col(WorkItem.kind) == WorkItemKind.DENIAL.value,
        )
    )
    return session.exec(_scoped(query, ClaimEvent.at, flt, tz, only))


def _posting_rows(session: Session, flt: ReportFilter, tz: tzinfo) -> Iterable[Any]:
    """(received at, posted at or None, paid) of the remittances from files received in
    the range. A payment that matched no claim is posted when its item closed."""
    start, end = range_bounds_utc(flt, tz)
    unmatched = WorkItem.__table__.alias("unmatched_item")  # type: ignore[attr-defined]
    query = (
        select(
            IngestedFile.received_at,
            Remittance.posted_at,
            unmatched.c.id,
            unmatched.c.closed_at,
            Remittance.paid,
        )
        .join(IngestedFile, col(IngestedFile.id) == col(Remittance.file_id))
        .outerjoin(
            unmatched,
            unmatched.c.id == literal(UNMATCHED_PREFIX) + col(Remittance.key),
        )
        .where(col(IngestedFile.received_at) >= start, col(IngestedFile.received_at) < end)
    )
    if flt.payer_id:
        query = query.join(Claim, col(Claim.id) == col(Remittance.claim_id)).where(
            col(Claim.payer_id) == flt.payer_id
        )
    return session.exec(query)


def _judge(start: date, done: date | None, today: date, days: int) -> str:
    """on_time, late or pending: was it done within `days` business days of `start`?"""
    if done is not None:
        return "on_time" if business_days_between(start, done) <= days else "late"
    return "late" if business_days_between(start, today) > days else "pending"


def productivity(
    session: Session,
    flt: ReportFilter,
    tz: tzinfo,
    today: date,
    only: str | None = None,
    with_posting: bool = True,
) -> ProductivityReport:
    """The report for `flt`; `only` a username narrows it to that person's own work (a
    specialist's view), and `with_posting` adds the practice's payment posting."""
    people = _people(session, only)
    team = PersonStats("", "Team")
    daily = flt.days <= DAILY_UP_TO_DAYS
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))

    for assignee, closed_at, due_at, started_at in _closed_items(session, flt, tz, only):
        rows = [team] + ([_person(people, session, assignee)] if assignee else [])
        day = practice_day(closed_at, tz)
        bucket = day if daily else day.replace(day=1)
        counts[assignee or NOBODY][bucket] += 1
        for stats in rows:
            stats.closed += 1
            if closed_at <= due_at:
                stats.sla_met += 1
            if started_at is not None and started_at <= closed_at:
                stats.handling_seconds.append((closed_at - started_at).total_seconds())

    queues: dict[str, QueueEscalations] = {}
    titles = dict(session.exec(select(Queue.name, Queue.title)).all())
    for home_queue, assignee, level, count in _escalation_rows(session, flt, tz, only):
        row = queues.setdefault(
            home_queue, QueueEscalations(home_queue, titles.get(home_queue, home_queue))
        )
        if (level or 0) >= 2:
            row.level2 += count
        else:
            row.level1 += count
        team.escalations += count
        if assignee:
            _person(people, session, assignee).escalations += count

    for assignee, opened_at, acted_at, closed_at in _denial_rows(session, flt, tz, only):
        done_at = min((t for t in (acted_at, closed_at) if t is not None), default=None)
        outcome = _judge(
            practice_day(opened_at, tz),
            practice_day(done_at, tz) if done_at is not None else None,
            today,
            DENIAL_TARGET_DAYS,
        )
        team.denials.add(outcome)
        if assignee:
            _person(people, session, assignee).denials.add(outcome)

    working_days = _business_days(flt.start, min(flt.end, today))
    for stats in [team, *people.values()]:
        if working_days:
            stats.per_day = (Decimal(stats.closed) / working_days).quantize(
                Decimal("0.1"), rounding=ROUND_HALF_UP
            )

    buckets = (
        [date.fromordinal(n) for n in range(flt.start.toordinal(), flt.end.toordinal() + 1)]
        if daily
        else months(flt.start, flt.end)
    )
    posting: list[PostingMonth] | None = None
    posting_total: Counted | None = None
    if with_posting and only is None:
        posting, posting_total = _posting(session, flt, tz, today)
    return ProductivityReport(
        flt=flt,
        today=today,
        business_days=working_days,
        people=sorted(people.values(), key=lambda p: (-p.closed, p.username)),
        team=team,
        closed_by=Bucketed("day" if daily else "month", buckets, counts),
        escalations=sorted(queues.values(), key=lambda q: (-q.total, q.queue)),
        denials=team.denials,
        posting=posting,
        posting_total=posting_total,
    )


def _posting(
    session: Session, flt: ReportFilter, tz: tzinfo, today: date
) -> tuple[list[PostingMonth], Counted]:
    by_month = {m: PostingMonth(m) for m in months(flt.start, flt.end)}
    total = Counted(NO_DOLLARS, NO_DOLLARS, NO_DOLLARS)
    for received_at, posted_at, unmatched_id, resolved_at, paid in _posting_rows(session, flt, tz):
        done_at = resolved_at if unmatched_id is not None else posted_at
        received = practice_day(received_at, tz)
        outcome = _judge(
            received,
            practice_day(done_at, tz) if done_at is not None else None,
            today,
            POSTING_TARGET_DAYS,
        )
        amount = abs(Decimal(paid or 0))
        month = by_month.setdefault(received.replace(day=1), PostingMonth(received.replace(day=1)))
        month.received += amount
        month.dollars.add(outcome, amount)
        total.add(outcome, amount)
    return [by_month[m] for m in sorted(by_month)], total
