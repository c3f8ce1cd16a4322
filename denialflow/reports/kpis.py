"""The revenue-cycle KPIs of the dashboard, over a ReportFilter (a range of practice days
and optionally one payer), with a month-by-month trend.

Totals and trends are read from the summary tables (claim_summary, remittance_summary,
write_off_summary), one GROUP BY per table over the range's days; the measures that need
a claim's history (clean claims, days from a denial to its appeal or resolution,
recovered underpayments) read the raw rows of the claims they count. `claim_rows` lists
exactly the rows each number counts, for the drill-down.

The definitions (DEFINITIONS says the same on the page):

- first answers: remittances of stage `initial` or `resubmission` (the payer's first
  answer to a claim as first sent or as corrected) decided in the range, leaving out
  duplicate denials (CARC 18: denial category `duplicate` or a reason ending in `-18`),
  which answer a copy of a claim, not the claim;
- initial denial rate: first answers whose outcome is `denied` or `partial` / first
  answers; by dollars, their denied dollars / the charges of all first answers;
- primary denial rate: the same with stage `initial` only;
- remittance denial rate (HFMA AR-5): remittances whose outcome is `denied` or `partial`
  / remittances decided in the range, leaving out reversals, predeterminations and
  answers to voided claims (duplicate denials are counted: each is a remittance with a
  denial);
- first-pass resolution rate: stage `initial` answers paid in full / stage `initial`
  answers (duplicates left out);
- clean claim rate: claims with a date of service in the range, less those rejected at
  the front door (a rejection work item, opened by a 277CA rejection) or corrected or
  voided before the payer's first answer (a `corrected_claim_sent` or `claim_voided`
  event before any `remittance_posted`) / those claims. A claim still waiting for its
  first answer counts as clean until it is rejected or corrected;
- net revenue: charges less contractual adjustments of the claims with a date of
  service in the range (as they stand now);
- net collection rate: payer payments / (charges - contractual - patient
  responsibility) of the claims with a date of service in the range. denialflow does not
  record what patients pay, so the patients' share is left out of both sides;
- A/R at a day's end: the charges of claims with a date of service by then, less the
  payments and contractual adjustments on remittances decided by then
  (predeterminations move no money), less the write-offs (net of reversals) by then. By
  date of service, not submission: a corrected claim's stored submission date is its
  latest one, which would drop it from A/R between its denial and its correction;
- net days in A/R: A/R at the range's end / (net revenue / days in the range);
- A/R over 90 days: what is owed today (positive balances, as the A/R aging page
  counts it: credits are money owed back) on claims whose date of service is more than
  90 days ago / all that is owed today (a snapshot: the summaries keep no history by
  age);
- denial overturn rate: answers while appealed (stage `appeal`) that paid with no denial
  reason left (outcome `paid` or `underpaid`) / answers while appealed, decided in the
  range;
- days from denial to appeal: for appeals filed in the range (a denial or underpayment
  work item closed by filing an appeal), days from the decision date of the answer that
  opened the item to the practice day the appeal was filed;
- days from denial to resolution: for denials (`denied`, `partial`) decided in the
  range, practice days from the decision date to the claim's next move to paid,
  closed, patient balance or voided; those not resolved yet are counted apart;
- denial write-offs (HFMA AR-6): write-offs of payer balances that settled a denial
  (write_off_summary rows with a denial category), in the range / net revenue;
- underpayments found: remittances with outcome `underpaid` decided in the range; their
  dollars are what the payer left unpaid on that answer (charge - paid - contractual -
  patient responsibility; a shortfall only our contract shows counts in the number, not
  in the dollars);
- underpayments recovered: payments (net of reversals) on later remittances of those
  claims, posted after the claim's first underpayment in the range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, not_, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlmodel import Session

from denialflow.domain.rules.adjudication import DENIAL_OUTCOMES, FIRST_PASS_STAGES
from denialflow.domain.types import ZERO, DenialCategory, WorkItemKind, WorkItemState
from denialflow.models.tables import (
    Claim,
    ClaimEvent,
    ClaimSummary,
    Remittance,
    RemittanceSummary,
    WorkItem,
    WriteOffSummary,
)
from denialflow.reports.period import (
    ReportFilter,
    months,
    practice_day,
    range_bounds_utc,
)

__all__ = [
    "DEFINITIONS",
    "KPIS",
    "REFERENCES",
    "ClaimList",
    "KpiReport",
    "Mean",
    "Measures",
    "Ratio",
    "claim_rows",
    "kpi_report",
]

DUPLICATE = DenialCategory.DUPLICATE.value
OVERTURNED = ("paid", "underpaid")
# Statuses that end a denial: the payer's part is settled one way or another.
RESOLVED = ("paid", "closed", "patient_balance", "voided")
AGED_DAYS = 90

# The industry references (DOMAIN.md, KPIs), as (comparison, target in percent or days).
REFERENCES: dict[str, tuple[str, Decimal]] = {
    "initial_denial_rate": ("under", Decimal(5)),
    "clean_claim_rate": ("at least", Decimal(95)),
    "days_in_ar": ("under", Decimal(40)),
    "ar_over_90": ("under", Decimal(10)),
    "overturn_rate": ("over", Decimal(40)),
    "net_collection_rate": ("at least", Decimal(95)),
}

DEFINITIONS: list[tuple[str, str]] = [
    (
        "First answers",
        "Remittances that are the payer's first answer to a claim as first sent (stage "
        "initial) or as corrected (stage resubmission), decided in the range. Duplicate "
        "denials (CARC 18) answer a copy of a claim, not the claim: they are left out.",
    ),
    (
        "Initial denial rate",
        "First answers denied in full or in part / first answers. By dollars: the dollars "
        "those answers denied / the charges of all first answers.",
    ),
    ("Primary denial rate", "The same over answers to claims as first sent (stage initial)."),
    (
        "Remittance denial rate (HFMA AR-5)",
        "Remittances with a denial (in full or in part) / remittances decided in the range, "
        "leaving out reversals, predeterminations and answers to voided claims. Duplicate "
        "denials count here: each is a remittance with a denial.",
    ),
    (
        "First-pass resolution rate",
        "Answers to claims as first sent that paid in full / answers to claims as first "
        "sent (duplicate denials left out).",
    ),
    (
        "Clean claim rate",
        "Claims with a date of service in the range that were neither rejected at the "
        "front door (a 277CA rejection) nor corrected or voided before the payer's first "
        "answer / claims with a date of service in the range. A claim still waiting for "
        "its first answer counts as clean until it is rejected or corrected.",
    ),
    (
        "Net revenue",
        "Charges less contractual adjustments of the claims with a date of service in the "
        "range, as they stand now.",
    ),
    (
        "Net collection rate",
        "Payer payments / (charges - contractual adjustments - patient responsibility) of "
        "the claims with a date of service in the range. denialflow does not record what "
        "patients pay, so their share is left out of both sides. Recent months are low "
        "until their claims are paid.",
    ),
    (
        "A/R at a day's end",
        "Reconstructed from the summaries: charges of the claims with a date of service "
        "by then, less payments and contractual adjustments on remittances decided by "
        "then, less write-offs (net of reversals) by then. By date of service rather than "
        "submission, because a corrected claim keeps only its latest submission date.",
    ),
    (
        "Net days in A/R (HFMA)",
        "A/R at the end of the range / (net revenue over the range / days in the range). "
        "In the trend, each month's A/R at its end over that month's net revenue per day.",
    ),
    (
        "A/R over 90 days",
        "What is owed today on claims served more than 90 days ago (91 days or more) / "
        "all that is owed today, as the A/R aging page counts it (credits apart): a "
        "snapshot as of today, whatever the range.",
    ),
    (
        "Denial overturn rate",
        "Answers while a claim was appealed that paid with no denial reason left (paid, or "
        "paid short of the contract) / all answers while appealed, decided in the range.",
    ),
    (
        "Days from denial to appeal",
        "For appeals filed in the range: days from the decision date of the denial (or "
        "underpayment) whose work item the appeal closed to the day it was filed.",
    ),
    (
        "Days from denial to resolution",
        "For denials decided in the range: days from the decision date to the day the "
        "claim was next paid, closed, left to the patient or voided. Denials not resolved "
        "yet are counted apart.",
    ),
    (
        "Denial write-offs (HFMA AR-6)",
        "Payer balances written off in the range that settled a denial / net revenue.",
    ),
    (
        "Underpayments found and recovered",
        "Found: remittances paid short with no denial reason, decided in the range; their "
        "dollars are what the payer left unpaid on that answer (a shortfall only our "
        "contract shows counts in the number, not the dollars). Recovered: payments (net "
        "of reversals) on later remittances of those claims.",
    ),
]


def _percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    value = Decimal(part) * 100 / Decimal(whole)
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _money(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Ratio:
    """A share: `part` of `whole`, in percent (None when there is no whole)."""

    part: int | Decimal = 0
    whole: int | Decimal = 0

    @property
    def value(self) -> Decimal | None:
        return _percent(self.part, self.whole)


@dataclass(frozen=True)
class Mean:
    """A mean of whole days over `count` cases; `pending` cases not ended yet."""

    total_days: int = 0
    count: int = 0
    pending: int = 0

    @property
    def value(self) -> Decimal | None:
        if not self.count:
            return None
        return (Decimal(self.total_days) / self.count).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )


@dataclass(frozen=True)
class Measures:
    """The KPIs over one window of days (the whole range, or one month of the trend)."""

    start: date
    end: date
    initial_denials: Ratio
    initial_denial_dollars: Ratio
    primary_denials: Ratio
    remittance_denials: Ratio
    first_pass: Ratio
    clean_claims: Ratio
    net_collection: Ratio
    ar: Decimal
    net_revenue: Decimal
    overturn: Ratio
    denial_write_offs: Ratio
    underpaid: int
    underpaid_dollars: Decimal

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def days_in_ar(self) -> Decimal | None:
        if self.net_revenue <= ZERO:
            return None
        per_day = self.net_revenue / self.days
        return (self.ar / per_day).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def empty(self) -> bool:
        """Nothing happened in the window: no claims served, no answers decided."""
        return not (
            self.initial_denials.whole or self.remittance_denials.whole or self.clean_claims.whole
        )


@dataclass(frozen=True)
class WriteOffReason:
    reason_code: str
    patient: bool
    write_offs: int
    amount: Decimal


@dataclass(frozen=True)
class Recovered:
    claims: int  # claims with an underpayment found in the range
    recovered_claims: int  # of those, claims with a later payment
    dollars: Decimal


@dataclass
class KpiReport:
    flt: ReportFilter
    today: date
    total: Measures
    trend: list[tuple[date, Measures]]
    ar_over_90: Ratio
    to_appeal: Mean
    to_resolution: Mean
    write_offs: list[WriteOffReason]
    recovered: Recovered
    aged_before: date = field(default=date.min)


# --- the summaries, per day ---------------------------------------------------------


def _payer(column: Any, flt: ReportFilter) -> list[ColumnElement[bool]]:
    return [column == flt.payer_id] if flt.payer_id else []


def _sum_if(condition: ColumnElement[bool], value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=literal(0))), 0)


def _duplicate(category: Any, reason: Any) -> ColumnElement[bool]:
    return or_(category == DUPLICATE, reason.like("%-18"))


def _remittance_measures(rs: Any) -> dict[str, Any]:
    """Named sums over remittance_summary rows (or raw remittance rows: same columns)."""
    first = and_(
        rs.stage.in_(FIRST_PASS_STAGES), not_(_duplicate(rs.denial_category, rs.denial_reason))
    )
    initial = and_(rs.stage == "initial", not_(_duplicate(rs.denial_category, rs.denial_reason)))
    denial = rs.outcome.in_(DENIAL_OUTCOMES)
    received = and_(rs.stage.not_in(("reversal", "predetermination")), rs.outcome != "voided")
    appeal = rs.stage == "appeal"
    underpaid = rs.outcome == "underpaid"
    count = rs.remittances
    return {
        "first": _sum_if(first, count),
        "first_denied": _sum_if(and_(first, denial), count),
        "first_charge": _sum_if(first, rs.charge),
        "first_denied_amount": _sum_if(and_(first, denial), rs.denied_amount),
        "initial": _sum_if(initial, count),
        "initial_denied": _sum_if(and_(initial, denial), count),
        "initial_paid": _sum_if(and_(initial, rs.outcome == "paid"), count),
        "received": _sum_if(received, count),
        "received_denied": _sum_if(and_(received, denial), count),
        "appeals": _sum_if(appeal, count),
        "overturned": _sum_if(and_(appeal, rs.outcome.in_(OVERTURNED)), count),
        "underpaid": _sum_if(underpaid, count),
        "underpaid_amount": _sum_if(
            underpaid, rs.charge - rs.paid - rs.contractual - rs.patient_responsibility
        ),
        "settled": _sum_if(rs.outcome != "predetermination", rs.paid + rs.contractual),
    }


def _by_day(session: Session, query: Select, names: Sequence[str]) -> dict[date, dict[str, Any]]:
    out: dict[date, dict[str, Any]] = {}
    for row in session.execute(query).all():
        out[row[0]] = dict(zip(names, row[1:], strict=True))
    return out


def _remittances_by_day(session: Session, flt: ReportFilter) -> dict[date, dict[str, Any]]:
    rs = RemittanceSummary.__table__.c
    sums = _remittance_measures(rs)
    query = (
        select(rs.decision_date, *(v.label(k) for k, v in sums.items()))
        .where(rs.decision_date.between(flt.start, flt.end), *_payer(rs.payer_id, flt))
        .group_by(rs.decision_date)
    )
    return _by_day(session, query, list(sums))


def _claims_by_day(session: Session, flt: ReportFilter) -> dict[date, dict[str, Any]]:
    cs = ClaimSummary.__table__.c
    names = ["claims", "charge", "contractual", "paid", "patient_responsibility"]
    query = (
        select(cs.service_date, *(func.sum(cs[n]).label(n) for n in names))
        .where(cs.service_date.between(flt.start, flt.end), *_payer(cs.payer_id, flt))
        .group_by(cs.service_date)
    )
    return _by_day(session, query, names)


def _write_offs_by_day(session: Session, flt: ReportFilter) -> dict[date, dict[str, Any]]:
    ws = WriteOffSummary.__table__.c
    denial = and_(ws.denial_category != "", ws.patient.is_(False))
    query = (
        select(
            ws.day,
            func.sum(ws.amount).label("written_off"),
            _sum_if(denial, ws.amount).label("denial_written_off"),
        )
        .where(ws.day.between(flt.start, flt.end), *_payer(ws.payer_id, flt))
        .group_by(ws.day)
    )
    return _by_day(session, query, ["written_off", "denial_written_off"])


def _ar_before(session: Session, flt: ReportFilter) -> Decimal:
    """A/R at the end of the day before the range starts (see the module's notes)."""
    cs = ClaimSummary.__table__.c
    rs = RemittanceSummary.__table__.c
    ws = WriteOffSummary.__table__.c
    charge = session.execute(
        select(func.sum(cs.charge)).where(cs.service_date < flt.start, *_payer(cs.payer_id, flt))
    ).scalar()
    settled = session.execute(
        select(func.sum(rs.paid + rs.contractual)).where(
            rs.decision_date < flt.start,
            rs.outcome != "predetermination",
            *_payer(rs.payer_id, flt),
        )
    ).scalar()
    written = session.execute(
        select(func.sum(ws.amount)).where(ws.day < flt.start, *_payer(ws.payer_id, flt))
    ).scalar()
    return _money(charge) - _money(settled) - _money(written)


# --- clean claims: raw rows of the claims served in the range ------------------------


def _unclean_condition() -> ColumnElement[bool]:
    """A claim rejected at the front door, or corrected or voided before its first
    answer (see the module's notes). Correlated to Claim."""
    rejected = exists().where(
        WorkItem.__table__.c.claim_id == Claim.__table__.c.id,
        WorkItem.__table__.c.kind == WorkItemKind.REJECTION.value,
    )
    edit = aliased(ClaimEvent)
    answer = aliased(ClaimEvent)
    corrected = exists().where(
        edit.claim_id == Claim.__table__.c.id,
        edit.event.in_(("corrected_claim_sent", "claim_voided")),
        ~exists().where(
            answer.claim_id == edit.claim_id,
            answer.workflow_id == edit.workflow_id,
            answer.event == "remittance_posted",
            answer.seq < edit.seq,
        ),
    )
    return or_(rejected, corrected)


def _unclean_by_day(session: Session, flt: ReportFilter) -> dict[date, dict[str, Any]]:
    c = Claim.__table__.c
    query = (
        select(c.service_date, func.count().label("unclean"))
        .where(c.service_date.between(flt.start, flt.end), *_payer(c.payer_id, flt))
        .where(_unclean_condition())
        .group_by(c.service_date)
    )
    return _by_day(session, query, ["unclean"])


# --- adding the days up ---------------------------------------------------------------


def _add(days: dict[date, dict[str, Any]], start: date, end: date) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for day, values in days.items():
        if start <= day <= end:
            for name, value in values.items():
                totals[name] = totals.get(name, ZERO) + Decimal(str(value or 0))
    return totals


def _int(value: Decimal | None) -> int:
    return int(value or 0)


class _Days:
    """Every day's sums in the range, and A/R at any day's end."""

    def __init__(self, session: Session, flt: ReportFilter) -> None:
        self.remits = _remittances_by_day(session, flt)
        self.claims = _claims_by_day(session, flt)
        self.unclean = _unclean_by_day(session, flt)
        self.write_offs = _write_offs_by_day(session, flt)
        self.ar_start = _ar_before(session, flt)
        self.start = flt.start

    def ar_at(self, day: date) -> Decimal:
        charge = _add(self.claims, self.start, day).get("charge", ZERO)
        settled = _add(self.remits, self.start, day).get("settled", ZERO)
        written = _add(self.write_offs, self.start, day).get("written_off", ZERO)
        return _money(self.ar_start + charge - settled - written)

    def measures(self, start: date, end: date) -> Measures:
        r = _add(self.remits, start, end)
        c = _add(self.claims, start, end)
        u = _add(self.unclean, start, end)
        w = _add(self.write_offs, start, end)
        g = r.get
        claims = _int(c.get("claims"))
        charge = _money(c.get("charge"))
        contractual = _money(c.get("contractual"))
        net_revenue = charge - contractual
        collectible = net_revenue - _money(c.get("patient_responsibility"))
        return Measures(
            start=start,
            end=end,
            initial_denials=Ratio(_int(g("first_denied")), _int(g("first"))),
            initial_denial_dollars=Ratio(
                _money(g("first_denied_amount")), _money(g("first_charge"))
            ),
            primary_denials=Ratio(_int(g("initial_denied")), _int(g("initial"))),
            remittance_denials=Ratio(_int(g("received_denied")), _int(g("received"))),
            first_pass=Ratio(_int(g("initial_paid")), _int(g("initial"))),
            clean_claims=Ratio(claims - _int(u.get("unclean")), claims),
            net_collection=Ratio(
                _money(c.get("paid")), collectible if collectible > ZERO else ZERO
            ),
            ar=self.ar_at(end),
            net_revenue=net_revenue,
            overturn=Ratio(_int(g("overturned")), _int(g("appeals"))),
            denial_write_offs=Ratio(
                _money(w.get("denial_written_off")), net_revenue if net_revenue > ZERO else ZERO
            ),
            underpaid=_int(g("underpaid")),
            underpaid_dollars=_money(max(g("underpaid_amount", ZERO), ZERO)),
        )


# --- the measures that follow a claim's history ---------------------------------------


def _ar_over_90(session: Session, flt: ReportFilter, today: date) -> tuple[Ratio, date]:
    cs = ClaimSummary.__table__.c
    cutoff = today - timedelta(days=AGED_DAYS)
    # What is owed (the A/R aging page's "A/R"): credits are money owed back, not A/R.
    owed = cs.insurance_ar + cs.patient_ar
    row = session.execute(
        select(_sum_if(cs.service_date < cutoff, owed), func.coalesce(func.sum(owed), 0)).where(
            *_payer(cs.payer_id, flt)
        )
    ).one()
    return Ratio(_money(row[0]), _money(row[1])), cutoff


def _appeals_query(flt: ReportFilter, tz: tzinfo) -> Select:
    """Appeals filed in the range: the denial or underpayment work items a person closed
    by filing an appeal (claim, payer, service date, filed at, and the item's opening,
    the start of the answer's decision day). Read from work items rather than the
    claims' timelines: closed items by date are indexed, a status inside an event's
    JSON is not (at a million claims that scan took seconds)."""
    w = WorkItem.__table__.c
    c = Claim.__table__.c
    start, end = range_bounds_utc(flt, tz)
    return (
        select(
            w.claim_id,
            c.payer_id,
            c.service_date,
            w.closed_at.label("at"),
            w.opened_at.label("opened_at"),
        )
        .join(Claim.__table__, c.id == w.claim_id)
        .where(
            w.state == WorkItemState.CLOSED.value,
            w.closed_at >= start,
            w.closed_at < end,
            w.outcome == "appeal_filed",
            w.kind.in_((WorkItemKind.DENIAL.value, WorkItemKind.UNDERPAYMENT.value)),
            *_payer(c.payer_id, flt),
        )
    )


def _to_appeal(session: Session, flt: ReportFilter, tz: tzinfo) -> Mean:
    total = count = 0
    for row in session.execute(_appeals_query(flt, tz)).all():
        # The item opened at the start (UTC) of the answer's decision date.
        opened = row.opened_at
        denied_on = (opened if opened.tzinfo else opened.replace(tzinfo=UTC)).astimezone(UTC).date()
        total += max((practice_day(row.at, tz) - denied_on).days, 0)
        count += 1
    return Mean(total, count)


def _denials_query(flt: ReportFilter) -> Select:
    """Denials decided in the range, with the moment their claim was next resolved."""
    r = Remittance.__table__.c
    e = ClaimEvent.__table__.c
    resolved_at = (
        select(func.min(e.at))
        .where(
            e.claim_id == r.claim_id,
            e.event == "claim_status",
            e.data["status"].as_string().in_(RESOLVED),
            e.at >= r.posted_at,
        )
        .scalar_subquery()
    )
    return select(
        r.id,
        r.claim_id,
        r.payer_id,
        r.decision_date,
        r.denial_reason,
        r.denied_amount,
        resolved_at.label("resolved_at"),
    ).where(
        r.decision_date.between(flt.start, flt.end),
        r.outcome.in_(DENIAL_OUTCOMES),
        r.claim_id.is_not(None),
        *_payer(r.payer_id, flt),
    )


def _to_resolution(session: Session, flt: ReportFilter, tz: tzinfo) -> Mean:
    total = count = pending = 0
    for row in session.execute(_denials_query(flt)).all():
        if row.resolved_at is None:
            pending += 1
            continue
        total += max((practice_day(row.resolved_at, tz) - row.decision_date).days, 0)
        count += 1
    return Mean(total, count, pending)


def _write_off_reasons(session: Session, flt: ReportFilter) -> list[WriteOffReason]:
    ws = WriteOffSummary.__table__.c
    rows = session.execute(
        select(ws.reason_code, ws.patient, func.sum(ws.write_offs), func.sum(ws.amount))
        .where(ws.day.between(flt.start, flt.end), *_payer(ws.payer_id, flt))
        .group_by(ws.reason_code, ws.patient)
    ).all()
    out = [
        WriteOffReason(reason or "(none)", bool(patient), int(n or 0), _money(amount))
        for reason, patient, n, amount in rows
        if n or amount
    ]
    return sorted(out, key=lambda w: (-w.amount, w.reason_code, w.patient))


def _first_underpaid(flt: ReportFilter) -> Select:
    """Per claim, its first underpaid remittance decided in the range."""
    r = Remittance.__table__.c
    return (
        select(r.claim_id, func.min(r.id).label("first_id"))
        .where(
            r.outcome == "underpaid",
            r.decision_date.between(flt.start, flt.end),
            r.claim_id.is_not(None),
            *_payer(r.payer_id, flt),
        )
        .group_by(r.claim_id)
    )


def _recovered_query(flt: ReportFilter) -> Select:
    first = _first_underpaid(flt).subquery()
    later = aliased(Remittance)
    paid_later = (
        select(func.coalesce(func.sum(later.paid), 0))
        .where(
            later.claim_id == first.c.claim_id,
            later.id > first.c.first_id,
            later.outcome != "predetermination",
        )
        .scalar_subquery()
    )
    return select(first.c.claim_id, first.c.first_id, paid_later.label("recovered"))


def _recovered(session: Session, flt: ReportFilter) -> Recovered:
    query = _recovered_query(flt)
    claims = recovered_claims = 0
    dollars = ZERO
    for row in session.execute(query).all():
        claims += 1
        amount = _money(row.recovered)
        if amount > ZERO:
            recovered_claims += 1
            dollars += amount
    return Recovered(claims, recovered_claims, dollars)


def kpi_report(session: Session, flt: ReportFilter, tz: tzinfo, today: date) -> KpiReport:
    days = _Days(session, flt)
    trend = []
    for first in months(flt.start, flt.end):
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        trend.append((first, days.measures(max(first, flt.start), min(last, flt.end))))
    ar_over_90, cutoff = _ar_over_90(session, flt, today)
    return KpiReport(
        flt=flt,
        today=today,
        total=days.measures(flt.start, flt.end),
        trend=trend,
        ar_over_90=ar_over_90,
        to_appeal=_to_appeal(session, flt, tz),
        to_resolution=_to_resolution(session, flt, tz),
        write_offs=_write_off_reasons(session, flt),
        recovered=_recovered(session, flt),
        aged_before=cutoff,
    )


# --- the drill-down: exactly the rows a number counts ---------------------------------

LIST_HEADERS = ["Claim", "Payer", "Date of service", "Day", "What", "Amount"]


@dataclass(frozen=True)
class ClaimList:
    kpi: str
    title: str
    total: int
    rows: list[tuple[str, str, date, date | None, str, Decimal | None]]


def _remittance_list(flt: ReportFilter, *conditions: ColumnElement[bool]) -> Select:
    r = Remittance.__table__.c
    c = Claim.__table__.c
    what = r.stage + literal(" ") + r.outcome + literal(" ") + r.denial_reason
    return (
        select(
            r.claim_id,
            r.payer_id,
            c.service_date,
            r.decision_date.label("day"),
            what.label("what"),
            r.paid.label("amount"),
            r.id.label("order"),
        )
        .join(Claim.__table__, c.id == r.claim_id)
        .where(r.decision_date.between(flt.start, flt.end), *_payer(r.payer_id, flt), *conditions)
    )


def _remittance_kpis() -> dict[str, tuple[str, list[ColumnElement[bool]]]]:
    r = Remittance.__table__.c
    not_dup = not_(_duplicate(r.denial_category, r.denial_reason))
    first = [r.stage.in_(FIRST_PASS_STAGES), not_dup]
    initial = [r.stage == "initial", not_dup]
    denial = r.outcome.in_(DENIAL_OUTCOMES)
    received = [r.stage.not_in(("reversal", "predetermination")), r.outcome != "voided"]
    appeal = r.stage == "appeal"
    return {
        "first_answers": ("First answers (initial and resubmission)", first),
        "initial_denials": ("First answers denied in full or in part", [*first, denial]),
        "initial_answers": ("Answers to claims as first sent", initial),
        "primary_denials": ("Answers to claims as first sent, denied", [*initial, denial]),
        "first_pass_paid": (
            "Answers to claims as first sent, paid in full",
            [*initial, r.outcome == "paid"],
        ),
        "remittances": ("Remittances received (no reversals, predeterminations)", received),
        "remittance_denials": ("Remittances with a denial", [*received, denial]),
        "appeal_answers": ("Answers while appealed", [appeal]),
        "overturned": ("Answers while appealed that paid", [appeal, r.outcome.in_(OVERTURNED)]),
        "underpaid": ("Underpayments found", [r.outcome == "underpaid"]),
        "denials": ("Denials decided (in full or in part)", [denial]),
    }


def _claim_list(flt: ReportFilter, *conditions: ColumnElement[bool], amount: Any = None) -> Select:
    """Claims: the day is the (latest) submission date, the amount the charge unless
    told."""
    c = Claim.__table__.c
    return select(
        c.id.label("claim_id"),
        c.payer_id,
        c.service_date,
        c.submitted_on.label("day"),
        c.status.label("what"),
        (c.charge if amount is None else amount).label("amount"),
        c.id.label("order"),
    ).where(*_payer(c.payer_id, flt), *conditions)


def _list_query(kpi: str, flt: ReportFilter, tz: tzinfo, today: date) -> tuple[str, Select]:
    remittance_kpis = _remittance_kpis()
    if kpi in remittance_kpis:
        title, conditions = remittance_kpis[kpi]
        return title, _remittance_list(flt, *conditions)
    c = Claim.__table__.c
    served = c.service_date.between(flt.start, flt.end)
    if kpi == "claims":
        return "Claims with a date of service in the range", _claim_list(flt, served)
    if kpi == "unclean":
        return (
            "Claims served in the range that were rejected or corrected before an answer",
            _claim_list(flt, served, _unclean_condition()),
        )
    if kpi == "clean":
        return (
            "Clean claims served in the range",
            _claim_list(flt, served, not_(_unclean_condition())),
        )
    if kpi == "ar_over_90":
        cutoff = today - timedelta(days=AGED_DAYS)
        query = _claim_list(flt, c.service_date < cutoff, c.balance > 0, amount=c.balance)
        return f"Claims with a balance served before {cutoff.isoformat()}", query
    if kpi == "appeals":
        inner = _appeals_query(flt, tz).subquery()
        return "Appeals filed in the range (by the day filed)", select(
            inner.c.claim_id,
            inner.c.payer_id,
            inner.c.service_date,
            inner.c.at.label("day"),
            literal("appealed").label("what"),
            literal(None).label("amount"),
            inner.c.at.label("order"),
        )
    if kpi == "denial_write_offs":
        e = ClaimEvent.__table__.c
        day = e.data["day"].as_string()
        query = (
            select(
                e.claim_id,
                c.payer_id,
                c.service_date,
                day.label("day"),
                e.data["category"].as_string().label("what"),
                e.data["amount"].as_string().label("amount"),
                e.id.label("order"),
            )
            .join(Claim.__table__, c.id == e.claim_id)
            .where(
                e.event == "written_off",
                day >= flt.start.isoformat(),
                day <= flt.end.isoformat(),
                e.data["category"].as_string() != "",
                *_payer(c.payer_id, flt),
            )
        )
        return "Write-offs that settled a denial", query
    raise KeyError(kpi)


# Every list the dashboard links to: kpi -> what it counts.
KPIS: tuple[str, ...] = (
    *_remittance_kpis(),
    "claims",
    "clean",
    "unclean",
    "ar_over_90",
    "appeals",
    "denial_write_offs",
)


def claim_rows(
    session: Session,
    kpi: str,
    flt: ReportFilter,
    tz: tzinfo,
    today: date,
    *,
    offset: int = 0,
    limit: int | None = 100,
) -> ClaimList:
    """The rows behind `kpi` over `flt`, oldest first: a page of them (all with limit
    None) and how many there are in all. KeyError for a kpi that is not one of KPIS."""
    title, query = _list_query(kpi, flt, tz, today)
    inner = query.subquery()
    total = session.execute(select(func.count()).select_from(inner)).scalar() or 0
    page = select(inner).order_by(inner.c.day, inner.c.claim_id, inner.c.order).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    rows = []
    for row in session.execute(page).all():
        day = row.day
        if isinstance(day, datetime):
            day = practice_day(day, tz)
        elif isinstance(day, str):
            day = date.fromisoformat(day)
        amount = None if row.amount is None else _money(row.amount)
        what = " ".join(str(row.what or "").split())
        rows.append((row.claim_id, row.payer_id, row.service_date, day, what, amount))
    return ClaimList(kpi, title, int(total), rows)
