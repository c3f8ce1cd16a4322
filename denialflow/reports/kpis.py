"""The revenue-cycle KPIs of the dashboard, over a ReportFilter (a range of practice days
and optionally one payer), with a month-by-month trend.

Every number is read from the summary tables (claim_summary, remittance_summary,
write_off_summary), one GROUP BY per table over the range's days. The measures that
follow a claim's history (clean claims, days from a denial to its appeal or resolution,
recovered underpayments) are facts kept on the claim and remittance rows as the history
happens (store/report_facts.py) and summed like the rest. `claim_rows` lists exactly the
rows each number counts, for the drill-down.

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
- days from denial to appeal: for denials and underpayments (`denied`, `partial`,
  `underpaid`) decided in the range and since appealed, practice days from the decision
  date to the claim's next move to appealed;
- days from denial to resolution: for denials (`denied`, `partial`) decided in the
  range, practice days from the decision date to the claim's next move to paid,
  closed, patient balance or voided; those not resolved yet are counted apart;
- denial write-offs (HFMA AR-6): write-offs of payer balances that settled a denial
  (write_off_summary rows with a denial category), in the range / net revenue;
- underpayments found: remittances with outcome `underpaid` decided in the range; their
  dollars are what the payer left unpaid on that answer (charge - paid - contractual -
  patient responsibility; a shortfall only our contract shows counts in the number, not
  in the dollars);
- underpayments recovered: of those, the ones the payer paid more on later (payments net
  of reversals on the claim's later remittances, each counted for the latest
  underpayment before it), and what it paid.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, not_, or_, select
from sqlalchemy.sql import Select
from sqlmodel import Session

from denialflow.domain.rules.adjudication import (
    APPEALABLE_OUTCOMES,
    DENIAL_OUTCOMES,
    FIRST_PASS_STAGES,
)
from denialflow.domain.types import ZERO, DenialCategory
from denialflow.models.tables import (
    Claim,
    ClaimEvent,
    ClaimSummary,
    Remittance,
    RemittanceSummary,
    WriteOffSummary,
)
from denialflow.reports.period import ReportFilter, months, practice_day

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
        "For denials and underpayments decided in the range and since appealed: days "
        "from the decision date to the day the claim was next appealed.",
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
        "contract shows counts in the number, not the dollars). Recovered: those the payer "
        "paid more on later, and how much (payments net of reversals on the claim's later "
        "remittances, each counted for the latest underpayment before it).",
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
    """Named sums over remittance_summary rows."""
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
        "denials": _sum_if(denial, count),
        "resolved": _sum_if(denial, rs.resolved),
        "resolution_days": _sum_if(denial, rs.resolution_days),
        "appealed": _sum_if(rs.outcome.in_(APPEALABLE_OUTCOMES), rs.appealed),
        "appeal_days": _sum_if(rs.outcome.in_(APPEALABLE_OUTCOMES), rs.appeal_days),
        "recovered_count": _sum_if(underpaid, rs.recovered_count),
        "recovered": _sum_if(underpaid, rs.recovered),
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
    names = ["claims", "charge", "contractual", "paid", "patient_responsibility", "unclean"]
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


# --- adding the days up ---------------------------------------------------------------


class _Running:
    """Each day's sums as running totals, so any run of days adds up in two lookups (the
    trend asks for a month's sums and A/R at a month's end, month after month)."""

    def __init__(self, days: dict[date, dict[str, Any]]) -> None:
        self.days = sorted(days)
        self.totals: list[dict[str, Decimal]] = []
        running: dict[str, Decimal] = {}
        for day in self.days:
            running = dict(running)
            for name, value in days[day].items():
                running[name] = running.get(name, ZERO) + Decimal(str(value or 0))
            self.totals.append(running)

    def _through(self, day: date) -> dict[str, Decimal]:
        """The sums of every day up to `day`, included."""
        i = bisect_right(self.days, day)
        return self.totals[i - 1] if i else {}

    def between(self, start: date, end: date) -> dict[str, Decimal]:
        if end < start:
            return {}
        before = self._through(start - timedelta(days=1))
        through = self._through(end)
        return {name: value - before.get(name, ZERO) for name, value in through.items()}


def _int(value: Decimal | None) -> int:
    return int(value or 0)


class _Days:
    """Every day's sums in the range, and A/R at any day's end."""

    def __init__(self, session: Session, flt: ReportFilter) -> None:
        self.remits = _Running(_remittances_by_day(session, flt))
        self.claims = _Running(_claims_by_day(session, flt))
        self.write_offs = _Running(_write_offs_by_day(session, flt))
        self.ar_start = _ar_before(session, flt)
        self.start = flt.start

    def ar_at(self, day: date) -> Decimal:
        charge = self.claims.between(self.start, day).get("charge", ZERO)
        settled = self.remits.between(self.start, day).get("settled", ZERO)
        written = self.write_offs.between(self.start, day).get("written_off", ZERO)
        return _money(self.ar_start + charge - settled - written)

    def history(self, start: date, end: date) -> tuple[Mean, Mean, Recovered]:
        """Days from a denial to its appeal and to its resolution, and what underpayments
        recovered, for the answers decided from `start` to `end`."""
        g = self.remits.between(start, end).get
        appeal = Mean(_int(g("appeal_days")), _int(g("appealed")))
        resolved = _int(g("resolved"))
        resolution = Mean(_int(g("resolution_days")), resolved, _int(g("denials")) - resolved)
        recovered = Recovered(
            _int(g("underpaid")), _int(g("recovered_count")), _money(g("recovered"))
        )
        return appeal, resolution, recovered

    def measures(self, start: date, end: date) -> Measures:
        r = self.remits.between(start, end)
        c = self.claims.between(start, end)
        w = self.write_offs.between(start, end)
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
            clean_claims=Ratio(claims - _int(c.get("unclean")), claims),
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


# --- what the days do not say ------------------------------------------------------------


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


def kpi_report(session: Session, flt: ReportFilter, tz: tzinfo, today: date) -> KpiReport:
    days = _Days(session, flt)
    trend = []
    for first in months(flt.start, flt.end):
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        trend.append((first, days.measures(max(first, flt.start), min(last, flt.end))))
    ar_over_90, cutoff = _ar_over_90(session, flt, today)
    to_appeal, to_resolution, recovered = days.history(flt.start, flt.end)
    return KpiReport(
        flt=flt,
        today=today,
        total=days.measures(flt.start, flt.end),
        trend=trend,
        ar_over_90=ar_over_90,
        to_appeal=to_appeal,
        to_resolution=to_resolution,
        write_offs=_write_off_reasons(session, flt),
        recovered=recovered,
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


def _remittance_kpis(
    r: Any = None,
) -> dict[str, tuple[str, list[ColumnElement[bool]], str]]:
    """kpi -> (title, conditions on the remittance rows `r`, or on remittance_summary
    rows, and the summary column that counts them). On the summary, "since recovered" and
    "since appealed" are its counts rather than conditions."""
    summary = r is not None
    r = Remittance.__table__.c if r is None else r
    not_dup = not_(_duplicate(r.denial_category, r.denial_reason))
    first = [r.stage.in_(FIRST_PASS_STAGES), not_dup]
    initial = [r.stage == "initial", not_dup]
    denial = r.outcome.in_(DENIAL_OUTCOMES)
    received = [r.stage.not_in(("reversal", "predetermination")), r.outcome != "voided"]
    appeal = r.stage == "appeal"
    counted = "remittances"
    return {
        "first_answers": ("First answers (initial and resubmission)", first, counted),
        "initial_denials": (
            "First answers denied in full or in part",
            [*first, denial],
            counted,
        ),
        "initial_answers": ("Answers to claims as first sent", initial, counted),
        "primary_denials": (
            "Answers to claims as first sent, denied",
            [*initial, denial],
            counted,
        ),
        "first_pass_paid": (
            "Answers to claims as first sent, paid in full",
            [*initial, r.outcome == "paid"],
            counted,
        ),
        "remittances": (
            "Remittances received (no reversals, predeterminations)",
            received,
            counted,
        ),
        "remittance_denials": ("Remittances with a denial", [*received, denial], counted),
        "appeal_answers": ("Answers while appealed", [appeal], counted),
        "overturned": (
            "Answers while appealed that paid",
            [appeal, r.outcome.in_(OVERTURNED)],
            counted,
        ),
        "underpaid": ("Underpayments found", [r.outcome == "underpaid"], counted),
        "recovered": (
            "Underpayments the payer paid more on later",
            [r.outcome == "underpaid", *([] if summary else [r.recovered != 0])],
            "recovered_count",
        ),
        "denials": ("Denials decided (in full or in part)", [denial], counted),
        "appeals": (
            "Denials and underpayments decided in the range and since appealed",
            [
                r.outcome.in_(APPEALABLE_OUTCOMES),
                *([] if summary else [r.appealed_on.is_not(None)]),
            ],
            "appealed",
        ),
    }


def _summed_total(kpi: str, flt: ReportFilter) -> Select | None:
    """How many rows a list has, read from the summaries the number itself came from
    (counting the rows of a year's answers takes SQLite a second); None where the
    summaries do not say."""
    rs = RemittanceSummary.__table__.c
    found = _remittance_kpis(rs).get(kpi)
    if found is not None:
        _title, conditions, column = found
        return select(func.coalesce(func.sum(rs[column]), 0)).where(
            rs.decision_date.between(flt.start, flt.end), *_payer(rs.payer_id, flt), *conditions
        )
    cs = ClaimSummary.__table__.c
    counts = {"claims": cs.claims, "unclean": cs.unclean, "clean": cs.claims - cs.unclean}
    if kpi in counts:
        return select(func.coalesce(func.sum(counts[kpi]), 0)).where(
            cs.service_date.between(flt.start, flt.end), *_payer(cs.payer_id, flt)
        )
    return None


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
        title, conditions, _counted = remittance_kpis[kpi]
        return title, _remittance_list(flt, *conditions)
    c = Claim.__table__.c
    served = c.service_date.between(flt.start, flt.end)
    if kpi == "claims":
        return "Claims with a date of service in the range", _claim_list(flt, served)
    if kpi == "unclean":
        return (
            "Claims served in the range that were rejected or corrected before an answer",
            _claim_list(flt, served, c.unclean),
        )
    if kpi == "clean":
        return (
            "Clean claims served in the range",
            _claim_list(flt, served, not_(c.unclean)),
        )
    if kpi == "ar_over_90":
        cutoff = today - timedelta(days=AGED_DAYS)
        query = _claim_list(flt, c.service_date < cutoff, c.balance > 0, amount=c.balance)
        return f"Claims with a balance served before {cutoff.isoformat()}", query
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
    """The rows behind `kpi` over `flt`, newest first: a page of them (all with limit
    None) and how many there are in all. KeyError for a kpi that is not one of KPIS.
    Newest first by the day and then the row's own order, so the database walks its
    index of days backwards and stops at the end of the page."""
    title, query = _list_query(kpi, flt, tz, today)
    inner = query.subquery()
    total_query = _summed_total(kpi, flt)
    if total_query is None:
        total_query = select(func.count()).select_from(inner)
    total = session.execute(total_query).scalar() or 0
    page = select(inner).order_by(inner.c.day.desc(), inner.c.order.desc()).offset(offset)
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
