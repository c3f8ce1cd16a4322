from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from denialflow.domain.rules.calendar import (
    add_business_days,
    add_calendar_days,
    business_days_between,
    is_business_day,
    us_federal_holidays,
)

# Observed dates as published by OPM for federal employees.
HOLIDAYS = {
    2025: [
        date(2025, 1, 1),
        date(2025, 1, 20),
        date(2025, 2, 17),
        date(2025, 5, 26),
        date(2025, 6, 19),
        date(2025, 7, 4),
        date(2025, 9, 1),
        date(2025, 10, 13),
        date(2025, 11, 11),
        date(2025, 11, 27),
        date(2025, 12, 25),
    ],
    2026: [
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),  # July 4 is a Saturday
        date(2026, 9, 7),
        date(2026, 10, 12),
        date(2026, 11, 11),
        date(2026, 11, 26),
        date(2026, 12, 25),
    ],
    2027: [
        date(2027, 1, 1),
        date(2027, 1, 18),
        date(2027, 2, 15),
        date(2027, 5, 31),
        date(2027, 6, 18),  # June 19 is a Saturday
        date(2027, 7, 5),  # July 4 is a Sunday
        date(2027, 9, 6),
        date(2027, 10, 11),
        date(2027, 11, 11),
        date(2027, 11, 25),
        date(2027, 12, 24),  # December 25 is a Saturday
    ],
    2022: [
        date(2021, 12, 31),  # January 1, 2022 is a Saturday
        date(2022, 1, 17),
        date(2022, 2, 21),
        date(2022, 5, 30),
        date(2022, 6, 20),  # June 19 is a Sunday
        date(2022, 7, 4),
        date(2022, 9, 5),
        date(2022, 10, 10),
        date(2022, 11, 11),
        date(2022, 11, 24),
        date(2022, 12, 26),  # December 25 is a Sunday
    ],
}


def at(y: int, m: int, d: int, hh: int = 14, mm: int = 30) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def brute_between(start: date, end: date) -> int:
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_business_day(day)
    return count


@pytest.mark.parametrize("year", sorted(HOLIDAYS))
def test_holidays_exact(year: int) -> None:
    assert us_federal_holidays(year) == frozenset(HOLIDAYS[year])


def test_holidays_are_cached_and_immutable() -> None:
    assert us_federal_holidays(2026) is us_federal_holidays(2026)
    assert isinstance(us_federal_holidays(2026), frozenset)


def test_new_years_day_on_saturday_belongs_to_the_next_years_set() -> None:
    assert date(2027, 12, 31) in us_federal_holidays(2028)
    assert date(2027, 12, 31) not in us_federal_holidays(2027)
    assert not is_business_day(date(2027, 12, 31))
    assert not is_business_day(date(2021, 12, 31))
    assert is_business_day(date(2026, 12, 31))  # a Thursday, nothing observed


def test_juneteenth_only_from_2021() -> None:
    assert date(2020, 6, 19) not in us_federal_holidays(2020)
    assert date(2021, 6, 18) in us_federal_holidays(2021)  # June 19, 2021 was a Saturday


def test_mlk_day_only_from_1986() -> None:
    assert len(us_federal_holidays(1985)) == 9
    assert date(1986, 1, 20) in us_federal_holidays(1986)


def test_every_observed_holiday_is_a_weekday() -> None:
    for year in range(1990, 2100):
        assert all(d.weekday() < 5 for d in us_federal_holidays(year)), year
        assert len(us_federal_holidays(year)) == (11 if year >= 2021 else 10)


def test_extreme_years_do_not_overflow() -> None:
    assert len(us_federal_holidays(1)) == 9
    assert is_business_day(date(9999, 12, 31))  # a Friday, no next year to check
    with pytest.raises(ValueError):
        us_federal_holidays(0)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 11, 26), True),  # Wednesday before Thanksgiving
        (date(2025, 11, 27), False),  # Thanksgiving
        (date(2025, 11, 28), True),  # day after Thanksgiving is not a federal holiday
        (date(2025, 11, 29), False),  # Saturday
        (date(2025, 11, 30), False),  # Sunday
        (date(2026, 7, 3), False),  # observed Independence Day
        (date(2026, 7, 4), False),  # Saturday anyway
        (date(2027, 7, 5), False),
        (date(2027, 12, 24), False),
    ],
)
def test_is_business_day(day: date, expected: bool) -> None:
    assert is_business_day(day) is expected


def test_is_business_day_accepts_datetimes() -> None:
    assert not is_business_day(at(2025, 12, 25))
    assert is_business_day(at(2025, 12, 26))


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (at(2025, 1, 3), 1, at(2025, 1, 6)),  # Friday + 1 = Monday
        (at(2025, 1, 4), 1, at(2025, 1, 6)),  # Saturday + 1 = Monday
        (at(2025, 1, 5), 1, at(2025, 1, 6)),  # Sunday + 1 = Monday
        (at(2025, 1, 6), 5, at(2025, 1, 13)),  # a full week
        (at(2025, 1, 3), 10, at(2025, 1, 17)),
        (at(2025, 1, 17), 1, at(2025, 1, 21)),  # over the weekend and MLK Day
        (at(2025, 11, 26), 1, at(2025, 11, 28)),  # over Thanksgiving
        (at(2025, 11, 26), 2, at(2025, 12, 1)),
        (at(2025, 12, 24), 1, at(2025, 12, 26)),  # over Christmas
        (at(2025, 12, 31), 1, at(2026, 1, 2)),  # over the year boundary and New Year's Day
        (at(2025, 12, 22), 5, at(2025, 12, 30)),
        (at(2026, 7, 2), 1, at(2026, 7, 6)),  # observed July 3 + weekend
        (at(2027, 12, 23), 1, at(2027, 12, 27)),  # Christmas observed Friday Dec 24
        (at(2027, 12, 30), 1, at(2028, 1, 3)),  # New Year's Day observed Friday Dec 31
        (at(2021, 12, 30), 1, at(2022, 1, 3)),
        (at(2025, 12, 1), -1, at(2025, 11, 28)),  # backwards over the weekend
        (at(2026, 1, 2), -1, at(2025, 12, 31)),  # backwards over New Year's Day
        (at(2025, 11, 28), -1, at(2025, 11, 26)),  # backwards over Thanksgiving
    ],
)
def test_add_business_days(start: datetime, days: int, expected: datetime) -> None:
    result = add_business_days(start, days)
    assert result == expected
    assert result.tzinfo is UTC


def test_add_zero_business_days_returns_start_unchanged() -> None:
    saturday = at(2025, 1, 4, 23, 59)
    assert add_business_days(saturday, 0) is saturday


def test_add_business_days_keeps_time_and_timezone() -> None:
    est = timezone(timedelta(hours=-5))
    start = datetime(2025, 11, 26, 23, 15, 7, 123, tzinfo=est)
    result = add_business_days(start, 1)
    assert result == datetime(2025, 11, 28, 23, 15, 7, 123, tzinfo=est)
    assert result.tzinfo is est


def test_add_business_days_works_on_plain_dates() -> None:
    assert add_business_days(date(2025, 11, 26), 2) == date(2025, 12, 1)


def test_add_business_days_matches_business_days_between() -> None:
    for offset in range(0, 120, 3):
        first = at(2025, 10, 20) + timedelta(days=offset)
        for n in (0, 1, 2, 5, 9, 23):
            result = add_business_days(first, n)
            assert business_days_between(first.date(), result.date()) == n
            if n:
                assert is_business_day(result)
                assert result.time() == first.time()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2025, 1, 3), date(2025, 1, 6), 1),  # Friday to Monday
        (date(2025, 1, 4), date(2025, 1, 5), 0),  # Saturday to Sunday
        (date(2025, 1, 6), date(2025, 1, 6), 0),
        (date(2025, 1, 7), date(2025, 1, 6), 0),  # end before start
        (date(2025, 10, 31), date(2025, 11, 30), 18),  # November 2025: Veterans + Thanksgiving
        (date(2025, 12, 31), date(2026, 1, 2), 1),
        (date(2021, 12, 30), date(2022, 1, 3), 1),
    ],
)
def test_business_days_between(start: date, end: date, expected: int) -> None:
    assert business_days_between(start, end) == expected


def test_business_days_between_matches_day_by_day_count() -> None:
    starts = [date(2021, 12, 28) + timedelta(days=k * 37) for k in range(60)]
    for start in starts:
        for length in (0, 1, 4, 6, 7, 8, 13, 29, 366, 800):
            end = start + timedelta(days=length)
            assert business_days_between(start, end) == brute_between(start, end), (start, end)


def test_business_days_between_accepts_datetimes() -> None:
    assert business_days_between(at(2025, 1, 3), at(2025, 1, 6, 1, 0)) == 1


def test_add_calendar_days() -> None:
    assert add_calendar_days(date(2025, 12, 20), 14) == date(2026, 1, 3)
    assert add_calendar_days(date(2024, 2, 28), 1) == date(2024, 2, 29)
    assert add_calendar_days(date(2025, 3, 1), -1) == date(2025, 2, 28)
    assert add_calendar_days(at(2025, 12, 25), 1) == at(2025, 12, 26)
