"""A/R aging: the money still owed on claims, by how old the claims are, per payer, split
between what payers owe (insurance A/R) and what patients owe (patient A/R).

Aging is of the current A/R, as of the practice's today: every balance is what the claim
owes now, and its age is the days from its date of service (basis "service") or from its
submission (basis "submission") to today. A claim dated after today is 0 days old.

Definitions (the page says the same in words, DEFINITIONS), per claim, exactly as
claim_summary adds them up (models/summaries.py):

- open claim: a balance other than zero, either way;
- insurance A/R: max(balance - patient responsibility, 0);
- patient A/R: max(min(patient responsibility, balance), 0);
- credit: min(balance, 0), money owed back; shown on its own, not netted against A/R;
- A/R: insurance A/R + patient A/R;
- A/R over 90 days: A/R of claims 91 or more days old / A/R, in percent.

The date range picks the claims whose basis date (service or submission) falls in it.

Everyone who sees every claim reads claim_summary (a few rows per payer and day). A
specialist sees only the claims with an open work item in a queue they are a member of;
those are read from the claim rows, as are the drill-down lists and the oldest claims
(limited, paginated, by the index on claim(payer_id, service_date, submitted_on)).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, Numeric, and_, case, func, literal_column, type_coerce
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlmodel import Session, col, select

from denialflow.domain.types import ZERO, WorkItemState
from denialflow.models.tables import Claim, ClaimSummary, Queue, QueueMembership, WorkItem
from denialflow.reports.period import ReportFilter

__all__ = [
    "BASES",
    "BUCKETS",
    "DEFINITIONS",
    "OVER_90_TARGET",
    "PAGE_SIZE",
    "PARTIES",
    "SPANS",
    "AgedClaim",
    "AgingReport",
    "AgingScope",
    "Amounts",
    "Basis",
    "Bucket",
    "ClaimPage",
    "aging",
    "bucket_claims",
    "earliest_open",
    "every_bucket_claim",
    "member_queues",
    "oldest_claims",
]

Basis = Literal["service", "submission"]
BASES: dict[str, str] = {"service": "date of service", "submission": "submission date"}
# Whose money a drill-down lists: what payers owe, what patients owe, either (a positive
# balance), money owed back (a negative balance), or any open claim.
Party = Literal["insurance", "patient", "owed", "credit", "any"]
PARTIES: dict[str, str] = {
    "insurance": "insurance A/R",
    "patient": "patient A/R",
    "owed": "A/R (insurance and patient)",
    "credit": "credit balances",
    "any": "every open balance",
}
# The industry reference for A/R over 90 days (DOMAIN.md, KPIs): under 10%, in percent.
OVER_90_TARGET = Decimal(10)
PAGE_SIZE = 50
OLDEST = 50

_MONEY = Numeric(14, 2)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Bucket:
    """Claims from `low` to `high` days old, both included (`high` None: no limit)."""

    key: str
    label: str
    low: int
    high: int | None

    def bounds(self, today: date) -> tuple[date | None, date | None]:
        """The basis dates of the bucket's claims (first, last; None: no limit). The
        youngest bucket also holds claims dated after today."""
        first = today - timedelta(days=self.high) if self.high is not None else None
        last = today - timedelta(days=self.low) if self.low > 0 else None
        return first, last

    def holds(self, age: int) -> bool:
        return (age >= self.low or self.low == 0) and (self.high is None or age <= self.high)


BUCKETS: tuple[Bucket, ...] = (
    Bucket("0-30", "0-30 days", 0, 30),
    Bucket("31-60", "31-60 days", 31, 60),
    Bucket("61-90", "61-90 days", 61, 90),
    Bucket("91-120", "91-120 days", 91, 120),
    Bucket("over-120", "over 120 days", 121, None),
)
# Ranges a drill-down also takes: the KPI's numerator and every open claim.
SPANS: dict[str, Bucket] = {
    **{b.key: b for b in BUCKETS},
    "over-90": Bucket("over-90", "over 90 days", 91, None),
    "all": Bucket("all", "any age", 0, None),
}

DEFINITIONS: list[tuple[str, str]] = [
    (
        "As of today",
        "The summary holds what every claim owes now, so the aging is of today's A/R: "
        "each claim's age is the days from its date of service (or its submission date, "
        "when aged from submission) to today on the practice's clock. A claim dated after "
        "today is 0 days old. The date range picks the claims whose date of service (or "
        "submission) falls in it; without one every open claim is aged.",
    ),
    (
        "Open claim",
        "A claim whose balance (charge less payer and patient payments, contractual "
        "adjustments and write-offs) is not zero, either way: held and unsent claims "
        "included.",
    ),
    (
        "Insurance A/R",
        "What payers still owe: the balance less what the patient still owes, when that "
        "is more than zero.",
    ),
    (
        "Patient A/R",
        "What patients still owe: their responsibility less their payments, at most the "
        "balance, when the balance is more than zero.",
    ),
    (
        "Credit balances",
        "Balances below zero (overpayments, reversals): money owed back to a payer or a "
        "patient. Shown apart and not subtracted from the A/R.",
    ),
    (
        "A/R over 90 days",
        "The insurance and patient A/R of claims 91 days old or older, as a share of all "
        "insurance and patient A/R in the report. Reference: under 10%.",
    ),
]


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole <= ZERO:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass
class Amounts:
    """Open claims and what they owe."""

    claims: int = 0
    insurance: Decimal = ZERO
    patient: Decimal = ZERO
    credit: Decimal = ZERO

    @property
    def owed(self) -> Decimal:
        """The A/R: insurance and patient, credits left out."""
        return self.insurance + self.patient

    @property
    def net(self) -> Decimal:
        return self.owed + self.credit

    def amount(self, party: str) -> Decimal:
        if party == "insurance":
            return self.insurance
        if party == "patient":
            return self.patient
        if party == "credit":
            return self.credit
        if party == "owed":
            return self.owed
        return self.net

    def __iadd__(self, other: Amounts) -> Amounts:
        self.claims += other.claims
        self.insurance += other.insurance
        self.patient += other.patient
        self.credit += other.credit
        return self


@dataclass(frozen=True)
class AgingScope:
    """Which claims a report ages: the filter's payer and range of basis dates, aged as
    of `today`; `queues` None for every claim, else only claims with an open work item
    in one of those queues (a specialist's)."""

    flt: ReportFilter
    basis: Basis
    today: date
    queues: tuple[str, ...] | None = None


@dataclass
class AgingReport:
    scope: AgingScope
    # (payer_id, bucket key) -> amounts; only cells with open claims.
    cells: dict[tuple[str, str], Amounts] = field(default_factory=dict)

    @property
    def payer_ids(self) -> list[str]:
        return sorted({payer for payer, _ in self.cells})

    def cell(self, payer_id: str, bucket: str) -> Amounts:
        return self.cells.get((payer_id, bucket)) or Amounts()

    def bucket_total(self, bucket: str) -> Amounts:
        total = Amounts()
        for (_, key), amounts in self.cells.items():
            if key == bucket:
                total += amounts
        return total

    def payer_total(self, payer_id: str) -> Amounts:
        total = Amounts()
        for (payer, _), amounts in self.cells.items():
            if payer == payer_id:
                total += amounts
        return total

    @property
    def total(self) -> Amounts:
        total = Amounts()
        for amounts in self.cells.values():
            total += amounts
        return total

    @property
    def over_90(self) -> Amounts:
        total = Amounts()
        for (_, key), amounts in self.cells.items():
            if SPANS[key].low > 90:
                total += amounts
        return total

    @property
    def over_90_share(self) -> Decimal | None:
        """A/R over 90 days as a share of the A/R, in percent (None: no A/R)."""
        return _share(self.over_90.owed, self.total.owed)

    def bucket_share(self, bucket: str) -> Decimal | None:
        return _share(self.bucket_total(bucket).owed, self.total.owed)


# --- SQL pieces ----------------------------------------------------------------------------


def _basis_day(table: Any, basis: Basis) -> Any:
    return table.service_date if basis == "service" else table.submitted_on


def _bucket_number(day: Any, today: date) -> ColumnElement[int]:
    """The index in BUCKETS of a basis date's bucket, as SQL."""
    whens = []
    for i, bucket in enumerate(BUCKETS[:-1]):
        assert bucket.high is not None
        whens.append((day >= today - timedelta(days=bucket.high), i))
    return case(*whens, else_=len(BUCKETS) - 1)


def _in_range(day: Any, scope: AgingScope) -> list[ColumnElement[bool]]:
    return [day >= scope.flt.start, day <= scope.flt.end]


# Written with a literal zero (not a bound parameter) so that a partial index on open
# claims (WHERE balance <> 0) matches the query on both SQLite and PostgreSQL.
def _open() -> ColumnElement[bool]:
    return col(Claim.balance) != literal_column("0")


def _claim_parts() -> tuple[Any, Any, Any]:
    """Insurance, patient and credit parts of a claim row's balance, as SQL (the same
    formulas as models/summaries.claim_contribution)."""
    balance = col(Claim.balance)
    # What the patient still owes of their share (their payments taken off).
    responsibility = col(Claim.patient_responsibility) - col(Claim.patient_paid)
    zero = literal_column("0")
    insurance = case((balance - responsibility > zero, balance - responsibility), else_=zero)
    patient = case(
        (
            and_(responsibility > zero, balance > zero),
            case((responsibility < balance, responsibility), else_=balance),
        ),
        else_=zero,
    )
    credit = case((balance < zero, balance), else_=zero)
    return (
        type_coerce(insurance, _MONEY),
        type_coerce(patient, _MONEY),
        type_coerce(credit, _MONEY),
    )


def _party_filter(party: str) -> ColumnElement[bool]:
    balance = col(Claim.balance)
    # What the patient still owes of their share (their payments taken off).
    responsibility = col(Claim.patient_responsibility) - col(Claim.patient_paid)
    zero = literal_column("0")
    if party == "insurance":
        return balance - responsibility > zero
    if party == "patient":
        return and_(responsibility > zero, balance > zero)
    if party == "credit":
        return balance < zero
    if party == "owed":
        return balance > zero
    return _open()


def _open_item_states() -> list[str]:
    return [s.value for s in WorkItemState if s != WorkItemState.CLOSED]


def _claim_filters(scope: AgingScope) -> list[ColumnElement[bool]]:
    """The claim rows a scope ages: open, of the payer, in the range, in the queues."""
    day = _basis_day(Claim, scope.basis)
    where: list[ColumnElement[bool]] = [_open(), *_in_range(day, scope)]
    if scope.flt.payer_id:
        where.append(col(Claim.payer_id) == scope.flt.payer_id)
    if scope.queues is not None:
        in_queues = (
            select(WorkItem.claim_id)
            .where(
                col(WorkItem.state).in_(_open_item_states()),
                col(WorkItem.queue).in_(scope.queues),
                col(WorkItem.claim_id).is_not(None),
            )
            .scalar_subquery()
        )
        where.append(col(Claim.id).in_(in_queues))
    return where


# --- the report ----------------------------------------------------------------------------


def member_queues(session: Session, username: str) -> list[tuple[str, str]]:
    """(name, title) of the queues `username` is a member of, by title."""
    rows = session.exec(
        select(Queue.name, Queue.title)
        .join(QueueMembership, col(QueueMembership.queue_name) == col(Queue.name))
        .where(QueueMembership.username == username)
        .order_by(Queue.title)
    ).all()
    return [(name, title) for name, title in rows]


def earliest_open(session: Session, basis: Basis, payer_id: str | None) -> date | None:
    """The oldest basis date of any open claim (of the payer), from claim_summary."""
    day = _basis_day(ClaimSummary, basis)
    query = select(func.min(day)).where(col(ClaimSummary.open_claims) != 0)
    if payer_id:
        query = query.where(ClaimSummary.payer_id == payer_id)
    return session.exec(query).one()


def aging(session: Session, scope: AgingScope) -> AgingReport:
    """Open claims and their balances per payer and age bucket."""
    read = _from_summary if scope.queues is None else _from_claims
    rows = read(session, scope)
    report = AgingReport(scope)
    for payer_id, number, claims, insurance, patient, credit in rows:
        amounts = Amounts(int(claims or 0), _money(insurance), _money(patient), _money(credit))
        if amounts.claims:
            report.cells[(payer_id, BUCKETS[int(number)].key)] = amounts
    return report


def _grouped(session: Session, inner: Any) -> list[Any]:
    sub = inner.subquery()
    query = select(
        sub.c.payer_id,
        sub.c.bucket,
        func.sum(sub.c.claims),
        func.sum(sub.c.insurance),
        func.sum(sub.c.patient),
        func.sum(sub.c.credit),
    ).group_by(sub.c.payer_id, sub.c.bucket)
    return list(session.exec(query).all())


def _from_summary(session: Session, scope: AgingScope) -> list[Any]:
    day = _basis_day(ClaimSummary, scope.basis)
    inner = select(
        col(ClaimSummary.payer_id).label("payer_id"),
        _bucket_number(day, scope.today).label("bucket"),
        col(ClaimSummary.open_claims).label("claims"),
        col(ClaimSummary.insurance_ar).label("insurance"),
        col(ClaimSummary.patient_ar).label("patient"),
        col(ClaimSummary.credit).label("credit"),
    ).where(col(ClaimSummary.open_claims) != 0, *_in_range(day, scope))
    if scope.flt.payer_id:
        inner = inner.where(ClaimSummary.payer_id == scope.flt.payer_id)
    return _grouped(session, inner)


def _from_claims(session: Session, scope: AgingScope) -> list[Any]:
    if not scope.queues:
        return []
    insurance, patient, credit = _claim_parts()
    day = _basis_day(Claim, scope.basis)
    inner = select(
        col(Claim.payer_id).label("payer_id"),
        _bucket_number(day, scope.today).label("bucket"),
        literal_column("1").label("claims"),
        insurance.label("insurance"),
        patient.label("patient"),
        credit.label("credit"),
    ).where(*_claim_filters(scope))
    return _grouped(session, inner)


# --- the claims behind a number ------------------------------------------------------------


@dataclass(frozen=True)
class AgedClaim:
    id: str
    payer_id: str
    patient_name: str
    service_date: date
    submitted_on: date
    status: str
    balance: Decimal
    insurance: Decimal
    patient: Decimal
    credit: Decimal
    age: int


@dataclass
class ClaimPage:
    claims: list[AgedClaim]
    totals: Amounts
    page: int
    pages: int


def _aged_columns() -> list[KeyedColumnElement[Any]]:
    insurance, patient, credit = _claim_parts()
    return [
        col(Claim.id),
        col(Claim.payer_id),
        col(Claim.patient_name),
        col(Claim.service_date),
        col(Claim.submitted_on),
        col(Claim.status),
        col(Claim.balance),
        insurance.label("insurance"),
        patient.label("patient"),
        credit.label("credit"),
    ]


def _aged(row: Any, scope: AgingScope) -> AgedClaim:
    day = row.service_date if scope.basis == "service" else row.submitted_on
    return AgedClaim(
        id=row.id,
        payer_id=row.payer_id,
        patient_name=row.patient_name,
        service_date=row.service_date,
        submitted_on=row.submitted_on,
        status=row.status,
        balance=_money(row.balance),
        insurance=_money(row.insurance),
        patient=_money(row.patient),
        credit=_money(row.credit),
        age=max((scope.today - day).days, 0),
    )


def _bucket_where(scope: AgingScope, bucket: Bucket, party: str) -> list[ColumnElement[bool]]:
    day = _basis_day(Claim, scope.basis)
    where = [*_claim_filters(scope), _party_filter(party)]
    first, last = bucket.bounds(scope.today)
    if first is not None:
        where.append(day >= first)
    if last is not None:
        where.append(day <= last)
    return where


def _oldest_first(scope: AgingScope) -> list[Any]:
    day = _basis_day(Claim, scope.basis)
    return [day, col(Claim.id)]


def bucket_claims(
    session: Session,
    scope: AgingScope,
    bucket: str,
    party: str,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> ClaimPage:
    """One page of the open claims of a bucket (a key of SPANS) whose `party` part is
    not zero, oldest first, with the count and sums of them all."""
    if scope.queues is not None and not scope.queues:
        return ClaimPage([], Amounts(), 1, 1)
    span = SPANS[bucket]
    where = _bucket_where(scope, span, party)
    insurance, patient, credit = _claim_parts()
    count, ins, pat, cred = session.exec(
        select(
            func.count(),
            func.sum(insurance),
            func.sum(patient),
            func.sum(credit),
        )
        .select_from(Claim)
        .where(*where)
    ).one()
    totals = Amounts(int(count or 0), _money(ins), _money(pat), _money(cred))
    pages = max(1, -(-totals.claims // per_page))
    page = min(max(page, 1), pages)
    rows = session.exec(
        select(*_aged_columns())
        .where(*where)
        .order_by(*_oldest_first(scope))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return ClaimPage([_aged(row, scope) for row in rows], totals, page, pages)


def every_bucket_claim(
    session: Session, scope: AgingScope, bucket: str, party: str
) -> Iterator[AgedClaim]:
    """All the claims `bucket_claims` pages through, for a CSV download."""
    if scope.queues is not None and not scope.queues:
        return
    where = _bucket_where(scope, SPANS[bucket], party)
    query = select(*_aged_columns()).where(*where).order_by(*_oldest_first(scope))
    for row in session.exec(query).all():
        yield _aged(row, scope)


def oldest_claims(session: Session, scope: AgingScope, limit: int = OLDEST) -> list[AgedClaim]:
    """The `limit` oldest open claims of the scope."""
    if scope.queues is not None and not scope.queues:
        return []
    rows = session.exec(
        select(*_aged_columns())
        .where(*_claim_filters(scope))
        .order_by(*_oldest_first(scope))
        .limit(limit)
    ).all()
    return [_aged(row, scope) for row in rows]
