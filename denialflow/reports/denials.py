"""The denials report: the payers' answers that denied something, drilled down from payer
to denial category to reason code to the claims, with denied dollars and the share of
answers each slice denied, month by month.

Counts, dollars and trends are sums over remittance_summary (a few hundred rows however
many claims there are); only the claim list reads remittance rows, one page at a time,
through the (payer_id, decision_date) and (decision_date) indexes. The list's total is
the summary's count for the same slice, so a number and the list behind it cannot
disagree: the summaries are the sums over exactly those rows (models/summaries.py).

Definitions (shown on the page):
- an *answer* is a remittance posted to a claim at one of the chosen stages (by default
  the first answer to a submission: stages initial and resubmission) whose outcome is
  paid, underpaid, partial or denied (reversals, predeterminations and answers to voided
  claims are not decisions on the claim);
- a *denial* is an answer with outcome denied (nothing paid) or partial (part paid, a
  denial reason for the rest), counted under its main reason (the largest non-contractual,
  non-patient adjustment; domain/rules/carc.py) and that reason's category;
- *denied dollars* are the adjustments other than contractual ones and the patient's
  share (the payer's balance when a CLP02 4 gives no reason);
- the *share denied* of a row is its denials over the answers of its payer (of every
  payer when the row is not a payer): the parts of a payer's denial rate add up to it.
Dates are the payer's decision dates (the 835's), so no time zone enters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlmodel import Session

from denialflow.domain.rules import carc
from denialflow.domain.rules.adjudication import (
    DENIAL_OUTCOMES,
    FIRST_PASS_STAGES,
    PAID_OUTCOMES,
)
from denialflow.domain.types import ZERO, DenialCategory
from denialflow.models.tables import Claim, Payer, Remittance, RemittanceSummary
from denialflow.reports.period import ReportFilter, months

__all__ = [
    "ANSWER_OUTCOMES",
    "ANSWER_STAGES",
    "LISTS",
    "NO_REASON",
    "PER_PAGE",
    "STAGES",
    "Breakdown",
    "BreakdownRow",
    "ClaimPage",
    "ClaimRow",
    "MonthRow",
    "Slice",
    "breakdown",
    "by_month",
    "category_label",
    "claim_page",
    "parse_slice",
    "reason_wording",
]

# Stages whose answers are decisions on the claim as sent (not reversals or pricing).
ANSWER_STAGES = ("initial", "resubmission", "appeal", "later")
# Outcomes that decide a claim: what an "answer" is.
ANSWER_OUTCOMES = ("paid", "underpaid", "partial", "denied")

# The stage choices of the page: query value -> (label, stages).
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "first": ("First answers (initial and resubmission)", FIRST_PASS_STAGES),
    "all": ("Every answer (initial, resubmission, appeal, later)", ANSWER_STAGES),
    "initial": ("Initial answers only", ("initial",)),
    "resubmission": ("Answers to corrected claims only", ("resubmission",)),
    "appeal": ("Answers to appeals only", ("appeal",)),
    "later": ("Later answers only", ("later",)),
}
DEFAULT_STAGE = "first"

# The claim lists: query value -> (what the list holds, outcomes). "1" is "denials".
LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "denials": ("denials", DENIAL_OUTCOMES),
    "answers": ("answers", ANSWER_OUTCOMES),
    "paid": ("paid answers (paid in full or underpaid, no denial reason)", PAID_OUTCOMES),
    "underpaid": ("underpaid answers", ("underpaid",)),
}

# A denial without a reason code (CLP02 4 with no adjustment) in a query string.
NO_REASON = "none"
_REASON = re.compile(r"(CO|PR|OA|PI|CR)?-[A-Z0-9]{1,3}")

PER_PAGE = 50
# A CSV of a claim list holds at most this many rows (the page says so when cut).
CSV_LIMIT = 100_000

Level = Literal["payer", "category", "reason", "claims"]


def category_label(category: str) -> str:
    return category.replace("_", " ").capitalize() if category else "None"


def reason_wording(reason: str) -> str:
    """Our own words for a stored reason ('CO-50'): the next step carc.py recommends."""
    if not reason or reason == NO_REASON:
        return "No reason code given: read the payer's remarks."
    group, _, code = reason.partition("-")
    return carc.route(group, code).next_action


@dataclass(frozen=True)
class Slice:
    """What the page shows: the filter, the answers' stages, and optionally a category
    and a reason (the stored 'CO-50', or NO_REASON)."""

    flt: ReportFilter
    stage: str = DEFAULT_STAGE
    category: str | None = None
    reason: str | None = None

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES[self.stage][1]

    @property
    def level(self) -> Level:
        """What the breakdown is by: the first of payer, category, reason not chosen."""
        if self.flt.payer_id is None:
            return "payer"
        if self.category is None:
            return "category"
        if self.reason is None:
            return "reason"
        return "claims"

    def params(self, **extra: str | None) -> dict[str, str]:
        values = self.flt.params()
        if self.stage != DEFAULT_STAGE:
            values["stage"] = self.stage
        if self.category:
            values["category"] = self.category
        if self.reason:
            values["reason"] = self.reason
        values.update({k: v for k, v in extra.items() if v})
        return values

    def narrowed(self, level: Level, key: str) -> Slice:
        """This slice with one more dimension chosen (a breakdown row's slice)."""
        if level == "payer":
            return replace(self, flt=replace(self.flt, payer_id=key))
        if level == "category":
            return replace(self, category=key)
        return replace(self, reason=key)

    def in_month(self, month: date) -> Slice:
        """This slice for one month of its range (the range's ends kept)."""
        last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        flt = replace(self.flt, start=max(month, self.flt.start), end=min(last, self.flt.end))
        return replace(self, flt=flt)


def parse_slice(params: Any, flt: ReportFilter) -> tuple[Slice, list[str]]:
    """The stage, category and reason a query string asks for; what was wrong with them
    (a field at fault is left out)."""
    problems: list[str] = []
    stage = str(params.get("stage") or DEFAULT_STAGE).strip()
    if stage not in STAGES:
        problems.append(f"Stage: {stage[:40]!r} is not one of {', '.join(STAGES)}.")
        stage = DEFAULT_STAGE
    category: str | None = str(params.get("category") or "").strip() or None
    if category is not None and category not in {c.value for c in DenialCategory}:
        problems.append(f"Category: there is no denial category {category[:40]!r}.")
        category = None
    reason: str | None = str(params.get("reason") or "").strip().upper() or None
    if reason is not None:
        if reason == NO_REASON.upper():
            reason = NO_REASON
        elif not _REASON.fullmatch(reason):
            problems.append(
                f"Reason: {reason[:40]!r} is not a reason like CO-50 (or {NO_REASON!r})."
            )
            reason = None
    return Slice(flt, stage, category, reason), problems


# --- the SQL ------------------------------------------------------------------------------


def _scope(table: Any, s: Slice, outcomes: Sequence[str]) -> list[ColumnElement[bool]]:
    """The range, payer, stages and outcomes, on remittance_summary or remittance (their
    columns have the same names)."""
    where: list[ColumnElement[bool]] = [
        table.decision_date >= s.flt.start,
        table.decision_date <= s.flt.end,
        table.stage.in_(s.stages),
        table.outcome.in_(outcomes),
    ]
    if s.flt.payer_id is not None:
        where.append(table.payer_id == s.flt.payer_id)
    return where


def _denial_slice(table: Any, s: Slice) -> list[ColumnElement[bool]]:
    """The category and reason of a denial slice."""
    where: list[ColumnElement[bool]] = []
    if s.category is not None:
        where.append(table.denial_category == s.category)
    if s.reason is not None:
        where.append(table.denial_reason == ("" if s.reason == NO_REASON else s.reason))
    return where


def _list_where(table: Any, s: Slice, kind: str) -> list[ColumnElement[bool]]:
    outcomes = LISTS[kind][1]
    where = _scope(table, s, outcomes)
    if kind == "denials":
        where += _denial_slice(table, s)
    return where


@dataclass(frozen=True)
class BreakdownRow:
    key: str
    label: str
    answers: int  # the answers the share is out of
    denials: int
    denied: Decimal

    @property
    def share(self) -> Decimal | None:
        return _share(self.denials, self.answers)


def _share(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Breakdown:
    level: Level
    rows: list[BreakdownRow]
    total: BreakdownRow


def breakdown(session: Session, s: Slice, payer_names: dict[str, str]) -> Breakdown:
    """The slice's denials by the next level down, largest first, and its total."""
    t = RemittanceSummary
    answers_by_payer = dict(
        session.exec(  # type: ignore[call-overload]
            select(t.payer_id, func.sum(t.remittances))
            .where(*_scope(t, s, ANSWER_OUTCOMES))
            .group_by(t.payer_id)
        ).all()
    )
    answers = sum(int(v or 0) for v in answers_by_payer.values())
    level = s.level
    dim = {
        "payer": t.payer_id,
        "category": t.denial_category,
        "reason": t.denial_reason,
        "claims": t.denial_reason,
    }[level]
    found = session.exec(  # type: ignore[call-overload]
        select(dim, func.sum(t.remittances), func.sum(t.denied_amount))
        .where(*_scope(t, s, DENIAL_OUTCOMES), *_denial_slice(t, s))
        .group_by(dim)
    ).all()
    rows: list[BreakdownRow] = []
    for key, denials, denied in found:
        key = str(key or "")
        if level == "payer":
            label, base = payer_names.get(key, key), int(answers_by_payer.get(key) or 0)
        elif level == "category":
            label, base = category_label(key), answers
        else:
            key = key or NO_REASON
            label, base = (key if key != NO_REASON else "No reason code"), answers
        rows.append(BreakdownRow(key, label, base, int(denials or 0), Decimal(denied or ZERO)))
    if level == "payer":
        # A payer that answered and denied nothing is a row too: 0% is worth seeing.
        seen = {r.key for r in rows}
        rows += [
            BreakdownRow(p, payer_names.get(p, p), int(n or 0), 0, ZERO)
            for p, n in answers_by_payer.items()
            if p not in seen
        ]
    rows.sort(key=lambda r: (-r.denials, -r.denied, r.label))
    if level == "claims":
        rows = []
    total = BreakdownRow(
        "",
        "Total",
        answers,
        sum(r.denials for r in rows) if rows else _count(session, s, "denials"),
        sum((r.denied for r in rows), ZERO) if rows else _denied(session, s),
    )
    return Breakdown(level, rows, total)


def _count(session: Session, s: Slice, kind: str) -> int:
    t = RemittanceSummary
    value = session.exec(  # type: ignore[call-overload]
        select(func.sum(t.remittances)).where(*_list_where(t, s, kind))
    ).one()[0]
    return int(value or 0)


def _denied(session: Session, s: Slice) -> Decimal:
    t = RemittanceSummary
    value = session.exec(  # type: ignore[call-overload]
        select(func.sum(t.denied_amount)).where(*_list_where(t, s, "denials"))
    ).one()[0]
    return Decimal(value or ZERO)


@dataclass(frozen=True)
class MonthRow:
    month: date
    answers: int
    denials: int
    denied: Decimal

    @property
    def share(self) -> Decimal | None:
        return _share(self.denials, self.answers)

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")


def by_month(session: Session, s: Slice) -> list[MonthRow]:
    """Every month of the range: the slice's answers (of its payer scope), denials and
    denied dollars. Summed per decision date in SQL, into months here (portable)."""
    t = RemittanceSummary
    in_slice = and_(t.outcome.in_(DENIAL_OUTCOMES), *_denial_slice(t, s))
    found = session.exec(  # type: ignore[call-overload]
        select(
            t.decision_date,
            func.sum(t.remittances),
            func.sum(case((in_slice, t.remittances), else_=0)),
            func.sum(case((in_slice, t.denied_amount), else_=0)),
        )
        .where(*_scope(t, s, ANSWER_OUTCOMES))
        .group_by(t.decision_date)
    ).all()
    totals: dict[date, list[Any]] = {m: [0, 0, ZERO] for m in months(s.flt.start, s.flt.end)}
    for day, answers, denials, denied in found:
        if isinstance(day, str):  # SQLite through a bare column expression
            day = date.fromisoformat(day)
        bucket = totals[day.replace(day=1)]
        bucket[0] += int(answers or 0)
        bucket[1] += int(denials or 0)
        bucket[2] += Decimal(denied or ZERO)
    return [
        MonthRow(m, a, d, Decimal(x).quantize(Decimal("0.01"))) for m, (a, d, x) in totals.items()
    ]


@dataclass(frozen=True)
class ClaimRow:
    remittance_id: int
    claim_id: str
    payer: str
    service_date: date
    decision_date: date | None
    stage: str
    outcome: str
    category: str
    reason: str
    paid: Decimal
    denied: Decimal
    status: str
    balance: Decimal

    @property
    def wording(self) -> str:
        return reason_wording(self.reason) if self.reason or self.outcome in DENIAL_OUTCOMES else ""


@dataclass(frozen=True)
class ClaimPage:
    kind: str
    rows: list[ClaimRow]
    total: int
    page: int
    pages: int
    per_page: int = PER_PAGE
    extra: dict[str, Any] = field(default_factory=dict)


def _claim_rows(session: Session, s: Slice, kind: str, offset: int, limit: int) -> list[ClaimRow]:
    r = Remittance
    query = (
        select(
            r.id,
            r.claim_id,
            Payer.name,
            Claim.service_date,
            r.decision_date,
            r.stage,
            r.outcome,
            r.denial_category,
            r.denial_reason,
            r.paid,
            r.denied_amount,
            Claim.status,
            Claim.balance,
        )
        .join(Claim, Claim.id == r.claim_id)
        .join(Payer, Payer.id == r.payer_id, isouter=True)
        .where(*_list_where(r, s, kind))
        .order_by(r.decision_date.desc(), r.id.desc())  # type: ignore[union-attr]
        .offset(offset)
        .limit(limit)
    )
    return [
        ClaimRow(
            remittance_id=row[0],
            claim_id=row[1],
            payer=row[2] or "",
            service_date=row[3],
            decision_date=row[4],
            stage=row[5],
            outcome=row[6],
            category=row[7],
            reason=row[8],
            paid=row[9],
            denied=row[10],
            status=row[11],
            balance=row[12],
        )
        for row in session.exec(query).all()  # type: ignore[call-overload]
    ]


def claim_page(session: Session, s: Slice, kind: str, page: int = 1) -> ClaimPage:
    """One page of the claims behind a number: the remittances of the slice (`kind`: a key
    of LISTS), newest decision first. The total is the summary's count of the same rows."""
    total = _count(session, s, kind)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    rows = _claim_rows(session, s, kind, (page - 1) * PER_PAGE, PER_PAGE)
    return ClaimPage(kind, rows, total, page, pages)


def all_claims(session: Session, s: Slice, kind: str) -> list[ClaimRow]:
    """Every row of a claim list, for its CSV (at most CSV_LIMIT)."""
    return _claim_rows(session, s, kind, 0, CSV_LIMIT)
