"""Payer scorecards: how each payer treats the practice, month by month.

- days to pay: calendar days from sending a claim (or its corrected version) to the
  payer's first answer to it, for first answers that paid (outcome paid or underpaid);
  the mean and the median. The sending date is the claim's submission date when the
  answer was posted: the submission the answer answers;
- denial rate by category: first answers (initial and resubmission) denied in that
  category / first answers;
- first-pass rate: initial answers that paid (paid or underpaid: paid with no denial
  reason) / initial answers;
- underpayment rate: answers underpaid / paid answers (paid or underpaid), every stage;
- appeal win rate: answers to appeals that paid (paid or underpaid) / answers to appeals.
An answer is as in reports/denials.py: a remittance at a decision stage whose outcome is
paid, underpaid, partial or denied. Months are the payer's decision dates' months.

The rates are sums over remittance_summary; days to pay is a histogram of days per
month summed from payment_lag_summary, so the median is exact and no row is read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import extract, func, select
from sqlmodel import Session

from denialflow.domain.rules.adjudication import (
    DENIAL_OUTCOMES,
    FIRST_PASS_STAGES,
    PAID_OUTCOMES,
)
from denialflow.models.tables import PaymentLagSummary, RemittanceSummary
from denialflow.reports.denials import ANSWER_OUTCOMES, ANSWER_STAGES
from denialflow.reports.period import ReportFilter, months

__all__ = ["Counts", "Lags", "Scorecard", "scorecard"]

_ONE_DECIMAL = Decimal("0.1")


def _rate(part: int, whole: int) -> Decimal | None:
    return None if not whole else (Decimal(100) * part / whole).quantize(_ONE_DECIMAL)


@dataclass
class Lags:
    """Days to pay as a histogram: days -> answers."""

    days: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def answers(self) -> int:
        return sum(self.days.values())

    @property
    def mean(self) -> Decimal | None:
        n = self.answers
        if not n:
            return None
        return (Decimal(sum(d * c for d, c in self.days.items())) / n).quantize(_ONE_DECIMAL)

    @property
    def median(self) -> Decimal | None:
        n = self.answers
        if not n:
            return None
        ordered = sorted(self.days.items())

        def nth(k: int) -> int:  # the k-th smallest, from 0
            for d, c in ordered:
                if k < c:
                    return d
                k -= c
            raise AssertionError("unreachable")

        low, high = nth((n - 1) // 2), nth(n // 2)
        return (Decimal(low + high) / 2).quantize(_ONE_DECIMAL)


@dataclass
class Counts:
    """One payer's (or every payer's) answers in one month (or the whole range)."""

    first_answers: int = 0
    denied_by_category: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    initial_answers: int = 0
    initial_paid: int = 0
    paid_answers: int = 0
    underpaid: int = 0
    appeal_answers: int = 0
    appeal_paid: int = 0
    lags: Lags = field(default_factory=Lags)

    @property
    def first_denied(self) -> int:
        return sum(self.denied_by_category.values())

    @property
    def denial_rate(self) -> Decimal | None:
        return _rate(self.first_denied, self.first_answers)

    def category_rate(self, category: str) -> Decimal | None:
        return _rate(self.denied_by_category.get(category, 0), self.first_answers)

    @property
    def first_pass_rate(self) -> Decimal | None:
        return _rate(self.initial_paid, self.initial_answers)

    @property
    def underpayment_rate(self) -> Decimal | None:
        return _rate(self.underpaid, self.paid_answers)

    @property
    def appeal_win_rate(self) -> Decimal | None:
        return _rate(self.appeal_paid, self.appeal_answers)

    def add(self, stage: str, outcome: str, category: str, n: int) -> None:
        if outcome not in ANSWER_OUTCOMES or stage not in ANSWER_STAGES:
            return
        if stage in FIRST_PASS_STAGES:
            self.first_answers += n
            if outcome in DENIAL_OUTCOMES:
                self.denied_by_category[category] += n
        if stage == "initial":
            self.initial_answers += n
            if outcome in PAID_OUTCOMES:
                self.initial_paid += n
        if outcome in PAID_OUTCOMES:
            self.paid_answers += n
            if outcome == "underpaid":
                self.underpaid += n
        if stage == "appeal":
            self.appeal_answers += n
            if outcome in PAID_OUTCOMES:
                self.appeal_paid += n


@dataclass
class Scorecard:
    flt: ReportFilter
    months: list[date]
    # The filter's payer (or every payer), month by month, and over the range.
    by_month: dict[date, Counts]
    total: Counts
    # Every payer over the range, side by side (payer id -> counts).
    by_payer: dict[str, Counts]
    categories: list[str]  # denial categories with a first-answer denial in the range


def scorecard(session: Session, flt: ReportFilter) -> Scorecard:
    t = RemittanceSummary
    in_range = [
        t.decision_date >= flt.start,
        t.decision_date <= flt.end,
        t.stage.in_(ANSWER_STAGES),
        t.outcome.in_(ANSWER_OUTCOMES),
    ]
    year, month = extract("year", t.decision_date), extract("month", t.decision_date)
    found = session.exec(  # type: ignore[call-overload]
        select(
            year, month, t.payer_id, t.stage, t.outcome, t.denial_category, func.sum(t.remittances)
        )
        .where(*in_range)
        .group_by(year, month, t.payer_id, t.stage, t.outcome, t.denial_category)
    ).all()
    all_months = months(flt.start, flt.end)
    by_month = {m: Counts() for m in all_months}
    total = Counts()
    by_payer: dict[str, Counts] = defaultdict(Counts)
    categories: set[str] = set()
    for y, m, payer_id, stage, outcome, category, n in found:
        n = int(n or 0)
        by_payer[payer_id].add(stage, outcome, category, n)
        if flt.payer_id is None or payer_id == flt.payer_id:
            by_month[date(int(y), int(m), 1)].add(stage, outcome, category, n)
            total.add(stage, outcome, category, n)
            if stage in FIRST_PASS_STAGES and outcome in DENIAL_OUTCOMES:
                categories.add(category)

    g = PaymentLagSummary
    gy, gm = extract("year", g.decision_date), extract("month", g.decision_date)
    lags = session.exec(  # type: ignore[call-overload]
        select(gy, gm, g.payer_id, g.days, func.sum(g.answers))
        .where(g.decision_date >= flt.start, g.decision_date <= flt.end)
        .group_by(gy, gm, g.payer_id, g.days)
    ).all()
    for y, m, payer_id, days, n in lags:
        days, n = int(days), int(n)
        by_payer[payer_id].lags.days[days] += n
        if flt.payer_id is None or payer_id == flt.payer_id:
            by_month[date(int(y), int(m), 1)].lags.days[days] += n
            total.lags.days[days] += n
    return Scorecard(
        flt=flt,
        months=all_months,
        by_month=by_month,
        total=total,
        by_payer=dict(by_payer),
        categories=sorted(categories),
    )
