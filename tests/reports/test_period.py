"""The report filter: defaults, every limit as a message (never an exception), links that
carry it, months, and practice days across the clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest

from denialflow.reports.period import (
    ReportFilter,
    add_years,
    day_bounds_utc,
    default_filter,
    months,
    parse_filter,
    practice_day,
    practice_today,
    range_bounds_utc,
    split_by_month,
)

TODAY = date(2026, 3, 18)
PAYERS = {"medicare", "commercial-uhc"}
DEFAULT = ReportFilter(date(2025, 3, 1), TODAY)
CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("params", "expected", "problem"),
    [
        # Nothing asked: the last 12 full months and this month so far, every payer.
        ({}, DEFAULT, None),
        ({"from": "", "to": "", "payer": ""}, DEFAULT, None),
        (
            {"from": "2026-01-01", "to": "2026-01-31"},
            ReportFilter(date(2026, 1, 1), date(2026, 1, 31)),
            None,
        ),
        (
            {"from": " 2026-01-01 ", "to": "2026-01-01"},
            ReportFilter(date(2026, 1, 1), date(2026, 1, 1)),
            None,
        ),
        # Only one end given: the other comes from the default.
        ({"from": "2026-02-10"}, ReportFilter(date(2026, 2, 10), TODAY), None),
        ({"to": "2025-06-15"}, ReportFilter(date(2024, 6, 1), date(2025, 6, 15)), None),
        ({"from": "2026-05-01"}, ReportFilter(date(2026, 5, 1), date(2026, 5, 1)), None),
        # A payer.
        ({"payer": "medicare"}, ReportFilter(DEFAULT.start, TODAY, "medicare"), None),
        # Bad formats name the field and fall back to its default.
        ({"from": "01/02/2026"}, DEFAULT, "From date: '01/02/2026' is not a date"),
        ({"to": "2026-13-01"}, DEFAULT, "To date: '2026-13-01' is not a date"),
        ({"to": "20260101"}, DEFAULT, "To date: '20260101' is not a date"),
        ({"from": "2026-02-30"}, DEFAULT, "From date: '2026-02-30' is not a date"),
        # A long value is cut short in the message.
        ({"from": "x" * 500}, DEFAULT, "From date: '" + "x" * 40 + "...' is not a date"),
        # Out of bounds.
        ({"from": "1999-12-31"}, DEFAULT, "From date: 1999-12-31 is before 2000-01-01"),
        ({"to": "2027-03-19"}, DEFAULT, "To date: 2027-03-19 is more than 1 year after today"),
        (
            {"from": "2026-01-01", "to": "2027-03-18"},
            ReportFilter(date(2026, 1, 1), date(2027, 3, 18)),
            None,
        ),
        # Ranges that cannot be used: the default range instead.
        (
            {"from": "2026-02-01", "to": "2026-01-31"},
            DEFAULT,
            "The range ends (2026-01-31) before it starts (2026-02-01)",
        ),
        (
            {"from": "2021-03-17", "to": "2026-03-18"},
            DEFAULT,
            "The range from 2021-03-17 to 2026-03-18 is longer than 5 years",
        ),
        (
            {"from": "2021-03-18", "to": "2026-03-18"},
            ReportFilter(date(2021, 3, 18), date(2026, 3, 18)),
            None,
        ),
        # Unknown payer: every payer.
        ({"payer": "acme"}, DEFAULT, "Payer: there is no payer 'acme'; showing every payer."),
    ],
)
def test_parse_filter(params: dict[str, str], expected: ReportFilter, problem: str | None) -> None:
    flt, problems = parse_filter(params, TODAY, PAYERS)
    assert flt == expected
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_every_problem_is_reported_at_once() -> None:
    flt, problems = parse_filter({"from": "nope", "to": "1900-01-01", "payer": "x"}, TODAY, PAYERS)
    assert flt == DEFAULT
    assert [p.split(":")[0] for p in problems] == ["From date", "To date", "Payer"]


def test_default_in_january_reaches_back_into_the_year_before_last() -> None:
    assert default_filter(date(2026, 1, 5)) == ReportFilter(date(2025, 1, 1), date(2026, 1, 5))


def test_query_string_round_trips() -> None:
    flt = ReportFilter(date(2026, 1, 1), date(2026, 2, 28), "commercial-uhc")
    query = flt.query_string(table="daily", empty="", missing=None)
    assert parse_qs(query) == {
        "from": ["2026-01-01"],
        "to": ["2026-02-28"],
        "payer": ["commercial-uhc"],
        "table": ["daily"],
    }
    again, problems = parse_filter({k: v[0] for k, v in parse_qs(query).items()}, TODAY, PAYERS)
    assert (again, problems) == (flt, [])
    assert "payer" not in ReportFilter(date(2026, 1, 1), date(2026, 1, 2)).query_string()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 1, 15), date(2026, 1, 20), [date(2026, 1, 1)]),
        (
            date(2025, 11, 30),
            date(2026, 2, 1),
            [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)],
        ),
        (date(2026, 3, 1), date(2026, 2, 1), []),
    ],
)
def test_months(start: date, end: date, expected: list[date]) -> None:
    assert months(start, end) == expected


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2024, 2, 29), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), -4, date(2020, 2, 29)),
        (date(2026, 3, 18), -5, date(2021, 3, 18)),
    ],
)
def test_add_years(day: date, years: int, expected: date) -> None:
    assert add_years(day, years) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 23:30 in Chicago (CST, UTC-6) is already the next day in UTC.
        (datetime(2026, 1, 16, 5, 30, tzinfo=UTC), date(2026, 1, 15)),
        (datetime(2026, 1, 16, 6, 0, tzinfo=UTC), date(2026, 1, 16)),
        # A naive time is UTC (SQLite may hand them back that way).
        (datetime(2026, 1, 16, 5, 30), date(2026, 1, 15)),
        # Summer: CDT, UTC-5.
        (datetime(2026, 7, 1, 4, 59, tzinfo=UTC), date(2026, 6, 30)),
    ],
)
def test_practice_today(now: datetime, expected: date) -> None:
    assert practice_today(CHICAGO, now) == expected
    assert practice_day(now, CHICAGO) == expected


@pytest.mark.parametrize(
    ("day", "start", "end", "hours"),
    [
        (
            date(2026, 1, 15),
            datetime(2026, 1, 15, 6, tzinfo=UTC),
            datetime(2026, 1, 16, 6, tzinfo=UTC),
            24,
        ),
        # Clocks go forward on 2026-03-08: a 23-hour day.
        (
            date(2026, 3, 8),
            datetime(2026, 3, 8, 6, tzinfo=UTC),
            datetime(2026, 3, 9, 5, tzinfo=UTC),
            23,
        ),
        # And back on 2026-11-01: 25 hours.
        (
            date(2026, 11, 1),
            datetime(2026, 11, 1, 5, tzinfo=UTC),
            datetime(2026, 11, 2, 6, tzinfo=UTC),
            25,
        ),
    ],
)
def test_day_bounds_utc(day: date, start: datetime, end: datetime, hours: int) -> None:
    got = day_bounds_utc(day, CHICAGO)
    assert got == (start, end)
    assert got[0].tzinfo is not None and (got[1] - got[0]).total_seconds() == hours * 3600


def test_range_bounds_cover_both_days_whole() -> None:
    flt = ReportFilter(date(2026, 1, 1), date(2026, 1, 31))
    assert range_bounds_utc(flt, CHICAGO) == (
        datetime(2026, 1, 1, 6, tzinfo=UTC),
        datetime(2026, 2, 1, 6, tzinfo=UTC),
    )
    assert flt.days == 31


D = date


@pytest.mark.parametrize(
    ("start", "end", "whole", "partial"),
    [
        # Whole months only.
        (D(2026, 1, 1), D(2026, 3, 31), (D(2026, 1, 1), D(2026, 3, 1)), []),
        # Partial months at both ends, a leap February whole in between.
        (
            D(2023, 12, 8),
            D(2024, 3, 7),
            (D(2024, 1, 1), D(2024, 2, 1)),
            [(D(2023, 12, 8), D(2023, 12, 31)), (D(2024, 3, 1), D(2024, 3, 7))],
        ),
        # Up to today, mid-month: the month so far is read by day.
        (
            D(2025, 12, 1),
            D(2026, 12, 7),
            (D(2025, 12, 1), D(2026, 11, 1)),
            [(D(2026, 12, 1), D(2026, 12, 7))],
        ),
        # Inside one month, and across two with neither whole.
        (D(2026, 5, 3), D(2026, 5, 30), None, [(D(2026, 5, 3), D(2026, 5, 30))]),
        (
            D(2026, 5, 15),
            D(2026, 6, 10),
            None,
            [(D(2026, 5, 15), D(2026, 5, 31)), (D(2026, 6, 1), D(2026, 6, 10))],
        ),
        # One day; and a single whole month ending on the 31st of December.
        (D(2026, 2, 28), D(2026, 2, 28), None, [(D(2026, 2, 28), D(2026, 2, 28))]),
        (D(2026, 12, 1), D(2026, 12, 31), (D(2026, 12, 1), D(2026, 12, 1)), []),
    ],
)
def test_split_by_month(
    start: date,
    end: date,
    whole: tuple[date, date] | None,
    partial: list[tuple[date, date]],
) -> None:
    assert split_by_month(start, end) == (whole, partial)
