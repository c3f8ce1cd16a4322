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

The rates are sums over the answers' summaries and days to pay a histogram of days per
month (so the median is exact), each read per month for the range's whole months
(remittance_month_summary, payment_lag_month_summary) and per day for the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import Session

from denialflow.domain.rules.adjudication import (
    DENIAL_OUTCOMES,
    FIRST_PASS_STAGES,
    PAID_OUTCOMES,
)
from denialflow.models.tables import (
    PaymentLagMonthSummary,
    PaymentLagSummary,
    RemittanceMonthSummary,
    RemittanceSummary,
)
from denialflow.reports.denials import ANSWER_OUTCOMES, ANSWER_STAGES
from denialflow.reports.period import ReportFilter, months, split_by_month

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


def _answers(session: Session, flt: ReportFilter) -> Iterator[tuple[date, str, str, str, str, int]]:
    """(month, payer, stage, outcome, denial category, answers) over the range: whole
    months from remittance_month_summary, the days left over from remittance_summary."""
    whole, partial = split_by_month(flt.start, flt.end)
    answer = [
        RemittanceSummary.stage.in_(ANSWER_STAGES),
        RemittanceSummary.outcome.in_(ANSWER_OUTCOMES),
    ]
    if whole is not None:
        m = RemittanceMonthSummary
        yield from session.exec(  # type: ignore[call-overload]
            select(m.month, m.payer_id, m.stage, m.outcome, m.denial_category, m.remittances).where(
                m.month >= whole[0],
                m.month <= whole[1],
                m.stage.in_(ANSWER_STAGES),
                m.outcome.in_(ANSWER_OUTCOMES),
            )
        )
    t = RemittanceSummary
    for start, end in partial:
        for row in session.exec(  # type: ignore[call-overload]
            select(t.payer_id, t.stage, t.outcome, t.denial_category, func.sum(t.remittances))
            .where(t.decision_date >= start, t.decision_date <= end, *answer)
            .group_by(t.payer_id, t.stage, t.outcome, t.denial_category)
        ):
            yield (start.replace(day=1), *row)


def _lags(session: Session, flt: ReportFilter) -> Iterator[tuple[date, str, int, int]]:
    """(month, payer, days to pay, answers) over the range, as `_answers` reads them."""
    whole, partial = split_by_month(flt.start, flt.end)
    if whole is not None:
        m = PaymentLagMonthSummary
        yield from session.exec(  # type: ignore[call-overload]
            select(m.month, m.payer_id, m.days, m.answers).where(
                m.month >= whole[0], m.month <= whole[1]
            )
        )
    g = PaymentLagSummary
    for start, end in partial:
        for row in session.exec(  # type: ignore[call-overload]
            select(g.payer_id, g.days, func.sum(g.answers))
            .where(g.decision_date >= start, g.decision_date <= end)
            .group_by(g.payer_id, g.days)
        ):
            yield (start.replace(day=1), *row)


def scorecard(session: Session, flt: ReportFilter) -> Scorecard:
    all_months = months(flt.start, flt.end)
    by_month = {m: Counts() for m in all_months}
    total = Counts()
    by_payer: dict[str, Counts] = defaultdict(Counts)
    categories: set[str] = set()
    for month, payer_id, stage, outcome, category, n in _answers(session, flt):
        n = int(n or 0)
        by_payer[payer_id].add(stage, outcome, category, n)
        if flt.payer_id is None or payer_id == flt.payer_id:
            by_month[month].add(stage, outcome, category, n)
            total.add(stage, outcome, category, n)
            if stage in FIRST_PASS_STAGES and outcome in DENIAL_OUTCOMES and n:
                categories.add(category)
    for month, payer_id, days, n in _lags(session, flt):
        days, n = int(days), int(n or 0)
        if not n:
            continue
        by_payer[payer_id].lags.days[days] += n
        if flt.payer_id is None or payer_id == flt.payer_id:
            by_month[month].lags.days[days] += n
            total.lags.days[days] += n
    return Scorecard(
        flt=flt,
        months=all_months,
        by_month=by_month,
        total=total,
        by_payer=dict(by_payer),
        categories=sorted(categories),
    )
