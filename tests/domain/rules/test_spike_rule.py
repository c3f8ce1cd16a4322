"""The denial spike rule: Fisher's exact test (one-sided), p < 0.001, at least 5 recent
denials and 1.5x the baseline rate; a planted rise fires, noise as large as the
baseline's own stays quiet."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from denialflow.domain.rules.spikes import (
    ALPHA,
    Counts,
    Windows,
    fisher_upper,
    hypergeometric_upper_tail,
    judge,
    next_daily_run,
)

CHICAGO = ZoneInfo("America/Chicago")


def exact_tail(x: int, population: int, successes: int, draws: int) -> Fraction:
    """The same tail by brute force in exact fractions, to check the fast sum against."""
    denominator = math.comb(population, draws)
    return sum(
        (
            Fraction(math.comb(successes, k) * math.comb(population - successes, draws - k))
            for k in range(x, min(successes, draws) + 1)
        ),
        Fraction(0),
    ) / Fraction(denominator)


@pytest.mark.parametrize(
    "x, population, successes, draws",
    [
        (0, 10, 3, 4),
        (2, 10, 3, 4),
        (3, 10, 3, 4),
        (4, 10, 3, 4),  # more than possible
        (5, 2800, 112, 210),
        (25, 2800, 112, 210),
        (60, 2800, 112, 210),
        (7, 60, 7, 7),  # every denial in the recent window
        (1, 1000, 0, 100),  # no denials at all
        (40, 5000, 900, 300),
    ],
)
def test_tail_matches_the_exact_sum(x: int, population: int, successes: int, draws: int) -> None:
    fast = hypergeometric_upper_tail(x, population, successes, draws)
    exact = float(exact_tail(x, population, successes, draws))
    assert fast == pytest.approx(exact, rel=1e-9, abs=1e-300)


# recent denials, recent answers, baseline denials, baseline answers -> fires, why
CASES = [
    # A payer denying 4% of first answers for authorization triples it this week.
    ("planted 3x rise, busy payer", (25, 210, 108, 2700), True, "p = "),
    # The same week at the usual rate, plus two standard deviations of noise.
    ("usual rate plus 2 sd of noise", (14, 210, 108, 2700), False, "not below"),
    ("exactly the baseline rate", (8, 210, 108, 2700), False, "1.5 times"),
    # A brand-new denial reason: never seen in 90 days, 6 times this week.
    ("new category from nothing", (6, 210, 0, 2700), True, "p = "),
    ("tiny count, huge ratio", (4, 210, 0, 2700), False, "fewer than 5"),
    # Significant, but a 20% rise on a huge payer is not a policy change.
    ("large payer, small rise", (1200, 10000, 13000, 130000), False, "1.5 times"),
    # Three times the rate, but at this volume three times is still within chance.
    ("quiet payer, 3x of little", (6, 70, 25, 900), False, "not below"),
    ("no baseline answers", (6, 70, 0, 0), False, "no answers"),
    ("no recent answers", (0, 0, 10, 900), False, "no answers"),
    # A short baseline (a new payer): 5 of 5 denied now, 0 of 3 then, is not proof.
    ("short baseline", (5, 5, 0, 3), False, "not below"),
]


@pytest.mark.parametrize("name, counts, fires, why", CASES, ids=[c[0] for c in CASES])
def test_judge(name: str, counts: tuple[int, int, int, int], fires: bool, why: str) -> None:
    verdict = judge(Counts(*counts))
    assert verdict.fires is fires, verdict
    assert why in verdict.why


def test_rates_are_percentages_of_first_answers() -> None:
    verdict = judge(Counts(25, 210, 108, 2700))
    assert str(verdict.recent_rate) == "11.90"
    assert str(verdict.baseline_rate) == "4.00"
    assert verdict.p_value is not None and verdict.p_value < 1e-5


def test_counts_must_make_sense() -> None:
    with pytest.raises(ValueError):
        Counts(5, 4, 0, 10)
    with pytest.raises(ValueError):
        Counts(0, 10, -1, 10)


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """A binomial draw by inverting its CDF (Python 3.11 has no binomialvariate)."""
    u = rng.random()
    q = 1.0 - p
    term = q**n
    cumulative = term
    k = 0
    while cumulative < u and k < n:
        term *= (n - k) / (k + 1) * p / q
        k += 1
        cumulative += term
    return k


def _weeks(seed: int, trials: int, rate: float, recent_rate: float) -> list[Counts]:
    """Simulated payer-weeks: a 90-day baseline of ~30 first answers a day at `rate`,
    then a week of ~30 a day at `recent_rate` (answer volumes vary too)."""
    rng = random.Random(seed)
    weeks = []
    for _ in range(trials):
        baseline_answers = rng.randint(2400, 3000)
        recent_answers = rng.randint(160, 260)
        weeks.append(
            Counts(
                _binomial(rng, recent_answers, recent_rate),
                recent_answers,
                _binomial(rng, baseline_answers, rate),
                baseline_answers,
            )
        )
    return weeks


@pytest.mark.parametrize("rate", [0.02, 0.04, 0.10])
def test_noise_at_the_baseline_rate_stays_quiet(rate: float) -> None:
    """Weeks whose denials vary only as the baseline's own do: the rule fires on at most
    ALPHA of them (and the test's p-values are not anti-conservative at 5% either)."""
    weeks = _weeks(seed=int(rate * 1000), trials=20_000, rate=rate, recent_rate=rate)
    alarms = sum(judge(w).fires for w in weeks)
    assert alarms <= ALPHA * len(weeks)
    below_5 = sum(fisher_upper(w) < 0.05 for w in weeks)
    assert below_5 <= 0.05 * len(weeks)
    # ...while the noise itself is real: many weeks sit well above the baseline rate.
    above = sum(w.recent_denials >= 1.3 * rate * w.recent_answers for w in weeks)
    assert above > 0.05 * len(weeks)


POWER = {0.02: 0.4, 0.04: 0.85, 0.10: 0.99}


@pytest.mark.parametrize("rate", [0.02, 0.04, 0.10])
def test_a_planted_threefold_rise_fires(rate: float) -> None:
    weeks = _weeks(seed=7 + int(rate * 1000), trials=1_000, rate=rate, recent_rate=3 * rate)
    fired = sum(judge(w).fires for w in weeks) / len(weeks)
    # The power of one week's check at ~30 first answers a day. At 2% a tripled rate is
    # ~13 denials against ~4 expected, which a 0.001 test often cannot tell from chance.
    assert fired >= POWER[rate]


def test_windows_are_the_week_before_and_the_ninety_days_before_that() -> None:
    w = Windows.for_day(date(2026, 3, 10))
    assert (w.recent_start, w.recent_end) == (date(2026, 3, 3), date(2026, 3, 9))
    assert (w.baseline_start, w.baseline_end) == (date(2025, 12, 3), date(2026, 3, 2))
    assert (w.baseline_end - w.baseline_start).days + 1 == 90


def test_next_run_is_six_in_the_morning_practice_time() -> None:
    # 05:00 Chicago (11:00 UTC) on March 2: today's check at 06:00 Chicago.
    day, at = next_daily_run(datetime(2026, 3, 2, 11, tzinfo=UTC), CHICAGO, None)
    assert day == date(2026, 3, 2)
    assert at.astimezone(UTC) == datetime(2026, 3, 2, 12, tzinfo=UTC)
    # Today's has run: tomorrow's.
    day, at = next_daily_run(datetime(2026, 3, 2, 13, tzinfo=UTC), CHICAGO, date(2026, 3, 2))
    assert (day, at.astimezone(UTC)) == (date(2026, 3, 3), datetime(2026, 3, 3, 12, tzinfo=UTC))
    # Across the change to daylight time (March 8): 06:00 Chicago is 11:00 UTC.
    day, at = next_daily_run(datetime(2026, 3, 8, 13, tzinfo=UTC), CHICAGO, date(2026, 3, 8))
    assert at.astimezone(UTC) == datetime(2026, 3, 9, 11, tzinfo=UTC)
    # Late (the worker was down for days): today's, at once, not the days missed.
    day, at = next_daily_run(datetime(2026, 3, 20, 15, tzinfo=UTC), CHICAGO, date(2026, 3, 2))
    assert day == date(2026, 3, 20) and at < datetime(2026, 3, 20, 15, tzinfo=UTC)
