"""The financial-assistance sliding scale at its boundaries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from denialflow.domain.patient.sliding_scale import (
    Policy,
    ScreeningRefused,
    Tier,
    policy_for,
    screen,
)

D = Decimal
# 2025's guideline (48 contiguous states) and a common policy: free under 200%,
# 75% off to 250%, 50% off to 300%, 25% off to 400%.
POLICY = Policy(
    year=2025,
    first_person=D("15650"),
    each_additional=D("5500"),
    tiers=(
        Tier(D("200"), D("100")),
        Tier(D("250"), D("75")),
        Tier(D("300"), D("50")),
        Tier(D("400"), D("25")),
    ),
)


@pytest.mark.parametrize(
    ("household", "income", "percent", "discount"),
    [
        (1, "0", "0.00", "100"),
        (1, "31300", "200.00", "100"),  # exactly 200%: the "up to 200%" tier
        (1, "31300.01", "200.00", "75"),  # a cent over: the next tier, though it rounds
        (4, "64300", "200.00", "100"),  # 15650 + 3 x 5500 = 32150
        (4, "64301", "200.00", "75"),
        (4, "80375", "250.00", "75"),
        (4, "96450", "300.00", "50"),
        (4, "128600", "400.00", "25"),
        (4, "128601", "400.00", "0"),  # over 400%: no discount
    ],
)
def test_discount_at_the_boundaries(
    household: int, income: str, percent: str, discount: str
) -> None:
    result = screen(POLICY, household, D(income))
    assert (result.percent_of_guideline, result.discount_percent) == (D(percent), D(discount))


def test_the_discount_on_a_balance_is_rounded_to_the_cent() -> None:
    result = screen(POLICY, 2, D("50000"))  # 21150 -> 236.41%: 75%
    assert result.discount_on(D("123.45")) == D("92.59")


def test_the_policy_in_effect_is_the_latest_that_took_effect() -> None:
    later = Policy(year=2026, first_person=D("16000"), each_additional=D("5600"), tiers=())
    assert policy_for([POLICY, later], 2026) is later
    assert policy_for([POLICY, later], 2025) is POLICY
    with pytest.raises(ScreeningRefused, match="no sliding-scale policy is in effect for 2024"):
        policy_for([POLICY, later], 2024)


@pytest.mark.parametrize(
    ("household", "income", "message"),
    [
        (0, "1000", "household size must be 1 to 30 \\(got 0\\)"),
        (31, "1000", "household size must be 1 to 30 \\(got 31\\)"),
        (2, "-1", "yearly household income must be 0 or more \\(got -1\\)"),
    ],
)
def test_bad_figures_are_refused(household: int, income: str, message: str) -> None:
    with pytest.raises(ScreeningRefused, match=message):
        screen(POLICY, household, D(income))


def test_a_policy_whose_tiers_do_not_rise_is_refused() -> None:
    bad = Policy(
        year=2025,
        first_person=D("15650"),
        each_additional=D("5500"),
        tiers=(Tier(D("300"), D("50")), Tier(D("200"), D("100"))),
    )
    with pytest.raises(ScreeningRefused, match="the 2025 tiers must rise: 200% follows 300%"):
        screen(bad, 1, D("1000"))
