"""Productivity: what each person got done in a period, and how fast.

Read from the productivity summaries (closed_work_summary, escalation_summary,
denial_work_summary, posting_summary), which every flush keeps from the facts kept on the
work items and remittances (models/work_summaries.py), and, for the median handling time,
from the timed items themselves through an index of their own. The same numbers on SQLite
and PostgreSQL. Every "day" is a practice day (the practice's time zone); every business
day skips weekends and US federal holidays (domain/rules/calendar.py).

The measures (the page says the same in words, DEFINITIONS):

- items closed: work items whose `closed_at` falls in the range, credited to whoever
  holds the item (`assignee`; a closed item keeps the holder it closed with), on the
  practice day it closed;
- handling time: from the item's first `work_item_started` event (a person pressed
  Start work) to its `closed_at`, to the nearest second; items closed without being
  started are not timed;
- SLA compliance: the share of the closed items closed by their `due_at`;
- escalations: `work_item_escalated` events in the range, per the item's home queue
  (level 2 moves an item to the escalation queue; it is counted where it came from) and
  its holder;
- denials acted on within 10 business days: denial items opened in the range (their
  first `work_item_opened` event), acted on when a person first recorded an action on the
  item (a call, an appeal, a corrected claim, a write-off, a transfer to the patient,
  resolving it) or when it closed, whichever came first; on time when that was at most
  10 business days after the practice day it opened. Items still inside their window
  with nothing done are "pending" and left out of the share;
- payment dollars posted within 4 business days: the money on each 835 remittance
  (its size: reversals count as much as payments) from files received in the range, on
  time when posted at most 4 business days after the practice day the file came in. A
  payment that matched no claim counts as posted when a person resolved it (matched it
  or sent it back); until then it is waiting.

A payer filter means the claim's payer (today's: an item or payment follows its claim to
its next coverage); work and payments without a claim count only when no payer is chosen.
What is not yet done (a denial not acted on, a payment not posted) is judged against
`today` when the report is read.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, literal_column
from sqlmodel import Session, col, select

from denialflow.domain.rules.calendar import business_days_between, is_business_day
from denialflow.domain.types import Role
from denialflow.models.tables import (
    ClosedWorkSummary,
    DenialWorkSummary,
    EscalationSummary,
    PostingSummary,
    Queue,
    User,
    WorkItem,
)
from denialflow.models.work_summaries import (
    ACTED_ACTIONS,
    DENIAL_TARGET_DAYS,
    POSTING_TARGET_DAYS,
)
from denialflow.reports.period import ReportFilter, months

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

# Both service levels: 95% (DOMAIN.md, "Service levels"), in percent.
TARGET_SHARE = Decimal(95)
# A range this long or shorter is charted per day; a longer one per month.
DAILY_UP_TO_DAYS = 92
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
        "Hours from the first Start work on an item to its closing, timed to the second "
        "(median and mean). Items closed without being started are not timed.",
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


def _late_through(today: date, days: int) -> date:
    """The last day whose work, not done by `today`, is late: more than `days` business
    days have passed since it (and since every day before it)."""
    day = today
    while business_days_between(day, today) <= days:
        day -= timedelta(days=1)
    return day


def _against_target(t: Any, day: Any, total: Any, target_days: int, by: Any, today: date) -> Any:
    """A summary against its business-day target, summed per `by`: the total, on time,
    late, and of the rest (not done yet) those whose `target_days` are over by `today`."""
    waiting = total - t.on_time - t.late
    overdue = case((day <= _late_through(today, target_days), waiting), else_=0)
    return select(
        by, func.sum(total), func.sum(t.on_time), func.sum(t.late), func.sum(overdue)
    ).group_by(by)


def _in_range(day: Any, table: Any, flt: ReportFilter, only: str | None) -> list[Any]:
    """A summary narrowed to the range, the filter's payer and, for one person's report,
    their own work ("" is the payer of work without a claim: counted for every payer)."""
    conditions = [day >= flt.start, day <= flt.end]
    if flt.payer_id:
        conditions.append(table.payer_id == flt.payer_id)
    if only is not None:
        conditions.append(table.assignee == only)
    return conditions


def _month(day: Any, dialect: str) -> Any:
    """The first of the month of a date column, as ISO text (SQL, no bound parameters:
    the same expression groups and selects)."""
    if dialect == "postgresql":
        return func.to_char(day, literal_column("'YYYY-MM-01'"))
    return func.strftime(literal_column("'%Y-%m-01'"), day)


def _add_closed(
    session: Session,
    flt: ReportFilter,
    only: str | None,
    people: dict[str, PersonStats],
    team: PersonStats,
    daily: bool,
) -> dict[str, dict[date, int]]:
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    t = ClosedWorkSummary.__table__.c  # type: ignore[attr-defined]
    # A long range is charted per month: summed per month here, not per day.
    bucket = t.closed_on if daily else _month(t.closed_on, session.get_bind().dialect.name)
    rows = session.exec(
        select(t.assignee, bucket, func.sum(t.closed), func.sum(t.sla_met))
        .where(*_in_range(t.closed_on, t, flt, only))
        .group_by(t.assignee, bucket)
    )
    for assignee, day, closed, met in rows:
        if not closed:
            continue
        first = day if isinstance(day, date) else date.fromisoformat(day)
        counts[assignee or NOBODY][first] += closed
        for stats in [team] + ([_person(people, session, assignee)] if assignee else []):
            stats.closed += closed
            stats.sla_met += met
    # The median needs every value: the timed items, read from their own index.
    w = WorkItem.__table__.c  # type: ignore[attr-defined]
    timed: dict[str | None, list[float]] = defaultdict(list)
    for assignee, seconds in session.exec(
        select(w.assignee, w.handling_seconds).where(
            w.handling_seconds.is_not(None), *_in_range(w.closed_on, w, flt, only)
        )
    ):
        timed[assignee].append(seconds)
    for assignee, values in timed.items():
        team.handling_seconds.extend(values)
        if assignee:
            _person(people, session, assignee).handling_seconds.extend(values)
    return counts


def _escalations(
    session: Session,
    flt: ReportFilter,
    only: str | None,
    people: dict[str, PersonStats],
    team: PersonStats,
) -> list[QueueEscalations]:
    queues: dict[str, QueueEscalations] = {}
    titles = dict(session.exec(select(Queue.name, Queue.title)).all())
    t = EscalationSummary.__table__.c  # type: ignore[attr-defined]
    rows = session.exec(
        select(t.home_queue, t.assignee, t.level, func.sum(t.escalations))
        .where(*_in_range(t.day, t, flt, only))
        .group_by(t.home_queue, t.assignee, t.level)
    )
    for home_queue, assignee, level, count in rows:
        if not count:
            continue
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
    return sorted(queues.values(), key=lambda q: (-q.total, q.queue))


def _add_denials(
    session: Session,
    flt: ReportFilter,
    today: date,
    only: str | None,
    people: dict[str, PersonStats],
    team: PersonStats,
) -> None:
    t = DenialWorkSummary.__table__.c  # type: ignore[attr-defined]
    # Not acted on yet: late once its 10 business days are over, else pending.
    rows = session.exec(
        _against_target(t, t.opened_on, t.opened, DENIAL_TARGET_DAYS, t.assignee, today).where(
            *_in_range(t.opened_on, t, flt, only)
        )
    )
    for assignee, opened, on_time, late, late_waiting in rows:
        if not opened:
            continue
        pending = opened - on_time - late - late_waiting
        for stats in [team] + ([_person(people, session, assignee)] if assignee else []):
            stats.denials.add("on_time", on_time)
            stats.denials.add("late", late + late_waiting)
            stats.denials.add("pending", pending)


def productivity(
    session: Session,
    flt: ReportFilter,
    tz: tzinfo,
    today: date,
    only: str | None = None,
    with_posting: bool = True,
) -> ProductivityReport:
    """The report for `flt`; `only` a username narrows it to that person's own work (a
    specialist's view), and `with_posting` adds the practice's payment posting. `tz` is
    the practice's time zone the summaries' days were kept in (the settings')."""
    del tz  # the days are practice days already, kept as the rows were written
    people = _people(session, only)
    team = PersonStats("", "Team")
    daily = flt.days <= DAILY_UP_TO_DAYS
    counts = _add_closed(session, flt, only, people, team, daily)
    escalations = _escalations(session, flt, only, people, team)
    _add_denials(session, flt, today, only, people, team)

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
        posting, posting_total = _posting(session, flt, today)
    return ProductivityReport(
        flt=flt,
        today=today,
        business_days=working_days,
        people=sorted(people.values(), key=lambda p: (-p.closed, p.username)),
        team=team,
        closed_by=Bucketed("day" if daily else "month", buckets, counts),
        escalations=escalations,
        denials=team.denials,
        posting=posting,
        posting_total=posting_total,
    )


def _dollars(value: Any) -> Decimal:
    """A sum of money as the database gave it (SQLite: a float), to the cent."""
    if value is None:
        return NO_DOLLARS
    return Decimal(str(value) if isinstance(value, float) else value).quantize(NO_DOLLARS)


def _posting(
    session: Session, flt: ReportFilter, today: date
) -> tuple[list[PostingMonth], Counted]:
    by_month = {m: PostingMonth(m) for m in months(flt.start, flt.end)}
    total = Counted(NO_DOLLARS, NO_DOLLARS, NO_DOLLARS)
    t = PostingSummary.__table__.c  # type: ignore[attr-defined]
    # Not posted yet: late once its 4 business days are over, else waiting.
    rows = session.exec(
        _against_target(
            t, t.received_on, t.received, POSTING_TARGET_DAYS, t.received_on, today
        ).where(*_in_range(t.received_on, t, flt, None))
    )
    for received_on, received, on_time, late, late_waiting in rows:
        received, on_time = _dollars(received), _dollars(on_time)
        late, late_waiting = _dollars(late), _dollars(late_waiting)
        if not received:
            continue
        first = received_on.replace(day=1)
        month = by_month.setdefault(first, PostingMonth(first))
        month.received += received
        for outcome, amount in (
            ("on_time", on_time),
            ("late", late + late_waiting),
            ("pending", received - on_time - late - late_waiting),
        ):
            month.dollars.add(outcome, amount)
            total.add(outcome, amount)
    return [by_month[m] for m in sorted(by_month)], total
