"""Calendar days, business days and US federal holidays.

Two kinds of day count appear in denial work and must never be mixed up:

* **Calendar days** count every day, weekends and holidays included. Payer and
  regulatory deadlines (timely filing, appeal windows, follow-up cadence) are
  calendar days: use `add_calendar_days`.
* **Business days** skip Saturdays, Sundays and the observed US federal
  holidays of 5 U.S.C. 6103. Internal service levels (how soon a specialist
  must touch a work item, when it escalates) are business days: use
  `add_business_days` and `business_days_between`.

All times in denialflow are UTC. A datetime's business day is the date it
shows in its own timezone, which for the UTC datetimes we pass around is the
UTC date; arithmetic keeps the time of day and the timezone.

Temporal workflow code calls these functions, so they are pure and
deterministic: no clock, no I/O, no third-party holiday package. Holidays are
computed from the statute's rules, so any year works without data updates.
Not included: Inauguration Day (a holiday only for employees around
Washington, D.C.) and one-off closures granted by executive order, which are
not known in advance and would make a replayed workflow disagree with its
history. The rules are those in force since 1986 (Martin Luther King Jr. Day);
Juneteenth counts from 2021.
"""

from __future__ import annotations

from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import TypeVar

__all__ = [
    "add_business_days",
    "add_calendar_days",
    "business_days_between",
    "is_business_day",
    "us_federal_holidays",
]

_D = TypeVar("_D", bound=date)

_MONDAY, _THURSDAY, _SATURDAY, _SUNDAY = 0, 3, 5, 6
_ONE_DAY = timedelta(days=1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    next_month = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last = next_month - _ONE_DAY
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    # 5 U.S.C. 6103(b): a Saturday holiday is taken the Friday before, a
    # Sunday holiday the Monday after.
    if d.weekday() == _SATURDAY:
        return d - _ONE_DAY
    if d.weekday() == _SUNDAY:
        return d + _ONE_DAY
    return d


def _as_date(d: date) -> date:
    # A datetime never equals a date, so holiday lookups must use the bare date.
    return d.date() if isinstance(d, datetime) else d


@lru_cache(maxsize=256)
def us_federal_holidays(year: int) -> frozenset[date]:
    """Observed dates of the year's US federal holidays (5 U.S.C. 6103).

    A holiday is listed under the year it belongs to, even when it is observed
    in another: when New Year's Day falls on a Saturday it is observed on
    Friday, December 31 of the previous year, and that date is in the set of
    `year` (e.g. 2021-12-31 is in the 2022 set). `is_business_day` accounts
    for it.
    """
    if not MINYEAR <= year <= MAXYEAR:
        raise ValueError(f"year must be between {MINYEAR} and {MAXYEAR}, got {year}")
    fixed = [
        date(year, 1, 1),  # New Year's Day
        date(year, 7, 4),  # Independence Day
        date(year, 11, 11),  # Veterans Day
        date(year, 12, 25),  # Christmas Day
    ]
    if year >= 2021:
        fixed.append(date(year, 6, 19))  # Juneteenth National Independence Day
    floating = [
        _nth_weekday(year, 2, _MONDAY, 3),  # Washington's Birthday
        _last_weekday(year, 5, _MONDAY),  # Memorial Day
        _nth_weekday(year, 9, _MONDAY, 1),  # Labor Day
        _nth_weekday(year, 10, _MONDAY, 2),  # Columbus Day
        _nth_weekday(year, 11, _THURSDAY, 4),  # Thanksgiving Day
    ]
    if year >= 1986:
        floating.append(_nth_weekday(year, 1, _MONDAY, 3))  # Martin Luther King Jr.
    return frozenset([_observed(d) for d in fixed] + floating)


def is_business_day(d: date) -> bool:
    """True for Monday to Friday unless it is an observed federal holiday.

    Accepts a date or a datetime (judged on the date it shows).
    """
    day = _as_date(d)
    if day.weekday() >= _SATURDAY:
        return False
    if day in us_federal_holidays(day.year):
        return False
    # Only December 31 can carry the next year's holiday (New Year's Day on a Saturday).
    return not (
        day.month == 12
        and day.day == 31
        and day.year < MAXYEAR
        and day in us_federal_holidays(day.year + 1)
    )


def add_business_days(start: _D, days: int) -> _D:
    """The moment `days` business days after `start`, same time of day and timezone.

    Each step moves to the next business day, so Friday + 1 is Monday, and a
    start on a weekend or holiday counts from there: Saturday + 1 and
    Sunday + 1 are both Monday. `days=0` returns `start` unchanged even when
    it is not a business day. Negative `days` step back the same way
    (Monday - 1 is the previous Friday). Works for aware (UTC) or naive
    datetimes and for plain dates.
    """
    step = _ONE_DAY if days >= 0 else -_ONE_DAY
    current = start
    for _ in range(abs(days)):
        current += step
        while not is_business_day(current):
            current += step
    return current


def business_days_between(start: date, end: date) -> int:
    """Number of business days in the half-open range (start, end]; 0 if end <= start.

    Consistent with `add_business_days`: for n >= 0,
    business_days_between(d, add_business_days(d, n)) == n.
    """
    first, last = _as_date(start), _as_date(end)
    if last <= first:
        return 0
    full_weeks, rest = divmod((last - first).days, 7)
    count = 5 * full_weeks
    # The leftover days are the last `rest` days of the range; the first of
    # them has the weekday of first + 1.
    weekday = (first.weekday() + 1) % 7
    count += sum(1 for i in range(rest) if (weekday + i) % 7 < _SATURDAY)
    # The next year's set is needed for a New Year's Day observed on Dec 31.
    holidays: set[date] = set()
    for year in range(first.year, min(last.year + 1, MAXYEAR) + 1):
        holidays.update(h for h in us_federal_holidays(year) if first < h <= last)
    # Observed holidays always fall on weekdays, so each one removes a counted day.
    return count - len(holidays)


def add_calendar_days(d: _D, days: int) -> _D:
    """`d` plus `days` calendar days, weekends and holidays included.

    The counterpart of `add_business_days`, for payer and regulatory
    deadlines, which run in calendar days.
    """
    return d + timedelta(days=days)


def as_utc(moment: datetime) -> datetime:
    """A stored moment as aware UTC: the database hands back UTC, and SQLite loses the
    zone on the way."""
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def practice_day(moment: datetime, tz: tzinfo) -> date:
    """The date a stored (UTC) moment falls on in the practice's zone `tz`."""
    return as_utc(moment).astimezone(tz).date()
