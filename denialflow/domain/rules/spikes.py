"""Denial spikes: has a payer started denying one category of claims more than it used to?

Each day, for every payer and denial category, the last `RECENT_DAYS` days of the
payer's first answers (stage initial or resubmission) are compared with the
`BASELINE_DAYS` days before them. The recent window's denials in the category are
tested against the baseline's with Fisher's exact test, one-sided (is the recent share
higher?): given how many denials in the category the two windows hold together, how
likely is it that at least this many of them fell in the recent window, if the payer's
rate had not changed? The count is hypergeometric under that hypothesis, so the
answer is exact for small counts too, and it carries the baseline's own uncertainty
(a quiet baseline of a few answers cannot make a few recent denials look alarming).

A spike fires when all of these hold:
- p < `ALPHA` (0.001): about 100 to 300 payer x category pairs are looked at each day,
  so a 5% test would cry wolf every day; 0.001 is a Bonferroni-style 0.05 shared by
  50 pairs, and Fisher's test is conservative, so fewer false alarms come in practice;
- at least `MIN_DENIALS` (5) denials in the recent window: a supervisor does not act
  on two or three claims, whatever the odds;
- the recent rate is at least `MIN_RATIO` (1.5) times the baseline's: a rise too small
  to be a policy change (however significant on a huge payer) is left to the month's
  denial report.

Pure: no clock, no database. `next_daily_run` is the daily check's schedule, used by
its workflow (deterministic given the workflow's time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

RECENT_DAYS = 7
BASELINE_DAYS = 90
ALPHA = 0.001
MIN_DENIALS = 5
MIN_RATIO = Decimal("1.5")
# The daily check's hour on the practice's clock: before the working day starts.
CHECK_HOUR = 6


@dataclass(frozen=True)
class Windows:
    """The practice dates a check on `day` compares (both ends included): the week
    before `day` (`day` itself is not over when the check runs) and the 90 days before it."""

    recent_start: date
    recent_end: date
    baseline_start: date
    baseline_end: date

    @classmethod
    def for_day(cls, day: date) -> Windows:
        recent_end = day - timedelta(days=1)
        recent_start = day - timedelta(days=RECENT_DAYS)
        baseline_end = recent_start - timedelta(days=1)
        baseline_start = recent_start - timedelta(days=BASELINE_DAYS)
        return cls(recent_start, recent_end, baseline_start, baseline_end)


@dataclass(frozen=True)
class Counts:
    """One payer and category: its denials and the payer's first answers, per window."""

    recent_denials: int
    recent_answers: int
    baseline_denials: int
    baseline_answers: int

    def __post_init__(self) -> None:
        if not (
            0 <= self.recent_denials <= self.recent_answers
            and 0 <= self.baseline_denials <= self.baseline_answers
        ):
            raise ValueError(f"denials must be between 0 and the answers: {self}")


@dataclass(frozen=True)
class Verdict:
    fires: bool
    # None when there is nothing to compare (no answers in one of the windows).
    p_value: float | None
    recent_rate: Decimal | None  # percent, 2 places
    baseline_rate: Decimal | None
    why: str  # the first condition that failed, or what fired


def _rate(denials: int, answers: int) -> Decimal | None:
    if answers == 0:
        return None
    return (Decimal(100 * denials) / answers).quantize(Decimal("0.01"))


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def hypergeometric_upper_tail(x: int, population: int, successes: int, draws: int) -> float:
    """P(X >= x) for X the successes among `draws` taken without replacement from a
    `population` holding `successes` of them."""
    if not (0 <= successes <= population and 0 <= draws <= population):
        raise ValueError("successes and draws must be between 0 and the population")
    low = max(0, draws - (population - successes))
    high = min(successes, draws)
    if x <= low:
        return 1.0
    if x > high:
        return 0.0
    log_denominator = _log_choose(population, draws)
    term = math.exp(
        _log_choose(successes, x) + _log_choose(population - successes, draws - x) - log_denominator
    )
    total = 0.0
    k = x
    # Terms from x up; past the mode they only shrink, so stop once they cannot matter.
    while k <= high:
        total += term
        if k + 1 > high:
            break
        term *= (successes - k) * (draws - k) / ((k + 1) * (population - successes - draws + k + 1))
        k += 1
        if term < total * 1e-17:
            break
    return min(1.0, total)


def fisher_upper(counts: Counts) -> float:
    """One-sided Fisher exact test: the chance of at least the recent window's denials
    if the two windows shared one rate (conditioning on the denials of both)."""
    c = counts
    return hypergeometric_upper_tail(
        c.recent_denials,
        c.recent_answers + c.baseline_answers,
        c.recent_denials + c.baseline_denials,
        c.recent_answers,
    )


def judge(counts: Counts) -> Verdict:
    """Whether this payer and category's recent denials are a spike (see the module)."""
    c = counts
    recent = _rate(c.recent_denials, c.recent_answers)
    baseline = _rate(c.baseline_denials, c.baseline_answers)
    if recent is None or baseline is None:
        return Verdict(False, None, recent, baseline, "no answers to compare")
    p = fisher_upper(c)
    if c.recent_denials < MIN_DENIALS:
        return Verdict(False, p, recent, baseline, f"fewer than {MIN_DENIALS} recent denials")
    # Compared as counts, not rounded percentages: d1/n1 >= 1.5 d0/n0.
    if c.recent_denials * c.baseline_answers * 2 < c.baseline_denials * c.recent_answers * 3:
        return Verdict(False, p, recent, baseline, f"less than {MIN_RATIO} times the baseline")
    if p >= ALPHA:
        return Verdict(False, p, recent, baseline, f"p = {p:.2g} is not below {ALPHA}")
    return Verdict(True, p, recent, baseline, f"p = {p:.2g} < {ALPHA}")


def ratio(verdict: Verdict) -> Decimal | None:
    """How many times the baseline rate the recent one is (None when baseline is 0)."""
    if not verdict.baseline_rate or verdict.recent_rate is None:
        return None
    return (verdict.recent_rate / verdict.baseline_rate).quantize(Decimal("0.1"))


def next_daily_run(
    now: datetime, tz: tzinfo | str, last_day: date | None, hour: int = CHECK_HOUR
) -> tuple[date, datetime]:
    """The practice day the next daily check is for, and when it runs (`hour` on that
    day's practice clock): today's if today's has not run, else tomorrow's. A check
    that is late (the worker was down) runs at once, for today, not for the days missed:
    each check looks back a whole week anyway. `tz` may be a zone's name."""
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    today = now.astimezone(tz).date()
    day = today if last_day is None or today > last_day else last_day + timedelta(days=1)
    return day, datetime.combine(day, time(hour), tzinfo=tz)
